// SAE metrics on cases worked out by hand: perfect reconstruction, the mean as reconstruction,
// zero reconstruction, a case where the corrected and legacy explained variances differ, batches
// streamed versus one batch (and the legacy formula's per-batch mean), feature densities with
// dead and dense latents and their log10 histogram, and the spliced CE and KL scores.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { ceLossScore, densityHistogram, klDivScore, SaeMetricsAccumulator, type SaeMetrics } from '../../src/sae/metrics.js';

const close = (got: number, want: number, what: string, tol = 1e-12) => assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want}`);

/** x [3, 2] with mean [2, 2]: E‖x‖² = 34/3, Σ_d E[x_d]² = 8, total variance 10/3 */
const X = [[1, 2], [3, 0], [2, 4]];
const ACTS = [[1, 0], [0, 2], [0, 0]];

function metricsOf(x: number[][], recon: number[][], acts: number[][] = x.map(() => [1])): SaeMetrics {
  const acc = new SaeMetricsAccumulator();
  acc.add(T.tensor(x), T.tensor(recon), T.tensor(acts));
  return acc.finish();
}

test('perfect reconstruction: explained variance 1 (both formulas), mse 0, cosine 1, l2 ratio 1, bias 1', () => {
  const m = metricsOf(X, X, ACTS);
  assert.equal(m.tokens, 3);
  close(m.explainedVariance, 1, 'explainedVariance');
  close(m.explainedVarianceLegacy, 1, 'explainedVarianceLegacy');
  close(m.mse, 0, 'mse');
  close(m.cosine, 1, 'cosine');
  close(m.l2Ratio, 1, 'l2Ratio');
  close(m.relativeReconstructionBias, 1, 'relativeReconstructionBias');
  close(m.l0, 2 / 3, 'l0');
  close(m.l1, 1, 'l1');
});

test('the mean as reconstruction: explained variance 0 (and 0 per token in the legacy formula), mse = total variance', () => {
  const m = metricsOf(X, X.map(() => [2, 2]));
  close(m.explainedVariance, 0, 'explainedVariance');
  close(m.explainedVarianceLegacy, 0, 'explainedVarianceLegacy');
  close(m.mse, 10 / 3, 'mse');
});

test('zero reconstruction: EV = 1 − (34/3)/(10/3), legacy = mean of 1 − ‖x‖²/SS_tot, cosine and l2 ratio 0, bias undefined', () => {
  const m = metricsOf(X, X.map(() => [0, 0]));
  close(m.explainedVariance, 1 - 34 / 10, 'explainedVariance');
  // per token ‖x‖² = 5, 9, 20 against SS_tot about the batch mean = 1, 5, 4
  close(m.explainedVarianceLegacy, (1 - 5 / 1 + (1 - 9 / 5) + (1 - 20 / 4)) / 3, 'explainedVarianceLegacy');
  close(m.mse, 34 / 3, 'mse');
  assert.equal(m.cosine, 0);
  assert.equal(m.l2Ratio, 0);
  assert.ok(Number.isNaN(m.relativeReconstructionBias), `relativeReconstructionBias: got ${m.relativeReconstructionBias}, want NaN (0/0)`);
});

test('the two explained variances differ: x = 0, 0, 3 and x̂ = 1, 0, 3 give 5/6 (corrected) against 2/3 (legacy)', () => {
  // mean 1, SS_tot per token 1, 1, 4; residuals 1, 0, 0. Corrected: 1 − (1/3)/(3 − 1) = 5/6.
  // Legacy: mean of (1 − 1/1, 1 − 0, 1 − 0) = 2/3.
  const m = metricsOf([[0], [0], [3]], [[1], [0], [3]]);
  close(m.explainedVariance, 5 / 6, 'explainedVariance');
  close(m.explainedVarianceLegacy, 2 / 3, 'explainedVarianceLegacy');
  close(m.explainedVariance - m.explainedVarianceLegacy, 1 / 6, 'difference');
});

test('l2 ratio and relative reconstruction bias of a shrunken reconstruction', () => {
  // x̂ = x/2: ‖x̂‖/‖x‖ = 1/2 and E‖x̂‖²/E[x·x̂] = (1/4)/(1/2) = 1/2 for any x; cosine 1
  const m = metricsOf(X, X.map((r) => r.map((v) => v / 2)));
  close(m.l2Ratio, 0.5, 'l2Ratio');
  close(m.relativeReconstructionBias, 0.5, 'relativeReconstructionBias');
  close(m.cosine, 1, 'cosine');
});

test('batches streamed give the one-batch metrics; the legacy EV is averaged over per-batch values, as SAELens does', () => {
  const g = T.Generator.seeded(3);
  const x = T.randn([30, 6], { dtype: 'f64', generator: g });
  const recon = x.add(T.randn([30, 6], { dtype: 'f64', generator: g }).mul(0.3));
  const acts = T.randn([30, 9], { dtype: 'f64', generator: g }).relu();
  const whole = new SaeMetricsAccumulator();
  whole.add(x, recon, acts);
  const streamed = new SaeMetricsAccumulator();
  for (const [s, n] of [[0, 7], [7, 13], [20, 10]] as const) streamed.add(x.narrow(0, s, n), recon.narrow(0, s, n), acts.narrow(0, s, n));
  const a = whole.finish();
  const b = streamed.finish();
  for (const k of ['tokens', 'l0', 'l1', 'mse', 'explainedVariance', 'cosine', 'l2Ratio', 'relativeReconstructionBias'] as const) close(b[k], a[k], k, 1e-12);
  assert.deepEqual([...b.featureDensity], [...a.featureDensity]);
  assert.deepEqual(b.deadLatents, a.deadLatents);

  // d_in 1 by hand. Batch [0, 2] → [1, 2]: mean 1, per token 1 − 1/1, 1 − 0/1. Batch [3, 5] → [3, 3]:
  // mean 4, per token 1 − 0/1, 1 − 4/1. Streamed legacy (0 + 1 + 1 − 3)/4 = −1/4. As one batch (mean
  // 2.5, SS_tot 6.25, .25, .25, 6.25): (1 − 1/6.25 + 1 + 1 + 1 − 4/6.25)/4 = 0.8. The corrected EV is
  // 1 − (5/4)/(9.5 − 6.25) = 8/13 either way.
  const two = new SaeMetricsAccumulator();
  two.add(T.tensor([[0], [2]]), T.tensor([[1], [2]]), T.tensor([[1], [1]]));
  two.add(T.tensor([[3], [5]]), T.tensor([[3], [3]]), T.tensor([[1], [1]]));
  const one = metricsOf([[0], [2], [3], [5]], [[1], [2], [3], [3]]);
  close(two.finish().explainedVarianceLegacy, -1 / 4, 'legacy, two batches');
  close(one.explainedVarianceLegacy, 0.8, 'legacy, one batch');
  close(two.finish().explainedVariance, 8 / 13, 'corrected, two batches');
  close(one.explainedVariance, 8 / 13, 'corrected, one batch');
});

test('feature densities, dead and dense latents, and the log10 density histogram by hand', () => {
  const acts = [
    [1, 0, 0, 0, 0.5],
    [2, 0, 0, 0, 0],
    [3, 0, -1, 0, 0],
    [4, 0, 0, 0, 0],
  ];
  const acc = new SaeMetricsAccumulator();
  acc.add(T.zeros([4, 3]), T.zeros([4, 3]), T.tensor(acts));
  const m = acc.finish({ histogramBins: 2 });
  assert.deepEqual([...m.featureDensity], [1, 0, 0.25, 0, 0.25]); // a negative activation fires too (z ≠ 0)
  close(m.l0, 6 / 4, 'l0');
  close(m.l1, (1.5 + 2 + 4 + 4) / 4, 'l1');
  assert.deepEqual(m.deadLatents, [1, 3]);
  assert.deepEqual(m.denseLatents, [0, 2, 4]);
  assert.deepEqual([m.deadDensity, m.denseDensity], [0, 0.1]);
  // 4 tokens resolve densities down to 10^−0.6: the range is [−1, 0]; log10 .25 = −0.60 → bin 0, log10 1 = 0 → bin 1
  assert.deepEqual(m.densityHistogram, { edges: [-1, -0.5, 0], counts: [2, 1], neverFired: 2 });
  const strict = acc.finish({ deadDensity: 0.25, denseDensity: 0.5 });
  assert.deepEqual(strict.deadLatents, [1, 2, 3, 4]);
  assert.deepEqual(strict.denseLatents, [0]);
  assert.deepEqual(densityHistogram([1e-5, 0.003, 0.02, 0], { bins: 3, min: -3 }), { edges: [-3, -2, -1, 0], counts: [2, 1, 0], neverFired: 1 });
});

test('CE loss score and KL score keep the raw numbers; undefined scores are NaN', () => {
  assert.deepEqual(ceLossScore(2, 2.5, 4), { ceClean: 2, ceSae: 2.5, ceZeroAbl: 4, deltaLoss: 0.5, score: 0.75 });
  assert.equal(ceLossScore(2, 2, 4).score, 1);
  assert.equal(ceLossScore(2, 4, 4).score, 0);
  assert.ok(Number.isNaN(ceLossScore(2, 2.5, 2).score));
  assert.deepEqual(klDivScore(0.1, 0.5), { klSae: 0.1, klAbl: 0.5, score: 0.8 });
  assert.ok(Number.isNaN(klDivScore(0, 0).score));
});

test('mismatched shapes and an empty accumulator are errors that name the fix', () => {
  const acc = new SaeMetricsAccumulator();
  assert.throws(() => acc.finish(), /no tokens were added/);
  assert.throws(() => acc.add(T.zeros([2, 3]), T.zeros([2, 4]), T.zeros([2, 5])), /recon is \[2, 4\] but x is \[2, 3\]/);
  assert.throws(() => acc.add(T.zeros([2, 3]), T.zeros([2, 3]), T.zeros([3, 5])), /acts has 3 rows but x has 2 tokens/);
  assert.throws(() => acc.add(T.zeros([2, 2, 3]), T.zeros([2, 2, 3]), T.zeros([2, 2, 5])), /flatten batch and position/);
  acc.add(T.zeros([2, 3]), T.zeros([2, 3]), T.zeros([2, 5]));
  assert.throws(() => acc.add(T.zeros([2, 3]), T.zeros([2, 3]), T.zeros([2, 6])), /d_sae 6 but earlier batches had 5/);
  assert.throws(() => acc.finish({ denseDensity: 2 }), /denseDensity \(2\) must be a density/);
});
