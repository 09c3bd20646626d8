// Work to do before the process ends on SIGINT (Ctrl-C) or SIGTERM: release a lock, record
// what was interrupted. One handler runs every registered cleanup (the latest first), then
// exits with the shell's code for the signal (130, 143). While nothing is registered the
// signals keep their default action.

const cleanups = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function handler(signal: NodeJS.Signals): void {
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch {
      // the process is ending; one failed cleanup must not stop the others
    }
  }
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Registers `cleanup` to run on SIGINT/SIGTERM; returns the function that unregisters it. */
export function onInterrupt(cleanup: () => void): () => void {
  if (cleanups.size === 0) for (const s of SIGNALS) process.on(s, handler);
  cleanups.add(cleanup);
  return () => {
    if (!cleanups.delete(cleanup)) return;
    if (cleanups.size === 0) for (const s of SIGNALS) process.off(s, handler);
  };
}
