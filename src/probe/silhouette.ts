/**
 * Silhouette score (Rousseeuw 1987), as scikit-learn's `silhouette_score` defines it: for each
 * sample, a = mean distance to the other members of its cluster, b = the smallest mean distance
 * to the members of another cluster, s = (b − a)/max(a, b), and s = 0 for a sample alone in its
 * cluster; the score is the mean of s over all samples, in [−1, 1].
 *
 * Distances come from one Gram matrix of inner products (O(n² d)): euclidean
 * ||x − y|| = sqrt(||x||² + ||y||² − 2 x·y) on rows centred on their mean (which leaves
 * distances unchanged and keeps the subtraction well conditioned), cosine 1 − x·y/(||x|| ||y||)
 * on the rows as given.
 */
import { addGramLower } from './linalg.js';

export type SilhouetteMetric = 'euclidean' | 'cosine';

/** rows [n][d], classIndex [n] in 0..numClasses−1; needs 2 <= #clusters present <= n − 1. */
export function silhouetteScore(
  rows: readonly Float64Array[],
  classIndex: ArrayLike<number>,
  numClasses: number,
  metric: SilhouetteMetric,
): number {
  const n = rows.length;
  const sizes = new Float64Array(numClasses);
  for (let i = 0; i < n; i++) sizes[classIndex[i]!]!++;
  const present = sizes.filter((s) => s > 0).length;
  if (present < 2 || present > n - 1) {
    throw new RangeError(`silhouetteScore: needs between 2 and n − 1 = ${n - 1} clusters (got ${present})`);
  }
  const d = rows[0]!.length;
  const matrix = new Float64Array(n * d); // [n, d]
  rows.forEach((row, i) => matrix.set(row, i * d));
  if (metric === 'euclidean') {
    for (let j = 0; j < d; j++) {
      let columnMean = 0;
      for (let i = 0; i < n; i++) columnMean += matrix[i * d + j]! / n;
      for (let i = 0; i < n; i++) matrix[i * d + j]! -= columnMean;
    }
  }
  const gram = new Float64Array(n * n); // [n, n], lower triangle
  addGramLower(gram, matrix, n, d, 1);
  const squaredNorms = Float64Array.from({ length: n }, (_, i) => gram[i * n + i]!);
  if (metric === 'cosine') {
    squaredNorms.forEach((v, i) => {
      if (v === 0) throw new RangeError(`silhouetteScore: row ${i} is all zeros, its cosine distance is undefined`);
    });
  }
  const distance = (i: number, j: number): number =>
    metric === 'cosine'
      ? 1 - gram[i * n + j]! / Math.sqrt(squaredNorms[i]! * squaredNorms[j]!)
      : Math.sqrt(Math.max(0, squaredNorms[i]! + squaredNorms[j]! - 2 * gram[i * n + j]!));

  // distanceSums[i·C + c] = Σ over members j of cluster c of dist(i, j).
  const distanceSums = new Float64Array(n * numClasses);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const dij = distance(i, j);
      distanceSums[i * numClasses + classIndex[j]!]! += dij;
      distanceSums[j * numClasses + classIndex[i]!]! += dij;
    }
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const own = classIndex[i]!;
    if (sizes[own] === 1) continue; // s = 0
    const a = distanceSums[i * numClasses + own]! / (sizes[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < numClasses; c++) {
      if (c !== own && sizes[c]! > 0) b = Math.min(b, distanceSums[i * numClasses + c]! / sizes[c]!);
    }
    const largest = Math.max(a, b);
    total += largest === 0 ? 0 : (b - a) / largest;
  }
  return total / n;
}
