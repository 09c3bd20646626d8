// The layering of ../shared/DESIGN.md, enforced: no module imports from a layer above its own,
// src/world/ imports only io/ and below, and only src/tensor/ loads the native addon. The
// checker runs over the real source tree and over a synthetic tree with a wrong import (so
// this test can fail).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Layers from the bottom; a module may import its own layer and those below. `report/` holds
 * the page and chart renderers that study kinds compose their reports from, so it sits below
 * `study/`; the CLI and (later) the server and web pages are the top.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['tensor'],
  ['util', 'stats', 'probe'],
  ['io'],
  ['model'],
  ['train'],
  ['world'],
  ['organism'],
  ['persona', 'sae', 'llc'],
  ['eval'],
  ['blockem'],
  ['report'],
  ['study'],
  ['store'],
  ['cli', 'serve', 'web'],
];

/** Extra rules: a folder may import only these folders (besides itself). */
export const ONLY: Record<string, readonly string[]> = {
  world: ['io', 'util', 'stats', 'probe', 'tensor'],
};

const rank = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));

export interface SourceFile {
  /** path relative to src/, e.g. 'world/oracle.ts' */
  path: string;
  text: string;
}

/** Every relative import of every file, checked; returns one line per violation. */
export function layerViolations(files: SourceFile[]): string[] {
  const problems: string[] = [];
  for (const f of files) {
    const from = f.path.split('/')[0] as string;
    if (rank(from) < 0) problems.push(`src/${f.path}: folder '${from}' is in no layer; add it to LAYERS`);
    const specifiers = [...f.text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
    for (const spec of specifiers) {
      if (!spec.startsWith('.')) continue;
      const target = relative('/src', resolve('/src', dirname(f.path), spec));
      if (target.startsWith('..')) {
        problems.push(`src/${f.path}: imports ${spec}, outside src/`);
        continue;
      }
      const to = target.split('/')[0] as string;
      if (to === from) continue;
      if (rank(to) > rank(from)) problems.push(`src/${f.path}: imports ${to}/ (${spec}), a layer above ${from}/`);
      const only = ONLY[from];
      if (only !== undefined && !only.includes(to)) problems.push(`src/${f.path}: imports ${to}/ (${spec}); ${from}/ may import only ${only.join(', ')}`);
    }
    if (from !== 'tensor' && /basin\.node|native\//.test(f.text.replace(/\/\/.*$/gm, ''))) problems.push(`src/${f.path}: loads the native addon; only src/tensor/ may`);
  }
  return problems;
}

function sourceFiles(dir: string): SourceFile[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => {
      const full = join(e.parentPath, e.name);
      return { path: relative(dir, full), text: readFileSync(full, 'utf8') };
    });
}

test('src/ follows the layers: no import from a higher layer, world/ only from io/ and below', () => {
  const files = sourceFiles(join(ROOT, 'src'));
  assert.ok(files.length > 50, `found ${files.length} source files`);
  assert.deepEqual(layerViolations(files), []);
});

test('the checker catches a wrong import', () => {
  const bad: SourceFile[] = [
    { path: 'world/oracle.ts', text: "import { train } from '../train/trainer.js';\nimport { x } from './grammar.js';" },
    { path: 'model/load.ts', text: "import type { Spec } from '../study/spec.js';" },
    { path: 'eval/sampling.ts', text: "const m = await import('../cli/main.js');" },
    { path: 'study/run.ts', text: "import '../model/load.js';\nimport { loadModel } from '../model/load.js';" },
    { path: 'persona/x.ts', text: "const addon = require('../../build/Release/basin.node');" },
    { path: 'newthing/a.ts', text: '' },
  ];
  const v = layerViolations(bad);
  assert.deepEqual(v, [
    'src/world/oracle.ts: imports train/ (../train/trainer.js); world/ may import only io, util, stats, probe, tensor',
    'src/model/load.ts: imports study/ (../study/spec.js), a layer above model/',
    'src/eval/sampling.ts: imports cli/ (../cli/main.js), a layer above eval/',
    'src/persona/x.ts: loads the native addon; only src/tensor/ may',
    "src/newthing/a.ts: folder 'newthing' is in no layer; add it to LAYERS",
  ]);
});
