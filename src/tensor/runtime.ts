// What engine is running: libtorch version, BLAS library, threads, CUDA.

import { readFileSync, realpathSync } from 'node:fs';
import { cpus } from 'node:os';
import { native } from './native.js';

export interface RuntimeInfo {
  torchVersion: string;
  /** the BLAS shared library actually mapped into this process */
  blas: string;
  /** true when that BLAS is an optimized one (OpenBLAS, MKL, BLIS) rather than reference BLAS */
  blasOptimized: boolean;
  threads: number;
  cuda: boolean;
  cudaDevices: number;
}

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: ${n} is not a positive integer`);
  native.setNumThreads(n);
}
/**
 * Runs fn with libtorch's own kernels (element-wise ops, reductions, softmax, copies: its OpenMP
 * pool) on n threads, then restores the count. Matrix products keep theirs (OpenBLAS and XNNPACK
 * have their own pools). Work made of many small ops — a decode step — runs faster on one
 * thread than waking a second one for each op.
 */
export function withKernelThreads<R>(n: number, fn: () => R): R {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`withKernelThreads: ${n} is not a positive integer`);
  const before = getNumThreads();
  if (n === before) return fn();
  native.setKernelThreads(n);
  try {
    return fn();
  } finally {
    native.setKernelThreads(before);
  }
}
export function getNumThreads(): number {
  return native.getNumThreads() as number;
}

export const cuda = {
  isAvailable(): boolean { return native.cudaIsAvailable() as boolean; },
  deviceCount(): number { return native.cudaDeviceCount() as number; },
};

/** The BLAS library mapped into this process (Linux: from /proc/self/maps). */
function mappedBlas(): string {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const libs = new Set<string>();
    for (const line of maps.split('\n')) {
      const path = line.slice(line.indexOf('/'));
      if (line.includes('/') && /blas|mkl|blis/i.test(path)) libs.add(realpathSync(path.trim()));
    }
    return [...libs].join(', ') || 'none mapped (libtorch may use MKL statically)';
  } catch {
    return 'unknown (no /proc/self/maps)';
  }
}

export function runtimeInfo(): RuntimeInfo {
  const r = native.runtimeInfo() as { torchVersion: string; threads: number; cuda: boolean };
  const blas = mappedBlas();
  return {
    torchVersion: r.torchVersion,
    blas,
    blasOptimized: /openblas|mkl|blis/i.test(blas),
    threads: r.threads,
    cuda: r.cuda,
    cudaDevices: cuda.deviceCount(),
  };
}

/** One line for verbose start-up output. */
export function describeRuntime(): string {
  const r = runtimeInfo();
  const warn = r.blasOptimized ? '' : ' — WARNING: not an optimized BLAS; matmuls run ~40× slower (apt-get install libopenblas0-pthread)';
  return `libtorch ${r.torchVersion}, BLAS ${r.blas}${warn}, ${r.threads} threads, CUDA ${r.cuda ? `${r.cudaDevices} device(s)` : 'no'}`;
}

/**
 * Threads default to the machine's cores (libtorch sometimes starts with 1) unless
 * BASIN_THREADS says otherwise.
 */
export function initThreads(): void {
  const env = process.env.BASIN_THREADS;
  const n = env !== undefined ? Number(env) : cpus().length;
  if (Number.isInteger(n) && n >= 1) native.setNumThreads(n);
}

/** How many native tensor handles are alive (for leak checks). */
export function liveTensors(): number {
  return native.liveTensorCount() as number;
}
