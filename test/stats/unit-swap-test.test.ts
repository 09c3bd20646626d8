import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unitSwapTest } from '../../src/stats/unit-swap-test.js';
import { permutationTestPaired } from '../../src/stats/resampling.js';
import { gaussianSampler } from './synthetic.js';

/** The mean of differences with the swapped units' signs flipped: the paired sign-flip statistic. */
const signedMean = (d: readonly number[]) => (swapped: Uint8Array) => d.reduce((s, x, i) => s + (swapped[i] ? -x : x), 0) / d.length;

test('unitSwapTest: by hand on three units (all 8 swap patterns)', () => {
  // ±1 ±2 ±3 over 3: {2, 4/3, 2/3, 0, 0, −2/3, −4/3, −2}; observed 2.
  const two = unitSwapTest(3, signedMean([1, 2, 3]));
  assert.equal(two.statistic, 2);
  assert.equal(two.pValue, 2 / 8);
  assert.equal(two.method, 'exact');
  assert.equal(two.permutations, 8);
  assert.equal(unitSwapTest(3, signedMean([1, 2, 3]), { alternative: 'greater' }).pValue, 1 / 8);
  assert.equal(unitSwapTest(3, signedMean([1, 2, 3]), { alternative: 'less' }).pValue, 1);
  // |T| ≥ 0 for every pattern when the observed is 0.
  assert.equal(unitSwapTest(2, signedMean([1, -1])).pValue, 1);
});

test('unitSwapTest with a per-unit signed statistic is the paired sign-flip test (an independent implementation)', () => {
  const gaussian = gaussianSampler(7);
  for (let rep = 0; rep < 5; rep++) {
    const d = Array.from({ length: 10 }, () => 0.3 + gaussian());
    for (const alternative of ['two-sided', 'greater', 'less'] as const) {
      const ours = unitSwapTest(d.length, signedMean(d), { alternative });
      const theirs = permutationTestPaired(d, { alternative });
      assert.equal(theirs.method, 'exact');
      assert.ok(Math.abs(ours.pValue - theirs.pValue) < 1e-12, `${alternative}: ${ours.pValue} vs ${theirs.pValue}`);
      assert.ok(Math.abs(ours.statistic - theirs.statistic) < 1e-12);
    }
  }
});

test('unitSwapTest: Monte Carlo beyond maxExactPermutations — reproducible by seed, never 0, near the exact p', () => {
  const gaussian = gaussianSampler(3);
  const d = Array.from({ length: 14 }, () => 0.4 + gaussian());
  const exact = unitSwapTest(d.length, signedMean(d));
  assert.equal(exact.method, 'exact');
  const mc = unitSwapTest(d.length, signedMean(d), { maxExactPermutations: 1000, resamples: 20000, seed: 5 });
  assert.equal(mc.method, 'monte-carlo');
  assert.equal(mc.permutations, 20000);
  assert.deepEqual(unitSwapTest(d.length, signedMean(d), { maxExactPermutations: 1000, resamples: 20000, seed: 5 }), mc);
  // Binomial sd of a Monte Carlo p near 0.05 with 20000 draws ≈ 0.0015; allow 4 sd.
  assert.ok(Math.abs(mc.pValue - exact.pValue) < 4 * Math.sqrt((exact.pValue * (1 - exact.pValue)) / 20000) + 1e-4, `${mc.pValue} vs exact ${exact.pValue}`);
  const extreme = unitSwapTest(40, signedMean(Array.from({ length: 40 }, () => 5)), { resamples: 999 });
  assert.equal(extreme.pValue, 1 / 1000, 'p = (1 + 0)/(1 + resamples), never 0');
  assert.equal(extreme.minimumPValue, 1 / 1000);
});

test('unitSwapTest: bad input is an error that says what is wrong', () => {
  assert.throws(() => unitSwapTest(0, () => 0), /units must be a positive integer \(got 0\)/);
  assert.throws(() => unitSwapTest(2, () => 0, { resamples: 0, maxExactPermutations: 1 }), /resamples must be a positive integer/);
  assert.throws(() => unitSwapTest(2, (s) => (s[0] ? NaN : 1)), /statistic is NaN for swap pattern 10/);
});
