// Loads the libtorch binding (native/basin.cc, built by scripts/setup.sh). Only src/tensor/
// imports this module; everything else goes through the Tensor API.

import { createRequire } from 'node:module';
// OpenMP threads that spin while waiting ruin throughput whenever another process shares the
// cores (seen: 3-4x slower training); passive waiting costs little when the machine is idle.
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A native tensor id: a slot in the binding's table plus a generation (stale ids throw). */
export type Handle = number;
/** An opaque native random-generator handle. */
export type GeneratorHandle = { readonly __brand: 'GeneratorHandle' };

// The binding's functions, loosely typed: the Tensor class is their only caller and gives
// each one a precise signature.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Native = Record<string, (...args: any[]) => any>;

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('basin: cannot find the package root (looked for package.json beside native/)');
}

function load(): Native {
  const root = repoRoot();
  const path = join(root, 'build', 'Release', 'basin.node');
  if (!existsSync(path)) {
    throw new Error(`basin: the native addon is not built (${path} is missing). Run: npm run setup`);
  }
  return createRequire(import.meta.url)(path) as Native;
}

export const native: Native = load();
