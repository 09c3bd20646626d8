// The JumpReLU SAE (Rajamanoharan et al. 2024): a latent fires, with its pre-activation as its
// value, only above its own threshold θ (θ = threshold.relu(), as SAELens parameterises it), and
// training penalises L0 directly. The step has no useful gradient, so training uses
// straight-through pseudo-gradients with the rectangle kernel rect(u) = 1[|u| < 0.5] and bandwidth
// bw (summed over the batch by broadcasting):
//   JumpReLU output  x·1[x>θ]:  dx = 1[x>θ]·g,  dθ = −(θ/bw)·rect((x−θ)/bw)·g
//   L0 step          1[x>θ]:    dx = 0,         dθ = −(1/bw)·rect((x−θ)/bw)·g
// basin's autograd has no custom backward functions, so each is built as value + (s − s.detach()),
// where s = θ·c with c the wanted ∂/∂θ computed outside autograd: the value is exact and the
// gradient is c.

import * as T from '../../tensor/index.js';
import { decoderNorms, foldDecoderNorms, refuseDecoderNormRescale, registerSaeArchitecture, warmedUp } from './registry.js';

/** `value`, with the gradient `surrogate` would have (surrogate − surrogate.detach() is exactly 0). */
function withGradientOf(value: T.Tensor, surrogate: T.Tensor): T.Tensor {
  return value.add(surrogate.sub(surrogate.detach())); // value's shape
}

/**
 * A factor computed without autograd in its own scope, so its temporaries (each as large as the
 * batch's latents) are freed at once rather than when the loss's scope ends.
 */
function outsideAutograd(fn: () => T.Tensor): T.Tensor {
  return T.noGrad(() => T.scope(fn));
}

/** rect((x − θ)/bw), outside autograd [..., d_sae] */
function rectangle(pre: T.Tensor, theta: T.Tensor, bandwidth: number): T.Tensor {
  return pre.detach().sub(theta.detach()).div(bandwidth).abs().lt(0.5).to(pre.dtype);
}

/** x·1[x>θ] with the straight-through gradients above [..., d_sae] */
export function jumpReluSte(pre: T.Tensor, theta: T.Tensor, bandwidth: number): T.Tensor {
  const value = pre.mul(pre.gt(theta).to(pre.dtype)); // dx = 1[x>θ]·g; the comparison carries no gradient
  const dTheta = outsideAutograd(() => theta.detach().div(-bandwidth).mul(rectangle(pre, theta, bandwidth))); // −(θ/bw)·rect
  return withGradientOf(value, theta.mul(dTheta));
}

/** 1[x>θ] with the straight-through gradient above (none to x) [..., d_sae] */
export function stepSte(pre: T.Tensor, theta: T.Tensor, bandwidth: number): T.Tensor {
  const value = pre.gt(theta).to(pre.dtype);
  const dTheta = outsideAutograd(() => rectangle(pre, theta, bandwidth).mul(-1 / bandwidth)); // −(1/bw)·rect
  return withGradientOf(value, theta.mul(dTheta));
}

registerSaeArchitecture({
  name: 'jumprelu',
  trainsThreshold: true,
  check(config, weights) {
    refuseDecoderNormRescale(config);
    const threshold = weights.threshold;
    if (threshold === undefined || threshold.shape.join(',') !== String(config.dSae)) {
      throw new Error(`SAE weights: a jumprelu SAE needs threshold [${config.dSae}], got ${threshold === undefined ? 'none' : `[${threshold.shape.join(', ')}]`}; supply it (SAELens files hold 'threshold', or 'log_threshold' = its log)`);
    }
  },
  latentScale: () => null,
  activate(pre, weights, _config, training) {
    const theta = (weights.threshold as T.Tensor).relu(); // [d_sae]
    if (training !== null) return jumpReluSte(pre, theta, training.bandwidth); // [..., d_sae]
    return pre.relu().mul(pre.gt(theta).to(pre.dtype)); // [..., d_sae]
  },
  lossParts(ctx): Record<string, T.Tensor> {
    const { l0Coefficient, l0WarmUpSteps, bandwidth, preActCoefficient } = ctx.settings;
    const theta = (ctx.weights.threshold as T.Tensor).relu(); // [d_sae]
    const l0 = stepSte(ctx.pre, theta, bandwidth).sum(-1).mean().mul(warmedUp(l0Coefficient, l0WarmUpSteps, ctx.step));
    if (preActCoefficient === null) return { l0 };
    // Anthropic's pre-activation loss: dead latents are pulled up towards their threshold.
    const dead = ctx.deadMask;
    const preAct = dead === null
      ? T.zeros([], { dtype: ctx.pre.dtype, device: ctx.pre.device })
      : theta.sub(ctx.pre).relu().mul(dead.to(ctx.pre.dtype)).mul(decoderNorms(ctx.weights)).sum(-1).mean().mul(preActCoefficient);
    return { l0, preAct };
  },
  foldWDecNorm(_config, weights) {
    const norms = foldDecoderNorms(weights); // latents come out ×‖W_dec,i‖, so thresholds must too
    T.noGrad(() => (weights.threshold as T.Tensor).mul_(norms));
    norms.dispose();
  },
});
