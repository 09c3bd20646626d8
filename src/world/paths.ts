// Where worlds and organisms live: the committed default organism in organisms/default, and a
// git-ignored cache (.basin/) for built worlds and locally trained organisms.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORGANISM_FILE } from './organism.js';

/** The package root (three levels above dist/src/world/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CACHE = process.env.BASIN_CACHE ?? join(ROOT, '.basin');
export const COMMITTED_ORGANISM = join(ROOT, 'organisms', 'default');

export function worldDir(preset: string): string {
  return join(CACHE, 'worlds', preset);
}

/** The committed organism for the default preset when present, else the cache's. */
export function organismDir(preset: string): string {
  if (preset === 'default' && existsSync(join(COMMITTED_ORGANISM, ORGANISM_FILE))) return COMMITTED_ORGANISM;
  return join(CACHE, 'organisms', preset);
}
