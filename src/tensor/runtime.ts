// What engine is running: libtorch version, BLAS library, threads, CUDA.

import { readFileSync, realpathSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
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
  const cacheMiB = Math.round(largeBlockCache.stats().limitBytes / 2 ** 20);
  return `libtorch ${r.torchVersion}, BLAS ${r.blas}${warn}, ${r.threads} threads, CPU block cache ≤ ${cacheMiB} MiB, CUDA ${r.cuda ? `${r.cudaDevices} device(s)` : 'no'}`;
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

export interface LargeBlockCacheStats {
  /** bytes of freed large CPU blocks kept for reuse, and how many blocks */
  idleBytes: number;
  idleBlocks: number;
  /** the most idle bytes kept (BASIN_CPU_CACHE_MB; default a quarter of the machine's memory) */
  limitBytes: number;
  /** large allocations served from the cache, and those that took fresh memory */
  hits: number;
  misses: number;
}

/**
 * The cache of freed large (≥ 32 MiB) CPU blocks that libtorch's allocator reuses (see
 * native/basin.cc, "Large-block cache"): glibc maps such blocks fresh each time, a zeroed page
 * per 4 KiB on first touch, and training steps and forward passes allocate the same sizes again
 * and again.
 */
export const largeBlockCache = {
  stats(): LargeBlockCacheStats {
    return native.largeBlockCacheStats() as LargeBlockCacheStats;
  },
  /** Sets the most idle bytes kept (0 turns reuse off); frees idle blocks past it now. */
  setLimit(bytes: number): void {
    if (!(bytes >= 0)) throw new RangeError(`largeBlockCache.setLimit: ${bytes} is not a byte count >= 0`);
    native.setLargeBlockCacheLimit(bytes);
  },
  /** Frees every idle block now (the limit stays; the cache fills again as blocks are freed). */
  release(): void {
    const { limitBytes } = largeBlockCache.stats();
    native.setLargeBlockCacheLimit(0);
    native.setLargeBlockCacheLimit(limitBytes);
  },
};

/**
 * Sets the large-block cache's limit from BASIN_CPU_CACHE_MB, or a quarter of the machine's
 * memory. A value that is not a number of MiB ≥ 0 is reported on stderr and the default used
 * (this runs when the module loads, before any command could report an error).
 */
export function initLargeBlockCache(): void {
  const env = process.env.BASIN_CPU_CACHE_MB;
  const fallback = totalmem() / 4 / 2 ** 20;
  let mib = env === undefined || env === '' ? fallback : Number(env);
  if (!(mib >= 0)) {
    process.stderr.write(`basin: BASIN_CPU_CACHE_MB="${env}" is not a number of MiB >= 0 (0 turns the CPU block cache off); using ${Math.round(fallback)}\n`);
    mib = fallback;
  }
  native.setLargeBlockCacheLimit(mib * 2 ** 20);
}

/** How many native tensor handles are alive (for leak checks). */
export function liveTensors(): number {
  return native.liveTensorCount() as number;
}
