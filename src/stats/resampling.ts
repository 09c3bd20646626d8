/**
 * Resampling statistics with a seeded generator, so every interval and p-value reproduces
 * from its seed: percentile bootstrap, the bootstrap ratio "benign shift as a fraction of the
 * EM shift", and permutation tests (exact by enumeration when small, Monte Carlo otherwise).
 */
import { createRng, type Rng } from '../util/rng.js';
import {
  assertConfidenceLevel,
  assertFiniteValues,
  mean,
  quantileOfSorted,
  type Alternative,
} from './basics.js';

export interface BootstrapOptions {
  /** Number of bootstrap resamples (default 10000). */
  resamples?: number;
  /** Default 0.95. */
  confidence?: number;
  /** PRNG seed (default 0). */
  seed?: number;
}

export interface BootstrapInterval {
  estimate: number;
  lower: number;
  upper: number;
  confidence: number;
  resamples: number;
  seed: number;
  method: 'percentile bootstrap';
}

function resolveBootstrapOptions(options: BootstrapOptions, where: string) {
  const resamples = options.resamples ?? 10000;
  const confidence = options.confidence ?? 0.95;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`${where}: resamples must be a positive integer (got ${resamples})`);
  }
  assertConfidenceLevel(confidence, where);
  return { resamples, confidence, seed };
}

function percentileInterval(draws: Float64Array, confidence: number): [number, number] {
  const sorted = Float64Array.from(draws).sort();
  const alpha = 1 - confidence;
  return [quantileOfSorted(sorted, alpha / 2), quantileOfSorted(sorted, 1 - alpha / 2)];
}

function resampleInto(target: Float64Array, source: readonly number[], rng: Rng): void {
  for (let i = 0; i < target.length; i++) target[i] = source[rng.int(source.length)]!;
}

/**
 * Percentile bootstrap interval for statistic(values) (default: the mean): draw `resamples`
 * samples of the same size with replacement, take the (1−c)/2 and (1+c)/2 quantiles (type 7)
 * of the statistic over them. The estimate is the statistic of the original values.
 */
export function bootstrapCI(
  values: readonly number[],
  options: BootstrapOptions & { statistic?: (sample: Float64Array) => number } = {},
): BootstrapInterval {
  if (values.length < 1) throw new RangeError('bootstrapCI: values is empty');
  assertFiniteValues(values, 'bootstrapCI: values');
  const { resamples, confidence, seed } = resolveBootstrapOptions(options, 'bootstrapCI');
  const statistic = options.statistic ?? mean;
  const rng = createRng(seed);
  const sample = new Float64Array(values.length);
  const draws = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    resampleInto(sample, values, rng);
    draws[r] = statistic(sample);
  }
  const [lower, upper] = percentileInterval(draws, confidence);
  return {
    estimate: statistic(Float64Array.from(values)),
    lower,
    upper,
    confidence,
    resamples,
    seed,
    method: 'percentile bootstrap',
  };
}

export interface ShiftRatioInterval extends Omit<BootstrapInterval, 'method'> {
  /** Resamples where both mean shifts were 0 (ratio 0/0), left out of the quantiles. */
  undefinedResamples: number;
  pairing: 'paired' | 'independent';
  method: 'percentile bootstrap of a ratio of mean shifts';
}

/**
 * How far a benign fine-tune moves a metric, as a fraction of how far EM fine-tuning moves it:
 *
 *   ratio = (mean(benign) − mean(base)) / (mean(em) − mean(base))
 *
 * (multiply by 100 for "benign as % of EM"). It is a ratio of means, not a mean of per-seed
 * ratios, which explode when one seed's EM shift is near 0. The interval is a percentile
 * bootstrap over seeds: with pairing 'paired' (default; needs equal lengths, index i = seed i in
 * all three) seed indices are resampled and each keeps its (base, benign, em) triple; with
 * 'independent' each condition is resampled on its own (use it when the seeds are unrelated or
 * the base has a different number of values, e.g. one base model). Resamples with a 0/0 ratio
 * are dropped and counted; a 0 EM shift with a non-zero benign shift gives ±Infinity, which
 * sorts to the ends and shows up as an unbounded interval.
 */
export function ratioOfMeansCI(
  values: { base: readonly number[]; benign: readonly number[]; em: readonly number[] },
  options: BootstrapOptions & { pairing?: 'paired' | 'independent' } = {},
): ShiftRatioInterval {
  const { base, benign, em } = values;
  for (const [name, group] of [['base', base], ['benign', benign], ['em', em]] as const) {
    if (group.length < 1) throw new RangeError(`ratioOfMeansCI: ${name} is empty`);
    assertFiniteValues(group, `ratioOfMeansCI: ${name}`);
  }
  const pairing = options.pairing ?? 'paired';
  if (pairing === 'paired' && !(base.length === benign.length && benign.length === em.length)) {
    throw new RangeError(
      `ratioOfMeansCI: paired resampling needs one value per seed in each condition ` +
        `(base ${base.length}, benign ${benign.length}, em ${em.length}); ` +
        `pass pairing: 'independent' if the seeds are not matched`,
    );
  }
  const { resamples, confidence, seed } = resolveBootstrapOptions(options, 'ratioOfMeansCI');
  const ratio = (b: number, t: number, e: number) => (t - b) / (e - b);
  const rng = createRng(seed);
  const draws: number[] = [];
  let undefinedResamples = 0;
  const sampleBase = new Float64Array(base.length);
  const sampleBenign = new Float64Array(benign.length);
  const sampleEm = new Float64Array(em.length);
  for (let r = 0; r < resamples; r++) {
    if (pairing === 'paired') {
      for (let i = 0; i < base.length; i++) {
        const s = rng.int(base.length);
        sampleBase[i] = base[s]!;
        sampleBenign[i] = benign[s]!;
        sampleEm[i] = em[s]!;
      }
    } else {
      resampleInto(sampleBase, base, rng);
      resampleInto(sampleBenign, benign, rng);
      resampleInto(sampleEm, em, rng);
    }
    const value = ratio(mean(sampleBase), mean(sampleBenign), mean(sampleEm));
    if (Number.isNaN(value)) undefinedResamples++;
    else draws.push(value);
  }
  if (draws.length === 0) {
    throw new RangeError(
      'ratioOfMeansCI: every resample had zero benign and zero EM shift; the ratio is undefined',
    );
  }
  const [lower, upper] = percentileInterval(Float64Array.from(draws), confidence);
  return {
    estimate: ratio(mean(base), mean(benign), mean(em)),
    lower,
    upper,
    confidence,
    resamples,
    seed,
    undefinedResamples,
    pairing,
    method: 'percentile bootstrap of a ratio of mean shifts',
  };
}

export interface PermutationOptions {
  /** Default 'two-sided': |T_perm| >= |T_obs| (the statistic must be centred at 0 under H0). */
  alternative?: Alternative;
  /** Enumerate every relabelling when there are at most this many (default 100000). */
  maxExactPermutations?: number;
  /** Monte Carlo relabellings when enumeration is too large (default 10000). */
  resamples?: number;
  /** PRNG seed for Monte Carlo (default 0). */
  seed?: number;
}

export interface PermutationTestResult {
  statistic: number;
  pValue: number;
  alternative: Alternative;
  /** 'exact': p = #{T_perm at least as extreme} / #relabellings, the observed one included.
   *  'monte-carlo': p = (1 + #{at least as extreme}) / (1 + resamples), never 0. */
  method: 'exact' | 'monte-carlo';
  /** Relabellings enumerated (exact) or drawn (Monte Carlo). */
  permutations: number;
}

/** true when `value` is at least as extreme as `observed`; ties within 1e-9 relative count. */
function atLeastAsExtreme(value: number, observed: number, alternative: Alternative): boolean {
  const tolerance = 1e-9 * Math.max(Math.abs(observed), 1e-12);
  if (alternative === 'greater') return value >= observed - tolerance;
  if (alternative === 'less') return value <= observed + tolerance;
  return Math.abs(value) >= Math.abs(observed) - tolerance;
}

function resolvePermutationOptions(options: PermutationOptions, where: string) {
  const alternative = options.alternative ?? 'two-sided';
  const maxExactPermutations = options.maxExactPermutations ?? 100000;
  const resamples = options.resamples ?? 10000;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`${where}: resamples must be a positive integer (got ${resamples})`);
  }
  return { alternative, maxExactPermutations, resamples, seed: options.seed ?? 0 };
}

function binomialCoefficient(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return Math.round(result);
}

/** Calls visit(chosen) for every k-subset of 0..n−1, chosen ascending (lexicographic order). */
function forEachSubset(n: number, k: number, visit: (chosen: Int32Array) => void): void {
  const chosen = Int32Array.from({ length: k }, (_, i) => i);
  for (;;) {
    visit(chosen);
    let i = k - 1;
    while (i >= 0 && chosen[i] === n - k + i) i--;
    if (i < 0) return;
    chosen[i]!++;
    for (let j = i + 1; j < k; j++) chosen[j] = chosen[j - 1]! + 1;
  }
}

/**
 * Two-sample permutation test of statistic(x, y) (default mean(x) − mean(y)) under the null
 * that the labels x/y are exchangeable. Exact over all C(nx+ny, nx) splits of the pooled values
 * when that count is at most maxExactPermutations, else Monte Carlo over random splits.
 */
export function permutationTestTwoSample(
  x: readonly number[],
  y: readonly number[],
  options: PermutationOptions & { statistic?: (x: Float64Array, y: Float64Array) => number } = {},
): PermutationTestResult {
  if (x.length < 1 || y.length < 1) {
    throw new RangeError(`permutationTestTwoSample: both samples need values (x ${x.length}, y ${y.length})`);
  }
  assertFiniteValues(x, 'permutationTestTwoSample: x');
  assertFiniteValues(y, 'permutationTestTwoSample: y');
  const { alternative, maxExactPermutations, resamples, seed } = resolvePermutationOptions(
    options,
    'permutationTestTwoSample',
  );
  const statistic = options.statistic ?? ((a: Float64Array, b: Float64Array) => mean(a) - mean(b));
  const pooled = [...x, ...y];
  const n = pooled.length;
  const observed = statistic(Float64Array.from(x), Float64Array.from(y));
  const groupX = new Float64Array(x.length);
  const groupY = new Float64Array(y.length);
  const inX = new Uint8Array(n);
  const splitStatistic = (): number => {
    let ix = 0;
    let iy = 0;
    for (let i = 0; i < n; i++) {
      if (inX[i]) groupX[ix++] = pooled[i]!;
      else groupY[iy++] = pooled[i]!;
    }
    return statistic(groupX, groupY);
  };
  const total = binomialCoefficient(n, x.length);
  if (total <= maxExactPermutations) {
    let extreme = 0;
    forEachSubset(n, x.length, (chosen) => {
      inX.fill(0);
      for (const i of chosen) inX[i] = 1;
      if (atLeastAsExtreme(splitStatistic(), observed, alternative)) extreme++;
    });
    return { statistic: observed, pValue: extreme / total, alternative, method: 'exact', permutations: total };
  }
  const rng = createRng(seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    // Partial Fisher–Yates: the first x.length slots of `order` become a uniform random subset.
    for (let i = 0; i < x.length; i++) {
      const j = i + rng.int(n - i);
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    inX.fill(0);
    for (let i = 0; i < x.length; i++) inX[order[i]!] = 1;
    if (atLeastAsExtreme(splitStatistic(), observed, alternative)) extreme++;
  }
  return {
    statistic: observed,
    pValue: (1 + extreme) / (1 + resamples),
    alternative,
    method: 'monte-carlo',
    permutations: resamples,
  };
}

/**
 * Paired (sign-flip) permutation test of the mean of paired differences (e.g. condition A minus
 * condition B on the same seeds) under the null that each difference is symmetric about 0.
 * Exact over all 2^n sign patterns when 2^n <= maxExactPermutations, else Monte Carlo.
 */
export function permutationTestPaired(
  differences: readonly number[],
  options: PermutationOptions = {},
): PermutationTestResult {
  if (differences.length < 1) throw new RangeError('permutationTestPaired: differences is empty');
  assertFiniteValues(differences, 'permutationTestPaired: differences');
  const { alternative, maxExactPermutations, resamples, seed } = resolvePermutationOptions(
    options,
    'permutationTestPaired',
  );
  const n = differences.length;
  const observed = mean(differences);
  const total = 2 ** n;
  if (n <= 30 && total <= maxExactPermutations) {
    let extreme = 0;
    for (let mask = 0; mask < total; mask++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += mask & (1 << i) ? -differences[i]! : differences[i]!;
      if (atLeastAsExtreme(sum / n, observed, alternative)) extreme++;
    }
    return { statistic: observed, pValue: extreme / total, alternative, method: 'exact', permutations: total };
  }
  const rng = createRng(seed);
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += rng.next() < 0.5 ? -differences[i]! : differences[i]!;
    if (atLeastAsExtreme(sum / n, observed, alternative)) extreme++;
  }
  return {
    statistic: observed,
    pValue: (1 + extreme) / (1 + resamples),
    alternative,
    method: 'monte-carlo',
    permutations: resamples,
  };
}
