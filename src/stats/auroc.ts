/** The area under the ROC curve of a score, from average ranks. */
import { assertFiniteValues } from './basics.js';
import { averageRanks } from './spearman.js';

/**
 * AUROC of a score meant to be higher for positives than for negatives: P(S₊ > S₋) + ½·P(S₊ = S₋)
 * over every (positive, negative) pair, computed as the Mann–Whitney U of the positives over
 * n₊·n₋ from average ranks (ties count half), O(n log n). 1 separates perfectly, 0.5 is chance,
 * 0 separates perfectly the other way round.
 */
export function auroc(positive: readonly number[], negative: readonly number[]): number {
  if (positive.length === 0 || negative.length === 0) {
    throw new RangeError(`auroc: needs at least one positive and one negative score (got ${positive.length} and ${negative.length})`);
  }
  assertFiniteValues(positive, 'auroc: positive');
  assertFiniteValues(negative, 'auroc: negative');
  const ranks = averageRanks([...positive, ...negative]);
  const nPos = positive.length;
  let rankSum = 0;
  for (let i = 0; i < nPos; i++) rankSum += ranks[i]!;
  const u = rankSum - (nPos * (nPos + 1)) / 2;
  return u / (nPos * negative.length);
}
