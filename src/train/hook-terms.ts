// Hook-only loss terms: they change the policy's forward during training and add no loss.
//  - preventative steering: add coef·v at a hook point (e.g. along a persona direction) so the
//    fine-tune need not move the model along v itself;
//  - direction ablation: project v out of a hook point's activation during training.
// The vector is moved to the model's device for each step's hooks.

import { createHash } from 'node:crypto';
import type * as T from '../tensor/index.js';
import { hook } from '../model/hooks.js';
import { ablateDirection, steer, type SteerPositions } from '../model/ready-hooks.js';
import type { LossTerm } from './loss-term.js';

/** 16 hex digits of sha256 over a vector's values (as f64): part of the run's config. */
function vectorHash(v: T.Tensor): string {
  return createHash('sha256').update(new Uint8Array(Float64Array.from(v.toArray()).buffer)).digest('hex').slice(0, 16);
}

/** v [d_model] */
export function steeringDuringTraining(hookName: string, vector: T.Tensor, coef: number, where: SteerPositions = 'all'): LossTerm {
  return {
    name: 'steering',
    hooks: (ctx) => [hook(hookName, steer(vector.to(ctx.model.device), coef, where))],
    describe: () => ({ term: 'preventative_steering', hook: hookName, coef, where, vectorNorm: vector.norm().item(), vectorSha256: vectorHash(vector) }),
  };
}

/** direction [d_model] */
export function ablationDuringTraining(hookName: string, direction: T.Tensor): LossTerm {
  return {
    name: 'ablation',
    hooks: (ctx) => [hook(hookName, ablateDirection(direction.to(ctx.model.device)))],
    describe: () => ({ term: 'direction_ablation', hook: hookName, directionSha256: vectorHash(direction) }),
  };
}
