// AdamW (Loshchilov & Hutter), the same arithmetic as torch.optim.AdamW (single-tensor path):
//   p ← p·(1 − lr·wd)
//   m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
//   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)

import type { Tensor } from '../tensor.js';
import { Optimizer, type ParamGroup, type ParamGroupSpec } from './optimizer.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class AdamW extends Optimizer {
  readonly kind = 'adamw';
  readonly betas: [number, number];
  readonly eps: number;

  constructor(params: Tensor[] | ParamGroupSpec[], o: AdamWOptions = {}) {
    super(params, { lr: o.lr ?? 1e-3, weightDecay: o.weightDecay ?? 1e-2 });
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup, step: number): void {
    const [b1, b2] = this.betas;
    const m = this.buffer(p, 'exp_avg');
    const v = this.buffer(p, 'exp_avg_sq');
    p.mul_(1 - group.lr * group.weightDecay);
    m.mul_(b1).add_(grad, 1 - b1);
    v.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const stepSize = group.lr / (1 - b1 ** step);
    const denom = v.sqrt().div_(Math.sqrt(1 - b2 ** step)).add_(this.eps);
    p.addcdiv_(m, denom, -stepSize);
    denom.dispose();
  }
}
