// M1's persona-swap test on simulated persona vectors: its false-positive rate under a null
// where personas are exchangeable between the two conditions (and the 66 pairs share
// personas), its power against a real collapse, and — so that the simulation can fail — the
// old sign-flip over persona pairs, which treats dependent pairs as independent, rejecting far
// too often on the same null data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineShiftTest } from '../../src/study/kinds/persona-collapse/m1-test.js';
import { cosineMatrix, meanOffDiagonal } from '../../src/persona/geometry.js';
import { permutationTestPaired } from '../../src/stats/resampling.js';
import { gaussianSampler } from '../stats/synthetic.js';

const P = 12;
const D = 24;

/**
 * One simulated data set: persona means share a common direction (mean off-diagonal cosine
 * ≈ 0.9, like the note's base model) plus their own; each persona is measured under both
 * conditions with its own noise level (so a noisy persona moves all 11 of its pairs at once).
 * `shift` adds a common direction to every persona under the second condition: a collapse.
 */
function simulate(gaussian: () => number, seeds: number, shift: number): { x: Float64Array[][]; y: Float64Array[][] } {
  const common = Float64Array.from({ length: D }, () => 3 * gaussian());
  const towards = Float64Array.from({ length: D }, () => gaussian());
  const means = Array.from({ length: P }, () => common.map((c) => c + gaussian()));
  const noise = Array.from({ length: P }, (_, p) => 0.05 + (0.35 * p) / (P - 1)); // 0.05 … 0.4 per coordinate
  const measure = (p: number, extra: number) => (means[p] as Float64Array).map((m, k) => m + extra * (towards[k] as number) + (noise[p] as number) * gaussian());
  const x = Array.from({ length: seeds }, () => Array.from({ length: P }, (_, p) => measure(p, 0)));
  const y = Array.from({ length: seeds }, () => Array.from({ length: P }, (_, p) => measure(p, shift)));
  return { x, y };
}

/** The test the study used before: a sign-flip permutation over the 66 pair differences of the seed-mean cosine matrices. */
function pairSignFlip(x: Float64Array[][], y: Float64Array[][]): number {
  const meanMatrix = (sets: Float64Array[][]) => {
    const ms = sets.map((v) => cosineMatrix(v));
    return ms[0]!.map((row, i) => row.map((_, j) => ms.reduce((s, m) => s + m[i]![j]!, 0) / ms.length));
  };
  const [mx, my] = [meanMatrix(x), meanMatrix(y)];
  const diffs: number[] = [];
  for (let i = 0; i < P; i++) for (let j = i + 1; j < P; j++) diffs.push(my[i]![j]! - mx[i]![j]!);
  return permutationTestPaired(diffs, { resamples: 1000, seed: 2 }).pValue;
}

test('M1 persona-swap test: the statistic is the difference in mean off-diagonal cosine; exact with 12 personas', () => {
  const { x, y } = simulate(gaussianSampler(1), 2, 1);
  const t = cosineShiftTest(x, y, { resamples: 100, seed: 0 });
  const expected = (meanOffDiagonal(cosineMatrix(y[0]!)) - meanOffDiagonal(cosineMatrix(x[0]!)) + meanOffDiagonal(cosineMatrix(y[1]!)) - meanOffDiagonal(cosineMatrix(x[1]!))) / 2;
  assert.ok(Math.abs(t.meanDifference - expected) < 1e-12, `${t.meanDifference} vs ${expected}`);
  assert.equal(t.exact, true);
  assert.equal(t.permutations, 4096);
  assert.equal(t.minimumPValue, 2 / 4096);
  assert.ok(t.pValue >= t.minimumPValue && t.pValue <= 1);
  assert.match(t.method, /persona as the exchangeable unit/);
  // Swapping the conditions negates the statistic and leaves p unchanged.
  const back = cosineShiftTest(y, x, { resamples: 100, seed: 0 });
  assert.ok(Math.abs(back.meanDifference + t.meanDifference) < 1e-12);
  assert.ok(Math.abs(back.pValue - t.pValue) < 1e-12);
  assert.throws(() => cosineShiftTest(x, y.slice(0, 1), { resamples: 10, seed: 0 }), /same number/);
});

test('M1 persona-swap test: false-positive rate ≤ 5% under exchangeable personas, where the pair sign-flip is anti-conservative', (t) => {
  const gaussian = gaussianSampler(2024);
  const datasets = 600;
  let swapRejections = 0;
  let pairRejections = 0;
  for (let i = 0; i < datasets; i++) {
    const { x, y } = simulate(gaussian, 1 + (i % 3), 0);
    if (cosineShiftTest(x, y, { resamples: 1000, seed: i }).pValue <= 0.05) swapRejections++;
    if (pairSignFlip(x, y) <= 0.05) pairRejections++;
  }
  t.diagnostic(`false positives at α = 0.05: persona swap ${swapRejections}/${datasets}, pair sign-flip ${pairRejections}/${datasets}`);
  // The swap test is exact (2^12 patterns), so its rejection rate is at most 5% in expectation.
  // Monte Carlo slack: Binomial(600, 0.05) has sd √(600·0.05·0.95) ≈ 5.3; 3.3 sd above the mean
  // (one-sided probability ≈ 5e-4 of failing a correct test) allows 30 + 17.6 → 47 rejections.
  assert.ok(swapRejections <= 47, `persona-swap test rejected ${swapRejections}/${datasets} true nulls (≤ 47 expected)`);
  // The pair-level test on the same data rejects far more often than 5%: pairs share personas.
  assert.ok(pairRejections >= 3 * 30, `pair sign-flip rejected only ${pairRejections}/${datasets}; the simulation no longer shows its anti-conservatism`);
});

test('M1 persona-swap test: power against a shared shift that collapses persona geometry', (t) => {
  const gaussian = gaussianSampler(99);
  const datasets = 120;
  let rejections = 0;
  let meanDelta = 0;
  for (let i = 0; i < datasets; i++) {
    const { x, y } = simulate(gaussian, 1 + (i % 3), 6);
    const r = cosineShiftTest(x, y, { resamples: 1000, seed: i });
    meanDelta += r.meanDifference / datasets;
    if (r.pValue <= 0.05 && r.meanDifference > 0) rejections++;
  }
  t.diagnostic(`power at α = 0.05: ${rejections}/${datasets}, mean Δ cosine ${meanDelta.toFixed(3)}`);
  assert.ok(meanDelta > 0.06 && meanDelta < 0.12, `mean Δ cosine ${meanDelta} (a collapse the size of the note's base → EM, 0.900 → 0.994)`);
  assert.ok(rejections >= 0.8 * datasets, `power ${rejections}/${datasets}`);
});
