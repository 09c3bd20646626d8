// SAE architectures and the Sae class against independent references: every architecture's
// inference pass, training losses and their gradients against PyTorch (bench/peer/sae_reference.py,
// the JumpReLU pseudo-gradients there as torch.autograd.Function backward passes) on the same
// weights and inputs; the straight-through pseudo-gradients and the aux-k loss against values
// worked out by hand; the folds and every normalisation mode against the identities they promise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import type { ActivationNormalization, SaeConfig, SaeWeights } from '../../src/sae/config.js';
import { DEFAULT_SAE_TRAINING, saeArchitecture, type SaeTrainingSettings } from '../../src/sae/architectures/index.js';
import { jumpReluSte, stepSte } from '../../src/sae/architectures/jumprelu.js';
import { DECODER_INIT_NORM, Sae, initSae } from '../../src/sae/sae.js';
import { type TensorEntry, decodeTensor, encodeTensor, peerUnavailable, runPeer, tensorDifference } from '../tensor/peer-helper.js';

const D_IN = 8;
const D_SAE = 16;

function config(overrides: Partial<SaeConfig>): SaeConfig {
  return {
    architecture: 'standard', dIn: D_IN, dSae: D_SAE, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null,
    k: null, rescaleActsByDecoderNorm: false, hookName: null, modelName: null, dtype: 'f32', extra: {}, ...overrides,
  };
}

/** Random weights whose decoder rows are far from unit norm; jumprelu thresholds in [−0.1, 0.6). */
function randomWeights(c: SaeConfig, seed: number): SaeWeights {
  const generator = T.Generator.seeded(seed);
  const normal = (shape: number[], scale: number) => T.randn(shape, { generator }).mul(scale);
  const w: SaeWeights = { W_enc: normal([c.dIn, c.dSae], 0.4), b_enc: normal([c.dSae], 0.1), W_dec: normal([c.dSae, c.dIn], 0.3), b_dec: normal([c.dIn], 0.2) };
  if (c.architecture === 'jumprelu') w.threshold = T.rand([c.dSae], { generator }).mul(0.7).sub(0.1);
  return w;
}

/** x [2, 3, d_in]: two sequences of three tokens */
function randomInput(seed: number, dIn = D_IN): T.Tensor {
  return T.randn([2, 3, dIn], { generator: T.Generator.seeded(seed) }).mul(1.5).add(0.3);
}

function deadMask(dead: number[], dSae = D_SAE): T.Tensor {
  return T.tensor(Array.from({ length: dSae }, (_, i) => dead.includes(i)), { dtype: 'bool' });
}

function assertClose(actual: T.Tensor, expected: T.Tensor, what: string): void {
  const difference = tensorDifference(actual, expected);
  assert.equal(difference, null, `${what}: ${difference}`);
}

function assertValues(actual: T.Tensor, expected: number[], what: string, tolerance = 1e-5): void {
  const got = actual.toArray();
  assert.equal(got.length, expected.length, `${what}: ${got.length} values, expected ${expected.length}`);
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tolerance * (1 + Math.abs(expected[i]!)), `${what}[${i}] = ${v}, expected ${expected[i]} (all: ${got.map((g) => g.toFixed(6)).join(', ')})`));
}

// ---- PyTorch reference --------------------------------------------------------------------

interface PeerCase {
  name: string;
  config: SaeConfig;
  settings: Partial<SaeTrainingSettings>;
  step: number;
  dead: number[] | null;
  /** batchtopk: a threshold learnt before (f64) */
  startThreshold?: number;
}

const PEER_CASES: PeerCase[] = [
  { name: 'standard: b_dec applied, L1 coefficient 2 warming up (step 3 of 10)', config: config({}), settings: { l1Coefficient: 2, l1WarmUpSteps: 10 }, step: 3, dead: null },
  { name: 'standard: layer_norm, b_dec not applied', config: config({ normalizeActivations: 'layer_norm', applyBDecToInput: false }), settings: {}, step: 0, dead: null },
  { name: 'topk k=3 rescaled by decoder norms, 3 dead latents (k_aux 3, scale 0.75)', config: config({ architecture: 'topk', k: 3, rescaleActsByDecoderNorm: true }), settings: { auxCoefficient: 0.5 }, step: 5, dead: [1, 6, 11] },
  { name: 'topk k=4 not rescaled, constant_norm_rescale, 6 dead latents (k_aux 4, scale 1)', config: config({ architecture: 'topk', k: 4, normalizeActivations: 'constant_norm_rescale' }), settings: {}, step: 0, dead: [0, 2, 3, 9, 12, 15] },
  { name: 'batchtopk k=2.5 rescaled, expected_average_only_in, no threshold yet, 5 dead', config: config({ architecture: 'batchtopk', k: 2.5, rescaleActsByDecoderNorm: true, normalizeActivations: 'expected_average_only_in', normScalingFactor: 1.7 }), settings: { thresholdLr: 0.05 }, step: 2, dead: [3, 4, 5, 7, 8] },
  { name: 'batchtopk k=3 with a threshold learnt before', config: config({ architecture: 'batchtopk', k: 3 }), settings: {}, step: 9, dead: null, startThreshold: 0.21 },
  { name: 'jumprelu bandwidth 0.5, L0 coefficient 3 warming up, pre-act loss, 4 dead', config: config({ architecture: 'jumprelu' }), settings: { bandwidth: 0.5, l0Coefficient: 3, l0WarmUpSteps: 4, preActCoefficient: 0.2 }, step: 1, dead: [2, 5, 10, 13] },
  { name: 'jumprelu defaults (bandwidth 0.05), layer_norm', config: config({ architecture: 'jumprelu', normalizeActivations: 'layer_norm' }), settings: {}, step: 0, dead: null },
];

interface PeerResult {
  inference: Record<'acts' | 'recon' | 'pre', TensorEntry>;
  train_acts: TensorEntry;
  losses: Record<string, TensorEntry>;
  grads: Record<string, Record<string, TensorEntry>>;
  after: { acts: TensorEntry; recon: TensorEntry; threshold?: TensorEntry };
}

const peerMissing = peerUnavailable();

function caseInputs(c: PeerCase, index: number) {
  const weights = randomWeights(c.config, 100 + index);
  if (c.startThreshold !== undefined) weights.threshold = T.full([D_SAE], c.startThreshold, { dtype: 'f64' });
  return { weights, x: randomInput(200 + index), dead: c.dead === null ? null : deadMask(c.dead) };
}

let peerResults: Record<string, PeerResult> | null = null;
function peer(): Record<string, PeerResult> {
  if (peerResults !== null) return peerResults;
  const cases: Record<string, unknown> = {};
  PEER_CASES.forEach((c, i) => {
    const { weights, x, dead } = caseInputs(c, i);
    const s = { ...DEFAULT_SAE_TRAINING, ...c.settings };
    const tensors: Record<string, TensorEntry> = { x: encodeTensor(x) };
    for (const [name, t] of Object.entries(weights)) tensors[name] = encodeTensor(t as T.Tensor);
    if (dead !== null) tensors.dead = encodeTensor(dead);
    cases[c.name] = {
      config: {
        architecture: c.config.architecture, apply_b_dec_to_input: c.config.applyBDecToInput, normalize_activations: c.config.normalizeActivations,
        norm_scaling_factor: c.config.normScalingFactor, k: c.config.k, rescale_acts_by_decoder_norm: c.config.rescaleActsByDecoderNorm,
      },
      settings: {
        l1_coefficient: s.l1Coefficient, l1_warm_up_steps: s.l1WarmUpSteps, aux_coefficient: s.auxCoefficient, l0_coefficient: s.l0Coefficient,
        l0_warm_up_steps: s.l0WarmUpSteps, bandwidth: s.bandwidth, pre_act_coefficient: s.preActCoefficient, threshold_lr: s.thresholdLr,
      },
      step: c.step,
      tensors,
    };
  });
  peerResults = runPeer('sae_reference.py', { cases }) as Record<string, PeerResult>;
  return peerResults;
}

PEER_CASES.forEach((c, index) => {
  test(`${c.name}: inference, training losses and gradients match PyTorch`, { skip: peerMissing ?? false }, () => {
    const ref = peer()[c.name];
    assert.ok(ref !== undefined, `the peer returned no case '${c.name}'`);
    const { weights, x, dead } = caseInputs(c, index);
    const sae = new Sae(c.config, weights);

    const inference = T.noGrad(() => sae.forward(x));
    for (const key of ['acts', 'recon', 'pre'] as const) assertClose(inference[key], decodeTensor(ref.inference[key]), `inference ${key}`);
    T.noGrad(() => {
      assertClose(sae.encode(x), inference.acts, 'encode = forward().acts');
      assertClose(sae.decode(inference.acts, x), inference.recon, 'decode(encode(x), x) = forward().recon');
    });

    const params = sae.parameters();
    for (const p of Object.values(params)) p.requiresGrad_(true);
    const pass = sae.loss(x, { step: c.step, deadMask: dead, settings: c.settings });
    assertClose(pass.acts.detach(), decodeTensor(ref.train_acts), 'training latents');
    assert.deepEqual(Object.keys(pass.losses).sort(), Object.keys(ref.losses).sort(), 'loss parts');
    for (const [name, part] of Object.entries(pass.losses)) {
      assertClose(part.detach(), decodeTensor(ref.losses[name]!), `loss ${name}`);
      for (const p of Object.values(params)) p.zeroGrad();
      if (part.requiresGrad) part.backward(undefined, { retainGraph: true });
      assert.deepEqual(Object.keys(params).sort(), Object.keys(ref.grads[name]!).sort(), 'trained parameters');
      for (const [param, t] of Object.entries(params)) {
        const grad = t.grad ?? T.zerosLike(t);
        assertClose(grad, decodeTensor(ref.grads[name]![param]!), `d ${name} / d ${param}`);
      }
    }
    for (const p of Object.values(params)) p.requiresGrad_(false);

    const after = T.noGrad(() => sae.forward(x));
    assertClose(after.acts, decodeTensor(ref.after.acts), 'inference latents after the training pass');
    assertClose(after.recon, decodeTensor(ref.after.recon), 'inference reconstruction after the training pass');
    if (ref.after.threshold !== undefined) assertClose(sae.weights.threshold as T.Tensor, decodeTensor(ref.after.threshold), 'batchtopk threshold after the training pass');
  });
});

// ---- hand-computed values -----------------------------------------------------------------

test('JumpReLU straight-through gradients equal the hand-computed ones (rectangle kernel, bandwidth 0.2)', () => {
  // θ = [0.5, 0.6, 0.2], bw = 0.2: the kernel is 1 where |x − θ| < 0.1.
  // token 0: x = [0.55, 0.505, 0.095] → fires [1, 0, 0], kernel [1, 1, 0] (x − θ = 0.05, −0.095 just in, −0.105 just out)
  // token 1: x = [0.45, 0.75, 0.25]   → fires [0, 1, 1], kernel [1, 0, 1]
  // upstream g = [[1, 2, 3], [4, 5, 6]]
  const x = T.tensor([[0.55, 0.505, 0.095], [0.45, 0.75, 0.25]]).requiresGrad_();
  const theta = T.tensor([0.5, 0.6, 0.2]).requiresGrad_();
  const g = T.tensor([[1, 2, 3], [4, 5, 6]]);

  const out = jumpReluSte(x, theta, 0.2);
  assertValues(out.detach(), [0.55, 0, 0, 0, 0.75, 0.25], 'x·1[x>θ]');
  out.mul(g).sum().backward();
  assertValues(x.grad as T.Tensor, [1, 0, 0, 0, 5, 6], 'dx = 1[x>θ]·g');
  // dθ = −(θ/bw)·Σ_tokens rect·g: θ/bw = [2.5, 3, 1]; Σ rect·g = [1 + 4, 2, 6]
  assertValues(theta.grad as T.Tensor, [-12.5, -6, -6], 'dθ = −(θ/bw)·rect·g');

  x.zeroGrad();
  theta.zeroGrad();
  const step = stepSte(x, theta, 0.2);
  assertValues(step.detach(), [1, 0, 0, 0, 1, 1], '1[x>θ]');
  step.mul(g).sum().backward();
  assert.equal(x.grad, null, 'the L0 step passes no gradient to x');
  // dθ = −(1/bw)·Σ rect·g = −5·[5, 2, 6]
  assertValues(theta.grad as T.Tensor, [-25, -10, -30], 'dθ = −(1/bw)·rect·g');
});

/** A 4 → 3 topk SAE (k = 1) that reads x0, x1, x2 into latents 0, 1, 2; latent 2 decodes to [0, 0, 1, 1]. */
function tinyTopK(): { sae: Sae; x: T.Tensor } {
  const sae = new Sae(
    config({ architecture: 'topk', dIn: 4, dSae: 3, k: 1, applyBDecToInput: false }),
    {
      W_enc: T.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]),
      b_enc: T.zeros([3]),
      W_dec: T.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]),
      b_dec: T.zeros([4]),
    },
  );
  return { sae, x: T.tensor([[3, 1, 2, 5], [0.5, 4, -1, 2]]) };
}

test('aux-k loss equals the hand-computed value and gradients (one dead latent: k_aux 1, scale 0.5)', () => {
  // pre = [[3, 1, 2], [0.5, 4, −1]]; top-1 keeps latent 0 (3) and latent 1 (4);
  // recon = [[3, 0, 0, 0], [0, 4, 0, 0]]; residual = [[0, 1, 2, 5], [0.5, 0, −1, 2]]; mse = (30 + 5.25)/2.
  // Dead: latent 2 → k_aux = min(4//2, 1) = 1, scale = min(1/2, 1) = 0.5; its pre-activations [2, −1]
  // (not ReLU'd) times [0, 0, 1, 1] miss the residual by [0, −1, 0, −3] and [−0.5, 0, 0, −3]:
  // squared sums 10 and 9.25, mean 9.625, × coefficient 2 × scale 0.5 = 9.625.
  const { sae, x } = tinyTopK();
  const params = sae.parameters();
  for (const p of Object.values(params)) p.requiresGrad_(true);
  const { losses } = sae.loss(x, { step: 0, deadMask: deadMask([2], 3), settings: { auxCoefficient: 2 } });
  assertValues(losses.mse.detach(), [17.625], 'mse');
  assertValues(losses.aux!.detach(), [9.625], 'aux');
  assertValues(losses.total.detach(), [27.25], 'total');
  losses.aux!.backward();
  // d aux / d W_dec[2] = Σ_t a_t·miss_t = 2·[0, −1, 0, −3] − 1·[−0.5, 0, 0, −3]; other rows see a detached residual.
  assertValues(params.W_dec!.grad as T.Tensor, [0, 0, 0, 0, 0, 0, 0, 0, 0.5, -2, 0, -3], 'd aux / d W_dec');
  // d aux / d pre_t2 = miss_t · W_dec[2] = −3 for both tokens; d / d W_enc[:, 2] = −3·(x_0 + x_1)
  assertValues(params.W_enc!.grad as T.Tensor, [0, 0, -10.5, 0, 0, -15, 0, 0, -3, 0, 0, -21], 'd aux / d W_enc');
});

test('aux-k loss: scale capped at 1 and k_aux at d_in//2 when every latent is dead; zero with none dead', () => {
  // All dead: k_aux = 2, scale 1. Token 0 keeps pre 3 (latent 0) and 2 (latent 2): [3, 0, 2, 2] vs
  // residual [0, 1, 2, 5] → 9 + 1 + 9 = 19. Token 1 keeps 4 (latent 1) and 0.5 (latent 0):
  // [0.5, 4, 0, 0] vs [0.5, 0, −1, 2] → 16 + 1 + 4 = 21. Mean 20, × coefficient 2.
  const { sae, x } = tinyTopK();
  assertValues(sae.loss(x, { step: 0, deadMask: deadMask([0, 1, 2], 3), settings: { auxCoefficient: 2 } }).losses.aux!, [40], 'aux, all dead');
  assertValues(sae.loss(x, { step: 0, deadMask: deadMask([], 3) }).losses.aux!, [0], 'aux, none dead');
  assertValues(sae.loss(x, { step: 0 }).losses.aux!, [0], 'aux, no dead mask');
});

test('standard L1 coefficient warms up linearly from 0 over l1WarmUpSteps', () => {
  const sae = new Sae(config({}), randomWeights(config({}), 7));
  const x = randomInput(8);
  const full = sae.loss(x, { step: 0 }).losses.sparsity!.item();
  assert.ok(full > 0);
  const at = (step: number) => sae.loss(x, { step, settings: { l1WarmUpSteps: 4 } }).losses.sparsity!.item();
  assertValues(T.tensor([at(0), at(1), at(3), at(4), at(9)]), [0, full / 4, (3 * full) / 4, full, full], 'sparsity by step');
});

// ---- folds and normalisation --------------------------------------------------------------

const rowNorms = (w: SaeWeights) => w.W_dec.norm(2, -1);

test('foldWDecNorm keeps reconstructions; standard and jumprelu latents scale by ‖W_dec,i‖, topk-like ones stay', () => {
  const x = randomInput(31);
  const cases: [SaeConfig, 'scaled' | 'same'][] = [
    [config({}), 'scaled'],
    [config({ architecture: 'jumprelu' }), 'scaled'],
    [config({ architecture: 'topk', k: 3, rescaleActsByDecoderNorm: true }), 'same'],
    [config({ architecture: 'batchtopk', k: 2, rescaleActsByDecoderNorm: true }), 'same'],
  ];
  for (const [c, latents] of cases) {
    const sae = new Sae(c, randomWeights(c, 32));
    if (c.architecture === 'batchtopk') sae.loss(x, { step: 0, settings: { thresholdLr: 1 } }); // a threshold to fold around
    const norms = rowNorms(sae.weights);
    const before = sae.forward(x);
    sae.foldWDecNorm();
    const after = sae.forward(x);
    assertValues(rowNorms(sae.weights), new Array<number>(D_SAE).fill(1), `${c.architecture}: unit decoder rows`);
    assertClose(after.recon, before.recon, `${c.architecture}: reconstruction`);
    assertClose(after.acts, latents === 'scaled' ? before.acts.mul(norms) : before.acts, `${c.architecture}: latents`);
    assert.ok(before.acts.gt(0).sum().item() > 0, `${c.architecture}: some latents fire`);
  }
  const topk = config({ architecture: 'topk', k: 3 });
  const sae = new Sae(topk, randomWeights(topk, 33));
  const W_dec = sae.weights.W_dec.clone();
  assert.throws(() => sae.foldWDecNorm(), /without rescale_acts_by_decoder_norm .* only SAEs trained with rescaleActsByDecoderNorm can be folded/);
  assertClose(sae.weights.W_dec, W_dec, 'refused fold leaves W_dec');
});

test('foldActivationNormScale folds expected_average_only_in into the weights and sets the config to none', () => {
  const x = randomInput(41);
  const s = 2.5;
  for (const [c, latents] of [
    [config({ normalizeActivations: 'expected_average_only_in', normScalingFactor: s }), 'same'],
    [config({ architecture: 'jumprelu', normalizeActivations: 'expected_average_only_in', normScalingFactor: s }), 'same'],
    [config({ architecture: 'batchtopk', k: 2, rescaleActsByDecoderNorm: true, normalizeActivations: 'expected_average_only_in', normScalingFactor: s }), 'divided'],
  ] as [SaeConfig, 'same' | 'divided'][]) {
    const sae = new Sae(c, randomWeights(c, 42));
    if (c.architecture === 'batchtopk') sae.loss(x, { step: 0, settings: { thresholdLr: 1 } });
    const before = sae.forward(x);
    sae.foldActivationNormScale();
    assert.equal(sae.config.normalizeActivations, 'none');
    assert.equal(sae.config.normScalingFactor, null);
    const after = sae.forward(x);
    assertClose(after.recon, before.recon, `${c.architecture}: reconstruction`);
    assertClose(after.acts, latents === 'same' ? before.acts : before.acts.div(s), `${c.architecture}: latents`);
  }
  const layerNorm = config({ normalizeActivations: 'layer_norm' });
  assert.throws(() => new Sae(layerNorm, randomWeights(layerNorm, 43)).foldActivationNormScale(), /'layer_norm' depends on each token/);
});

/** d_in → 2·d_in standard SAE with W_enc = [I, −I], W_dec = [I; −I]: it reconstructs its working-space input exactly. */
function identitySae(mode: ActivationNormalization, normScalingFactor: number | null = null): Sae {
  const eye = T.eye(D_IN);
  return new Sae(
    config({ dSae: 2 * D_IN, normalizeActivations: mode, normScalingFactor, applyBDecToInput: false }),
    { W_enc: T.cat([eye, eye.neg()], 1), b_enc: T.zeros([2 * D_IN]), W_dec: T.cat([eye, eye.neg()], 0), b_dec: T.zeros([D_IN]) },
  );
}

test('every normalisation mode round-trips and puts the input in its documented working space', () => {
  const x = randomInput(51);
  const working: Record<ActivationNormalization, (xw: T.Tensor) => void> = {
    none: (xw) => assertClose(xw, x, 'none: x itself'),
    expected_average_only_in: (xw) => assertClose(xw, x.mul(3), 'expected_average_only_in: x·s'),
    constant_norm_rescale: (xw) => assertValues(xw.norm(2, -1), new Array<number>(6).fill(Math.sqrt(D_IN)), 'constant_norm_rescale: ‖x′‖ = sqrt(d_in)'),
    layer_norm: (xw) => {
      assertValues(xw.mean(-1), new Array<number>(6).fill(0), 'layer_norm: mean 0');
      assertValues(xw.std(-1), new Array<number>(6).fill(1), 'layer_norm: std 1', 1e-4);
    },
  };
  for (const mode of Object.keys(working) as ActivationNormalization[]) {
    const sae = identitySae(mode, mode === 'expected_average_only_in' ? 3 : null);
    const { acts, recon, pre } = sae.forward(x);
    assertClose(recon, x, `${mode}: decode(encode(x)) = x`);
    assertClose(sae.decode(acts, x), x, `${mode}: decode(acts, x) = x`);
    working[mode](pre.narrow(-1, 0, D_IN));
    if (mode === 'constant_norm_rescale' || mode === 'layer_norm') {
      assert.throws(() => sae.decode(acts), new RegExp(`'${mode}' un-normalises with the input's per-token statistics; pass the input`));
    } else {
      assertClose(sae.decode(acts), x, `${mode}: decode(acts) = x without the input`);
    }
  }
});

// ---- batchtopk's threshold and saved form ---------------------------------------------------

test('batchtopk: batch top-k until a threshold exists, then JumpReLU; saved as jumprelu with the same outputs', () => {
  const c = config({ architecture: 'batchtopk', k: 2.5, rescaleActsByDecoderNorm: true });
  const sae = new Sae(c, randomWeights(c, 61));
  const x = randomInput(62);
  assert.equal(sae.encode(x).gt(0).sum().item(), Math.floor(2.5 * 6), 'k·tokens latents fire across the batch');
  const { acts } = sae.loss(x, { step: 0 });
  const smallest = acts.maskedFill(acts.le(0), Infinity).min().item();
  const threshold = sae.weights.threshold as T.Tensor;
  assert.equal(threshold.dtype, 'f64');
  assertValues(threshold, new Array<number>(D_SAE).fill(0.01 * smallest), 'threshold = 0 + 0.01·(smallest positive latent)', 1e-7);
  const inference = sae.forward(x);
  assertClose(inference.acts, inference.pre.relu().mul(inference.pre.gt(threshold).to('f32')), 'inference = JumpReLU at the threshold');

  const saved = sae.forSaving();
  assert.equal(saved.config.architecture, 'jumprelu');
  assert.equal(saved.config.rescaleActsByDecoderNorm, false);
  assert.equal(saved.weights.threshold!.dtype, 'f32');
  assertValues(rowNorms(saved.weights), new Array<number>(D_SAE).fill(1), 'saved decoder rows unit-norm');
  const out = saved.forward(x);
  assertClose(out.acts, inference.acts, 'saved latents');
  assertClose(out.recon, inference.recon, 'saved reconstruction');
  assert.ok(rowNorms(sae.weights).sub(1).abs().max().item() > 0.1, 'forSaving leaves the SAE itself unfolded');

  const fresh = new Sae(c, randomWeights(c, 63));
  assert.throws(() => fresh.forSaving(), /no threshold yet, so it cannot be saved as jumprelu/);
});

// ---- initialisation and errors -------------------------------------------------------------

test('initSae: decoder rows of norm 0.1, W_enc = W_decᵀ, zero biases, jumprelu thresholds 0.01, reproducible by seed', () => {
  const c = config({ architecture: 'jumprelu' });
  const a = initSae(c, 5);
  assertValues(rowNorms(a.weights), new Array<number>(D_SAE).fill(DECODER_INIT_NORM), 'row norms');
  assert.deepEqual(a.weights.W_enc.toArray(), a.weights.W_dec.mT.contiguous().toArray());
  assert.equal(a.weights.b_enc.abs().sum().item() + a.weights.b_dec.abs().sum().item(), 0);
  assertValues(a.weights.threshold as T.Tensor, new Array<number>(D_SAE).fill(0.01), 'threshold');
  assert.deepEqual(initSae(c, 5).weights.W_dec.toArray(), a.weights.W_dec.toArray(), 'same seed, same weights');
  assert.notDeepEqual(initSae(c, 6).weights.W_dec.toArray(), a.weights.W_dec.toArray(), 'another seed, other weights');
  assert.equal(initSae(config({ architecture: 'topk', k: 2 }), 5).weights.threshold, undefined);
  a.weights.W_enc.mul_(2);
  assert.notDeepEqual(a.weights.W_enc.toArray(), a.weights.W_dec.mT.contiguous().toArray(), 'W_enc does not share W_dec\'s memory');
});

test('errors name the field and the fix', () => {
  const c = config({});
  const w = randomWeights(c, 71);
  assert.throws(() => new Sae({ ...c, dSae: 12 }, w), /W_enc must be \[8, 12\] for d_in = 8, d_sae = 12, got \[8, 16\]/);
  assert.throws(() => new Sae({ ...c, architecture: 'gated' as SaeConfig['architecture'] }, w), /architecture "gated" is not a registered SAE architecture; registered: standard, topk, batchtopk, jumprelu/);
  assert.throws(() => new Sae(config({ architecture: 'topk' }), w), /a topk SAE needs k, an integer in \[1, d_sae = 16\], got null/);
  assert.throws(() => new Sae(config({ architecture: 'jumprelu' }), w), /a jumprelu SAE needs threshold \[16\], got none/);
  assert.throws(() => new Sae(config({ rescaleActsByDecoderNorm: true }), w), /rescale_acts_by_decoder_norm is set on a standard SAE/);
  assert.throws(() => new Sae(config({ normalizeActivations: 'expected_average_only_in' }), w), /needs normScalingFactor/);
  const sae = new Sae(c, w);
  assert.throws(() => sae.encode(T.zeros([3, 5])), /Sae.encode: the inputs' last dimension must be 8, got shape \[3, 5\]/);
  assert.throws(() => sae.loss(randomInput(72), { step: 0, deadMask: T.zeros([D_SAE]) }), /deadMask must be a bool tensor \[16\], got f32/);
  assert.throws(() => sae.loss(randomInput(72), { step: 0, settings: { bandwidth: 0 } }), /bandwidth must be > 0/);
  assert.equal(saeArchitecture('topk').name, 'topk');
});
