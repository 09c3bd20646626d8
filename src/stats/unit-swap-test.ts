/**
 * A permutation test whose exchangeable unit is a whole unit measured under two conditions
 * (e.g. a persona's vector on the base model and after a fine-tune): under H0 the two
 * condition labels of each unit can be swapped without changing the joint distribution of the
 * data, units independently of each other. The statistic sees which units are swapped and may
 * combine units freely (a mean over pairs of units, a cosine matrix), so dependence *between*
 * units' derived quantities (pairs that share a unit) is kept intact in every relabelling —
 * unlike a sign-flip over pair-level differences, which treats pairs sharing a unit as
 * independent and is anti-conservative.
 *
 * Exact by enumerating all 2^n swap patterns when that is at most maxExactPermutations, else
 * Monte Carlo with p = (1 + #{at least as extreme}) / (1 + resamples), never 0.
 */
import { createRng } from '../util/rng.js';
import type { Alternative } from './basics.js';

export interface UnitSwapOptions {
  /** Default 'two-sided': |T_perm| ≥ |T_obs|. */
  alternative?: Alternative;
  /** Enumerate every swap pattern when 2^units is at most this (default 65536). */
  maxExactPermutations?: number;
  /** Monte Carlo swap patterns when enumeration is too large (default 10000). */
  resamples?: number;
  /** PRNG seed for Monte Carlo (default 0). */
  seed?: number;
}

export interface UnitSwapResult {
  /** the statistic with no unit swapped */
  statistic: number;
  pValue: number;
  alternative: Alternative;
  /** 'exact': p = #{at least as extreme} / 2^units, the observed pattern included. */
  method: 'exact' | 'monte-carlo';
  /** swap patterns enumerated (exact) or drawn (Monte Carlo) */
  permutations: number;
  units: number;
  /** the smallest p-value this test can give with these units and permutations */
  minimumPValue: number;
}

/** true when `value` is at least as extreme as `observed`; ties within 1e-9 relative count. */
function atLeastAsExtreme(value: number, observed: number, alternative: Alternative): boolean {
  const tolerance = 1e-9 * Math.max(Math.abs(observed), 1e-12);
  if (alternative === 'greater') return value >= observed - tolerance;
  if (alternative === 'less') return value <= observed + tolerance;
  return Math.abs(value) >= Math.abs(observed) - tolerance;
}

/**
 * Tests H0 "each unit's two condition labels are exchangeable" with statistic(swapped), where
 * swapped[i] = 1 means unit i's two measurements trade labels. `statistic` is called with the
 * same (reused) buffer each time and must not keep it. NaN statistics are an error: a test
 * over undefined values means nothing.
 */
export function unitSwapTest(units: number, statistic: (swapped: Uint8Array) => number, options: UnitSwapOptions = {}): UnitSwapResult {
  if (!Number.isInteger(units) || units < 1) throw new RangeError(`unitSwapTest: units must be a positive integer (got ${units})`);
  const alternative = options.alternative ?? 'two-sided';
  const maxExact = options.maxExactPermutations ?? 65536;
  const resamples = options.resamples ?? 10000;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`unitSwapTest: resamples must be a positive integer (got ${resamples})`);
  const swapped = new Uint8Array(units);
  const evaluate = (): number => {
    const t = statistic(swapped);
    if (Number.isNaN(t)) throw new RangeError(`unitSwapTest: the statistic is NaN for swap pattern ${Array.from(swapped).join('')}`);
    return t;
  };
  const observed = evaluate();
  if (units <= 30 && 2 ** units <= maxExact) {
    const total = 2 ** units;
    let extreme = 0;
    for (let mask = 0; mask < total; mask++) {
      for (let i = 0; i < units; i++) swapped[i] = (mask >>> i) & 1;
      if (atLeastAsExtreme(evaluate(), observed, alternative)) extreme++;
    }
    return { statistic: observed, pValue: extreme / total, alternative, method: 'exact', permutations: total, units, minimumPValue: 1 / total };
  }
  const rng = createRng(options.seed ?? 0);
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < units; i++) swapped[i] = rng.next() < 0.5 ? 1 : 0;
    if (atLeastAsExtreme(evaluate(), observed, alternative)) extreme++;
  }
  return { statistic: observed, pValue: (1 + extreme) / (1 + resamples), alternative, method: 'monte-carlo', permutations: resamples, units, minimumPValue: 1 / (1 + resamples) };
}
