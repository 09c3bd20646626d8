// The SAE-architecture registry: one file per architecture (standard.ts, topk.ts, batchtopk.ts,
// jumprelu.ts) says how pre-activations become latents, what it adds to the training loss, how
// decoder norms fold into the encoder, and how it is saved for inference; the Sae class
// (../sae.ts) reads the architecture object instead of branching on names, as SAELens registers
// SAE classes. A new architecture is one more file, one registerSaeArchitecture call and one
// import in index.ts. Facts (formulas, defaults) follow SAELens 6.x; the code is basin's own.

import * as T from '../../tensor/index.js';
import type { SaeArchitectureName, SaeConfig, SaeWeights } from '../config.js';

/** Training hyperparameters; each architecture reads its own (defaults: DEFAULT_SAE_TRAINING). */
export interface SaeTrainingSettings {
  /** standard: coefficient of the decoder-norm-weighted L1 penalty */
  l1Coefficient: number;
  /** standard: steps over which the L1 coefficient rises linearly from 0 */
  l1WarmUpSteps: number;
  /** topk, batchtopk: coefficient of the aux-k loss on dead latents */
  auxCoefficient: number;
  /** jumprelu: coefficient of the L0 ("step") penalty */
  l0Coefficient: number;
  /** jumprelu: steps over which the L0 coefficient rises linearly from 0 */
  l0WarmUpSteps: number;
  /** jumprelu: width of the rectangle kernel of the straight-through estimator */
  bandwidth: number;
  /** jumprelu: Anthropic's pre-activation loss on dead latents (null: off) */
  preActCoefficient: number | null;
  /** batchtopk: rate of the threshold's moving average */
  thresholdLr: number;
}

/** SAELens's defaults. */
export const DEFAULT_SAE_TRAINING: SaeTrainingSettings = {
  l1Coefficient: 1.0,
  l1WarmUpSteps: 0,
  auxCoefficient: 1.0,
  l0Coefficient: 1.0,
  l0WarmUpSteps: 0,
  bandwidth: 0.05,
  preActCoefficient: null,
  thresholdLr: 0.01,
};

/** What an architecture's loss terms see of one training forward pass. */
export interface SaeLossContext {
  config: SaeConfig;
  weights: SaeWeights;
  /** the input in the SAE's working space: normalised, before b_dec is subtracted [..., d_in] */
  input: T.Tensor;
  /** pre-activations, after any latent scale [..., d_sae] */
  pre: T.Tensor;
  /** latents [..., d_sae] */
  acts: T.Tensor;
  /** the reconstruction in the working space, before un-normalising [..., d_in] */
  recon: T.Tensor;
  /** the training step (0 first), for coefficient warm-up */
  step: number;
  /** latents that have not fired for a while [d_sae] (bool), or null when not tracked */
  deadMask: T.Tensor | null;
  settings: SaeTrainingSettings;
  /** latents [..., d_sae] → their sum of decoder rows, without b_dec [..., d_in] */
  decodeLatents(latents: T.Tensor): T.Tensor;
}

export interface SaeArchitecture {
  name: SaeArchitectureName;
  /** the threshold is a trained parameter (jumprelu) */
  trainsThreshold: boolean;
  /** Throws (naming the field and the fix) when config or weights do not fit this architecture. */
  check(config: SaeConfig, weights: SaeWeights): void;
  /**
   * A per-latent factor multiplied into the pre-activations before activating and divided out of
   * the latents before decoding (topk and batchtopk with rescaleActsByDecoderNorm: ‖W_dec,i‖), or null.
   */
  latentScale(config: SaeConfig, weights: SaeWeights): T.Tensor | null; // [d_sae]
  /** Latents from pre-activations; `training` null at inference. */
  activate(pre: T.Tensor, weights: SaeWeights, config: SaeConfig, training: SaeTrainingSettings | null): T.Tensor; // [..., d_sae]
  /** The architecture's loss terms besides the MSE, by name (scalars). */
  lossParts(ctx: SaeLossContext): Record<string, T.Tensor>;
  /** State moved by a training forward pass, outside autograd (batchtopk's threshold). */
  afterTrainingForward?(acts: T.Tensor, weights: SaeWeights, settings: SaeTrainingSettings): void;
  /** Makes decoder rows unit-norm in place, keeping what the SAE computes (or refuses). */
  foldWDecNorm(config: SaeConfig, weights: SaeWeights): void;
  /** The form it is saved in, when that differs (decoder norms folded; batchtopk → jumprelu), from cloned weights it may change in place. */
  toInference?(config: SaeConfig, weights: SaeWeights): { config: SaeConfig; weights: SaeWeights };
}

const architectures = new Map<string, SaeArchitecture>();

export function registerSaeArchitecture(architecture: SaeArchitecture): void {
  if (architectures.has(architecture.name)) throw new Error(`SAE architecture '${architecture.name}' is registered twice`);
  architectures.set(architecture.name, architecture);
}

export function saeArchitectureNames(): string[] {
  return [...architectures.keys()];
}

/** The registered architecture of that name; `source` names where the name came from in the error. */
export function saeArchitecture(name: string, source = 'SAE config'): SaeArchitecture {
  const architecture = architectures.get(name);
  if (architecture === undefined) {
    throw new Error(`${source}: architecture ${JSON.stringify(name)} is not a registered SAE architecture; registered: ${saeArchitectureNames().join(', ')} (add one with registerSaeArchitecture, see src/sae/architectures/)`);
  }
  return architecture;
}

// ---- helpers the architectures share ------------------------------------------------------

/** ‖W_dec,i‖ per latent [d_sae] */
export function decoderNorms(weights: SaeWeights): T.Tensor {
  return weights.W_dec.norm(2, -1); // [d_sae]
}

/** A coefficient rising linearly from 0 at step 0 to its value at step warmUpSteps (SAELens's CoefficientScheduler). */
export function warmedUp(coefficient: number, warmUpSteps: number, step: number): number {
  return warmUpSteps > 0 ? coefficient * Math.min(1, step / warmUpSteps) : coefficient;
}

/**
 * Divides each decoder row by its norm and multiplies the matching encoder column and b_enc by
 * it, in place (parameters keep their identity); returns the norms (clamped at 1e-8) [d_sae].
 * Latents then come out multiplied by the norms and decode to the same reconstruction.
 */
export function foldDecoderNorms(weights: SaeWeights): T.Tensor {
  return T.noGrad(() => {
    const norms = T.scope(() => decoderNorms(weights).clamp(1e-8)); // [d_sae]
    T.scope(() => {
      weights.W_dec.div_(norms.unsqueeze(1));
      weights.W_enc.mul_(norms.unsqueeze(0));
      weights.b_enc.mul_(norms);
    });
    return norms;
  });
}

/** Architectures without a top-k have nothing for rescaleActsByDecoderNorm to do: refuse it. */
export function refuseDecoderNormRescale(config: SaeConfig): void {
  if (config.rescaleActsByDecoderNorm) {
    throw new Error(`SAE config: rescale_acts_by_decoder_norm is set on a ${config.architecture} SAE, where only topk and batchtopk use it; unset it`);
  }
}
