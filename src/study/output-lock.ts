// One writer per output folder: a study holds OUT/.basin-lock ("<pid> <host>") while it runs.
// The lock is created whole (a temp file hard-linked into place, so it is never seen empty). A
// second process asked to write there stops at once with a message naming the holder. A lock
// whose process is gone (same host, pid not alive) is taken over: only the process holding a
// second, takeover file (also created by an exclusive link) may remove it, so of several
// processes that found it stale exactly one ends up holding the lock. A lock of another host cannot be
// checked and is never taken over. SIGINT/SIGTERM release the lock before the process ends
// (util/interrupt.ts).

import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Blocks the thread for ms milliseconds (lock retries are rare and short). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const ATTEMPTS = 200;

/** Takes the lock on `dir` (which must exist); returns the release function. `flag` names the CLI flag that chose `dir`. */
export function lockOutputFolder(dir: string, flag = '--out'): () => void {
  const path = join(dir, LOCK_FILE);
  const takeover = `${path}.takeover`;
  const me = `${process.pid} ${hostname()}`;
  const tmp = join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const busy = (pid: number) => new Error(`${dir}: another basin process (pid ${pid}) is writing this output folder; wait for it to finish, or give another ${flag}`);
  /** null: the holder is gone (stale lock); otherwise the error naming the live holder */
  const liveHolder = (holder: Holder): Error | null => {
    const valid = Number.isInteger(holder.pid) && holder.pid > 0;
    if (valid && holder.host !== hostname()) {
      return new Error(`${dir}: basin process ${holder.pid} on host ${holder.host} is writing this output folder; wait for it, give another ${flag}, or delete ${path} if that process is gone`);
    }
    return valid && processAlive(holder.pid) ? busy(holder.pid) : null;
  };
  writeFileSync(tmp, `${me}\n`);
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        linkSync(tmp, path);
        return holdUntilExit(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = readHolder(path);
      if (holder === null) continue; // released meanwhile: try again
      const live = liveHolder(holder);
      if (live !== null) throw live;
      // Stale (or gone meanwhile). Only the holder of the takeover file may remove a stale lock,
      // and a lock is only ever created by an exclusive link, so two processes can never both
      // hold it: of several that found it stale, one removes it, and whoever links first wins.
      try {
        linkSync(tmp, takeover);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const other = readHolder(takeover);
        // A takeover file whose process died mid-takeover would block everyone: clear it.
        if (other !== null && other.host === hostname() && !processAlive(other.pid)) rmSync(takeover, { force: true });
        pause(5 + attempt);
        continue;
      }
      try {
        // Re-read under the takeover file: a lock that exists cannot be replaced, and only we may
        // remove one, so a stale holder read here is still the lock's content when we remove it.
        const now = readHolder(path);
        if (now !== null) {
          const stillLive = liveHolder(now);
          if (stillLive !== null) throw stillLive;
          rmSync(path, { force: true });
        }
      } finally {
        rmSync(takeover, { force: true });
      }
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
