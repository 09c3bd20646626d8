// The content-addressed artifact store: one folder per task, named by its key. A task is built
// in a private temp folder and renamed into place, so a folder that exists is complete. Two
// processes that build the same task at once both succeed: the first rename wins, the loser
// discards its copy and uses the winner's. Temp folders of processes that died (SIGKILL, power
// loss) are removed the next time a store is opened.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../io/atomic-write.js';
import { TASK_RECORD_FILE } from '../io/files.js';
import { processAlive } from '../util/process-alive.js';

const TMP_PREFIX = '.tmp-';

/** What a finished artifact says about itself (task.json). */
export interface TaskRecord {
  format: 'basin.task/1';
  key: string;
  id: string;
  producer: string;
  producerVersion: number;
  model: string | null;
  parents: Record<string, string | string[]>;
  data: Record<string, string>;
  settings: unknown;
  seconds: number;
  finishedAt: string;
}

export class ArtifactStore {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
    this.removeStaleTemps();
  }

  path(key: string): string {
    return join(this.root, key);
  }

  has(key: string): boolean {
    return existsSync(join(this.path(key), TASK_RECORD_FILE));
  }

  record(key: string): TaskRecord {
    return JSON.parse(readFileSync(join(this.path(key), TASK_RECORD_FILE), 'utf8')) as TaskRecord;
  }

  /**
   * Builds the artifact `key` with `make(tmpDir)` unless it exists; returns its folder and
   * whether this call built it (false: it existed, or another process finished it first).
   */
  async produce(key: string, make: (dir: string) => Promise<Omit<TaskRecord, 'format' | 'finishedAt'>>): Promise<{ dir: string; built: boolean }> {
    const dir = this.path(key);
    if (this.has(key)) return { dir, built: false };
    const tmp = join(this.root, `${TMP_PREFIX}${key}.${process.pid}.${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp, { recursive: true });
    try {
      const record = await make(tmp);
      writeFileAtomic(join(tmp, TASK_RECORD_FILE), `${JSON.stringify({ format: 'basin.task/1', ...record, finishedAt: new Date().toISOString() }, null, 1)}\n`);
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

  /** Removes temp folders whose process is gone. */
  private removeStaleTemps(): void {
    for (const name of readdirSync(this.root)) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      const pid = Number(name.split('.').at(-2));
      if (Number.isInteger(pid) && !processAlive(pid)) rmSync(join(this.root, name), { recursive: true, force: true });
    }
  }
}
