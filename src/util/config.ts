// Where basin keeps things on disk: the package root (for committed assets such as
// organisms/default) and the cache root for everything built or trained locally (worlds,
// organisms, study artifacts). The cache is ROOT/.basin (git-ignored) unless the environment
// variable BASIN_CACHE names another folder.

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (three levels above dist/src/util/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The cache root: $BASIN_CACHE, else ROOT/.basin. */
export const CACHE = process.env.BASIN_CACHE ?? join(ROOT, '.basin');
