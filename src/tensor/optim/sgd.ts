// SGD with momentum, dampening, Nesterov and (coupled, L2) weight decay, as torch.optim.SGD:
//   g ← g + wd·p;  b ← μ·b + (1 − dampening)·g (b = g at the first step);  g ← nesterov ? g + μ·b : b
//   p ← p − lr·g

import type { Tensor } from '../tensor.js';
import { Optimizer, type ParamGroup, type ParamGroupSpec } from './optimizer.js';

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly kind = 'sgd';
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[] | ParamGroupSpec[], o: SGDOptions = {}) {
    super(params, { lr: o.lr ?? 1e-2, weightDecay: o.weightDecay ?? 0 });
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: Nesterov momentum needs momentum > 0 and dampening = 0');
    }
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup, step: number): void {
    let g = group.weightDecay !== 0 ? grad.add(p, group.weightDecay) : grad;
    if (this.momentum !== 0) {
      const b = this.buffer(p, 'momentum_buffer');
      if (step === 1) b.copy_(g);
      else b.mul_(this.momentum).add_(g, 1 - this.dampening);
      g = this.nesterov ? g.add(b, this.momentum) : b;
    }
    p.add_(g, -group.lr);
  }
}
