// The BatchTopK SAE (Bussmann et al. 2024): in training, the batch as a whole keeps its k·tokens
// largest ReLU'd pre-activations, so k is the mean number of latents per token and busy tokens
// may use more. A global threshold follows training as a moving average of the smallest latent
// that survived (rate thresholdLr; kept in f64, as SAELens keeps it, so 1% steps are not lost
// to rounding); at inference, once it exists, each latent fires when its pre-activation passes
// it (JumpReLU), which is how the SAE is saved: as a jumprelu SAE with that threshold for every
// latent. Decoder-norm rescaling, folding and the aux-k loss are TopK's (topk.ts).

import * as T from '../../tensor/index.js';
import { registerSaeArchitecture } from './registry.js';
import { auxKLoss, foldTopKDecoderNorms, foldedForSaving, rescaleByDecoderNorm } from './topk.js';

/** The k·tokens largest ReLU'd values of the whole batch where they are, zeros elsewhere. */
function batchTopK(pre: T.Tensor, k: number): T.Tensor {
  const acts = pre.relu(); // [..., d_sae]
  const flat = acts.reshape(-1); // [tokens · d_sae]
  const tokens = flat.size(0) / acts.size(-1);
  const [top, index] = flat.topk(Math.floor(k * tokens), -1);
  return T.zerosLike(flat).scatter(-1, index, top).reshape(...acts.shape); // [..., d_sae]
}

registerSaeArchitecture({
  name: 'batchtopk',
  trainsThreshold: false,
  check(config) {
    const k = config.k;
    if (k === null || !Number.isFinite(k) || k <= 0 || k > config.dSae) {
      throw new Error(`SAE config: a batchtopk SAE needs k, the mean number of latents per token in (0, d_sae = ${config.dSae}], got ${k}; set k (SAELens's default is 100)`);
    }
  },
  latentScale: rescaleByDecoderNorm,
  activate(pre, weights, config, training) {
    const threshold = weights.threshold;
    if (training !== null || threshold === undefined) return batchTopK(pre, config.k as number); // [..., d_sae]
    return pre.relu().mul(pre.gt(threshold).to(pre.dtype)); // [..., d_sae]
  },
  lossParts: (ctx) => ({ aux: auxKLoss(ctx) }),
  afterTrainingForward(acts, weights, settings) {
    T.noGrad(() => {
      const threshold = weights.threshold ?? T.keep(T.zeros([acts.size(-1)], { dtype: 'f64', device: acts.device })); // [d_sae]
      T.scope(() => {
        const smallest = acts.maskedFill(acts.gt(0).logicalNot(), Infinity).min().to(threshold.dtype); // +inf when nothing fired
        const moved = threshold.mul(1 - settings.thresholdLr).add(smallest.mul(settings.thresholdLr));
        threshold.copy_(T.where(smallest.isfinite(), moved, threshold));
      });
      weights.threshold = threshold;
    });
  },
  foldWDecNorm: foldTopKDecoderNorms, // the threshold acts on the rescaled pre-activations, which folding keeps
  toInference(config, weights) {
    const threshold = weights.threshold;
    if (threshold === undefined) {
      throw new Error('batchtopk SAE: no threshold yet, so it cannot be saved as jumprelu; the threshold is learnt in training (each loss() moves it): train before saving');
    }
    const folded = foldedForSaving(config, weights);
    return {
      config: { ...folded.config, architecture: 'jumprelu', k: null, rescaleActsByDecoderNorm: false },
      weights: { ...folded.weights, threshold: threshold.to(weights.W_enc.dtype) },
    };
  },
});
