// The loss-term interface: a term adds named scalar losses to the SFT loss, reading the
// policy's forward (logits and captured activations, with grad) and, if it asks, a frozen
// reference model's outputs computed under no-grad. Terms may also install hooks on the
// policy's forward (steering, ablation). The trainer sums weight × each named loss.

import type * as T from '../tensor/index.js';
import type { Hook } from '../model/hooks.js';
import type { Batch } from './data.js';

export interface ForwardRecord {
  /** [b, s, vocab] */
  logits: T.Tensor;
  /** hook name → activation [b, s, …] */
  captured: Map<string, T.Tensor>;
}

export interface LossContext {
  batch: Batch;
  policy: ForwardRecord;
  /** present when some term asked for reference outputs */
  reference: ForwardRecord | undefined;
}

export interface LossTerm {
  readonly name: string;
  /** multiplies every loss the term returns */
  readonly weight: number;
  /** hook points whose policy activations compute() reads (kept with grad) */
  readonly captures?: string[];
  /** what compute() reads from the frozen reference model */
  readonly reference?: { logits?: boolean; captures?: string[] };
  /** hooks active on the policy's training forward */
  hooks?(batch: Batch): Hook[];
  /** named unweighted scalar losses; omit for hook-only terms */
  compute?(ctx: LossContext): Record<string, T.Tensor>;
  /** what the term is, for run metadata */
  describe(): Record<string, unknown>;
}
