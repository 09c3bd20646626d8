// Running a PyTorch peer script (bench/peer/*.py with Debian's /usr/bin/python3) and
// exchanging tensors with it as JSON: {dtype, shape, b64} with the raw little-endian bytes,
// the same encoding as bench/peer/tensor_json.py.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DType, DTYPES, type Tensor, fromBytes, isDType } from '../../src/tensor/index.js';

export const PEER_PYTHON = '/usr/bin/python3';

export interface TensorEntry {
  dtype: DType;
  shape: number[];
  b64: string;
}

export function encodeTensor(t: Tensor): TensorEntry {
  return { dtype: t.dtype, shape: t.shape, b64: Buffer.from(t.toBytes()).toString('base64') };
}

export function decodeTensor(e: TensorEntry): Tensor {
  if (!isDType(e.dtype)) throw new Error(`peer output: unknown dtype '${e.dtype}'`);
  return fromBytes(new Uint8Array(Buffer.from(e.b64, 'base64')), e.dtype, e.shape);
}

/** Why the peer cannot run here, or null when /usr/bin/python3 imports torch. */
export function peerUnavailable(): string | null {
  const probe = spawnSync(PEER_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${PEER_PYTHON} with torch is not available`;
}

/** bench/peer/<name>, found by walking up from this file (works from the sources and from dist). */
export function peerScript(name: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'bench', 'peer', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`bench/peer/${name} not found above ${fileURLToPath(import.meta.url)}`);
}

/** Runs `python3 script INPUT.json OUTPUT.json` in a temp dir and returns the parsed output. */
export function runPeer(script: string, input: unknown): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'basin-peer-'));
  try {
    const inPath = join(dir, 'input.json');
    const outPath = join(dir, 'output.json');
    writeFileSync(inPath, JSON.stringify(input));
    const run = spawnSync(PEER_PYTHON, [peerScript(script), inPath, outPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`${script} exited with ${run.status}: ${run.stderr}`);
    return JSON.parse(readFileSync(outPath, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Tolerance {
  /** bytes must be identical */
  exact?: boolean;
}

const TOLERANCE: Partial<Record<DType, { rtol: number; atol: number }>> = {
  f64: { rtol: 1e-12, atol: 1e-12 },
  f32: { rtol: 1e-5, atol: 1e-6 },
  f16: { rtol: 1e-3, atol: 1e-5 },
  bf16: { rtol: 1e-2, atol: 1e-5 },
};

const values = (t: Tensor): number[] => t.toArray();

/**
 * Why `actual` differs from `expected` (dtype, shape, then values: floats within the dtype's
 * tolerance with NaN matching NaN, integers and bools exactly), or null when they agree.
 */
export function tensorDifference(actual: Tensor, expected: Tensor, o: Tolerance = {}): string | null {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (actual.shape.join(',') !== expected.shape.join(',')) return `shape [${actual.shape}], expected [${expected.shape}]`;
  const a = actual.toBytes();
  const e = expected.toBytes();
  if (Buffer.from(a).equals(Buffer.from(e))) return null;
  const tol = TOLERANCE[actual.dtype];
  if (o.exact || tol === undefined || !DTYPES[actual.dtype].floating) {
    const av = values(actual);
    const ev = values(expected);
    const i = av.findIndex((v, k) => !Object.is(v, ev[k]));
    return `bytes differ (exact comparison); first at element ${i}: ${av[i]}, expected ${ev[i]}`;
  }
  const av = values(actual);
  const ev = values(expected);
  for (let i = 0; i < av.length; i++) {
    const [x, y] = [av[i], ev[i]];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    if (!(Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y))) return `element ${i}: ${x}, expected ${y} (rtol ${tol.rtol}, atol ${tol.atol})`;
  }
  return null;
}
