// The TopK SAE: each token keeps its k largest pre-activations (then ReLU'd), everything else is
// zero. Trained with rescaleActsByDecoderNorm (SAELens's training default), pre-activations are
// multiplied by ‖W_dec,i‖ before the top-k, so the choice does not drift with decoder norms;
// folding the norms into the encoder then changes nothing. Dead latents are revived by the aux-k
// loss (Gao et al. 2024): the dead latents' own top pre-activations must reconstruct what the
// live ones miss. batchtopk.ts reuses the pieces exported here.

import * as T from '../../tensor/index.js';
import type { SaeConfig, SaeWeights } from '../config.js';
import { decoderNorms, foldDecoderNorms, registerSaeArchitecture, type SaeLossContext } from './registry.js';

/** The top `k` entries of each row where they are, zeros elsewhere (values passed through `map`). */
export function keepTopK(values: T.Tensor, k: number, map: (top: T.Tensor) => T.Tensor = (top) => top): T.Tensor {
  const [top, index] = values.topk(k, -1);
  return T.zerosLike(values).scatter(-1, index, map(top)); // [..., n]
}

/** ‖W_dec,i‖ when the SAE rescales pre-activations by decoder norms, else null. */
export function rescaleByDecoderNorm(config: SaeConfig, weights: SaeWeights): T.Tensor | null {
  return config.rescaleActsByDecoderNorm ? decoderNorms(weights) : null; // [d_sae]
}

/** Folds decoder norms into the encoder; refused without rescaleActsByDecoderNorm, where it would change which latents win. */
export function foldTopKDecoderNorms(config: SaeConfig, weights: SaeWeights): void {
  if (!config.rescaleActsByDecoderNorm) {
    throw new Error(`foldWDecNorm: a ${config.architecture} SAE without rescale_acts_by_decoder_norm picks its top-k from raw pre-activations, so unit-norm decoder rows would change which latents win; only SAEs trained with rescaleActsByDecoderNorm can be folded`);
  }
  foldDecoderNorms(weights).dispose(); // the rescaled pre-activations, hence the latents, are unchanged
}

/**
 * Aux-k loss: k_aux = d_in//2 (capped at the number of dead latents) of the dead latents' largest
 * pre-activations reconstruct the detached residual input − recon (in the working space, no b_dec:
 * SAELens takes raw input minus output, the same unless the SAE normalises per token);
 * coefficient · min(n_dead/k_aux, 1) · ‖aux recon − residual‖².sum(-1).mean(). Zero without dead latents.
 */
export function auxKLoss(ctx: SaeLossContext): T.Tensor {
  const { deadMask, pre, input, recon } = ctx;
  const nDead = deadMask === null ? 0 : deadMask.sum().item();
  if (deadMask === null || nDead === 0) return T.zeros([], { dtype: pre.dtype, device: pre.device });
  const kAux = Math.max(1, Math.floor(input.size(-1) / 2)); // Gao et al., appendix B.1
  const scale = Math.min(nDead / kAux, 1); // few dead latents: a smaller loss
  const residual = input.sub(recon).detach(); // [..., d_in]
  const deadPre = pre.maskedFill(deadMask.logicalNot(), -Infinity); // [..., d_sae]
  const auxActs = keepTopK(deadPre, Math.min(kAux, nDead)); // [..., d_sae], pre-activations as they are (not ReLU'd)
  const auxRecon = ctx.decodeLatents(auxActs); // [..., d_in]
  return auxRecon.sub(residual).square().sum(-1).mean().mul(ctx.settings.auxCoefficient * scale); // scalar
}

/** The saved form: decoder norms folded in when the SAE rescales by them (SAELens saves topk SAEs so). */
export function foldedForSaving(config: SaeConfig, weights: SaeWeights): { config: SaeConfig; weights: SaeWeights } {
  if (config.rescaleActsByDecoderNorm) foldDecoderNorms(weights).dispose();
  return { config, weights };
}

registerSaeArchitecture({
  name: 'topk',
  trainsThreshold: false,
  check(config) {
    const k = config.k;
    if (k === null || !Number.isInteger(k) || k < 1 || k > config.dSae) {
      throw new Error(`SAE config: a topk SAE needs k, an integer in [1, d_sae = ${config.dSae}], got ${k}; set k (SAELens's default is 100)`);
    }
  },
  latentScale: rescaleByDecoderNorm,
  activate: (pre, _weights, config) => keepTopK(pre, config.k as number, (top) => top.relu()), // [..., d_sae]
  lossParts: (ctx) => ({ aux: auxKLoss(ctx) }),
  foldWDecNorm: foldTopKDecoderNorms,
  toInference: foldedForSaving,
});
