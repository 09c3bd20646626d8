// Runs a PyTorch peer script (Debian python3-torch) and collects its JSON lines.

import { spawnSync } from 'node:child_process';

export const PEER_PYTHON = process.env.BASIN_PEER_PYTHON ?? '/usr/bin/python3';

export interface PeerLine {
  case: string;
  unit: string;
  value: number;
  [extra: string]: unknown;
}

export function runPeer(script: string, args: string[] = []): PeerLine[] {
  const r = spawnSync(PEER_PYTHON, [script, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`peer ${script} failed (exit ${r.status}): ${r.stderr.slice(-2000)}\n` +
      `The PyTorch peer needs ${PEER_PYTHON} with torch (Debian: apt-get install python3-torch).`);
  }
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PeerLine);
}
