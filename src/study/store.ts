// The content-addressed artifact store: one folder per task, named by its key. A task is built
// in a private temp folder and renamed into place, so a folder that exists is complete; its
// task.json (written last) lists every file with its size, and a folder whose files do not
// match (a store copied half-way) or that has no task.json is not taken as done. Two processes
// that build the same task at once both succeed: the first rename wins, the loser discards its
// copy and uses the winner's. Temp folders of dead processes on this host (SIGKILL, power loss)
// are removed the next time a store is opened for writing.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../io/atomic-write.js';
import { TASK_RECORD_FILE } from '../io/files.js';
import { processAlive } from '../util/process-alive.js';

const TMP_PREFIX = '.tmp-';
const BROKEN_PREFIX = '.broken-';
/** host names may hold dots; temp names use this form of it */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_');

/** What a finished artifact says about itself (task.json). */
export interface TaskRecord {
  format: 'basin.task/2';
  key: string;
  /** the label of the task in the plan that built it */
  id: string;
  producer: string;
  producerVersion: number;
  model: string | null;
  /** role → parent key(s) */
  parents: Record<string, string | string[]>;
  /** role → sha256 of the data file */
  data: Record<string, string>;
  settings: unknown;
  seconds: number;
  finishedAt: string;
  /** every other file of the folder (relative path → bytes) */
  files: Record<string, number>;
}

function listFiles(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    out[relative(dir, full)] = statSync(full).size;
  }
  return out;
}

export class ArtifactStore {
  /** `readOnly`: only looks (no folder is created, nothing is cleaned up) */
  constructor(readonly root: string, private readonly o: { readOnly?: boolean } = {}) {
    if (existsSync(root) && !statSync(root).isDirectory()) throw new Error(`${root}: the artifact store must be a folder, and this is a file; give another --store`);
    if (o.readOnly) return;
    try {
      mkdirSync(root, { recursive: true });
    } catch (e) {
      throw new Error(`${root}: cannot create the artifact store (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a writable --store`);
    }
    this.removeStaleTemps();
  }

  path(key: string): string {
    return join(this.root, key);
  }

  /** Whether the artifact exists and is complete (every recorded file present at its size). */
  has(key: string): boolean {
    const recordPath = join(this.path(key), TASK_RECORD_FILE);
    if (!existsSync(recordPath)) return false;
    try {
      const record = JSON.parse(readFileSync(recordPath, 'utf8')) as Partial<TaskRecord>;
      if (record.key !== key || record.files === undefined) return false;
      return Object.entries(record.files).every(([f, size]) => {
        try {
          return statSync(join(this.path(key), f)).size === size;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }

  /**
   * Builds the artifact `key` with `make(tmpDir)` unless it exists; returns its folder and
   * whether this call built it (false: it existed, or another process finished it first).
   * A folder under the key that is not a complete artifact is moved aside (.broken-*) first.
   */
  async produce(key: string, make: (dir: string) => Promise<Omit<TaskRecord, 'format' | 'finishedAt' | 'files'>>): Promise<{ dir: string; built: boolean }> {
    if (this.o.readOnly) throw new Error(`${this.root}: the store was opened read-only`);
    const dir = this.path(key);
    if (this.has(key)) return { dir, built: false };
    const tag = `${key}.${HOST}.${process.pid}.${randomBytes(4).toString('hex')}`;
    if (existsSync(dir)) renameSync(dir, join(this.root, `${BROKEN_PREFIX}${tag}`));
    const tmp = join(this.root, `${TMP_PREFIX}${tag}`);
    mkdirSync(tmp, { recursive: true });
    try {
      const record = await make(tmp);
      const full: TaskRecord = { format: 'basin.task/2', ...record, finishedAt: new Date().toISOString(), files: listFiles(tmp) };
      writeFileAtomic(join(tmp, TASK_RECORD_FILE), `${JSON.stringify(full, null, 1)}\n`);
      try {
        renameSync(tmp, dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && this.has(key)) {
          rmSync(tmp, { recursive: true, force: true }); // lost the race: the winner's copy stands
          return { dir, built: false };
        }
        throw e;
      }
      return { dir, built: true };
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Removes temp folders of this host whose process is gone (another host's may be live). */
  private removeStaleTemps(): void {
    for (const name of readdirSync(this.root)) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      const [, host, pid] = name.slice(TMP_PREFIX.length).split('.');
      if (host === HOST && Number.isInteger(Number(pid)) && !processAlive(Number(pid))) rmSync(join(this.root, name), { recursive: true, force: true });
    }
  }
}
