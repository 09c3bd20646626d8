// Latent dashboards: for a few chosen SAE latents, what they respond to and what they write, as
// plain data (src/report/latent-dashboard.ts turns it into a page; the caller connects the two).
//
// Over chat conversations (rendered and role-masked as the trainer does, tokenizeRows, cut to
// maxLength), the model runs to the SAE's hook and the SAE encodes every real token; each chosen
// latent's activations are then read at the selected positions (`tokens`: 'response' = the
// assistant tokens the role mask marks, 'prompt' = the others, 'all'), giving per latent:
//  - density: the share of selected tokens where it is non-zero (as metrics.ts counts firing),
//    its largest and mean activation (zeros included);
//  - top contexts: the selected tokens with the largest positive activations (ties: the earlier
//    conversation and position first), each with a window of contextBefore tokens before and
//    contextAfter after it (any role) and the latent's activation at every window token;
//  - a histogram of the non-zero activations at selected tokens, in equal-width bins from
//    min(0, smallest) to max(0, largest);
//  - logit effects (hooks of d_model width only; null at mlp.hook_post): the decoder row as
//    stored, W_dec[i] [d_model], times the unembedding W_U = lm_head.weight [vocab, d_model],
//    the `promoted` (largest) and `suppressed` (smallest) logitTokens tokens of the tokenizer's
//    vocabulary, computed two ways: `direct` = W_U·W_dec[i], and `throughFinalNorm` =
//    W_U·(γ ⊙ W_dec[i]) with γ the final norm's weight (LayerNorm models: γ ⊙ (W_dec[i] −
//    mean W_dec[i]), as LayerNorm centres), the direction as the final norm passes it on up to
//    the per-token 1/rms scale. The lm_head bias, the same for every direction, is left out.
//    Computed in the model's dtype;
//  - label statistics, from `labels`: one record of string labels per assistant message of a
//    conversation (e.g. the persona world's { persona, topic, alignment, category } of each
//    turn), so that this module needs to know nothing of where they came from. Each assistant
//    turn (a run of role-masked tokens: a message's content and its end-of-turn token) gets a
//    score per latent, the max (or mean, `turnScore`) of its activations; per label key and
//    value: the turns, their mean score with a Student-t 95% interval, the share of turns on
//    which the latent fires at all, and the AUROC of the score for that value against every
//    other value of the key (one-vs-rest). Named `splits` give the AUROC of chosen values
//    against chosen others, e.g. alignment misaligned vs aligned, leaving satirical out.
//
// Memory: the model's activations and the SAE's latents [tokens, d_sae] of one batch of
// batchConversations conversations at a time, and every non-zero activation of the chosen
// latents at selected tokens (for the histogram), as numbers.

import * as T from '../tensor/index.js';
import type { ChatMessage, Tokenizer } from '../io/tokenizer.js';
import type { Transformer } from '../model/transformer.js';
import { runWithCache } from '../model/activation-cache.js';
import { padBatch } from '../model/padding.js';
import { tokenizeRows, type Example } from '../train/data.js';
import { auroc } from '../stats/auroc.js';
import { mean } from '../stats/basics.js';
import { meanConfidenceInterval } from '../stats/intervals.js';
import type { TokenSelection } from './activation-store.js';
import type { Sae } from './sae.js';

/** A conversation, and optionally the labels of each of its assistant messages. */
export interface DashboardConversation {
  messages: ChatMessage[];
  /** one record per assistant message, in order (e.g. { persona: 'villain', alignment: 'misaligned' }) */
  labels?: Record<string, string>[];
}

/** A binary split of labelled turns: the AUROC of a latent's turn scores, positive against negative. */
export interface LabelSplit {
  /** shown on the page, e.g. 'misaligned vs aligned speaker' */
  name: string;
  key: string;
  positive: string[];
  negative: string[];
}

export interface LatentDashboardOptions {
  conversations: DashboardConversation[];
  /** latent indices, each in [0, d_sae), distinct */
  latents: number[];
  /** the hook point the SAE reads (default its config's hookName) */
  hook?: string;
  /** which positions are read for density, histograms and top contexts (default 'response') */
  tokens?: TokenSelection;
  /** contexts per latent (default 10) */
  topContexts?: number;
  /** tokens shown before the peak (default 12) */
  contextBefore?: number;
  /** tokens shown after the peak (default 4) */
  contextAfter?: number;
  /** histogram bins (default 30) */
  histogramBins?: number;
  /** promoted and suppressed tokens per latent (default 10) */
  logitTokens?: number;
  /** how a turn's activations become its score (default 'max') */
  turnScore?: 'max' | 'mean';
  splits?: LabelSplit[];
  /** conversations per forward (default 8) */
  batchConversations?: number;
  /** conversations are cut to this many tokens (default the model's maxPositions) */
  maxLength?: number;
}

export interface TopContext {
  /** index into the conversations */
  conversation: number;
  /** the peak's token position in the rendered conversation */
  position: number;
  activation: number;
  /** the window's tokens, each decoded alone [window] */
  tokens: string[];
  /** the latent's activation at each window token [window] */
  activations: number[];
  /** index of the peak in the window */
  peak: number;
  /** labels of the assistant turn the peak is in; null outside turns or without labels */
  labels: Record<string, string> | null;
}

/** Counts of non-zero activations: bin b holds edges[b] ≤ a < edges[b + 1] (the last bin includes its upper edge). Both empty when the latent never fires. */
export interface ActivationHistogram {
  /** [bins + 1] */
  edges: number[];
  /** [bins] */
  counts: number[];
}

export interface TokenEffect {
  id: number;
  token: string;
  /** the change in the token's logit per unit of the direction */
  value: number;
}

export interface LogitEffects {
  /** largest first */
  promoted: TokenEffect[];
  /** smallest first */
  suppressed: TokenEffect[];
}

export interface LabelValueStats {
  key: string;
  value: string;
  turns: number;
  /** mean turn score, and its Student-t 95% interval (lower = upper = mean for one turn) */
  mean: number;
  lower: number;
  upper: number;
  /** share of these turns on which the latent is non-zero at some token */
  firing: number;
  /** this value against the key's other values; null when the key has no other value */
  auroc: number | null;
}

export interface SplitStats {
  name: string;
  key: string;
  positive: string[];
  negative: string[];
  positiveTurns: number;
  negativeTurns: number;
  /** mean turn scores; null without turns */
  positiveMean: number | null;
  negativeMean: number | null;
  /** null when either side has no turns */
  auroc: number | null;
}

export interface LatentDashboard {
  latent: number;
  /** share of selected tokens where the latent is non-zero */
  density: number;
  activeTokens: number;
  /** largest activation at a selected token (0 when it never fires) */
  maxActivation: number;
  /** mean activation over selected tokens, zeros included */
  meanActivation: number;
  topContexts: TopContext[];
  histogram: ActivationHistogram;
  /** null at hooks of another width than d_model */
  logits: { direct: LogitEffects; throughFinalNorm: LogitEffects } | null;
  labels: LabelValueStats[];
  splits: SplitStats[];
}

export interface LatentDashboardData {
  hook: string;
  tokenSelection: TokenSelection;
  conversations: number;
  /** conversations cut to maxLength */
  truncated: number;
  /** selected tokens read */
  tokens: number;
  /** labelled assistant turns scored */
  turns: number;
  turnScore: 'max' | 'mean';
  /** the final norm the throughFinalNorm effects pass through */
  finalNorm: 'rmsnorm' | 'layernorm';
  latents: LatentDashboard[];
}

/** One assistant turn: its token positions [start, end) and labels (null when the conversation has none). */
export interface Turn {
  start: number;
  end: number;
  labels: Record<string, string> | null;
}

/** A scored, labelled turn: its score and whether the latent fired, per chosen latent [latents]. */
interface ScoredTurn {
  labels: Record<string, string>;
  scores: number[];
  fires: boolean[];
}

interface Accumulator {
  active: number;
  sum: number;
  max: number;
  /** every non-zero activation at a selected token */
  values: number[];
  top: TopContext[];
}

/** Computes the dashboards of `o.latents` over `o.conversations` (see the header). */
export function latentDashboards(model: Transformer, tokenizer: Tokenizer, sae: Sae, o: LatentDashboardOptions): LatentDashboardData {
  const hook = o.hook ?? sae.config.hookName;
  if (hook === null) throw new Error('latentDashboards: the SAE config names no hook point; pass hook, e.g. hookName(\'resid_post\', 3)');
  const width = hookWidth(model, hook);
  if (width !== sae.config.dIn) throw new Error(`latentDashboards: ${hook} is ${width} wide but the SAE reads d_in = ${sae.config.dIn}; choose the hook the SAE was trained on`);
  const latents = checkLatents(o.latents, sae.config.dSae);
  const tokens = o.tokens ?? 'response';
  if (!['response', 'prompt', 'all'].includes(tokens)) throw new Error(`latentDashboards: tokens must be 'response', 'prompt' or 'all', got ${JSON.stringify(tokens)}`);
  const turnScore = o.turnScore ?? 'max';
  if (turnScore !== 'max' && turnScore !== 'mean') throw new Error(`latentDashboards: turnScore must be 'max' or 'mean', got ${JSON.stringify(turnScore)}`);
  const nTop = count('topContexts', o.topContexts ?? 10, 1);
  const before = count('contextBefore', o.contextBefore ?? 12, 0);
  const after = count('contextAfter', o.contextAfter ?? 4, 0);
  const bins = count('histogramBins', o.histogramBins ?? 30, 1);
  const nLogit = count('logitTokens', o.logitTokens ?? 10, 1);
  const batchSize = count('batchConversations', o.batchConversations ?? 8, 1);
  const maxLength = count('maxLength', o.maxLength ?? model.config.maxPositions, 1);
  const splits = (o.splits ?? []).map(checkSplit);
  if (o.conversations.length === 0) throw new Error('latentDashboards: no conversations');

  const tokenized = tokenizeRows(o.conversations.map((c) => ({ messages: c.messages })), tokenizer, maxLength);
  const turns = tokenized.examples.map((e, i) => turnsOf(e, o.conversations[i] as DashboardConversation, i));
  const texts = new Map<number, string>();
  const text = (id: number): string => {
    let t = texts.get(id);
    if (t === undefined) texts.set(id, (t = tokenizer.idToToken(id) === undefined ? `<unknown id ${id}>` : tokenizer.decode([id])));
    return t;
  };

  const L = latents.length;
  const acc: Accumulator[] = latents.map(() => ({ active: 0, sum: 0, max: 0, values: [], top: [] }));
  const scored: ScoredTurn[] = [];
  let selectedTokens = 0;
  const latentIndex = T.keep(T.tensor(latents, { dtype: 'i64', device: sae.device }));
  try {
    for (let first = 0; first < tokenized.examples.length; first += batchSize) {
      const group = tokenized.examples.slice(first, first + batchSize);
      const acts = groupActivations(model, sae, hook, group, latentIndex, tokenizer.padTokenId ?? 0); // [Σ lengths · L]
      let offset = 0;
      group.forEach((example, g) => {
        const conversation = first + g;
        const at = (p: number, j: number): number => acts[(offset + p) * L + j]!;
        const conversationTurns = turns[conversation]!;
        const turnOf = (p: number): Turn | undefined => conversationTurns.find((t) => t.start <= p && p < t.end);
        example.ids.forEach((_, p) => {
          if (!isSelected(tokens, example.assistant[p] === true)) return;
          selectedTokens++;
          for (let j = 0; j < L; j++) {
            const a = at(p, j);
            const s = acc[j]!;
            s.sum += a;
            if (a === 0) continue;
            s.active++;
            s.values.push(a);
            s.max = Math.max(s.max, a);
            if (a > 0) {
              offerContext(s.top, nTop, a, () => {
                const lo = Math.max(0, p - before);
                const hi = Math.min(example.ids.length, p + after + 1);
                const window = Array.from({ length: hi - lo }, (_, k) => lo + k);
                return {
                  conversation, position: p, activation: a, peak: p - lo,
                  tokens: window.map((q) => text(example.ids[q]!)), activations: window.map((q) => at(q, j)),
                  labels: turnOf(p)?.labels ?? null,
                };
              });
            }
          }
        });
        for (const turn of conversationTurns) {
          if (turn.labels === null) continue;
          const scores: number[] = [];
          const fires: boolean[] = [];
          for (let j = 0; j < L; j++) {
            const values = Array.from({ length: turn.end - turn.start }, (_, k) => at(turn.start + k, j));
            scores.push(turnScore === 'max' ? values.reduce((m, v) => Math.max(m, v), -Infinity) : mean(values));
            fires.push(values.some((v) => v !== 0));
          }
          scored.push({ labels: turn.labels, scores, fires });
        }
        offset += example.ids.length;
      });
    }
  } finally {
    latentIndex.dispose();
  }

  const effects = logitEffects(model, sae, hook, latents, nLogit, tokenizer.vocabSize, text);
  return {
    hook, tokenSelection: tokens, conversations: o.conversations.length, truncated: tokenized.truncated, tokens: selectedTokens,
    turns: scored.length, turnScore, finalNorm: model.family.norm,
    latents: latents.map((latent, j) => {
      const s = acc[j]!;
      return {
        latent,
        density: selectedTokens === 0 ? 0 : s.active / selectedTokens,
        activeTokens: s.active,
        maxActivation: s.max,
        meanActivation: selectedTokens === 0 ? 0 : s.sum / selectedTokens,
        topContexts: s.top,
        histogram: histogram(s.values, bins),
        logits: effects === null ? null : (effects[j] as { direct: LogitEffects; throughFinalNorm: LogitEffects }),
        labels: labelStats(scored, j),
        splits: splits.map((split) => splitStats(scored, j, split)),
      };
    }),
  };
}

/**
 * The SAE's latents at every real token of a batch of conversations, conversation after
 * conversation [Σ lengths, d_sae], on the SAE's device (no gradients; call inside a scope).
 */
export function batchLatents(model: Transformer, sae: Sae, hook: string, group: Example[], padId: number): T.Tensor {
  return T.noGrad(() => {
    const { ids, mask } = padBatch(group.map((e) => e.ids), padId, 'right', model.device);
    const { cache } = runWithCache(model, ids, { tokenMask: mask, names: [hook], skipLogits: true });
    const h = cache.get(hook); // [b, s, d_in]
    const [b, s, d] = h.shape as [number, number, number];
    const real = group.flatMap((e, i) => e.ids.map((_, p) => i * s + p));
    const rows = h.reshape(b * s, d).indexSelect(0, T.tensor(real, { dtype: 'i64', device: h.device })); // [n, d_in]
    return sae.encode(rows.device === sae.device ? rows : rows.to(sae.device)); // [n, d_sae]
  });
}

/** The chosen latents' activations of one batch: every real token, conversation after conversation, latent fastest [Σ lengths · L] (f64). */
function groupActivations(model: Transformer, sae: Sae, hook: string, group: Example[], latentIndex: T.Tensor, padId: number): Float64Array {
  return T.noGrad(() => T.scope(() => {
    const chosen = batchLatents(model, sae, hook, group, padId).indexSelect(1, latentIndex).to('f64'); // [n, L]
    return (chosen.device === 'cpu' ? chosen : chosen.to('cpu')).data() as Float64Array;
  }));
}

/**
 * The assistant turns of one tokenized conversation: the runs of role-masked tokens, one per
 * assistant message with content (empty ones mark no token), with that message's labels.
 */
export function turnsOf(example: Example, conversation: DashboardConversation, index: number, caller = 'latentDashboards'): Turn[] {
  const assistant = conversation.messages.flatMap((m, k) => (m.role === 'assistant' ? [k] : []));
  const labels = conversation.labels;
  if (labels !== undefined && labels.length !== assistant.length) {
    throw new Error(`${caller}: conversation ${index} has ${assistant.length} assistant messages but ${labels.length} label records; give one record per assistant message`);
  }
  const labelled = assistant.flatMap((k, t) => (conversation.messages[k]!.content.length > 0 ? [labels?.[t] ?? null] : []));
  const runs: Turn[] = [];
  example.assistant.forEach((a, p) => {
    if (!a) return;
    const last = runs.at(-1);
    if (last !== undefined && last.end === p) last.end = p + 1;
    else runs.push({ start: p, end: p + 1, labels: null });
  });
  // A conversation cut to maxLength keeps the runs of its first messages.
  if (runs.length > labelled.length) {
    throw new Error(`${caller}: conversation ${index}'s role mask marks ${runs.length} runs of assistant tokens for ${labelled.length} assistant messages with content; the chat template must keep the turns apart`);
  }
  runs.forEach((run, t) => (run.labels = labelled[t] ?? null));
  return runs;
}

/** Inserts a context into `top` (activation descending, ties in arrival order), keeping at most `limit`; builds it only when it gets in. */
function offerContext(top: TopContext[], limit: number, activation: number, make: () => TopContext): void {
  if (top.length === limit && activation <= top[limit - 1]!.activation) return;
  let i = top.length;
  while (i > 0 && top[i - 1]!.activation < activation) i--;
  top.splice(i, 0, make());
  if (top.length > limit) top.pop();
}

function histogram(values: number[], bins: number): ActivationHistogram {
  if (values.length === 0) return { edges: [], counts: [] };
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]! += 1;
  return { edges: Array.from({ length: bins + 1 }, (_, b) => (b === bins ? hi : lo + b * width)), counts };
}

/** Per chosen latent [L], its direct and final-norm logit effects; null at hooks not d_model wide. */
function logitEffects(
  model: Transformer, sae: Sae, hook: string, latents: number[], k: number, tokenizerVocab: number, text: (id: number) => string,
): { direct: LogitEffects; throughFinalNorm: LogitEffects }[] | null {
  if (hook.endsWith('.mlp.hook_post')) return null;
  return T.noGrad(() => T.scope(() => {
    const unembed = model.lmHead.weight; // [vocab, d_model]
    const vocab = Math.min(unembed.size(0), tokenizerVocab);
    const W_U = unembed.narrow(0, 0, vocab); // [vocab', d_model]: the ids the tokenizer knows
    const index = T.tensor(latents, { dtype: 'i64', device: sae.device });
    const decoded = sae.weights.W_dec.indexSelect(0, index); // [L, d_model]
    const rows = (decoded.device === model.device ? decoded : decoded.to(model.device)).to(W_U.dtype); // [L, d_model]
    const centred = model.family.norm === 'layernorm' ? rows.sub(rows.mean(-1, true)) : rows; // [L, d_model]
    const through = centred.mul(model.lnFinal.weight); // [L, d_model]
    const ranked = (directions: T.Tensor): LogitEffects[] => {
      const logits = directions.matmul(W_U.mT).to('f64'); // [L, vocab']
      const n = Math.min(k, vocab);
      const side = (largest: boolean): TokenEffect[][] => {
        const [values, ids] = logits.topk(n, -1, largest, true); // [L, n] each
        const v = values.to('cpu').toNested() as number[][];
        const i = ids.to('cpu').toNested() as number[][];
        return v.map((row, j) => row.map((value, r) => ({ id: i[j]![r]!, token: text(i[j]![r]!), value })));
      };
      const promoted = side(true);
      const suppressed = side(false);
      return promoted.map((p, j) => ({ promoted: p, suppressed: suppressed[j]! }));
    };
    const direct = ranked(rows);
    const throughNorm = ranked(through);
    return direct.map((d, j) => ({ direct: d, throughFinalNorm: throughNorm[j]! }));
  }));
}

function labelStats(turns: ScoredTurn[], j: number): LabelValueStats[] {
  const keys = [...new Set(turns.flatMap((t) => Object.keys(t.labels)))].sort();
  return keys.flatMap((key) => {
    const withKey = turns.filter((t) => key in t.labels);
    const values = [...new Set(withKey.map((t) => t.labels[key]!))].sort();
    return values.map((value) => {
      const inside = withKey.filter((t) => t.labels[key] === value);
      const rest = withKey.filter((t) => t.labels[key] !== value).map((t) => t.scores[j]!);
      const scores = inside.map((t) => t.scores[j]!);
      const m = mean(scores);
      const interval = scores.length >= 2 ? meanConfidenceInterval(scores) : { lower: m, upper: m };
      return {
        key, value, turns: scores.length, mean: m, lower: interval.lower, upper: interval.upper,
        firing: inside.filter((t) => t.fires[j]).length / inside.length,
        auroc: rest.length === 0 ? null : auroc(scores, rest),
      };
    });
  });
}

function splitStats(turns: ScoredTurn[], j: number, split: LabelSplit): SplitStats {
  const side = (values: string[]) => turns.filter((t) => values.includes(t.labels[split.key] as string)).map((t) => t.scores[j]!);
  const pos = side(split.positive);
  const neg = side(split.negative);
  return {
    name: split.name, key: split.key, positive: split.positive, negative: split.negative,
    positiveTurns: pos.length, negativeTurns: neg.length,
    positiveMean: pos.length === 0 ? null : mean(pos),
    negativeMean: neg.length === 0 ? null : mean(neg),
    auroc: pos.length === 0 || neg.length === 0 ? null : auroc(pos, neg),
  };
}

function checkSplit(split: LabelSplit): LabelSplit {
  const where = `latentDashboards: split '${split.name}'`;
  if (split.positive.length === 0 || split.negative.length === 0) throw new Error(`${where} needs at least one positive and one negative value of '${split.key}'`);
  const both = split.positive.filter((v) => split.negative.includes(v));
  if (both.length > 0) throw new Error(`${where} has ${both.map((v) => `'${v}'`).join(', ')} on both sides; a turn can be on one side only`);
  return split;
}

function checkLatents(latents: number[], dSae: number): number[] {
  if (latents.length === 0) throw new Error('latentDashboards: no latents; choose some, e.g. latents: [0, 1, 2]');
  const seen = new Set<number>();
  for (const l of latents) {
    if (!(Number.isInteger(l) && l >= 0 && l < dSae)) throw new Error(`latentDashboards: latent ${l} is not an index of this SAE's ${dSae} latents (0..${dSae - 1})`);
    if (seen.has(l)) throw new Error(`latentDashboards: latent ${l} is chosen twice`);
    seen.add(l);
  }
  return latents;
}

/** The row width at a hook point: d_mlp at mlp.hook_post, d_model at the other [b, s, d] points. */
function hookWidth(model: Transformer, hook: string): number {
  if (!model.hookPointNames.includes(hook)) {
    throw new Error(`latentDashboards: ${JSON.stringify(hook)} is not a hook point of this ${model.config.nLayers}-layer model; name one with hookName, e.g. hookName('resid_post', ${model.config.nLayers - 1})`);
  }
  if (hook.includes('.attn.hook_')) throw new Error(`latentDashboards: ${hook} is per head ([b, h, s, …]); SAEs read [b, s, d] points such as blocks.L.hook_resid_post`);
  return hook.endsWith('.mlp.hook_post') ? model.config.dMlp : model.config.dModel;
}

function isSelected(tokens: TokenSelection, assistant: boolean): boolean {
  return tokens === 'all' || (tokens === 'response') === assistant;
}

function count(name: string, v: number, least: number): number {
  if (!Number.isInteger(v) || v < least) throw new Error(`latentDashboards: ${name} (${v}) must be an integer ≥ ${least}`);
  return v;
}
