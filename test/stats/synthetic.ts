/** Seeded synthetic data for the statistics and probe tests. */
import { createRng } from '../../src/util/rng.js';

/** Standard normal draws (Box–Muller) from a seeded mulberry32 stream. */
export function gaussianSampler(seed: number): () => number {
  const rng = createRng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** `perClass` rows per class around the given means [C][d] with unit isotropic noise. */
export function gaussianClusters(
  means: readonly Float64Array[],
  perClass: number,
  seed: number,
): { rows: Float64Array[]; labels: number[] } {
  const gaussian = gaussianSampler(seed);
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  means.forEach((mean, c) => {
    for (let i = 0; i < perClass; i++) {
      rows.push(mean.map((m) => m + gaussian()));
      labels.push(c);
    }
  });
  return { rows, labels };
}
