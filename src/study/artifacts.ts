// Content-addressed study artifacts. Each artifact is a folder named by its kind and a hash of
// everything it was computed from; it is built in a temp folder and renamed into place, so a
// folder that exists is complete. An interrupted study rerun finds what is done and skips it.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../io/atomic-write.js';

/** JSON with sorted keys, so equal inputs hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export class ArtifactStore {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  key(kind: string, inputs: unknown): string {
    return `${kind}-${createHash('sha256').update(canonicalJson(inputs)).digest('hex').slice(0, 16)}`;
  }

  path(key: string): string {
    return join(this.root, key);
  }

  has(key: string): boolean {
    return existsSync(this.path(key));
  }

  /**
   * The artifact's folder, building it with `make(tmpDir)` first if it does not exist.
   * `inputs` are written beside it (inputs.json) so every artifact says what it came from.
   */
  async produce(kind: string, inputs: unknown, make: (dir: string) => void | Promise<void>): Promise<{ key: string; dir: string; reused: boolean }> {
    const key = this.key(kind, inputs);
    const dir = this.path(key);
    if (existsSync(dir)) return { key, dir, reused: true };
    const tmp = join(this.root, `.tmp-${key}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await make(tmp);
    writeFileAtomic(join(tmp, 'inputs.json'), `${JSON.stringify({ kind, inputs }, null, 1)}\n`);
    renameSync(tmp, dir);
    return { key, dir, reused: false };
  }

  /** A JSON artifact: computed once, then read back. */
  async json<T>(kind: string, inputs: unknown, compute: () => T | Promise<T>): Promise<T> {
    const { dir } = await this.produce(kind, inputs, async (tmp) => {
      writeFileAtomic(join(tmp, 'value.json'), JSON.stringify(await compute()));
    });
    return JSON.parse(readFileSync(join(dir, 'value.json'), 'utf8')) as T;
  }
}
