// A sparse autoencoder: a config, its weights, and the architecture (architectures/) that turns
// pre-activations into latents. encode = normalise the input as the config says, subtract b_dec
// (applyBDecToInput), pre = x' @ W_enc + b_enc (× ‖W_dec,i‖ for topk-like SAEs that rescale by
// decoder norms), latents = the architecture's activation; decode = latents @ W_dec + b_dec, then
// un-normalise. loss() is one training forward pass with its loss as named parts, SAELens's
// MSE.sum(-1).mean() plus the architecture's terms. The folds rewrite the weights in place so
// that the SAE computes the same reconstructions with unit-norm decoder rows, or without an
// input scale. initSae is SAELens's initialisation. Every tensor made here is made on the
// weights' device.

import * as T from '../tensor/index.js';
import type { ActivationNormalization, SaeConfig, SaeWeights } from './config.js';
import { DEFAULT_SAE_TRAINING, saeArchitecture, type SaeArchitecture, type SaeTrainingSettings } from './architectures/index.js';

/** One pass through the SAE. */
export interface SaeForward {
  /** latents [..., d_sae] */
  acts: T.Tensor;
  /** the reconstruction, un-normalised [..., d_in] */
  recon: T.Tensor;
  /** pre-activations (× ‖W_dec,i‖ for topk and batchtopk with rescaleActsByDecoderNorm) [..., d_sae] */
  pre: T.Tensor;
}

/** The loss of a training pass by part: `mse`, the architecture's terms (standard `sparsity`, topk/batchtopk `aux`, jumprelu `l0` and `preAct`), and `total`, their sum. Scalars. */
export type SaeLossParts = { mse: T.Tensor; total: T.Tensor } & Record<string, T.Tensor>;

/** A training forward pass: its latents, reconstruction and pre-activations, and the loss. */
export interface SaeTrainingPass extends SaeForward {
  losses: SaeLossParts;
}

export interface SaeLossOptions {
  /** the training step, 0 first (coefficient warm-ups) */
  step: number;
  /** latents that have not fired for a while [d_sae] (bool); null or absent: none tracked */
  deadMask?: T.Tensor | null;
  /** overrides of DEFAULT_SAE_TRAINING */
  settings?: Partial<SaeTrainingSettings>;
}

// ---- normalisation of the input -------------------------------------------------------------

interface Normalization {
  /** The input in the SAE's working space, and the map that takes a reconstruction back. */
  normalize(x: T.Tensor, config: SaeConfig): { x: T.Tensor; undo: (y: T.Tensor) => T.Tensor };
  /** The map back when it is the same for every input; null when decoding needs the input's own statistics. */
  undoAlone: ((y: T.Tensor, config: SaeConfig) => T.Tensor) | null;
}

/** layer_norm's ε, SAELens's */
const LAYER_NORM_EPS = 1e-5;

function scalingFactor(config: SaeConfig): number {
  const s = config.normScalingFactor;
  if (s === null || !Number.isFinite(s) || s <= 0) {
    throw new Error(`SAE config: normalize_activations 'expected_average_only_in' needs normScalingFactor, the positive scalar sqrt(d_in)/E‖x‖, got ${s}; estimate it from the activations the SAE reads`);
  }
  return s;
}

const NORMALIZATIONS: Record<ActivationNormalization, Normalization> = {
  none: { normalize: (x) => ({ x, undo: (y) => y }), undoAlone: (y) => y },
  /** x·s in, y/s out, with one scalar s = sqrt(d_in)/E‖x‖ */
  expected_average_only_in: {
    normalize(x, config) {
      const s = scalingFactor(config);
      return { x: x.mul(s), undo: (y) => y.div(s) };
    },
    undoAlone: (y, config) => y.div(scalingFactor(config)),
  },
  /** per token x·sqrt(d_in)/‖x‖, undone on the way out */
  constant_norm_rescale: {
    normalize(x, config) {
      const factor = x.norm(2, -1, true).reciprocal().mul(Math.sqrt(config.dIn)); // [..., 1]
      return { x: x.mul(factor), undo: (y) => y.div(factor) };
    },
    undoAlone: null,
  },
  /**
   * per token (x − mean)/(std + ε) (unbiased std, as torch), undone exactly: y·(std + ε) + mean.
   * SAELens multiplies by std alone on the way out, a relative difference of ε/std.
   */
  layer_norm: {
    normalize(x) {
      const mean = x.mean(-1, true); // [..., 1]
      const centred = x.sub(mean);
      const spread = centred.std(-1, true, true).add(LAYER_NORM_EPS); // [..., 1]
      return { x: centred.div(spread), undo: (y) => y.mul(spread).add(mean) };
    },
    undoAlone: null,
  },
};

// ---- the SAE --------------------------------------------------------------------------------

const shapeText = (t: T.Tensor | undefined): string => (t === undefined ? 'missing' : `[${t.shape.join(', ')}]`);

function checkSae(config: SaeConfig, weights: SaeWeights): SaeArchitecture {
  const architecture = saeArchitecture(config.architecture);
  const { dIn, dSae } = config;
  if (!(Number.isInteger(dIn) && dIn > 0 && Number.isInteger(dSae) && dSae > 0)) {
    throw new Error(`SAE config: d_in (${dIn}) and d_sae (${dSae}) must be positive integers`);
  }
  const expected: [keyof SaeWeights, number[]][] = [['W_enc', [dIn, dSae]], ['b_enc', [dSae]], ['W_dec', [dSae, dIn]], ['b_dec', [dIn]]];
  if (weights.threshold !== undefined) expected.push(['threshold', [dSae]]);
  for (const [name, shape] of expected) {
    const t = weights[name];
    if (t === undefined || t.shape.join(',') !== shape.join(',')) {
      throw new Error(`SAE weights: ${name} must be [${shape.join(', ')}] for d_in = ${dIn}, d_sae = ${dSae}, got ${shapeText(t)}; the weights do not match the config`);
    }
  }
  const device = weights.W_enc.device;
  for (const [name] of expected) {
    const t = weights[name] as T.Tensor;
    if (t.device !== device) throw new Error(`SAE weights: ${name} is on ${t.device} but W_enc on ${device}; move all weights to one device`);
  }
  if (config.normalizeActivations === 'expected_average_only_in') scalingFactor(config);
  architecture.check(config, weights);
  return architecture;
}

function trainingSettings(overrides: Partial<SaeTrainingSettings> | undefined): SaeTrainingSettings {
  const s = { ...DEFAULT_SAE_TRAINING, ...overrides };
  const nonNegative = ['l1Coefficient', 'auxCoefficient', 'l0Coefficient'] as const;
  for (const key of nonNegative) {
    if (!(Number.isFinite(s[key]) && s[key] >= 0)) throw new Error(`SAE training: ${key} must be a finite number ≥ 0, got ${s[key]}`);
  }
  for (const key of ['l1WarmUpSteps', 'l0WarmUpSteps'] as const) {
    if (!(Number.isInteger(s[key]) && s[key] >= 0)) throw new Error(`SAE training: ${key} must be an integer ≥ 0, got ${s[key]}`);
  }
  if (!(Number.isFinite(s.bandwidth) && s.bandwidth > 0)) throw new Error(`SAE training: bandwidth must be > 0, got ${s.bandwidth} (SAELens's default is 0.05)`);
  if (!(Number.isFinite(s.thresholdLr) && s.thresholdLr > 0 && s.thresholdLr <= 1)) throw new Error(`SAE training: thresholdLr must be in (0, 1], got ${s.thresholdLr}`);
  if (s.preActCoefficient !== null && !(Number.isFinite(s.preActCoefficient) && s.preActCoefficient >= 0)) {
    throw new Error(`SAE training: preActCoefficient must be null (off) or a finite number ≥ 0, got ${s.preActCoefficient}`);
  }
  return s;
}

export class Sae {
  /** replaced (not mutated) by foldActivationNormScale and forSaving */
  config: SaeConfig;
  /** kept out of every scope (T.keep); the folds rewrite them in place */
  readonly weights: SaeWeights;
  readonly architecture: SaeArchitecture;

  constructor(config: SaeConfig, weights: SaeWeights) {
    this.architecture = checkSae(config, weights);
    this.config = config;
    this.weights = T.keep(weights);
  }

  get device(): T.Device {
    return this.weights.W_enc.device;
  }

  /** The trained parameters, by SAELens name: the four matrices and biases, and jumprelu's threshold. */
  parameters(): Record<string, T.Tensor> {
    const { W_enc, b_enc, W_dec, b_dec, threshold } = this.weights;
    return { W_enc, b_enc, W_dec, b_dec, ...(this.architecture.trainsThreshold && threshold !== undefined ? { threshold } : {}) };
  }

  /** Latents of x [..., d_in] (inference: batchtopk with a threshold uses it) [..., d_sae] */
  encode(x: T.Tensor): T.Tensor {
    return T.scope(() => this.#pass(x, null).acts);
  }

  /**
   * Reconstruction from latents [..., d_sae] → [..., d_in]. SAEs that normalise per token
   * (constant_norm_rescale, layer_norm) un-normalise with the statistics of the input the latents
   * came from: pass it as `input`.
   */
  decode(acts: T.Tensor, input?: T.Tensor): T.Tensor {
    this.#checkLast(acts, this.config.dSae, 'decode', 'latents');
    return T.scope(() => {
      const { normalize, undoAlone } = NORMALIZATIONS[this.config.normalizeActivations];
      let undo: (y: T.Tensor) => T.Tensor;
      if (input !== undefined) undo = normalize(this.#prepared(input, 'decode'), this.config).undo;
      else if (undoAlone !== null) undo = (y) => undoAlone(y, this.config);
      else throw new Error(`Sae.decode: normalize_activations '${this.config.normalizeActivations}' un-normalises with the input's per-token statistics; pass the input the latents came from as decode(acts, input), or use forward(input)`);
      return undo(this.#decodeWorking(acts.to(this.weights.W_dec.dtype))); // [..., d_in]
    });
  }

  /** encode and decode in one pass (inference) */
  forward(x: T.Tensor): SaeForward {
    return T.scope(() => {
      const { acts, pre, recon } = this.#pass(x, null);
      return { acts, recon, pre };
    });
  }

  /**
   * One training forward pass and its loss: mse = (recon − x)².sum(-1).mean() in the space of x,
   * plus the architecture's terms (see SaeLossParts). The latents are the training ones
   * (batchtopk: the batch's top k·tokens; jumprelu: with straight-through gradients). A batchtopk
   * SAE also moves its threshold here, outside autograd, as SAELens's training pass does.
   * SAELens trains on activations already multiplied by expected_average_only_in's s, so for such
   * SAEs its MSE is s² times this one.
   */
  loss(x: T.Tensor, options: SaeLossOptions): SaeTrainingPass {
    const { step } = options;
    if (!(Number.isInteger(step) && step >= 0)) throw new Error(`Sae.loss: step must be an integer ≥ 0, got ${step}`);
    const deadMask = options.deadMask ?? null;
    if (deadMask !== null && (deadMask.dtype !== 'bool' || deadMask.shape.join(',') !== String(this.config.dSae))) {
      throw new Error(`Sae.loss: deadMask must be a bool tensor [${this.config.dSae}], got ${deadMask.dtype} ${shapeText(deadMask)}`);
    }
    const settings = trainingSettings(options.settings);
    return T.scope(() => {
      const pass = this.#pass(x, settings);
      const parts = this.architecture.lossParts({
        config: this.config,
        weights: this.weights,
        input: pass.working,
        pre: pass.pre,
        acts: pass.acts,
        recon: pass.reconWorking,
        step,
        deadMask,
        settings,
        decodeLatents: (latents) => this.#latentsTimesWDec(latents),
      });
      const mse = pass.recon.sub(pass.input).square().sum(-1).mean();
      const total = Object.values(parts).reduce((sum, part) => sum.add(part), mse);
      this.architecture.afterTrainingForward?.(pass.acts.detach(), this.weights, settings);
      return { acts: pass.acts, recon: pass.recon, pre: pass.pre, losses: { mse, ...parts, total } as SaeLossParts };
    });
  }

  /**
   * Decoder rows to unit norm, the norms moved into W_enc's columns and b_enc (in place). The
   * reconstruction is unchanged; standard and jumprelu latents come out multiplied by ‖W_dec,i‖
   * (jumprelu thresholds are rescaled to match); topk and batchtopk latents are unchanged, and
   * such SAEs are refused unless they rescale by decoder norms (else the top-k would change).
   */
  foldWDecNorm(): void {
    this.architecture.foldWDecNorm(this.config, this.weights);
  }

  /**
   * Folds expected_average_only_in's scalar s into the weights (W_enc·s, W_dec/s, b_dec/s, in
   * place) and sets the config to 'none': encode and decode of raw inputs are unchanged, except
   * that latents of SAEs that rescale by decoder norms come out divided by s (and batchtopk's
   * threshold is divided to match). A no-op on 'none'; per-token modes cannot be folded.
   */
  foldActivationNormScale(): void {
    const mode = this.config.normalizeActivations;
    if (mode === 'none') return;
    if (mode !== 'expected_average_only_in') {
      throw new Error(`foldActivationNormScale: normalize_activations '${mode}' depends on each token, so it cannot be folded into the weights; only 'expected_average_only_in' can`);
    }
    const s = scalingFactor(this.config);
    T.noGrad(() => {
      const w = this.weights;
      w.W_enc.mul_(s);
      w.W_dec.div_(s);
      w.b_dec.div_(s);
      // Decoder norms shrink by s, so pre-activations rescaled by them do too, and a threshold on them.
      if (this.config.rescaleActsByDecoderNorm) w.threshold?.div_(s);
    });
    this.config = { ...this.config, normalizeActivations: 'none', normScalingFactor: null };
  }

  /**
   * A copy as SAELens saves it for inference: topk and batchtopk SAEs that rescale by decoder
   * norms get the norms folded in, and batchtopk becomes jumprelu with its global threshold for
   * every latent. This SAE is untouched.
   */
  forSaving(): Sae {
    const w = this.weights;
    const cloned = T.noGrad((): SaeWeights => {
      const copy = (t: T.Tensor) => t.detach().clone();
      return { W_enc: copy(w.W_enc), b_enc: copy(w.b_enc), W_dec: copy(w.W_dec), b_dec: copy(w.b_dec), ...(w.threshold !== undefined ? { threshold: copy(w.threshold) } : {}) };
    });
    const saved = this.architecture.toInference?.(this.config, cloned) ?? { config: this.config, weights: cloned };
    return new Sae(saved.config, saved.weights);
  }

  // ---- internals ----

  #checkLast(t: T.Tensor, size: number, method: string, what: string): void {
    if (t.ndim === 0 || t.size(-1) !== size) {
      throw new Error(`Sae.${method}: the ${what}' last dimension must be ${size}, got shape ${shapeText(t)}${this.config.hookName !== null ? ` (the SAE reads ${this.config.hookName})` : ''}`);
    }
    if (t.device !== this.device) throw new Error(`Sae.${method}: the ${what} are on ${t.device}, the SAE on ${this.device}; move one to the other`);
  }

  /** x checked and cast to the weights' dtype [..., d_in] */
  #prepared(x: T.Tensor, method: string): T.Tensor {
    this.#checkLast(x, this.config.dIn, method, 'inputs');
    const dtype = this.weights.W_enc.dtype;
    return x.dtype === dtype ? x : x.to(dtype);
  }

  /** latents → Σ latent·W_dec row, dividing out the latent scale first [..., d_in] */
  #latentsTimesWDec(latents: T.Tensor): T.Tensor {
    const scale = this.architecture.latentScale(this.config, this.weights); // [d_sae] or null
    return (scale === null ? latents : latents.div(scale)).matmul(this.weights.W_dec);
  }

  /** the reconstruction in the working space [..., d_in] */
  #decodeWorking(acts: T.Tensor): T.Tensor {
    return this.#latentsTimesWDec(acts).add(this.weights.b_dec);
  }

  #pass(x: T.Tensor, training: SaeTrainingSettings | null) {
    const input = this.#prepared(x, training === null ? 'encode' : 'loss'); // [..., d_in]
    const { x: working, undo } = NORMALIZATIONS[this.config.normalizeActivations].normalize(input, this.config); // [..., d_in]
    const w = this.weights;
    const centred = this.config.applyBDecToInput ? working.sub(w.b_dec) : working; // [..., d_in]
    const raw = centred.matmul(w.W_enc).add(w.b_enc); // [..., d_sae]
    const scale = this.architecture.latentScale(this.config, w);
    const pre = scale === null ? raw : raw.mul(scale); // [..., d_sae]
    const acts = this.architecture.activate(pre, w, this.config, training); // [..., d_sae]
    const reconWorking = this.#decodeWorking(acts); // [..., d_in]
    return { input, working, pre, acts, reconWorking, recon: undo(reconWorking) };
  }
}

export interface InitSaeOptions {
  device?: T.Device;
  /** the weights' dtype in memory (default f32) */
  dtype?: T.DType;
  /** jumprelu: the initial threshold of every latent (SAELens's default 0.01) */
  initThreshold?: number;
}

/** SAELens's decoder_init_norm: the norm every decoder row starts at */
export const DECODER_INIT_NORM = 0.1;

/**
 * A new SAE with SAELens's initialisation: W_dec Kaiming-uniform (bound sqrt(6/d_in)), each row
 * rescaled to norm 0.1; W_enc = W_decᵀ; b_enc = b_dec = 0; jumprelu thresholds 0.01. The same
 * seed gives the same weights on every device.
 */
export function initSae(config: SaeConfig, seed: number, options: InitSaeOptions = {}): Sae {
  const device = options.device ?? 'cpu';
  const dtype = options.dtype ?? 'f32';
  const { dIn, dSae } = config;
  const weights = T.noGrad(() => T.scope((): SaeWeights => {
    const generator = T.Generator.seeded(seed);
    const bound = Math.sqrt(6 / dIn); // kaiming_uniform_ (a = 0, fan_in = d_in): √2·√(3/fan_in)
    const uniform = T.rand([dSae, dIn], { generator, device }).mul(2 * bound).sub(bound); // [d_sae, d_in]
    const W_dec = uniform.div(uniform.norm(2, -1, true)).mul(DECODER_INIT_NORM).to(dtype).contiguous(); // [d_sae, d_in]
    const W_enc = W_dec.mT.contiguous().clone(); // [d_in, d_sae]
    const b_enc = T.zeros([dSae], { dtype, device });
    const b_dec = T.zeros([dIn], { dtype, device });
    const threshold = saeArchitecture(config.architecture).trainsThreshold ? T.full([dSae], options.initThreshold ?? 0.01, { dtype, device }) : undefined;
    return { W_enc, b_enc, W_dec, b_dec, ...(threshold !== undefined ? { threshold } : {}) };
  }));
  return new Sae(config, weights);
}
