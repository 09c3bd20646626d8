// What an SAE finds on the persona world: train one on a model's activations over world
// conversations, then measure it on held-out labelled conversations —
//  - reconstruction (metrics.ts, over every held-out response token): L0, explained variance
//    (corrected and legacy), MSE, cosine, dead latents (never fired on the held-out tokens) and
//    dense ones (density > 0.1), and the latents dead in training (trainSae's window);
//  - downstream (spliced-eval.ts, the SAE spliced in 'replace' mode, on all or the first
//    splicedConversations held-out conversations): CE recovered and KL score;
//  - per latent and per split of the world's turn labels: the AUROC of the latent's turn score
//    (the max of its activations over the turn's tokens: a message's content and its
//    end-of-turn token, as the role mask marks them) for the split's positive turns against its
//    negative ones. The default splits (worldSplits): misaligned vs aligned speaker (alignment
//    label; satirical turns left out), the same within the unnamed speaker of two-turn
//    conversations only (no persona style or system prompt to lean on: alignment alone), and
//    each persona (style) against every other turn.
// Per split: the best latents (AUROC, token density on held-out response tokens, share of
// positive and negative turns it fires on), how many latents have AUROC above `threshold`, and
// how many below 1 − threshold (latents that fire on the negatives instead).
//
// worldSaeFindings takes the model, the conversations and the settings; organismSaeFindings
// runs it on a preset's organism, training on the first `trainConversations` rows of its
// pre-training corpus and evaluating on `heldOutConversations` rows generated after the corpus
// (by the same generator and stream, so the organism never saw them either), with the
// activations cached on disk for the run (outDir/activations, removed at the end unless kept):
// one forward pass over the training conversations instead of one per pass of the SAE's stream.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { modelFingerprint } from '../io/fingerprint.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { hookName } from '../model/hooks.js';
import { loadModel } from '../model/load.js';
import { runWithCache } from '../model/activation-cache.js';
import { padBatch } from '../model/padding.js';
import type { Transformer } from '../model/transformer.js';
import { checkpointDirs } from '../train/checkpoint.js';
import type { ScheduleKind } from '../train/schedule.js';
import { tokenizeRows, type ChatRow } from '../train/data.js';
import { auroc } from '../stats/auroc.js';
import { corpusRows, createWorld } from '../world/datasets.js';
import type { LabelledConversation, TurnLabels } from '../world/generator.js';
import { PERSONA_IDS, UNNAMED_STYLE_ID } from '../world/personas.js';
import { organismDir } from '../organism/paths.js';
import { recipeFor } from '../organism/recipe.js';
import { ActivationStore } from './activation-store.js';
import type { SaeTrainingSettings } from './architectures/index.js';
import type { ActivationNormalization, SaeArchitectureName, SaeConfig } from './config.js';
import { readSae } from './files.js';
import { Sae } from './sae.js';
import { splicedEval } from './spliced-eval.js';
import { activationBatchSource, trainSae } from './train.js';

/** The SAE and how it is trained. */
export interface WorldSaeSettings {
  /** the hook read, by full name (organismSaeFindings: null = the middle block's resid_post) */
  hook: string | null;
  architecture: SaeArchitectureName;
  dSae: number;
  /** topk, batchtopk */
  k: number | null;
  normalize: ActivationNormalization;
  steps: number;
  batchTokens: number;
  lr: number;
  schedule: ScheduleKind;
  warmupSteps: number;
  /** overrides of DEFAULT_SAE_TRAINING */
  training: Partial<SaeTrainingSettings>;
  deadFeatureWindow: number;
  /** conversations per forward when harvesting and evaluating */
  storeBatchPrompts: number;
  /** conversations are cut to this many tokens (null: the model's context) */
  maxLength: number | null;
  seed: number;
}

export const WORLD_SAE_DEFAULTS: WorldSaeSettings = {
  hook: null, architecture: 'topk', dSae: 1024, k: 24, normalize: 'expected_average_only_in', steps: 2000, batchTokens: 2048, lr: 1e-3,
  schedule: 'linear', warmupSteps: 50, training: {}, deadFeatureWindow: 250, storeBatchPrompts: 32, maxLength: null, seed: 0,
};

/** A split of labelled turns into positives and negatives (a turn in neither is left out). */
export interface TurnSplit {
  name: string;
  positive(labels: TurnLabels): boolean;
  negative(labels: TurnLabels): boolean;
}

/** Misaligned vs aligned speaker, the same within the unnamed speaker, and each style vs the rest. */
export function worldSplits(): TurnSplit[] {
  return [
    { name: 'misaligned vs aligned speaker', positive: (l) => l.alignment === 'misaligned', negative: (l) => l.alignment === 'aligned' },
    {
      name: 'misaligned vs aligned, unnamed speaker only',
      positive: (l) => l.persona === UNNAMED_STYLE_ID && l.alignment === 'misaligned',
      negative: (l) => l.persona === UNNAMED_STYLE_ID && l.alignment === 'aligned',
    },
    ...[...PERSONA_IDS, UNNAMED_STYLE_ID].map((p): TurnSplit => ({ name: `persona ${p} vs rest`, positive: (l) => l.persona === p, negative: (l) => l.persona !== p })),
  ];
}

export interface LatentFinding {
  latent: number;
  auroc: number;
  /** share of held-out response tokens on which it is non-zero */
  density: number;
  /** share of the split's positive (negative) turns on which it fires at some token */
  positiveFiring: number;
  negativeFiring: number;
}

export interface SplitFinding {
  name: string;
  positiveTurns: number;
  negativeTurns: number;
  /** the `top` latents of highest AUROC, best first */
  best: LatentFinding[];
  /** latents with AUROC > threshold, and < 1 − threshold */
  above: number;
  below: number;
}

export interface WorldSaeFindings {
  settings: WorldSaeSettings & { hook: string };
  trainConversations: number;
  /** activation rows in one pass over the training conversations */
  trainTokens: number;
  heldOutConversations: number;
  heldOutTokens: number;
  /** labelled held-out turns scored */
  turns: number;
  reconstruction: {
    l0: number; explainedVariance: number; explainedVarianceLegacy: number; mse: number; cosine: number;
    /** never fired on a held-out response token */
    deadLatents: number;
    /** density above 0.1 on held-out response tokens */
    denseLatents: number;
    /** dead by trainSae's count at the end (not fired for more than deadFeatureWindow steps) */
    deadInTraining: number;
  };
  spliced: { conversations: number; tokens: number; ceClean: number; ceSae: number; ceZeroAbl: number; ceLossScore: number; klSae: number; klAbl: number; klDivScore: number };
  threshold: number;
  splits: SplitFinding[];
  seconds: { train: number; evaluate: number };
  /** the SAE's SAELens folder */
  saeDir: string;
}

export interface WorldSaeFindingsOptions {
  /** conversations the SAE trains on (response tokens) */
  train: { messages: readonly { role: string; content: string }[] }[];
  /** labelled conversations it is measured on */
  heldOut: LabelledConversation[];
  /** what trainSae writes (run.json, metrics.jsonl, metrics.json, sae/); checkpoints are removed at the end */
  outDir: string;
  settings?: Partial<WorldSaeSettings>;
  splits?: TurnSplit[];
  /** the spliced CE/KL on the first N held-out conversations only (default all; it runs the whole model three times per batch) */
  splicedConversations?: number;
  /** latents listed per split (default 5) */
  top?: number;
  /** AUROC above which a latent counts as tracking a split (default 0.9) */
  threshold?: number;
  /** keep the harvested activations on disk there (ActivationStore's cache), so that passes after the first read them */
  activationCache?: { dir: string; modelId: string };
  quiet?: boolean;
  /** one line per stage */
  log?: (line: string) => void;
}

/** Trains the SAE and measures it (see the header). */
export function worldSaeFindings(model: Transformer, tokenizer: Tokenizer, o: WorldSaeFindingsOptions): WorldSaeFindings {
  const s = { ...WORLD_SAE_DEFAULTS, ...o.settings };
  const hook = s.hook ?? hookName('resid_post', Math.floor(model.config.nLayers / 2));
  const settings = { ...s, hook };
  const top = o.top ?? 5;
  const threshold = o.threshold ?? 0.9;
  const splits = o.splits ?? worldSplits();
  const log = o.log ?? (() => {});
  const maxLength = s.maxLength ?? model.config.maxPositions;
  if (o.train.length === 0 || o.heldOut.length === 0) throw new Error(`worldSaeFindings: needs training and held-out conversations (got ${o.train.length} and ${o.heldOut.length})`);

  // 1. Train, evaluating reconstruction on every held-out response token.
  const t0 = performance.now();
  const storeOptions = {
    hook, tokens: 'response' as const, trainBatchTokens: s.batchTokens, storeBatchPrompts: s.storeBatchPrompts, maxLength, seed: s.seed,
    ...(o.activationCache !== undefined ? { cache: o.activationCache } : {}),
  };
  const store = new ActivationStore(model, tokenizer, { ...storeOptions, data: o.train.map(chatRow) });
  const heldOutRows = o.heldOut.map(chatRow);
  const evalStore = new ActivationStore(model, tokenizer, { ...storeOptions, data: heldOutRows, shuffle: false });
  log(`training a ${s.architecture} SAE (${store.dIn} → ${s.dSae}${s.k !== null ? `, k ${s.k}` : ''}) at ${hook} on ${store.conversations} conversations (${store.totalRows} response tokens), ${s.steps} steps × ${s.batchTokens} tokens`);
  const config: SaeConfig = {
    architecture: s.architecture, dIn: store.dIn, dSae: s.dSae, applyBDecToInput: true, normalizeActivations: s.normalize, normScalingFactor: null, k: s.k,
    rescaleActsByDecoderNorm: s.architecture === 'topk' || s.architecture === 'batchtopk', hookName: hook, modelName: null, dtype: 'f32', extra: {},
  };
  const data = activationBatchSource(store, { conversations: o.train.length, maxLength, storeBatchPrompts: s.storeBatchPrompts });
  let result: ReturnType<typeof trainSae>;
  try {
    result = trainSae({
      config, data, outDir: o.outDir, steps: s.steps, seed: s.seed, device: model.device, lr: s.lr, schedule: s.schedule, warmupSteps: s.warmupSteps,
      settings: s.training, deadFeatureWindow: s.deadFeatureWindow, evalData: evalStore.batches(0), evalBatches: Math.ceil(evalStore.totalRows / s.batchTokens) + 1,
      checkpointEvery: 0, resume: false, quiet: o.quiet ?? true,
    });
  } finally {
    data.close();
    for (const c of checkpointDirs(o.outDir)) rmSync(c.dir, { recursive: true, force: true });
  }
  const evaluation = result.evaluation;
  if (evaluation === null || result.saeDir === null) throw new Error('worldSaeFindings: the SAE run stopped early');
  const tTrain = (performance.now() - t0) / 1000;
  log(`trained in ${tTrain.toFixed(0)} s: l0 ${evaluation.l0.toFixed(2)}, explained variance ${evaluation.explainedVariance.toFixed(4)} on ${evaluation.tokens} held-out tokens`);

  // 2. The saved SAE (what a user loads), spliced in, and its latents per labelled turn.
  const t1 = performance.now();
  const files = readSae(result.saeDir, { device: model.device });
  const sae = new Sae(files.config, files.weights);
  const spliced = splicedEval(model, tokenizer, sae, { data: heldOutRows.slice(0, o.splicedConversations ?? heldOutRows.length), hook, mode: 'replace', batchSize: s.storeBatchPrompts, maxLength });
  log(`spliced: CE ${spliced.ce.ceClean.toFixed(4)} clean, ${spliced.ce.ceSae.toFixed(4)} with the SAE, ${spliced.ce.ceZeroAbl.toFixed(4)} ablated (score ${spliced.ce.score.toFixed(4)}); KL score ${spliced.kl.score.toFixed(4)}`);
  const scored = turnScores(model, tokenizer, sae, hook, o.heldOut, maxLength, s.storeBatchPrompts);
  const findings = splits.map((split) => splitFinding(split, scored, top, threshold));
  const tEval = (performance.now() - t1) / 1000;
  for (const f of findings) {
    const b = f.best[0];
    log(`${f.name}: ${f.positiveTurns} vs ${f.negativeTurns} turns; best latent ${b?.latent} AUROC ${b?.auroc.toFixed(3)} (density ${b?.density.toFixed(4)}); ${f.above} latents above ${threshold}, ${f.below} below ${(1 - threshold).toFixed(2)}`);
  }
  return {
    settings, trainConversations: store.conversations, trainTokens: store.totalRows, heldOutConversations: evalStore.conversations, heldOutTokens: scored.tokens, turns: scored.labels.length,
    reconstruction: {
      l0: evaluation.l0, explainedVariance: evaluation.explainedVariance, explainedVarianceLegacy: evaluation.explainedVarianceLegacy, mse: evaluation.mse, cosine: evaluation.cosine,
      deadLatents: evaluation.deadLatents.length, denseLatents: evaluation.denseLatents.length, deadInTraining: result.stepsSinceFired.filter((n) => n > s.deadFeatureWindow).length,
    },
    spliced: {
      conversations: spliced.conversations, tokens: spliced.tokens, ceClean: spliced.ce.ceClean, ceSae: spliced.ce.ceSae, ceZeroAbl: spliced.ce.ceZeroAbl, ceLossScore: spliced.ce.score,
      klSae: spliced.kl.klSae, klAbl: spliced.kl.klAbl, klDivScore: spliced.kl.score,
    },
    threshold, splits: findings, seconds: { train: tTrain, evaluate: tEval }, saeDir: result.saeDir,
  };
}

/** A conversation as the trainer's chat row (its messages, nothing else). */
function chatRow(c: { messages: readonly { role: string; content: string }[] }): ChatRow {
  return { messages: c.messages.map((m) => ({ role: m.role, content: m.content })) } as ChatRow;
}

/** Every latent's score on every labelled turn, its firing, and its token density. */
interface TurnScores {
  labels: TurnLabels[];
  /** [turns][d_sae] as one flat array, latent fastest: the max activation over the turn's tokens */
  scores: Float64Array;
  dSae: number;
  /** [d_sae] share of held-out response tokens where the latent is non-zero */
  density: Float64Array;
  tokens: number;
}

function turnScores(model: Transformer, tokenizer: Tokenizer, sae: Sae, hook: string, conversations: LabelledConversation[], maxLength: number, batchSize: number): TurnScores {
  const dSae = sae.config.dSae;
  const { examples } = tokenizeRows(conversations.map(chatRow), tokenizer, maxLength);
  const labels: TurnLabels[] = [];
  const chunks: Float64Array[] = [];
  const fired = new Float64Array(dSae);
  let tokens = 0;
  for (let first = 0; first < examples.length; first += batchSize) {
    const group = examples.slice(first, first + batchSize);
    const turnsOfGroup = group.map((e, g) => assistantRuns(e.assistant, conversations[first + g] as LabelledConversation, first + g));
    const out = T.noGrad(() => T.scope(() => {
      const { ids, mask } = padBatch(group.map((e) => e.ids), tokenizer.padTokenId ?? 0, 'right', model.device);
      const { cache } = runWithCache(model, ids, { tokenMask: mask, names: [hook], skipLogits: true });
      const acts = sae.encode(cache.get(hook)); // [b, s, d_sae]
      const s = acts.size(1);
      const response = group.flatMap((e, g) => e.assistant.flatMap((a, p) => (a ? [g * s + p] : [])));
      const rows = acts.reshape(-1, dSae).indexSelect(0, T.tensor(response, { dtype: 'i64', device: acts.device })); // [response tokens, d_sae]
      const firing = rows.ne(0).sum(0).to('f64').to('cpu'); // [d_sae]
      const maxima: T.Tensor[] = [];
      turnsOfGroup.forEach((runs, g) => {
        for (const r of runs) maxima.push(acts.select(0, g).narrow(0, r.start, r.end - r.start).maxDim(0)[0]); // [d_sae]
      });
      const scores = maxima.length === 0 ? null : T.stack(maxima, 0).to('f64').to('cpu'); // [turns, d_sae]
      return { firing: firing.data() as Float64Array, scores: scores === null ? new Float64Array(0) : (scores.data() as Float64Array).slice(), n: response.length };
    }));
    for (let i = 0; i < dSae; i++) fired[i]! += out.firing[i]!;
    tokens += out.n;
    chunks.push(out.scores);
    for (const runs of turnsOfGroup) for (const r of runs) labels.push(r.labels);
  }
  const scores = new Float64Array(labels.length * dSae);
  let at = 0;
  for (const c of chunks) {
    scores.set(c, at);
    at += c.length;
  }
  return { labels, scores, dSae, density: fired.map((f) => f / Math.max(1, tokens)), tokens };
}

/** Runs of role-masked tokens [start, end), one per assistant message with content, with its labels (a cut conversation keeps its first runs). */
function assistantRuns(mask: boolean[], conversation: LabelledConversation, index: number): { start: number; end: number; labels: TurnLabels }[] {
  const withContent = conversation.messages.filter((m) => m.role === 'assistant').flatMap((m, t) => (m.content.length > 0 ? [conversation.turns[t] as TurnLabels] : []));
  const runs: { start: number; end: number; labels: TurnLabels }[] = [];
  mask.forEach((a, p) => {
    if (!a) return;
    const last = runs.at(-1);
    if (last !== undefined && last.end === p) last.end = p + 1;
    else runs.push({ start: p, end: p + 1, labels: withContent[runs.length] as TurnLabels });
  });
  if (runs.length > withContent.length) throw new Error(`worldSaeFindings: conversation ${index}'s role mask marks ${runs.length} runs of assistant tokens for ${withContent.length} assistant messages; the chat template must keep the turns apart`);
  return runs;
}

function splitFinding(split: TurnSplit, t: TurnScores, top: number, threshold: number): SplitFinding {
  const pos: number[] = [];
  const neg: number[] = [];
  t.labels.forEach((l, i) => {
    if (split.positive(l)) pos.push(i);
    else if (split.negative(l)) neg.push(i);
  });
  if (pos.length === 0 || neg.length === 0) return { name: split.name, positiveTurns: pos.length, negativeTurns: neg.length, best: [], above: 0, below: 0 };
  const all: LatentFinding[] = [];
  const column = (turns: number[], j: number) => turns.map((i) => t.scores[i * t.dSae + j] as number);
  for (let j = 0; j < t.dSae; j++) {
    const p = column(pos, j);
    const n = column(neg, j);
    all.push({
      latent: j, auroc: auroc(p, n), density: t.density[j] as number,
      positiveFiring: p.filter((v) => v !== 0).length / p.length, negativeFiring: n.filter((v) => v !== 0).length / n.length,
    });
  }
  const sorted = [...all].sort((a, b) => b.auroc - a.auroc || a.latent - b.latent);
  return {
    name: split.name, positiveTurns: pos.length, negativeTurns: neg.length, best: sorted.slice(0, top),
    above: all.filter((f) => f.auroc > threshold).length, below: all.filter((f) => f.auroc < 1 - threshold).length,
  };
}

export interface OrganismSaeFindingsOptions extends Omit<WorldSaeFindingsOptions, 'train' | 'heldOut'> {
  /** the first N rows of the organism's pre-training corpus (default 3000) */
  trainConversations?: number;
  /** N rows generated after the corpus (default 1000) */
  heldOutConversations?: number;
  device?: T.Device;
  /** keep the activation cache (outDir/activations) after the run (default false: it is removed) */
  keepActivations?: boolean;
}

/** worldSaeFindings on a preset's organism (organismDir(preset)) and its world's conversations. */
export async function organismSaeFindings(preset: string, o: OrganismSaeFindingsOptions): Promise<WorldSaeFindings & { preset: string; modelDir: string }> {
  const recipe = recipeFor(preset);
  const nTrain = o.trainConversations ?? 3000;
  const nHeldOut = o.heldOutConversations ?? 1000;
  const corpus = createWorld(recipe.world).config.corpusRows;
  if (nTrain > corpus) throw new Error(`organismSaeFindings: trainConversations (${nTrain}) is more than the ${corpus} rows of the ${preset} corpus`);
  const rows = corpusRows(createWorld({ ...recipe.world, corpusRows: corpus + nHeldOut }));
  const modelDir = organismDir(preset);
  const { model, tokenizer } = await loadModel(modelDir, { device: o.device ?? 'cpu' });
  if (tokenizer === null) throw new Error(`${modelDir}: the organism has no tokenizer`);
  const cacheDir = join(o.outDir, 'activations');
  try {
    const findings = worldSaeFindings(model, tokenizer, {
      ...o, train: rows.slice(0, nTrain), heldOut: rows.slice(corpus), activationCache: o.activationCache ?? { dir: cacheDir, modelId: modelFingerprint(modelDir).fingerprint },
    });
    return { ...findings, preset, modelDir };
  } finally {
    if (o.keepActivations !== true) rmSync(cacheDir, { recursive: true, force: true });
  }
}
