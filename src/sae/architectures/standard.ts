// The standard SAE: ReLU latents, trained with an L1 penalty weighted by each latent's decoder
// norm, Σ_i acts_i·‖W_dec,i‖ (so shrinking a decoder row cannot buy a smaller penalty), whose
// coefficient rises linearly from 0 over l1WarmUpSteps.

import { decoderNorms, foldDecoderNorms, refuseDecoderNormRescale, registerSaeArchitecture, warmedUp } from './registry.js';

registerSaeArchitecture({
  name: 'standard',
  trainsThreshold: false,
  check: refuseDecoderNormRescale,
  latentScale: () => null,
  activate: (pre) => pre.relu(), // [..., d_sae]
  lossParts(ctx) {
    const { l1Coefficient, l1WarmUpSteps } = ctx.settings;
    const weighted = ctx.acts.mul(decoderNorms(ctx.weights)); // [..., d_sae]
    return { sparsity: weighted.sum(-1).mean().mul(warmedUp(l1Coefficient, l1WarmUpSteps, ctx.step)) };
  },
  foldWDecNorm(_config, weights) {
    foldDecoderNorms(weights).dispose(); // latents come out ×‖W_dec,i‖
  },
});
