/** Small descriptive helpers shared by basin's interval and test functions. */

/** Direction of a test: 'greater' asks whether the statistic is large, 'less' small. */
export type Alternative = 'two-sided' | 'greater' | 'less';

export function assertConfidenceLevel(confidence: number, where: string): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`${where}: confidence must lie in (0, 1), e.g. 0.95 (got ${confidence})`);
  }
}

export function assertFiniteValues(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new RangeError(`${what}[${i}] is ${values[i]}; every value must be a finite number`);
    }
  }
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** Sample standard deviation (denominator n - 1). */
export function sampleStandardDeviation(values: ArrayLike<number>): number {
  const m = mean(values);
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) sumSquares += (values[i]! - m) ** 2;
  return Math.sqrt(sumSquares / (values.length - 1));
}

/**
 * The q-quantile of ascending-sorted values by linear interpolation between order statistics
 * (Hyndman & Fan type 7, the default of R's `quantile` and numpy's `percentile`).
 */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const fraction = position - below;
  return sorted[below]! + fraction * (sorted[above]! - sorted[below]!);
}
