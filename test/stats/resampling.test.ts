import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bootstrapCI,
  permutationTestPaired,
  permutationTestTwoSample,
  ratioOfMeansCI,
} from '../../src/stats/resampling.js';
import { gaussianSampler } from './synthetic.js';

test('bootstrap CI covers the true mean, has the expected width, and is reproducible by seed', () => {
  const gaussian = gaussianSampler(11);
  const values = Array.from({ length: 400 }, () => 5 + 2 * gaussian());
  const interval = bootstrapCI(values, { seed: 3 });
  assert.ok(interval.lower < 5 && 5 < interval.upper, `[${interval.lower}, ${interval.upper}] misses 5`);
  // Normal theory: width ≈ 2·1.96·2/√400 = 0.392.
  const width = interval.upper - interval.lower;
  assert.ok(width > 0.33 && width < 0.45, `width ${width}`);
  assert.deepEqual(bootstrapCI(values, { seed: 3 }), interval);
  assert.notEqual(bootstrapCI(values, { seed: 4 }).lower, interval.lower);
  // A constant sample has a degenerate interval; a custom statistic is honoured.
  const constant = bootstrapCI([2, 2, 2, 2], { resamples: 200 });
  assert.deepEqual([constant.lower, constant.estimate, constant.upper], [2, 2, 2]);
  const maximum = bootstrapCI([1, 2, 3], { statistic: (s) => Math.max(...s), resamples: 500 });
  assert.equal(maximum.estimate, 3);
  assert.ok(maximum.lower >= 1 && maximum.upper === 3);
});

test('bootstrap percentile CI of the mean agrees with the t interval on normal data (coverage over 200 data sets)', () => {
  const gaussian = gaussianSampler(5);
  let covered = 0;
  for (let rep = 0; rep < 200; rep++) {
    const values = Array.from({ length: 30 }, () => gaussian());
    const interval = bootstrapCI(values, { resamples: 1000, seed: rep });
    if (interval.lower < 0 && 0 < interval.upper) covered++;
  }
  // Nominal 95%; percentile intervals at n = 30 run slightly narrow. Binomial(200, 0.93) sd ≈ 3.6.
  assert.ok(covered >= 175 && covered <= 198, `covered ${covered}/200`);
});

test('ratioOfMeansCI: exact proportional shifts give a degenerate interval at the true ratio', () => {
  const base = [1.0, 1.2, 0.9, 1.1, 1.0];
  const em = [3.0, 2.6, 3.4, 2.9, 3.1];
  const benign = base.map((b, i) => b + 0.25 * (em[i]! - b));
  const interval = ratioOfMeansCI({ base, benign, em }, { resamples: 2000 });
  for (const v of [interval.estimate, interval.lower, interval.upper]) assert.ok(Math.abs(v - 0.25) < 1e-12, `${v}`);
  assert.equal(interval.undefinedResamples, 0);
});

test('ratioOfMeansCI: noisy seeds — ratio of means, coverage over repeated experiments, validated modes', () => {
  const gaussian = gaussianSampler(21);
  const seeds = 10;
  const experiment = () => {
    const base = Array.from({ length: seeds }, () => 0.05 + 0.01 * gaussian());
    const em = Array.from({ length: seeds }, () => 0.45 + 0.05 * gaussian());
    const benign = base.map((b) => b + 0.12 + 0.02 * gaussian()); // true ratio 0.12 / 0.4 = 0.3
    return { base, benign, em };
  };
  const data = experiment();
  const interval = ratioOfMeansCI(data, { seed: 1 });
  const expected = (mean(data.benign) - mean(data.base)) / (mean(data.em) - mean(data.base));
  assert.ok(Math.abs(interval.estimate - expected) < 1e-15, 'a ratio of means, not a mean of ratios');
  assert.ok(interval.lower < interval.estimate && interval.estimate < interval.upper);
  let covered = 0;
  for (let rep = 0; rep < 100; rep++) {
    const { lower, upper } = ratioOfMeansCI(experiment(), { resamples: 1000, seed: rep });
    if (lower < 0.3 && 0.3 < upper) covered++;
  }
  // Nominal 95%; a percentile bootstrap over 10 seeds undercovers somewhat (≈ 88–92%).
  assert.ok(covered >= 80, `covered ${covered}/100`);
  const independent = ratioOfMeansCI({ base: [0.05], benign: data.benign, em: data.em }, { pairing: 'independent', seed: 1 });
  assert.ok(independent.lower < independent.estimate && independent.estimate < independent.upper);
  assert.throws(() => ratioOfMeansCI({ base: [0.05], benign: data.benign, em: data.em }), /pairing: 'independent'/);
  assert.throws(
    () => ratioOfMeansCI({ base: [1, 1], benign: [1, 1], em: [1, 1] }),
    /every resample had zero benign and zero EM shift/,
  );
});

test('two-sample permutation test: exact p-values match a hand count and brute force over all orderings', () => {
  // [1,2,3] vs [4,5,6]: of the C(6,3) = 20 splits only the observed one and its mirror reach |Δ| = 3.
  const result = permutationTestTwoSample([1, 2, 3], [4, 5, 6]);
  assert.equal(result.method, 'exact');
  assert.equal(result.permutations, 20);
  assert.equal(result.pValue, 2 / 20);
  assert.equal(permutationTestTwoSample([1, 2, 3], [4, 5, 6], { alternative: 'less' }).pValue, 1 / 20);
  assert.equal(permutationTestTwoSample([1, 2, 3], [4, 5, 6], { alternative: 'greater' }).pValue, 1);

  // Brute force: every one of the 7! orderings of the pooled values, first 3 as x.
  const x = [0.3, 1.9, 2.2];
  const y = [0.1, -0.4, 0.8, 0.05];
  const pooled = [...x, ...y];
  const observed = mean(x) - mean(y);
  let extreme = 0;
  let total = 0;
  const permute = (prefix: number[], rest: number[]) => {
    if (rest.length === 0) {
      total++;
      if (Math.abs(mean(prefix.slice(0, 3)) - mean(prefix.slice(3))) >= Math.abs(observed) - 1e-12) extreme++;
      return;
    }
    rest.forEach((v, i) => permute([...prefix, v], [...rest.slice(0, i), ...rest.slice(i + 1)]));
  };
  permute([], pooled);
  assert.equal(total, 5040);
  assert.ok(Math.abs(permutationTestTwoSample(x, y).pValue - extreme / total) < 1e-15);
});

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

test('two-sample permutation test: Monte Carlo approximates the exact p, never reports 0, reproduces by seed', () => {
  const gaussian = gaussianSampler(8);
  const x = Array.from({ length: 8 }, () => gaussian() + 0.9);
  const y = Array.from({ length: 8 }, () => gaussian());
  const exact = permutationTestTwoSample(x, y); // C(16, 8) = 12870 splits
  assert.equal(exact.method, 'exact');
  const monteCarlo = permutationTestTwoSample(x, y, { maxExactPermutations: 0, resamples: 20000, seed: 2 });
  assert.equal(monteCarlo.method, 'monte-carlo');
  // Binomial standard error at 20000 draws is below 0.0036.
  assert.ok(Math.abs(monteCarlo.pValue - exact.pValue) < 0.012, `${monteCarlo.pValue} vs exact ${exact.pValue}`);
  assert.deepEqual(permutationTestTwoSample(x, y, { maxExactPermutations: 0, resamples: 20000, seed: 2 }), monteCarlo);
  const separated = permutationTestTwoSample([10, 11, 12, 13, 14, 15], [0, 1, 2, 3, 4, 5], {
    maxExactPermutations: 0,
    resamples: 999,
  });
  assert.equal(separated.pValue, 1 / 1000, 'the +1 correction: (0 + 1)/(999 + 1)');
});

test('paired sign-flip permutation test: exact enumeration of 2^n sign patterns', () => {
  // Differences 1..4: only all-positive and all-negative reach |mean| = 2.5 → 2/16.
  assert.equal(permutationTestPaired([1, 2, 3, 4]).pValue, 2 / 16);
  assert.equal(permutationTestPaired([1, 2, 3, 4], { alternative: 'greater' }).pValue, 1 / 16);
  // [3, −1, 2]: means of the 8 patterns are ±(3 ± 1 ± 2)/3; |mean| >= 4/3 for 3±1±2 in {6, 4, 2, 0}
  // → |.| in {6, 4} → 2 patterns of each sign → 4/8.
  assert.equal(permutationTestPaired([3, -1, 2]).pValue, 4 / 8);
  const monteCarlo = permutationTestPaired([1, 2, 3, 4], { maxExactPermutations: 0, resamples: 40000, seed: 9 });
  assert.ok(Math.abs(monteCarlo.pValue - 0.125) < 0.01, `${monteCarlo.pValue}`);
});
