// The on-disk cache of LLM-judge requests: one small JSON file per distinct request body, so a
// judgement interrupted half-way, or asked again by another study, sends only what it has not
// sent before. The key is the sha256 of the request body's canonical JSON (judge model, the
// filled-in prompt — template, question and answer —, sampling settings, seed); the server's URL
// and the API key are not in the body, so the same request to another copy of the judge model
// is a hit. Files live in a two-level sharded folder (DIR/ab/cd/abcd….json), are written
// atomically, and an entry that does not parse, or whose request does not hash to its name, is
// ignored (and rewritten when the request is answered again).

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { canonicalJson } from '../util/canonical-json.js';

/** The cache key of a request body: sha256 hex of its canonical JSON. */
export function requestKey(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
}

interface Entry {
  request: unknown;
  response: unknown;
}

export class RequestCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** DIR/ab/cd/<key>.json */
  pathOf(key: string): string {
    return join(this.dir, key.slice(0, 2), key.slice(2, 4), `${key}.json`);
  }

  /** The cached response to the request with this key, or undefined (missing or corrupt). */
  get(key: string): unknown {
    let entry: Entry;
    try {
      entry = JSON.parse(readFileSync(this.pathOf(key), 'utf8')) as Entry;
    } catch {
      return undefined;
    }
    if (entry === null || typeof entry !== 'object' || entry.response === undefined) return undefined;
    try {
      return requestKey(entry.request) === key ? entry.response : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores the response to `request` (whose key is `key`), replacing any entry there. */
  put(key: string, request: unknown, response: unknown): void {
    const path = this.pathOf(key);
    mkdirSync(join(this.dir, key.slice(0, 2), key.slice(2, 4)), { recursive: true });
    writeFileAtomic(path, `${JSON.stringify({ request, response } satisfies Entry)}\n`);
  }
}
