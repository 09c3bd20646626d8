// M1's test of "a condition changes the mean off-diagonal cosine between persona vectors"
// whose exchangeable unit is the persona, not the persona pair. The 66 pairs of 12 personas
// share personas (one persona's noisy vector moves 11 pairs at once), so a sign-flip over pair
// differences treats dependent values as independent and gives p-values far too small. Here,
// under H0 each persona's vector from condition X and from condition Y are exchangeable
// (the fine-tune moved no persona's vector in distribution); a relabelling swaps the two
// vectors of a whole persona (in every seed at once), and the statistic is recomputed from the
// cosine matrices of the relabelled sets.

import { unitSwapTest, type UnitSwapResult } from '../../../stats/unit-swap-test.js';

export interface CosineShiftTest {
  /** mean over seeds of meanOffDiagonal(cos(Y)) − meanOffDiagonal(cos(X)) */
  meanDifference: number;
  pValue: number;
  personas: number;
  seeds: number;
  permutations: number;
  /** the smallest p-value the test can give here (2^-P when exact) */
  minimumPValue: number;
  exact: boolean;
  /** the test in words */
  method: string;
}

function unit(v: Float64Array): Float64Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) ** 2;
  const n = Math.sqrt(s);
  if (n === 0) throw new RangeError('cosineShiftTest: a persona vector is all zeros; its cosine is undefined');
  return v.map((x) => x / n);
}

/**
 * `x[s][p]` and `y[s][p]`: persona p's vector in seed s under the two conditions (X = the
 * reference, e.g. base; Y = the condition). Two-sided persona-swap permutation test of the
 * difference in mean off-diagonal cosine, exact over the 2^P swap patterns when there are at
 * most `maxExactPermutations`, else Monte Carlo with `resamples` patterns.
 */
export function cosineShiftTest(x: readonly (readonly Float64Array[])[], y: readonly (readonly Float64Array[])[], o: { resamples: number; seed: number; maxExactPermutations?: number }): CosineShiftTest {
  const seeds = x.length;
  if (seeds < 1 || y.length !== seeds) throw new RangeError(`cosineShiftTest: expected the same number (≥ 1) of seeds for both conditions (got ${x.length} and ${y.length})`);
  const P = x[0]?.length ?? 0;
  if (P < 2) throw new RangeError(`cosineShiftTest: needs at least 2 personas (got ${P})`);
  for (let s = 0; s < seeds; s++) {
    if (x[s]?.length !== P || y[s]?.length !== P) throw new RangeError(`cosineShiftTest: seed ${s} has ${x[s]?.length} and ${y[s]?.length} persona vectors, expected ${P}`);
  }
  // Per seed: the cosine between any two of the 2P vectors (X's personas 0..P−1, Y's P..2P−1), once.
  const grams = Array.from({ length: seeds }, (_, s) => {
    const all = [...(x[s] as Float64Array[]), ...(y[s] as Float64Array[])].map(unit);
    const n = 2 * P;
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      let d = 0;
      const a = all[i] as Float64Array;
      const b = all[j] as Float64Array;
      for (let k = 0; k < a.length; k++) d += (a[k] as number) * (b[k] as number);
      g[i * n + j] = d;
      g[j * n + i] = d;
    }
    return g;
  });
  const pairs = (P * (P - 1)) / 2;
  const n = 2 * P;
  // X's slot for persona p holds vector p (unswapped) or P + p (swapped); Y's the other.
  const statistic = (swapped: Uint8Array): number => {
    let total = 0;
    for (const g of grams) {
      let sx = 0;
      let sy = 0;
      for (let p = 0; p < P; p++) {
        const xp = swapped[p] ? P + p : p;
        const yp = swapped[p] ? p : P + p;
        for (let q = p + 1; q < P; q++) {
          const xq = swapped[q] ? P + q : q;
          const yq = swapped[q] ? q : P + q;
          sx += g[xp * n + xq] as number;
          sy += g[yp * n + yq] as number;
        }
      }
      total += (sy - sx) / pairs;
    }
    return total / seeds;
  };
  const t: UnitSwapResult = unitSwapTest(P, statistic, { resamples: o.resamples, seed: o.seed, ...(o.maxExactPermutations !== undefined ? { maxExactPermutations: o.maxExactPermutations } : {}) });
  // Swapping every persona turns the statistic into its negative, so an exact two-sided p is never below 2/2^P.
  const minimumPValue = t.method === 'exact' ? 2 / t.permutations : t.minimumPValue;
  const how = t.method === 'exact' ? `exact over all 2^${P} = ${t.permutations} swap patterns` : `Monte Carlo over ${t.permutations} random swap patterns`;
  return {
    meanDifference: t.statistic, pValue: t.pValue, personas: P, seeds, permutations: t.permutations, minimumPValue, exact: t.method === 'exact',
    method: `two-sided permutation test with the persona as the exchangeable unit: each relabelling swaps the two conditions' vectors of whole personas (in all ${seeds} seed(s) at once) and recomputes the difference in mean off-diagonal cosine; ${how} (smallest possible p ${minimumPValue.toExponential(1)})`,
  };
}
