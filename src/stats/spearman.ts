/** Spearman's rank correlation with an exact permutation p-value for small n. */
import { studentTCdf } from './distributions.js';
import { assertFiniteValues } from './basics.js';

/** Ranks 1..n, tied values sharing the average of the ranks they span. */
export function averageRanks(values: readonly number[]): Float64Array {
  const order = values.map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const ranks = new Float64Array(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]!] === values[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]!] = averageRank;
    start = end + 1;
  }
  return ranks;
}

export interface SpearmanResult {
  /** Pearson correlation of the average ranks. */
  rho: number;
  /** Two-sided: P(|rho_perm| >= |rho_obs|) under random pairing of x with y. */
  pValue: number;
  n: number;
  method: 'exact permutation' | 't approximation';
}

/** Largest n for exact enumeration (10! = 3,628,800 pairings, well under a second). */
export const SPEARMAN_EXACT_MAX_N = 10;

/**
 * Spearman's rho and its two-sided p-value. method 'auto' (default) is exact for
 * n <= SPEARMAN_EXACT_MAX_N: every one of the n! pairings of the y ranks with the x ranks is
 * enumerated (Heap's algorithm) and p is the share with |rho| >= |rho_obs| (ties within 1e-9
 * count), conditional on the observed ranks, so it stays exact with ties. For larger n,
 * t = rho·sqrt((n−2)/(1−rho²)) is referred to Student t with n−2 degrees of freedom.
 */
export function spearman(
  x: readonly number[],
  y: readonly number[],
  options: { method?: 'auto' | 'exact' | 't-approximation' } = {},
): SpearmanResult {
  const n = x.length;
  if (y.length !== n) throw new RangeError(`spearman: x and y need equal lengths (x ${n}, y ${y.length})`);
  if (n < 3) throw new RangeError(`spearman: needs at least 3 pairs (got ${n})`);
  assertFiniteValues(x, 'spearman: x');
  assertFiniteValues(y, 'spearman: y');
  const method = options.method ?? 'auto';
  if (method === 'exact' && n > SPEARMAN_EXACT_MAX_N) {
    throw new RangeError(
      `spearman: exact enumeration is limited to n <= ${SPEARMAN_EXACT_MAX_N} (got ${n}); use method 't-approximation'`,
    );
  }
  const rx = averageRanks(x);
  const ry = averageRanks(y);
  // Average ranks always have mean (n+1)/2, so rho = (Σ rx·ry − n·m²) / sqrt(Sxx·Syy).
  const m = (n + 1) / 2;
  let cross = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    cross += rx[i]! * ry[i]!;
    sxx += (rx[i]! - m) ** 2;
    syy += (ry[i]! - m) ** 2;
  }
  if (sxx === 0 || syy === 0) {
    throw new RangeError(`spearman: ${sxx === 0 ? 'x' : 'y'} is constant, so the rank correlation is undefined`);
  }
  const centre = n * m * m;
  const rho = Math.max(-1, Math.min(1, (cross - centre) / Math.sqrt(sxx * syy)));
  if (method === 't-approximation' || (method === 'auto' && n > SPEARMAN_EXACT_MAX_N)) {
    const pValue =
      Math.abs(rho) === 1 ? 0 : 2 * studentTCdf(-Math.abs(rho) * Math.sqrt((n - 2) / (1 - rho * rho)), n - 2);
    return { rho, pValue, n, method: 't approximation' };
  }
  return { rho, pValue: exactSpearmanPValue(rx, ry, Math.abs(cross - centre), centre), n, method: 'exact permutation' };
}

/** Share of the n! permutations π with |Σ rx_i·ry_π(i) − centre| >= observedDeviation. */
function exactSpearmanPValue(rx: Float64Array, ry: Float64Array, observedDeviation: number, centre: number): number {
  const n = rx.length;
  const permuted = Float64Array.from(ry);
  const threshold = observedDeviation - 1e-9 * Math.max(observedDeviation, 1);
  let cross = 0;
  for (let i = 0; i < n; i++) cross += rx[i]! * permuted[i]!;
  let extreme = Math.abs(cross - centre) >= threshold ? 1 : 0;
  let total = 1;
  // Heap's algorithm (iterative): each step swaps two entries, updating the cross sum in O(1).
  const counters = new Int32Array(n);
  let i = 1;
  while (i < n) {
    if (counters[i]! < i) {
      const j = i % 2 === 0 ? 0 : counters[i]!;
      cross += (rx[j]! - rx[i]!) * (permuted[i]! - permuted[j]!);
      const tmp = permuted[i]!;
      permuted[i] = permuted[j]!;
      permuted[j] = tmp;
      total++;
      if (Math.abs(cross - centre) >= threshold) extreme++;
      counters[i]!++;
      i = 1;
    } else {
      counters[i] = 0;
      i++;
    }
  }
  return extreme / total;
}
