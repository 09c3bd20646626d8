// The loss-term interface of SFT: a term adds named scalar losses to the main (cross-entropy)
// loss, reading the step, the model, the trainable parameters, the batch, the policy's forward
// (logits and captured activations, with grad) and, if it asks, a frozen reference model's
// outputs computed under no-grad. Terms may also install hooks on the policy's forward
// (steering, ablation). The loss is main + Σ weight(step) × each named loss of each term.
//
// Every loss name is declared up front (`losses`), so a name used twice — by two terms, or by a
// term and the main loss — is an error before any step runs, never a silent overwrite.

import type * as T from '../tensor/index.js';
import type { Hook } from '../model/hooks.js';
import type { Transformer } from '../model/transformer.js';
import type { Batch } from './data.js';
import type { WeightSchedule } from './schedule.js';

export interface ForwardRecord {
  /** [b, s, vocab] */
  logits: T.Tensor;
  /** hook name → activation [b, s, …] */
  captured: Map<string, T.Tensor>;
}

/** What a term sees before the forward (for its hooks). */
export interface TermContext {
  /** optimizer steps done before this one: 0 during the first step */
  step: number;
  totalSteps: number;
  model: Transformer;
  /** the trainable parameters by name (LoRA `<path>.lora_A.weight` / `.lora_B.weight`, or the model's own) */
  parameters: ReadonlyMap<string, T.Tensor>;
  batch: Batch;
}

/** What a term sees when it computes its losses. */
export interface LossContext extends TermContext {
  policy: ForwardRecord;
  /** present when some term asked for reference outputs */
  reference: ForwardRecord | undefined;
}

export interface LossTerm {
  readonly name: string;
  /** the names of the losses compute() returns (default [name]); none for hook-only terms */
  readonly losses?: string[];
  /** multiplies every loss the term returns, per step (default 1) */
  readonly weight?: WeightSchedule;
  /** hook points whose policy activations compute() reads (kept with grad) */
  readonly captures?: string[];
  /** what compute() reads from the frozen reference model */
  readonly reference?: { logits?: boolean; captures?: string[] };
  /** hooks active on the policy's training forward */
  hooks?(ctx: TermContext): Hook[];
  /** named unweighted scalar losses []; omit for hook-only terms */
  compute?(ctx: LossContext): Record<string, T.Tensor>;
  /** what the term is, for the run's config (hashed for resume) */
  describe(): Record<string, unknown>;
}

/** The loss names a term returns. */
export function lossNamesOf(term: LossTerm): string[] {
  if (term.compute === undefined) return [];
  return term.losses ?? [term.name];
}

/** Throws, naming the loss and who uses it, when two terms (or a term and the main loss) share a loss name. */
export function checkLossNames(main: string, terms: LossTerm[]): void {
  const owner = new Map<string, string>([[main, 'the main loss']]);
  for (const term of terms) {
    for (const name of lossNamesOf(term)) {
      const first = owner.get(name);
      if (first !== undefined) {
        throw new Error(`loss name '${name}' is used twice: by ${first} and by loss term '${term.name}'; give the term another name (each loss is logged and weighted by its name)`);
      }
      owner.set(name, `loss term '${term.name}'`);
    }
  }
}
