// Downstream metrics of an SAE spliced into its model, on chat data (SAELens's ce_loss_score and
// kl_div_score, over response tokens): each batch runs three times, teacher-forced — clean, with
// the SAE spliced in (splice.ts; 'replace' unless told), and with the hook zero-ablated — and
// at every position whose next token is a response token (what the role mask of tokenizeRows
// marks: each assistant message's content and its end-of-turn token, as training scores them):
//   CE  = −log p(next token), averaged over those positions, for each of the three runs;
//   KL(clean ‖ run) = Σ_v p_clean(v)·(log p_clean(v) − log p_run(v)), averaged over the same
//   positions, for the spliced and the ablated runs.
// The splice and the ablation act at every position (prompt included), as SAELens's do; padding
// (right, causal) never reaches a real position. Log-probabilities are taken in f32 (f64 for an
// f64 model). No gradients; one progress call per batch.

import * as T from '../tensor/index.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { hook, type Hook } from '../model/hooks.js';
import type { Transformer } from '../model/transformer.js';
import { collate, readChatJsonl, tokenizeRows, type ChatRow } from '../train/data.js';
import { ceLossScore, klDivScore, type CeLossScore, type KlDivScore } from './metrics.js';
import type { Sae } from './sae.js';
import { spliceSae, type SpliceMode } from './splice.js';

export interface SplicedEvalOptions {
  /** a JSONL chat file ({"messages": [{"role", "content"}, …]} per line) or rows already read */
  data: string | ChatRow[];
  /** the hook point to splice at and ablate, by full name (default: the SAE's config.hookName) */
  hook?: string;
  /** how the SAE is spliced in (default 'replace', SAELens's "with SAE"; 'error-term' gives the clean numbers back) */
  mode?: SpliceMode;
  /** conversations per forward (default 8) */
  batchSize?: number;
  /** conversations are cut to this many tokens (default the model's maxPositions) */
  maxLength?: number;
  /** called after each batch */
  onProgress?: (p: { conversations: number; totalConversations: number }) => void;
}

export interface SplicedEval {
  hook: string;
  mode: SpliceMode;
  /** conversations scored (those with at least one response token to predict) */
  conversations: number;
  /** conversations cut to maxLength */
  truncated: number;
  /** positions scored: response tokens predicted */
  tokens: number;
  /** mean CE per response token clean (ceClean), spliced (ceSae), zero-ablated (ceZeroAbl); deltaLoss; score */
  ce: CeLossScore;
  /** mean KL(clean ‖ spliced) (klSae) and KL(clean ‖ ablated) (klAbl) per response token; score */
  kl: KlDivScore;
}

/** CE and KL of the SAE spliced in against the clean and the zero-ablated model. */
export function splicedEval(model: Transformer, tokenizer: Tokenizer, sae: Sae, o: SplicedEvalOptions): SplicedEval {
  const hookPoint = o.hook ?? sae.config.hookName;
  if (hookPoint === null) throw new Error("splicedEval: the SAE's config names no hook point (hook_name); pass { hook: hookName('resid_post', L) }");
  if (!model.hookPointNames.includes(hookPoint)) {
    throw new Error(`splicedEval: ${JSON.stringify(hookPoint)} is not a hook point of this ${model.config.nLayers}-layer model; name one with hookName, e.g. hookName('resid_post', ${model.config.nLayers - 1})`);
  }
  const mode = o.mode ?? 'replace';
  const batchSize = o.batchSize ?? 8;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`splicedEval: batchSize (${batchSize}) must be a positive integer`);
  const maxLength = o.maxLength ?? model.config.maxPositions;
  if (!(Number.isInteger(maxLength) && maxLength >= 2)) throw new Error(`splicedEval: maxLength (${maxLength}) must be an integer ≥ 2 (a token and the one it predicts)`);

  const rows = typeof o.data === 'string' ? readChatJsonl(o.data) : o.data;
  const tokenized = tokenizeRows(rows, tokenizer, maxLength);
  // A conversation counts when a response token follows its first position (a label exists).
  const examples = tokenized.examples.filter((e) => e.assistant.some((a, p) => a && p > 0));
  if (examples.length === 0) throw new Error(`splicedEval: none of the ${rows.length} conversations has a response token to predict${tokenized.truncated > 0 ? ` within maxLength = ${maxLength}` : ''}; check the data`);

  const spliced = spliceSae(sae, { hook: hookPoint, mode });
  const ablated = [hook(hookPoint, (x) => T.zerosLike(x))];
  const logDtype: T.DType = model.dtype === 'f64' ? 'f64' : 'f32';
  const sums = { ceClean: 0, ceSae: 0, ceAbl: 0, klSae: 0, klAbl: 0 };
  let tokens = 0;
  T.noGrad(() => {
    for (let i = 0; i < examples.length; i += batchSize) {
      T.scope(() => {
        const group = examples.slice(i, i + batchSize);
        const batch = collate(group, tokenizer.padTokenId ?? 0, model.device);
        const s = batch.ids.size(1);
        // Flat indices r·(s−1) + p−1 of the positions that predict response token p of row r.
        const scored = group.flatMap((e, r) => e.assistant.flatMap((a, p) => (a && p > 0 ? [r * (s - 1) + p - 1] : [])));
        const at = T.tensor(scored, { dtype: 'i64', device: model.device }); // [n]
        const target = batch.labels.reshape(-1).indexSelect(0, at).unsqueeze(-1); // [n, 1]
        // log p(· | prefix) at the scored positions [n, vocab] (call inside a scope: the full logits are freed with it)
        const logProbs = (hooks: Hook[]) => {
          const logits = model.forward(batch.ids, { tokenMask: batch.tokenMask, responseMask: batch.responseMask, hooks }); // [b, s, vocab]
          return logits.narrow(1, 0, s - 1).reshape(-1, logits.size(-1)).indexSelect(0, at).to(logDtype).logSoftmax(-1);
        };
        const ce = (lp: T.Tensor) => lp.gather(-1, target).sum().neg().item(); // Σ −log p(target)
        const clean = T.scope(() => logProbs([]));
        const pClean = clean.exp();
        const kl = (lp: T.Tensor) => pClean.mul(clean.sub(lp)).sum().item(); // Σ over positions of KL(clean ‖ run)
        sums.ceClean += ce(clean);
        T.scope(() => {
          const lp = logProbs(spliced);
          sums.ceSae += ce(lp);
          sums.klSae += kl(lp);
        });
        T.scope(() => {
          const lp = logProbs(ablated);
          sums.ceAbl += ce(lp);
          sums.klAbl += kl(lp);
        });
        tokens += scored.length;
      });
      o.onProgress?.({ conversations: Math.min(i + batchSize, examples.length), totalConversations: examples.length });
    }
  });
  return {
    hook: hookPoint,
    mode,
    conversations: examples.length,
    truncated: tokenized.truncated,
    tokens,
    ce: ceLossScore(sums.ceClean / tokens, sums.ceSae / tokens, sums.ceAbl / tokens),
    kl: klDivScore(sums.klSae / tokens, sums.klAbl / tokens),
  };
}
