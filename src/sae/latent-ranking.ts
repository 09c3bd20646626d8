// Ranking every latent of an SAE over chat conversations, to choose which ones a dashboard shows
// (`basin sae dashboard --top N`). One pass, as latentDashboards reads the model (tokenizeRows,
// cut to maxLength, right-padded batches run to the SAE's hook, every real token encoded), but
// over all d_sae latents at once and keeping only per-latent sums:
//  - activity: over the selected tokens (`tokens`, default the response tokens), each latent's
//    density (share of tokens where it is non-zero, as metrics.ts counts firing) and its mean
//    activation with zeros included, which is density × the mean activation where it fires;
//  - a split's AUROC, when `split` is given: each labelled assistant turn (a run of role-masked
//    tokens, one per assistant message with content, as dashboard.ts finds them) scored per latent
//    by the max of its activations over the turn's tokens; the AUROC (src/stats/auroc.ts, ties
//    counting half) of the positive turns' scores against the negative ones'. A latent that never
//    fires on those turns has equal scores everywhere: AUROC 0.5.
// topLatents() orders them: by the split's AUROC (highest first) when it has turns on both sides,
// else by activity; ties go to the more active latent, then the lower index.
//
// Memory: one batch's latents [tokens, d_sae] on the SAE's device, and the split's turn scores
// [turns, d_sae] as f32 numbers on the CPU.

import * as T from '../tensor/index.js';
import type { Tokenizer } from '../io/tokenizer.js';
import type { Transformer } from '../model/transformer.js';
import { tokenizeRows, type Example } from '../train/data.js';
import { auroc } from '../stats/auroc.js';
import type { TokenSelection } from './activation-store.js';
import { batchLatents, turnsOf, type DashboardConversation, type LabelSplit } from './dashboard.js';
import type { Sae } from './sae.js';

export interface LatentRankingOptions {
  conversations: DashboardConversation[];
  /** the hook point the SAE reads (default its config's hookName) */
  hook?: string;
  /** which positions count for density and activity (default 'response') */
  tokens?: TokenSelection;
  /** positive against negative labelled turns; null or absent: activity only */
  split?: LabelSplit | null;
  /** conversations per forward (default 8) */
  batchConversations?: number;
  /** conversations are cut to this many tokens (default the model's maxPositions) */
  maxLength?: number;
  /** called after each batch */
  onProgress?: (p: { conversations: number; totalConversations: number }) => void;
}

export interface LatentRanking {
  hook: string;
  /** selected tokens read */
  tokens: number;
  /** share of selected tokens where each latent is non-zero [d_sae] */
  density: Float64Array;
  /** mean activation over selected tokens, zeros included (density × mean where it fires) [d_sae] */
  activity: Float64Array;
  /** the split's turns and each latent's AUROC [d_sae] (null when either side has no turns); null without a split */
  split: { name: string; positiveTurns: number; negativeTurns: number; auroc: Float64Array | null } | null;
}

/** Density, activity and (given a split) the split's AUROC of every latent (see the header). */
export function rankLatents(model: Transformer, tokenizer: Tokenizer, sae: Sae, o: LatentRankingOptions): LatentRanking {
  const hook = o.hook ?? sae.config.hookName;
  if (hook === null) throw new Error("rankLatents: the SAE's config names no hook point; pass hook, e.g. hookName('resid_post', 3)");
  if (!model.hookPointNames.includes(hook) || hook.includes('.attn.hook_')) {
    throw new Error(`rankLatents: ${JSON.stringify(hook)} is not a [b, s, d] hook point of this ${model.config.nLayers}-layer model; name one with hookName, e.g. hookName('resid_post', ${model.config.nLayers - 1})`);
  }
  const width = hook.endsWith('.mlp.hook_post') ? model.config.dMlp : model.config.dModel;
  if (width !== sae.config.dIn) throw new Error(`rankLatents: ${hook} is ${width} wide but the SAE reads d_in = ${sae.config.dIn}; choose the hook the SAE was trained on`);
  const tokens = o.tokens ?? 'response';
  if (!['response', 'prompt', 'all'].includes(tokens)) throw new Error(`rankLatents: tokens must be 'response', 'prompt' or 'all', got ${JSON.stringify(tokens)}`);
  const batchSize = o.batchConversations ?? 8;
  const maxLength = o.maxLength ?? model.config.maxPositions;
  for (const [name, v] of [['batchConversations', batchSize], ['maxLength', maxLength]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`rankLatents: ${name} (${v}) must be an integer ≥ 1`);
  }
  const split = o.split ?? null;
  if (split !== null && (split.positive.length === 0 || split.negative.length === 0 || split.positive.some((v) => split.negative.includes(v)))) {
    throw new Error(`rankLatents: split '${split.name}' needs at least one positive and one negative value of '${split.key}', none on both sides`);
  }
  if (o.conversations.length === 0) throw new Error('rankLatents: no conversations');

  const dSae = sae.config.dSae;
  const tokenized = tokenizeRows(o.conversations.map((c) => ({ messages: c.messages })), tokenizer, maxLength);
  const fired = new Float64Array(dSae);
  const summed = new Float64Array(dSae);
  let selectedTokens = 0;
  /** turn scores [turn][d_sae], by side */
  const scores: { positive: Float32Array[]; negative: Float32Array[] } = { positive: [], negative: [] };
  const padId = tokenizer.padTokenId ?? 0;
  for (let first = 0; first < tokenized.examples.length; first += batchSize) {
    const group = tokenized.examples.slice(first, first + batchSize);
    const sides: ('positive' | 'negative')[] = [];
    const turnRuns: { start: number; end: number }[] = [];
    const selected: number[] = [];
    let offset = 0;
    group.forEach((example, g) => {
      example.assistant.forEach((a, p) => {
        if (tokens === 'all' || (tokens === 'response') === a) selected.push(offset + p);
      });
      if (split !== null) {
        const conversation = o.conversations[first + g] as DashboardConversation;
        for (const turn of conversation.labels === undefined ? [] : turnsOf(example, conversation, first + g, 'rankLatents')) {
          const value = turn.labels?.[split.key];
          const side = value === undefined ? null : split.positive.includes(value) ? 'positive' : split.negative.includes(value) ? 'negative' : null;
          if (side === null) continue;
          sides.push(side);
          turnRuns.push({ start: offset + turn.start, end: offset + turn.end });
        }
      }
      offset += example.ids.length;
    });
    const out = groupSums(model, sae, hook, group, padId, selected, turnRuns);
    selectedTokens += selected.length;
    for (let k = 0; k < dSae; k++) {
      fired[k] = (fired[k] as number) + (out.fired[k] as number);
      summed[k] = (summed[k] as number) + (out.summed[k] as number);
    }
    sides.forEach((side, t) => scores[side].push(out.turnMax.subarray(t * dSae, (t + 1) * dSae)));
    o.onProgress?.({ conversations: Math.min(first + batchSize, tokenized.examples.length), totalConversations: tokenized.examples.length });
  }

  const per = (sums: Float64Array) => sums.map((v) => (selectedTokens === 0 ? 0 : v / selectedTokens));
  let splitResult: LatentRanking['split'] = null;
  if (split !== null) {
    const { positive, negative } = scores;
    let aurocs: Float64Array | null = null;
    if (positive.length > 0 && negative.length > 0) {
      aurocs = new Float64Array(dSae);
      const pos = new Array<number>(positive.length);
      const neg = new Array<number>(negative.length);
      for (let k = 0; k < dSae; k++) {
        let varies = false;
        const v0 = (positive[0] as Float32Array)[k] as number;
        positive.forEach((s, i) => {
          pos[i] = s[k] as number;
          if (pos[i] !== v0) varies = true;
        });
        negative.forEach((s, i) => {
          neg[i] = s[k] as number;
          if (neg[i] !== v0) varies = true;
        });
        aurocs[k] = varies ? auroc(pos, neg) : 0.5;
      }
    }
    splitResult = { name: split.name, positiveTurns: positive.length, negativeTurns: negative.length, auroc: aurocs };
  }
  return { hook, tokens: selectedTokens, density: per(fired), activity: per(summed), split: splitResult };
}

/**
 * The `n` latents to show: by the split's AUROC (highest first) when the ranking has one, else by
 * activity; ties go to the more active latent, then the lower index.
 */
export function topLatents(ranking: LatentRanking, n: number): { latents: number[]; by: 'auroc' | 'activity' } {
  const dSae = ranking.activity.length;
  if (!(Number.isInteger(n) && n >= 1 && n <= dSae)) throw new Error(`topLatents: n (${n}) must be an integer in 1..${dSae} (the SAE's latents)`);
  const aurocs = ranking.split?.auroc ?? null;
  const order = Array.from({ length: dSae }, (_, k) => k).sort((a, b) => {
    if (aurocs !== null && aurocs[a] !== aurocs[b]) return (aurocs[b] as number) - (aurocs[a] as number);
    if (ranking.activity[a] !== ranking.activity[b]) return (ranking.activity[b] as number) - (ranking.activity[a] as number);
    return a - b;
  });
  return { latents: order.slice(0, n), by: aurocs !== null ? 'auroc' : 'activity' };
}

/** One batch: firing counts and activation sums over the selected rows [d_sae] each, and the max over each turn's rows [turns · d_sae]. */
function groupSums(
  model: Transformer, sae: Sae, hook: string, group: Example[], padId: number, selected: number[], turns: { start: number; end: number }[],
): { fired: Float64Array; summed: Float64Array; turnMax: Float32Array } {
  const dSae = sae.config.dSae;
  return T.noGrad(() => T.scope(() => {
    const acts = batchLatents(model, sae, hook, group, padId); // [n, d_sae]
    const cpu = (t: T.Tensor) => (t.device === 'cpu' ? t : t.to('cpu'));
    const chosen = selected.length === 0 ? null : acts.indexSelect(0, T.tensor(selected, { dtype: 'i64', device: acts.device })); // [selected, d_sae]
    const fired = chosen === null ? new Float64Array(dSae) : Float64Array.from(cpu(chosen.ne(0).sum(0).to('f64')).data() as Float64Array);
    const summed = chosen === null ? new Float64Array(dSae) : Float64Array.from(cpu(chosen.to('f64').sum(0)).data() as Float64Array);
    const turnMax = turns.length === 0
      ? new Float32Array(0)
      : (cpu(T.stack(turns.map((t) => acts.narrow(0, t.start, t.end - t.start).maxDim(0)[0])).to('f32')).data() as Float32Array); // [turns · d_sae]
    return { fired, summed, turnMax: Float32Array.from(turnMax) };
  }));
}
