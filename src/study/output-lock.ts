// One writer per output folder: a study holds OUT/.basin-lock ("<pid> <host>") while it runs.
// The lock is created whole (a temp file hard-linked into place, so it is never seen empty). A
// second process asked to write there stops at once with a message naming the holder. A lock
// whose process is gone (same host, pid not alive) is taken over: it is renamed away first, so
// of several processes that found it stale only one takes it. A lock of another host cannot be
// checked and is never taken over. SIGINT/SIGTERM release the lock before the process ends
// (util/interrupt.ts).

import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { STUDY_LOCK_FILE } from '../io/files.js';
import { onInterrupt } from '../util/interrupt.js';
import { processAlive } from '../util/process-alive.js';

const LOCK_FILE = STUDY_LOCK_FILE;

interface Holder {
  pid: number;
  host: string;
}

function readHolder(path: string): Holder | null {
  try {
    const [pid, host] = readFileSync(path, 'utf8').trim().split(' ');
    return { pid: Number(pid), host: host ?? '' };
  } catch {
    return null; // gone meanwhile
  }
}

/** Takes the lock on `dir` (which must exist); returns the release function. `flag` names the CLI flag that chose `dir`. */
export function lockOutputFolder(dir: string, flag = '--out'): () => void {
  const path = join(dir, LOCK_FILE);
  const me = `${process.pid} ${hostname()}`;
  const tmp = join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, `${me}\n`);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, path);
        return holdUntilExit(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = readHolder(path);
      if (holder === null) continue;
      const valid = Number.isInteger(holder.pid) && holder.pid > 0;
      if (valid && holder.host !== hostname()) {
        throw new Error(`${dir}: basin process ${holder.pid} on host ${holder.host} is writing this output folder; wait for it, give another ${flag}, or delete ${path} if that process is gone`);
      }
      if (valid && processAlive(holder.pid)) {
        throw new Error(`${dir}: another basin process (pid ${holder.pid}) is writing this output folder; wait for it to finish, or give another ${flag}`);
      }
      // Stale: move it away; only one of several racing processes wins this rename.
      const away = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
      try {
        renameSync(path, away);
      } catch {
        continue; // someone else moved it
      }
      const moved = readHolder(away);
      if (moved !== null && moved.pid !== holder.pid && Number.isInteger(moved.pid) && moved.pid > 0 && processAlive(moved.pid)) {
        // We moved a fresh lock another process had just taken: put it back if we can.
        try {
          linkSync(away, path);
        } finally {
          rmSync(away, { force: true });
        }
        throw new Error(`${dir}: another basin process (pid ${moved.pid}) is writing this output folder; wait for it to finish, or give another ${flag}`);
      }
      rmSync(away, { force: true });
    }
    throw new Error(`${dir}: could not take the output-folder lock ${path} (other processes keep taking it); try again`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function holdUntilExit(path: string): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    rmSync(path, { force: true });
    process.off('exit', release);
    forget();
  };
  process.on('exit', release);
  const forget = onInterrupt(release);
  return release;
}
