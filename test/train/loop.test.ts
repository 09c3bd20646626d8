// The generic training loop on a quadratic objective, against closed forms: plain SGD at a
// constant lr contracts θ − c by (1 − η a) per step; SGD with momentum under a warm-up + linear
// schedule and gradient accumulation follows torch.optim.SGD's recursion, computed here in JS
// doubles. Also: the optimizer's settings reach run.json, and an objective that declares a loss
// name twice is refused before any step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { configHash, lrFactor, sgd, trainLoop, type BatchSource, type Json, type Objective, type RunRecord } from '../../src/train/index.js';

const root = mkdtempSync(join(tmpdir(), 'basin-loop-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const A = [0.5, 1, 2, 3]; // curvatures
const C = [1, -2, 0.5, 4]; // minimiser
const THETA0 = [0, 0, 3, -1];

/** No data: the objective is a function of the parameters alone. */
const noData: BatchSource<null> = {
  next: () => null, tokens: () => 0, position: () => ({}), seek: () => {}, describe: () => ({ kind: 'none' }),
};

/** f(θ) = ½ Σ a_i (θ_i − c_i)², gradient a ⊙ (θ − c). */
function quadratic(theta: T.Tensor): Objective<null> {
  const [a, c] = [T.tensor(A, { dtype: 'f64' }), T.tensor(C, { dtype: 'f64' })];
  return {
    lossNames: ['quad'],
    parts: () => ({ quad: { value: theta.sub(c).square().mul(a).sum().mul(0.5), weight: 1 } }),
    describe: () => ({ kind: 'quadratic', a: A, c: C }),
  };
}

test('SGD on a quadratic matches θ_K = c + (1 − η a)^K (θ_0 − c)', () => {
  const theta = T.tensor(THETA0, { dtype: 'f64' });
  const [eta, K] = [0.1, 25];
  const outDir = join(root, 'plain');
  const r = trainLoop({ outDir, steps: K, lr: eta, seed: 0, optimizer: sgd(), parameters: new Map([['theta', theta]]), objective: quadratic(theta), data: noData, quiet: true });
  assert.equal(r.steps, K);
  const got = theta.toArray();
  A.forEach((a, i) => {
    const want = C[i]! + (1 - eta * a) ** K * (THETA0[i]! - C[i]!);
    assert.ok(Math.abs(got[i]! - want) <= 1e-12, `θ[${i}] = ${got[i]}, closed form ${want}`);
  });
  // The loss logged at step k is f(θ_{k−1}).
  const metrics = readFileSync(r.metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number; parts: { quad: number } });
  const f0 = 0.5 * A.reduce((s, a, i) => s + a * (THETA0[i]! - C[i]!) ** 2, 0);
  assert.ok(Math.abs(metrics[0]!.loss - f0) <= 1e-12 && metrics[0]!.parts.quad === metrics[0]!.loss);

  const run = JSON.parse(readFileSync(join(outDir, 'run.json'), 'utf8')) as RunRecord;
  assert.deepEqual(run.config.optimizer, { name: 'sgd', momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
  assert.equal(configHash(run.config as unknown as Json), run.runHash);
});

test('SGD with momentum, warm-up + linear decay and gradient accumulation matches torch.optim.SGD recursion', () => {
  const theta = T.tensor(THETA0, { dtype: 'f64' });
  const [eta, mu, K, warmup, accum] = [0.05, 0.9, 12, 3, 2];
  trainLoop({
    outDir: join(root, 'momentum'), steps: K, lr: eta, seed: 0, optimizer: sgd({ momentum: mu }), schedule: 'linear', warmupSteps: warmup, gradAccum: accum,
    parameters: new Map([['theta', theta]]), objective: quadratic(theta), data: noData, quiet: true,
  });
  // torch.optim.SGD: b_1 = g_1, b_k = μ b_{k−1} + g_k; θ ← θ − lr_k b_k. Two micro-batches of loss/2 sum to the full gradient.
  const th = [...THETA0];
  const buf = [0, 0, 0, 0];
  for (let k = 0; k < K; k++) {
    const lr = eta * lrFactor('linear', k, K, warmup);
    for (let i = 0; i < 4; i++) {
      const g = A[i]! * (th[i]! - C[i]!);
      buf[i] = k === 0 ? g : mu * buf[i]! + g;
      th[i] = th[i]! - lr * buf[i]!;
    }
  }
  const got = theta.toArray();
  th.forEach((want, i) => assert.ok(Math.abs(got[i]! - want) <= 1e-12, `θ[${i}] = ${got[i]}, recursion ${want}`));
});

test('an objective that declares a loss name twice is refused before any step', () => {
  const theta = T.tensor(THETA0, { dtype: 'f64' });
  const outDir = join(root, 'dup');
  const objective = { ...quadratic(theta), lossNames: ['quad', 'quad'] };
  assert.throws(() => trainLoop({ outDir, steps: 2, lr: 0.1, seed: 0, parameters: new Map([['theta', theta]]), objective, data: noData, quiet: true }), /names the loss 'quad' twice/);
  assert.equal(existsSync(join(outDir, 'metrics.jsonl')), false);
});
