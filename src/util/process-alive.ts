// Whether a process id names a live process (signal 0 checks without sending anything; EPERM
// means it exists but belongs to someone else). Used to tell stale locks and temp folders left
// by dead processes from those of running ones.

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
