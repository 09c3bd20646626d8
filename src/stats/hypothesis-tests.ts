/** Hypothesis tests on counts and p-values: Fisher's exact test and Holm's correction. */
import { logFactorial } from './distributions.js';
import type { Alternative } from './basics.js';

/** [[a, b], [c, d]]: rows are groups (e.g. fine-tuned, base), columns outcomes (e.g. misaligned, not). */
export type TwoByTwoTable = readonly [readonly [number, number], readonly [number, number]];

export interface FisherExactResult {
  /** Sample odds ratio ad/(bc) (Infinity when bc = 0 < ad, NaN when both are 0), as scipy reports it. */
  oddsRatio: number;
  pValue: number;
  alternative: Alternative;
}

/**
 * Fisher's exact test for a 2x2 table. With all margins fixed, the top-left cell X is
 * hypergeometric; probabilities come from log-factorials, so tables with tens of thousands of
 * observations are exact to ~1e-10 relative. 'greater' is P(X >= a) (odds ratio > 1), 'less'
 * P(X <= a). 'two-sided' follows R's fisher.test and scipy: the sum of P(X = x) over every x
 * with P(X = x) <= P(X = a)·(1 + 1e-7), the tolerance absorbing rounding between equal terms.
 */
export function fisherExact(table: TwoByTwoTable, alternative: Alternative = 'two-sided'): FisherExactResult {
  const cells = [table[0][0], table[0][1], table[1][0], table[1][1]];
  for (const cell of cells) {
    if (!Number.isInteger(cell) || cell < 0) {
      throw new RangeError(`fisherExact: table cells must be non-negative integers (got [${cells.join(', ')}])`);
    }
  }
  const [a, b, c, d] = cells as [number, number, number, number];
  const row1 = a + b;
  const row2 = c + d;
  const col1 = a + c;
  const n = row1 + row2;
  const lowest = Math.max(0, col1 - row2);
  const highest = Math.min(row1, col1);
  const logConstant =
    logFactorial(row1) + logFactorial(row2) + logFactorial(col1) + logFactorial(n - col1) - logFactorial(n);
  const probability = (x: number) =>
    Math.exp(
      logConstant - logFactorial(x) - logFactorial(row1 - x) - logFactorial(col1 - x) -
        logFactorial(row2 - col1 + x),
    );
  let pValue = 0;
  if (alternative === 'less') {
    for (let x = lowest; x <= a; x++) pValue += probability(x);
  } else if (alternative === 'greater') {
    for (let x = a; x <= highest; x++) pValue += probability(x);
  } else {
    const threshold = probability(a) * (1 + 1e-7);
    for (let x = lowest; x <= highest; x++) {
      const p = probability(x);
      if (p <= threshold) pValue += p;
    }
  }
  return { oddsRatio: (a * d) / (b * c), pValue: Math.min(1, pValue), alternative };
}

/**
 * Holm's step-down adjusted p-values, in the input order: sort ascending, multiply the i-th
 * smallest (0-based) by m − i, carry the running maximum so adjusted values keep the order of
 * the raw ones, cap at 1. Reject H_i at level α when adjusted_i <= α (controls the
 * family-wise error rate under any dependence).
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  for (const [i, p] of pValues.entries()) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`holmAdjust: pValues[${i}] = ${p} is not a probability`);
  }
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((i, j) => pValues[i]! - pValues[j]!);
  const adjusted = new Array<number>(m);
  let runningMax = 0;
  order.forEach((original, rank) => {
    runningMax = Math.max(runningMax, Math.min(1, (m - rank) * pValues[original]!));
    adjusted[original] = runningMax;
  });
  return adjusted;
}
