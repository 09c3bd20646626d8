// Where worlds and organisms live: the committed default organism in organisms/default, and
// the cache (util/config.ts) for built worlds and locally trained organisms.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ORGANISM_INFO_FILE } from '../io/files.js';
import { CACHE, ROOT } from '../util/config.js';

export const COMMITTED_ORGANISM = join(ROOT, 'organisms', 'default');

/** The cached build of a preset's world: CACHE/worlds/<preset>. */
export function worldDir(preset: string): string {
  return join(CACHE, 'worlds', preset);
}

/** Where `basin world train` writes a preset's organism: CACHE/organisms/<preset>. */
export function trainedOrganismDir(preset: string): string {
  return join(CACHE, 'organisms', preset);
}

/** The committed organism for the default preset when present, else the cache's. */
export function organismDir(preset: string): string {
  if (preset === 'default' && existsSync(join(COMMITTED_ORGANISM, ORGANISM_INFO_FILE))) return COMMITTED_ORGANISM;
  return trainedOrganismDir(preset);
}
