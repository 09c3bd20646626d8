// Hook-only loss terms: they change the policy's forward during training and add no loss.
//  - preventative steering: add coef·v at a hook point (e.g. along a persona direction) so the
//    fine-tune need not move the model along v itself;
//  - direction ablation: project v out of a hook point's activation during training.

import type * as T from '../tensor/index.js';
import { hook } from '../model/hooks.js';
import { ablateDirection, steer, type SteerPositions } from '../model/ready-hooks.js';
import type { LossTerm } from './loss-term.js';

export function steeringDuringTraining(hookName: string, vector: T.Tensor, coef: number, where: SteerPositions = 'all'): LossTerm {
  return {
    name: 'steering',
    weight: 0,
    hooks: () => [hook(hookName, steer(vector, coef, where))],
    describe: () => ({ term: 'preventative_steering', hook: hookName, coef, where, vectorNorm: vector.norm().item() }),
  };
}

export function ablationDuringTraining(hookName: string, direction: T.Tensor): LossTerm {
  return {
    name: 'ablation',
    weight: 0,
    hooks: () => [hook(hookName, ablateDirection(direction))],
    describe: () => ({ term: 'direction_ablation', hook: hookName }),
  };
}
