// Optimizer factories for the training loop: each names its algorithm and every
// hyper-parameter (resolved, so the run's config records them and a resume with other values is
// refused), and builds the tensor optimizer for the trainable parameters. The loop owns lr and
// weight decay (the schedule sets lr per step); a factory owns the rest.

import * as T from '../tensor/index.js';

export type OptimizerConfig =
  | { name: 'adamw'; betas: [number, number]; eps: number }
  | { name: 'sgd'; momentum: number; dampening: number; nesterov: boolean };

export interface OptimizerFactory {
  /** the algorithm and every hyper-parameter besides lr and weight decay */
  readonly config: OptimizerConfig;
  create(params: T.Tensor[], o: { lr: number; weightDecay: number }): T.Optimizer;
}

/** AdamW as torch.optim.AdamW (defaults betas [0.9, 0.999], eps 1e-8). */
export function adamw(o: { betas?: [number, number]; eps?: number } = {}): OptimizerFactory {
  const config = { name: 'adamw' as const, betas: o.betas ?? [0.9, 0.999] as [number, number], eps: o.eps ?? 1e-8 };
  const [b1, b2] = config.betas;
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new Error(`adamw: betas (${b1}, ${b2}) must each be in [0, 1)`);
  if (!(config.eps > 0)) throw new Error(`adamw: eps (${config.eps}) must be > 0`);
  return { config, create: (params, g) => new T.AdamW(params, { ...g, betas: config.betas, eps: config.eps }) };
}

/** SGD with optional momentum, dampening and Nesterov, as torch.optim.SGD. */
export function sgd(o: { momentum?: number; dampening?: number; nesterov?: boolean } = {}): OptimizerFactory {
  const config = { name: 'sgd' as const, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0, nesterov: o.nesterov ?? false };
  if (!(config.momentum >= 0)) throw new Error(`sgd: momentum (${config.momentum}) must be >= 0`);
  return { config, create: (params, g) => new T.SGD(params, { ...g, momentum: config.momentum, dampening: config.dampening, nesterov: config.nesterov }) };
}
