// KL divergence to a frozen reference model on response tokens:
//   forward:  KL(p_ref ‖ p_θ) = Σ_v p_ref (log p_ref − log p_θ)
//   reverse:  KL(p_θ ‖ p_ref) = Σ_v p_θ (log p_θ − log p_ref)
// averaged over the positions that predict a response token. Zero, with zero gradient, when
// the policy equals the reference.

import type * as T from '../tensor/index.js';
import type { LossContext, LossTerm } from './loss-term.js';
import type { WeightSchedule } from './schedule.js';

export type KlDirection = 'forward' | 'reverse';

/** Per-position KL [b, s−1] between next-token distributions, masked mean over labels ≠ −100. */
export function responseKl(policyLogits: T.Tensor, referenceLogits: T.Tensor, labels: T.Tensor, direction: KlDirection): T.Tensor {
  const s = policyLogits.size(1);
  const lp = policyLogits.narrow(1, 0, s - 1).to('f32').logSoftmax(-1); // [b, s−1, V]
  const lr = referenceLogits.narrow(1, 0, s - 1).to('f32').logSoftmax(-1);
  const [p, logP, logQ] = direction === 'forward' ? [lr.exp(), lr, lp] : [lp.exp(), lp, lr];
  const perPos = p.mul(logP.sub(logQ)).sum(-1); // [b, s−1]
  const on = labels.ne(-100).to('f32');
  return perPos.mul(on).sum().div(Math.max(on.sum().item(), 1));
}

/** A KL-to-reference term; its one loss is named `name` (default kl_forward / kl_reverse). */
export function klToReference(weight: WeightSchedule, direction: KlDirection = 'forward', name = `kl_${direction}`): LossTerm {
  return {
    name,
    weight,
    reference: { logits: true },
    compute(ctx: LossContext) {
      const ref = ctx.reference;
      if (ref === undefined) throw new Error(`loss term '${name}': the trainer gave no reference outputs`);
      return { [name]: responseKl(ctx.policy.logits, ref.logits, ctx.batch.labels, direction) };
    },
    describe: () => ({ term: 'kl_to_reference', direction }),
  };
}
