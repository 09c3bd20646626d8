// Where worlds and organisms live: the committed organisms in organisms/<preset> (default and
// no-consistency), and the cache (util/config.ts) for built worlds and locally trained organisms.

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

/** Where a preset's organism is committed to the repository: organisms/<preset>. */
export function committedOrganismDir(preset: string): string {
  return join(ROOT, 'organisms', preset);
}

/** The preset's committed organism when present, else the cache's. */
export function organismDir(preset: string): string {
  const committed = committedOrganismDir(preset);
  return existsSync(join(committed, ORGANISM_INFO_FILE)) ? committed : trainedOrganismDir(preset);
}
