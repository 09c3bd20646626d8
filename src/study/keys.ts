// How a study task's key is computed. A key hashes everything a task's output depends on and
// nothing else: the producer and its version, the parents' keys, the model's fingerprint, the
// content hashes of its data files, and its resolved settings (seed included). Never a path:
// moving --out, the store or the checkout, or running on another machine, finds the same keys.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson } from '../util/canonical-json.js';

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const contentHashes = new Map<string, { mtimeMs: number; hash: string }>();

/** sha256 of a file's bytes (memoised per process while the file is unchanged). */
export function fileContentHash(path: string, mtimeMs: number): string {
  const known = contentHashes.get(path);
  if (known !== undefined && known.mtimeMs === mtimeMs) return known.hash;
  const hash = sha256Hex(readFileSync(path));
  contentHashes.set(path, { mtimeMs, hash });
  return hash;
}

export interface KeyInputs {
  producer: string;
  version: number;
  /** '<model fingerprint>/<dtype>', or null for tasks that use no model */
  model: string | null;
  /** role → parent key(s) */
  parents: Record<string, string | string[]>;
  /** role → sha256 of the file's content */
  data: Record<string, string>;
  settings: unknown;
}

/** A task's key: `<producer>-<20 hex digits>`, also its artifact folder's name. */
export function taskKey(k: KeyInputs): string {
  return `${k.producer}-${sha256Hex(canonicalJson(k)).slice(0, 20)}`;
}
