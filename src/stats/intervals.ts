/** Closed-form confidence intervals: Wilson score for a rate, Student t for a mean. */
import { normalQuantile, studentTQuantile } from './distributions.js';
import {
  assertConfidenceLevel,
  assertFiniteValues,
  mean,
  sampleStandardDeviation,
} from './basics.js';

export interface RateInterval {
  successes: number;
  trials: number;
  rate: number;
  lower: number;
  upper: number;
  confidence: number;
  method: 'Wilson score';
}

/**
 * Wilson score interval for a binomial rate k/n: the p whose score test
 * |k/n − p| <= z·sqrt(p(1 − p)/n) does not reject, z the normal (1+confidence)/2 quantile.
 * Unlike the Wald interval it stays inside [0, 1] and is not degenerate at k = 0 or k = n.
 */
export function wilsonInterval(successes: number, trials: number, confidence = 0.95): RateInterval {
  if (!Number.isInteger(trials) || trials < 1) {
    throw new RangeError(`wilsonInterval: trials must be a positive integer (got ${trials})`);
  }
  if (!Number.isInteger(successes) || successes < 0 || successes > trials) {
    throw new RangeError(
      `wilsonInterval: successes must be an integer in [0, trials=${trials}] (got ${successes})`,
    );
  }
  assertConfidenceLevel(confidence, 'wilsonInterval');
  const z = normalQuantile(0.5 + confidence / 2);
  const n = trials;
  const rate = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (rate + z2 / (2 * n)) / denominator;
  const halfWidth = (z / denominator) * Math.sqrt((rate * (1 - rate)) / n + z2 / (4 * n * n));
  return {
    successes,
    trials,
    rate,
    lower: successes === 0 ? 0 : Math.max(0, centre - halfWidth),
    upper: successes === trials ? 1 : Math.min(1, centre + halfWidth),
    confidence,
    method: 'Wilson score',
  };
}

export interface MeanInterval {
  n: number;
  mean: number;
  standardDeviation: number;
  standardError: number;
  degreesOfFreedom: number;
  lower: number;
  upper: number;
  confidence: number;
  method: 'Student t';
}

/** mean ± t_{(1+confidence)/2, n−1} · s/√n, the classical interval for a mean over seeds. */
export function meanConfidenceInterval(values: readonly number[], confidence = 0.95): MeanInterval {
  if (values.length < 2) {
    throw new RangeError(
      `meanConfidenceInterval: needs at least 2 values to estimate spread (got ${values.length})`,
    );
  }
  assertFiniteValues(values, 'meanConfidenceInterval: values');
  assertConfidenceLevel(confidence, 'meanConfidenceInterval');
  const n = values.length;
  const m = mean(values);
  const sd = sampleStandardDeviation(values);
  const standardError = sd / Math.sqrt(n);
  const halfWidth = studentTQuantile(0.5 + confidence / 2, n - 1) * standardError;
  return {
    n,
    mean: m,
    standardDeviation: sd,
    standardError,
    degreesOfFreedom: n - 1,
    lower: m - halfWidth,
    upper: m + halfWidth,
    confidence,
    method: 'Student t',
  };
}
