// One writer per output folder: a study holds OUT/.basin-lock (its pid) while it runs. A second
// process asked to write there stops at once with a message naming the holder; a lock left by
// a process that died is taken over.

import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../util/process-alive.js';

const LOCK_FILE = '.basin-lock';

/** Takes the lock on `dir` (which must exist); returns the release function. */
export function lockOutputFolder(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        rmSync(path, { force: true });
        process.off('exit', release);
      };
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && processAlive(holder)) {
        throw new Error(`${dir}: another basin process (pid ${holder}) is writing this output folder; wait for it to finish, or give another --out`);
      }
      rmSync(path, { force: true }); // the holder died: take over
    }
  }
  throw new Error(`${dir}: could not take the output-folder lock ${path}`);
}
