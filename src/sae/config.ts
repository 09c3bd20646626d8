// What an SAE is, independent of where it came from: its architecture, sizes, how its input is
// prepared, where in a model it reads (SAELens's cfg.json holds the same, in snake_case), and
// its weights. Architectures (standard, topk, batchtopk, jumprelu) are a registry in
// architectures/; files (SAELens folders, Goodfire .pth) in files.ts.

import type * as T from '../tensor/index.js';

/** Registered architecture names (SAELens's, plus batchtopk, which is saved as jumprelu). */
export type SaeArchitectureName = 'standard' | 'topk' | 'batchtopk' | 'jumprelu';

/** How activations are scaled before encoding (and after decoding), as SAELens names it. */
export type ActivationNormalization = 'none' | 'expected_average_only_in' | 'constant_norm_rescale' | 'layer_norm';

export interface SaeConfig {
  architecture: SaeArchitectureName;
  /** width of the activations read: d_model at a residual hook */
  dIn: number;
  /** number of latents */
  dSae: number;
  /** subtract b_dec from the input before encoding (SAELens default true; Goodfire's SAEs: false) */
  applyBDecToInput: boolean;
  normalizeActivations: ActivationNormalization;
  /** expected_average_only_in: the scalar sqrt(d_in)/E‖x‖ (folded into the weights on save) */
  normScalingFactor: number | null;
  /** topk/batchtopk: latents kept per token (batchtopk: the mean per token over the batch) */
  k: number | null;
  /** topk: pre-activations scaled by decoder-row norms before the top-k (folded out on save) */
  rescaleActsByDecoderNorm: boolean;
  /** the hook point it reads (TransformerLens name, e.g. blocks.12.hook_resid_post), when known */
  hookName: string | null;
  /** the model it was trained on, when known */
  modelName: string | null;
  /** the weights' dtype on disk */
  dtype: 'f32' | 'bf16' | 'f16';
  /** everything else cfg.json carried (metadata), kept for round trips */
  extra: Record<string, unknown>;
}

/** An SAE's parameters. */
export interface SaeWeights {
  /** [d_in, d_sae] */
  W_enc: T.Tensor;
  /** [d_sae] */
  b_enc: T.Tensor;
  /** [d_sae, d_in] */
  W_dec: T.Tensor;
  /** [d_in] */
  b_dec: T.Tensor;
  /** jumprelu (and batchtopk once saved): [d_sae] */
  threshold?: T.Tensor;
}
