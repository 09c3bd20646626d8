// Timing helpers shared by the benchmark suites: warm up, then the median of trials.

export function medianTime(fn: () => void, reps: number, trials: number): number {
  fn(); // warm-up
  const samples: number[] = [];
  for (let t = 0; t < trials; t++) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e9 / reps);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}

export interface BenchLine {
  suite: string;
  case: string;
  unit: string;
  ours: number;
  peer: number;
  /** peer / ours for times (above 1: basin is faster); ours / peer for rates */
  ratio: number;
  goal?: string;
  [extra: string]: unknown;
}
