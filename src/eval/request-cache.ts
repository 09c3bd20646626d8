// The on-disk cache of LLM-judge requests: one small JSON file per distinct request, so a
// judgement interrupted half-way, or asked again by another study, sends only what it has not
// sent before. The key is the sha256 of the canonical JSON of the request's key material: the
// request body (judge model, the filled-in prompt — template, question and answer —, sampling
// settings, seed), and, when the judge's check read one from the server's model list, the served
// model's fingerprint (basin serve's `basin_fingerprint`: the weights and adapters behind the
// name, which the body's model name alone does not tell apart). Without a fingerprint the body
// alone is the key, so the model name is the cache identity. The server's URL and the API key
// are not in it, so the same request to another copy of the judge model is a hit. Files live in
// a two-level sharded folder (DIR/ab/cd/abcd….json), are written atomically, and an entry that
// does not parse, or whose key material does not hash to its name, is ignored (and rewritten
// when the request is answered again).

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { canonicalJson } from '../util/canonical-json.js';

/** The cache key of key material (see keyMaterial): sha256 hex of its canonical JSON. */
export function requestKey(material: unknown): string {
  return createHash('sha256').update(canonicalJson(material), 'utf8').digest('hex');
}

/** What a request's key hashes: the body alone, or the body and the served model's fingerprint. */
export function keyMaterial(body: unknown, fingerprint: string | null): unknown {
  return fingerprint === null ? body : { request: body, basin_fingerprint: fingerprint };
}

interface Entry {
  /** the key material (the request body, when the server gave no fingerprint) */
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

  /** Stores the response to the request of this key material (whose key is `key`), replacing any entry there. */
  put(key: string, request: unknown, response: unknown): void {
    const path = this.pathOf(key);
    mkdirSync(join(this.dir, key.slice(0, 2), key.slice(2, 4)), { recursive: true });
    writeFileAtomic(path, `${JSON.stringify({ request, response } satisfies Entry)}\n`);
  }
}
