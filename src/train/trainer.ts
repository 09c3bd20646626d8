// The one fine-tuning loop every experiment shares: SFT on assistant tokens plus pluggable
// loss terms, AdamW with warm-up schedules, gradient accumulation and clipping, LoRA or full
// parameters, atomic checkpoints with exact resume, JSONL metrics and a progress bar.

import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { hook, type Hook } from '../model/hooks.js';
import type { Transformer } from '../model/transformer.js';
import type { LoraAdapter } from '../model/lora.js';
import { layerIndexOf } from '../model/lora.js';
import { progress } from '../util/progress.js';
import { collate, shuffledOrder, type Batch, type Example } from './data.js';
import type { ForwardRecord, LossTerm } from './loss-term.js';
import { lrFactor, type ScheduleKind } from './schedule.js';
import { decodeRng, encodeRng, loadLatestCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';

/** What is trained: one LoRA adapter, or the model's own parameters (optionally a subset). */
export type Trainable =
  | { kind: 'lora'; adapter: LoraAdapter }
  | { kind: 'full'; include?: RegExp; maxLayer?: number };

export interface TrainConfig {
  outDir: string;
  /** optimizer steps */
  steps: number;
  /** examples per micro-batch */
  batchSize: number;
  /** micro-batches per optimizer step (effective batch = batchSize × gradAccum) */
  gradAccum?: number;
  lr: number;
  weightDecay?: number;
  betas?: [number, number];
  schedule?: ScheduleKind;
  warmupSteps?: number;
  /** 0 = no clipping */
  maxGradNorm?: number;
  seed: number;
  /** 0 = only at the end */
  checkpointEvery?: number;
  terms?: LossTerm[];
  trainable: Trainable;
  /** frozen reference for terms that need one: a separate model, or 'base' = the policy with the trained adapter switched off */
  reference?: Transformer | 'base';
  /** pad id for batches (default 0; masked out anyway) */
  padId?: number;
  /** recorded in run.json (inoculation prompt, data files, …) */
  metadata?: Record<string, unknown>;
  /** no progress bar */
  quiet?: boolean;
  /**
   * 'auto' (default): continue from the last checkpoint in outDir if there is one; true: there
   * must be one; false: there must be none (a fresh run refuses to overwrite another).
   */
  resume?: 'auto' | boolean;
  /** stop after this many steps in this call (for tests of interruption) */
  stopAfter?: number;
  onStep?: (m: StepMetrics) => void;
}

export interface StepMetrics {
  step: number;
  loss: number;
  sft: number;
  terms: Record<string, number>;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  resumedFrom: number | null;
  metricsPath: string;
}

export class TrainingError extends Error {}

export function trainableParameters(model: Transformer, t: Trainable): Map<string, T.Tensor> {
  const out = new Map<string, T.Tensor>();
  if (t.kind === 'lora') {
    for (const [path, l] of t.adapter.layers) {
      out.set(`${path}.lora_A.weight`, l.A);
      out.set(`${path}.lora_B.weight`, l.B);
    }
    return out;
  }
  for (const [name, p] of model.params) {
    if (t.include !== undefined && !t.include.test(name)) continue;
    const layer = layerIndexOf(name);
    if (t.maxLayer !== undefined && layer !== null && layer > t.maxLayer) continue;
    out.set(name, p);
  }
  return out;
}

export function train(model: Transformer, examples: Example[], c: TrainConfig): TrainResult {
  if (examples.length === 0) throw new Error('train: no examples');
  const accum = c.gradAccum ?? 1;
  const terms = c.terms ?? [];
  const params = trainableParameters(model, c.trainable);
  if (params.size === 0) throw new Error('train: nothing to train (the trainable selection is empty)');
  const frozen = c.trainable.kind === 'full' ? [...model.params.values()].filter((p) => ![...params.values()].includes(p)) : [];
  for (const p of frozen) p.requiresGrad_(false);
  for (const p of params.values()) p.requiresGrad_(true);
  const paramList = [...params.values()];
  const optimizer = new T.AdamW(paramList, { lr: c.lr, weightDecay: c.weightDecay ?? 0, betas: c.betas ?? [0.9, 0.999] });
  mkdirSync(c.outDir, { recursive: true });
  const metricsPath = join(c.outDir, 'metrics.jsonl');
  const runHash = hashRun(c, examples, terms);

  // Start fresh, or resume exactly where the last checkpoint stopped.
  let state: Omit<TrainerState, 'rng' | 'optimizer' | 'runHash'> = { step: 0, epoch: 0, cursor: 0 };
  T.manualSeed(c.seed);
  const ckpt = loadLatestCheckpoint(c.outDir);
  const resume = c.resume ?? 'auto';
  if (resume === true && ckpt === null) throw new Error(`${c.outDir}: nothing to resume (no checkpoint-N folder); run without --resume to start`);
  if (resume === false && ckpt !== null) throw new Error(`${c.outDir}: already has checkpoints (${ckpt.dir}); pass --resume to continue that run, or choose a new --out`);
  let resumedFrom: number | null = null;
  if (ckpt !== null) {
    if (ckpt.state.runHash !== runHash) throw new Error(`${c.outDir}: has checkpoints of a different run (settings or data differ); use a new --out folder or delete ${ckpt.dir}`);
    T.noGrad(() => {
      for (const [name, p] of params) {
        const saved = ckpt.trainable.get(name);
        if (saved === undefined) throw new Error(`${ckpt.dir}: the checkpoint has no ${name}`);
        p.copy_(saved);
      }
    });
    optimizer.loadStateDict({ ...ckpt.state.optimizer, tensors: Object.fromEntries(ckpt.optimizerTensors) });
    T.Generator.global().setState(decodeRng(ckpt.state.rng));
    for (const t of [...ckpt.trainable.values(), ...ckpt.optimizerTensors.values()]) t.dispose();
    state = { step: ckpt.state.step, epoch: ckpt.state.epoch, cursor: ckpt.state.cursor };
    resumedFrom = state.step;
    truncateMetrics(metricsPath, state.step);
  } else {
    writeFileSync(metricsPath, '');
  }
  writeFileAtomic(join(c.outDir, 'run.json'), JSON.stringify({
    steps: c.steps, batchSize: c.batchSize, gradAccum: accum, lr: c.lr, weightDecay: c.weightDecay ?? 0, schedule: c.schedule ?? 'constant',
    warmupSteps: c.warmupSteps ?? 0, maxGradNorm: c.maxGradNorm ?? 0, seed: c.seed, examples: examples.length,
    trainable: c.trainable.kind === 'lora' ? { kind: 'lora', name: c.trainable.adapter.name, ...c.trainable.adapter.config } : { kind: 'full', include: c.trainable.include?.source ?? null, maxLayer: c.trainable.maxLayer ?? null },
    trainableParameters: paramList.reduce((n, p) => n + p.numel, 0),
    terms: terms.map((t) => t.describe()), runHash, ...c.metadata,
  }, null, 1));

  const order = () => shuffledOrder(examples.length, c.seed, state.epoch);
  let epochOrder = order();
  const nextMicroBatch = (): Example[] => {
    const picked: Example[] = [];
    while (picked.length < c.batchSize) {
      if (state.cursor >= examples.length) {
        state.epoch++;
        state.cursor = 0;
        epochOrder = order();
      }
      picked.push(examples[epochOrder[state.cursor++] as number] as Example);
    }
    return picked;
  };

  const stopAt = Math.min(c.steps, c.stopAfter !== undefined ? state.step + c.stopAfter : c.steps);
  const bar = progress('train', c.steps - state.step, { quiet: c.quiet ?? false, unit: 'steps' });
  const t0 = performance.now();
  let tokens = 0;
  let lastLoss = NaN;
  const lastGood = () => (resumedFrom !== null || state.step > 0 ? `; the last good checkpoint is in ${c.outDir}` : '');
  try {
    while (state.step < stopAt) {
      const factor = lrFactor(c.schedule ?? 'constant', state.step, c.steps, c.warmupSteps ?? 0);
      for (const g of optimizer.groups) g.lr = c.lr * factor;
      optimizer.zeroGrad();
      const sums: Record<string, number> = {};
      let total = 0;
      for (let a = 0; a < accum; a++) {
        T.scope(() => {
          const batch = collate(nextMicroBatch(), c.padId ?? 0);
          tokens += batch.tokens;
          const parts = lossParts(model, batch, terms, c.reference);
          let loss = parts.sft;
          const named: Record<string, number> = { sft: parts.sft.item() };
          for (const [name, { value, weight }] of Object.entries(parts.terms)) {
            loss = loss.add(value.mul(weight));
            named[name] = value.item();
          }
          const value = loss.item();
          if (!Number.isFinite(value)) {
            throw new TrainingError(`loss is ${value} at step ${state.step + 1} (${Object.entries(named).map(([k, v]) => `${k} ${v}`).join(', ')}); try a lower learning rate or gradient clipping${lastGood()}`);
          }
          loss.div(accum).backward();
          total += value / accum;
          for (const [k, v] of Object.entries(named)) sums[k] = (sums[k] ?? 0) + v / accum;
        });
      }
      const gradNorm = c.maxGradNorm ? T.clipGradNorm(paramList, c.maxGradNorm) : gradientNorm(paramList);
      if (!Number.isFinite(gradNorm)) throw new TrainingError(`gradient norm is ${gradNorm} at step ${state.step + 1}; try a lower learning rate${lastGood()}`);
      optimizer.step();
      state.step++;
      lastLoss = total;
      const elapsed = (performance.now() - t0) / 1000;
      const { sft, ...termValues } = sums;
      const m: StepMetrics = { step: state.step, loss: total, sft: sft ?? total, terms: termValues, lr: c.lr * factor, gradNorm, tokensPerSecond: tokens / elapsed, elapsedSeconds: elapsed };
      appendFileSync(metricsPath, `${JSON.stringify(m)}\n`);
      c.onStep?.(m);
      bar.tick(1, { loss: total });
      const every = c.checkpointEvery ?? 0;
      if ((every > 0 && state.step % every === 0) || state.step === c.steps) writeCheckpoint();
    }
  } finally {
    bar.stop();
    optimizer.zeroGrad();
  }
  return { steps: state.step, finalLoss: lastLoss, resumedFrom, metricsPath };

  function writeCheckpoint(): void {
    const s = optimizer.stateDict();
    saveCheckpoint(c.outDir, {
      ...state,
      rng: encodeRng(T.Generator.global().getState()),
      optimizer: { kind: s.kind, groups: s.groups, scalars: s.scalars },
      runHash,
    }, params, new Map(Object.entries(s.tensors)));
  }
}

/** The SFT loss and each term's losses for one micro-batch (with grad). */
function lossParts(model: Transformer, batch: Batch, terms: LossTerm[], reference: Transformer | 'base' | undefined) {
  const captures = [...new Set(terms.flatMap((t) => t.captures ?? []))];
  const refCaptures = [...new Set(terms.flatMap((t) => t.reference?.captures ?? []))];
  const needRef = terms.some((t) => t.reference !== undefined);

  let ref: ForwardRecord | undefined;
  if (needRef) {
    if (reference === undefined) throw new Error(`train: terms ${terms.filter((t) => t.reference).map((t) => t.name).join(', ')} need a reference model (set reference: 'base' or a model)`);
    ref = T.noGrad(() => withAdaptersOff(model, reference, () => recordForward(reference === 'base' ? model : reference, batch, refCaptures, [])));
  }
  const policy = recordForward(model, batch, captures, terms.flatMap((t) => t.hooks?.(batch) ?? []));
  const V = policy.logits.size(-1);
  const s = batch.ids.size(1);
  const sft = T.crossEntropy(policy.logits.narrow(1, 0, s - 1).reshape(-1, V), batch.labels.reshape(-1), { ignoreIndex: -100 });
  const out: Record<string, { value: T.Tensor; weight: number }> = {};
  for (const term of terms) {
    if (term.compute === undefined) continue;
    for (const [name, value] of Object.entries(term.compute({ batch, policy, reference: ref }))) out[name] = { value, weight: term.weight };
  }
  return { sft, terms: out };
}

function recordForward(model: Transformer, batch: Batch, captures: string[], hooks: Hook[]): ForwardRecord {
  const captured = new Map<string, T.Tensor>();
  const captureHooks = captures.map((name) => hook(name, (x, ctx) => { captured.set(ctx.name, x); }));
  const logits = model.forward(batch.ids, { tokenMask: batch.tokenMask, responseMask: batch.responseMask, hooks: [...hooks, ...captureHooks] });
  return { logits, captured };
}

/** Runs fn with every trainable adapter of the policy switched off when the reference is 'base'. */
function withAdaptersOff<R>(model: Transformer, reference: Transformer | 'base', fn: () => R): R {
  if (reference !== 'base') return fn();
  const touched: { enabled: boolean }[] = [];
  for (const lin of model.linears()) {
    for (const a of lin.adapters) {
      if (a.enabled) {
        touched.push(a);
        a.enabled = false;
      }
    }
  }
  try {
    return fn();
  } finally {
    for (const a of touched) a.enabled = true;
  }
}

function gradientNorm(params: T.Tensor[]): number {
  return T.noGrad(() => T.scope(() => {
    let sq = 0;
    for (const p of params) {
      const g = p.grad;
      if (g !== null) sq += g.square().sum().item();
    }
    return Math.sqrt(sq);
  }));
}

function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '' && (JSON.parse(l) as StepMetrics).step <= step);
  writeFileSync(path, kept.map((l) => `${l}\n`).join(''));
}

function hashRun(c: TrainConfig, examples: Example[], terms: LossTerm[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ steps: c.steps, batchSize: c.batchSize, accum: c.gradAccum ?? 1, lr: c.lr, wd: c.weightDecay ?? 0, schedule: c.schedule ?? 'constant', warmup: c.warmupSteps ?? 0, clip: c.maxGradNorm ?? 0, seed: c.seed, terms: terms.map((t) => t.describe()) }));
  for (const e of examples) h.update(Int32Array.from(e.ids)).update(Uint8Array.from(e.assistant, Number));
  return h.digest('hex').slice(0, 16);
}
