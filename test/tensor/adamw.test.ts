// Optimizers against PyTorch (bench/peer/adamw_reference.py): 50 steps of AdamW and SGD on a
// fixed least-squares problem with two param groups, clipGradNorm against
// torch.nn.utils.clip_grad_norm_, and exact resume through stateDict / loadStateDict.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdamW,
  Generator,
  type Optimizer,
  type OptimizerState,
  SGD,
  type Tensor,
  clipGradNorm,
  fromBytes,
  keep,
  randn,
  scope,
  tensor,
} from '../../src/tensor/index.js';
import { type TensorEntry, decodeTensor, encodeTensor, peerUnavailable, runPeer } from './peer-helper.js';

const STEPS = 50;

/** Y ≈ X @ W + b: X [32, 8], Y [32, 3], start W0 [8, 3], b0 [3]; U0 [2] is a parameter that never gets a gradient. */
function problem(): Record<string, Tensor> {
  const generator = Generator.seeded(2024);
  const r = (...shape: number[]): Tensor => keep(randn(shape, { generator }));
  const X = r(32, 8);
  const trueW = r(8, 3);
  const Y = keep(X.matmul(trueW).add(r(32, 3).mul(0.1)));
  return { X, Y, W0: r(8, 3).mul(0.5), b0: r(3), U0: r(2), g1: r(4, 3), g2: r(5) };
}

interface Params {
  W: Tensor;
  b: Tensor;
  U: Tensor;
}
type MakeOptimizer = (p: Params) => Optimizer;

/** Configs with twins of the same name in adamw_reference.py. */
const CONFIGS: Record<string, MakeOptimizer> = {
  'adamw two groups': ({ W, b, U }) =>
    new AdamW([{ params: [W], lr: 0.05, weightDecay: 0.1 }, { params: [b, U], lr: 0.01, weightDecay: 0 }], { betas: [0.85, 0.995], eps: 1e-7 }),
  'adamw defaults': ({ W, b, U }) => new AdamW([W, b, U]),
  'sgd nesterov with weight decay': ({ W, b, U }) =>
    new SGD([{ params: [W], lr: 0.02, weightDecay: 0.01 }, { params: [b, U], lr: 0.005 }], { lr: 0.1, momentum: 0.9, nesterov: true }),
  'sgd momentum with dampening': ({ W, b, U }) => new SGD([W, b, U], { lr: 0.03, momentum: 0.8, dampening: 0.1, weightDecay: 0.05 }),
  'sgd plain': ({ W, b, U }) => new SGD([W, b, U], { lr: 0.05 }),
};

function startParams(t: Record<string, Tensor>): Params {
  const leaf = (x: Tensor): Tensor => keep(x.detach().clone().requiresGrad_());
  return { W: leaf(t.W0), b: leaf(t.b0), U: leaf(t.U0) };
}

/** `steps` optimizer steps on mean((X @ W + b − Y)²). */
function fit(opt: Optimizer, p: Params, t: Record<string, Tensor>, steps: number): void {
  for (let i = 0; i < steps; i++) {
    scope(() => {
      opt.zeroGrad();
      t.X.matmul(p.W).add(p.b).sub(t.Y).pow(2).mean().backward();
      opt.step();
    });
  }
}

const maxAbsDiff = (a: Tensor, b: Tensor): number => scope(() => a.sub(b).abs().max().item());

test('AdamW and SGD match torch.optim after 50 steps, and clipGradNorm matches clip_grad_norm_', async (t) => {
  const unavailable = peerUnavailable();
  if (unavailable !== null) {
    t.skip(unavailable);
    return;
  }
  const data = problem();
  const encoded: Record<string, TensorEntry> = {};
  for (const [name, value] of Object.entries(data)) encoded[name] = encodeTensor(value);
  const reference = runPeer('adamw_reference.py', { tensors: encoded, steps: STEPS }) as Record<string, unknown>;

  for (const [name, make] of Object.entries(CONFIGS)) {
    await t.test(name, () => {
      const p = startParams(data);
      fit(make(p), p, data, STEPS);
      const expected = reference[name] as Record<keyof Params, TensorEntry>;
      const W = decodeTensor(expected.W);
      // The parameters must have moved, or agreeing with PyTorch would prove nothing.
      assert.ok(maxAbsDiff(W, data.W0) > 0.05, 'W moved during training');
      assert.ok(maxAbsDiff(p.W, W) <= 1e-6, `W differs from PyTorch by ${maxAbsDiff(p.W, W)}`);
      assert.ok(maxAbsDiff(p.b, decodeTensor(expected.b)) <= 1e-6, `b differs from PyTorch by ${maxAbsDiff(p.b, decodeTensor(expected.b))}`);
      assert.deepEqual(p.U.toArray(), data.U0.toArray(), 'a parameter without gradient is not touched');
      assert.deepEqual(decodeTensor(expected.U).toArray(), data.U0.toArray());
    });
  }

  const clips = reference.clip as { max_norm: number; total: TensorEntry; grads: TensorEntry[] }[];
  for (const c of clips) {
    await t.test(`clipGradNorm max norm ${c.max_norm}`, () => {
      const params = [data.g1, data.g2].map((g) => {
        const p = g.detach().clone().zero_().requiresGrad_();
        p.grad = g.clone();
        return p;
      });
      const noGradient = tensor([0, 0, 0]).requiresGrad_();
      const total = clipGradNorm([...params, noGradient], c.max_norm);
      const expectedTotal = decodeTensor(c.total).item();
      assert.ok(Math.abs(total - expectedTotal) <= 1e-6 * expectedTotal, `total norm ${total}, PyTorch ${expectedTotal}`);
      params.forEach((p, k) => {
        const expected = decodeTensor(c.grads[k]);
        const scale = expected.abs().max().item();
        assert.ok(maxAbsDiff(p.grad!, expected) <= 1e-6 * scale, `gradient ${k} differs by ${maxAbsDiff(p.grad!, expected)}`);
      });
      assert.equal(noGradient.grad, null);
    });
  }
});

test('clipGradNorm scales to exactly the max norm when clipping (analytic)', () => {
  // grads (3, 4) and (12): total norm 13; clipped to 6.5 they halve (up to the 1e-6 guard).
  const a = tensor([0, 0]).requiresGrad_();
  const b = tensor([0]).requiresGrad_();
  a.grad = tensor([3, 4]);
  b.grad = tensor([12]);
  assert.equal(clipGradNorm([a, b], 6.5), 13);
  const halved = [...a.grad!.toArray(), ...b.grad!.toArray()];
  [1.5, 2, 6].forEach((v, k) => assert.ok(Math.abs(halved[k] - v) < 1e-5, `${halved[k]} ≈ ${v}`));
  // Below the max norm nothing changes, and the (new) total comes back.
  assert.ok(Math.abs(clipGradNorm([a, b], 100) - 6.5) < 1e-5);
  assert.deepEqual([...a.grad!.toArray(), ...b.grad!.toArray()], halved);
});

/** A state dict as it would be written to disk: tensors as bytes, then read back. */
function throughBytes(s: OptimizerState): OptimizerState {
  const json = JSON.stringify({ ...s, tensors: Object.fromEntries(Object.entries(s.tensors).map(([k, v]) => [k, encodeTensor(v)])) });
  const back = JSON.parse(json) as Omit<OptimizerState, 'tensors'> & { tensors: Record<string, TensorEntry> };
  return { ...back, tensors: Object.fromEntries(Object.entries(back.tensors).map(([k, v]) => [k, decodeTensor(v)])) };
}

for (const name of ['adamw two groups', 'sgd nesterov with weight decay']) {
  test(`${name}: stateDict → loadStateDict into a fresh optimizer mid-run resumes exactly`, () => {
    const data = problem();
    const make = CONFIGS[name];

    const straight = startParams(data);
    fit(make(straight), straight, data, STEPS);

    const first = startParams(data);
    const firstOpt = make(first);
    fit(firstOpt, first, data, 20);
    const saved = throughBytes(firstOpt.stateDict());
    // The parameters too go through bytes, as a checkpoint on disk would.
    const restore = (x: Tensor): Tensor => keep(fromBytes(x.toBytes(), x.dtype, x.shape).requiresGrad_());
    const resumed: Params = { W: restore(first.W), b: restore(first.b), U: restore(first.U) };
    const resumedOpt = make(resumed);
    resumedOpt.loadStateDict(saved);
    fit(resumedOpt, resumed, data, STEPS - 20);

    assert.deepEqual(Buffer.from(resumed.W.toBytes()), Buffer.from(straight.W.toBytes()), 'W bit-identical to the uninterrupted run');
    assert.deepEqual(Buffer.from(resumed.b.toBytes()), Buffer.from(straight.b.toBytes()), 'b bit-identical to the uninterrupted run');

    // Without the state the resumed run diverges: the comparison above can fail.
    const cold = startParams(data);
    const coldOpt = make(cold);
    fit(coldOpt, cold, data, 20);
    const coldResumed: Params = { W: restore(cold.W), b: restore(cold.b), U: restore(cold.U) };
    fit(make(coldResumed), coldResumed, data, STEPS - 20);
    assert.ok(maxAbsDiff(coldResumed.W, straight.W) > 1e-4, 'a restart without optimizer state ends elsewhere');
  });
}

test('loadStateDict rejects a state from another optimizer kind or with the wrong shapes', () => {
  const data = problem();
  const p = startParams(data);
  const adam = CONFIGS['adamw two groups'](p);
  fit(adam, p, data, 1);
  const sgd = CONFIGS['sgd nesterov with weight decay'](startParams(data));
  assert.throws(() => sgd.loadStateDict(adam.stateDict()), /adamw/);
  const state = adam.stateDict();
  const wrong: OptimizerState = { ...state, tensors: { ...state.tensors, '0.exp_avg': tensor([1, 2]) } };
  assert.throws(() => CONFIGS['adamw two groups'](startParams(data)).loadStateDict(wrong), /shape/);
});
