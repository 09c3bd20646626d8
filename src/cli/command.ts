// The shape of a CLI command, and shared flag handling.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { cuda, type Device } from '../tensor/index.js';

export interface Command {
  name: string;
  summary: string;
  /** full --help text */
  usage: string;
  run(argv: string[]): Promise<number>;
}

export type Flags = NonNullable<ParseArgsConfig['options']>;

/** Parses argv with the given flags plus --help/--json/--verbose; prints usage on --help. */
export function parse(argv: string[], flags: Flags): { values: Record<string, string | boolean | undefined>; positionals: string[]; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, ...flags },
    allowPositionals: true,
    strict: true,
  });
  return { values: values as Record<string, string | boolean | undefined>, positionals, help: values.help === true };
}

/** A number flag, checked. */
export function numberFlag(values: Record<string, unknown>, name: string, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${String(v)}'`);
  return n;
}

export class UsageError extends Error {}

/** --device: cpu (default), cuda or cuda:N — and the device must exist here. */
export function deviceFlag(values: Record<string, unknown>): Device {
  const v = values.device;
  if (v === undefined) return 'cpu';
  if (typeof v !== 'string' || !/^(cpu|cuda(:\d+)?)$/.test(v)) throw new UsageError(`--device ${String(v)}: use cpu, cuda or cuda:N`);
  if (v !== 'cpu') {
    const n = cuda.isAvailable() ? cuda.deviceCount() : 0;
    const index = v === 'cuda' ? 0 : Number(v.slice('cuda:'.length));
    if (index >= n) throw new UsageError(`--device ${v}: ${n === 0 ? 'this libtorch build sees no CUDA device (basin builds against a CUDA libtorch when one is found: pip install torch, or LIBTORCH=...)' : `only ${n} CUDA device(s) here (cuda:0..cuda:${n - 1})`}`);
  }
  return v as Device;
}
