// Training an SAE on the generic loop (train/loop.ts), as SAELens's SAETrainer does: Adam
// (β 0.9, 0.999, no weight decay) at lr 3e-4 by default, the loop's lr warm-up and decay,
// gradient clipping at norm 1, and as loss the parts of Sae.loss (mse plus the architecture's
// terms, each already carrying its coefficient and its warm-up), summed with weight 1.
//
// Dead latents: a counter per latent of the training steps since it last fired (acts ≠ 0 on any
// token of the step's batch); a latent is dead when its counter is above deadFeatureWindow (1000,
// SAELens's dead_feature_window), and the dead mask, taken before the step's forward, feeds the
// aux-k (topk, batchtopk) and pre-activation (jumprelu) losses. The counters, and batchtopk's
// moving threshold (weights.threshold, moved by every Sae.loss), are checkpointed beside the
// parameters (LoopSpec.state), so a resumed run is bit-identical to an uninterrupted one. Each
// step's metrics line carries stats {l0, deadLatents}.
//
// expected_average_only_in with no normScalingFactor: the factor sqrt(d_in)/E‖x‖ is estimated
// from the first normEstimateBatches batches (the mean of per-batch mean norms, as SAELens), and
// the source is sought back to where it stood, so training sees the same stream either way.
//
// At the end: an evaluation pass (SaeMetricsAccumulator over evalBatches batches — the next ones
// of the training stream, as SAELens, or evalData), written to OUT/metrics.json, and the SAE
// as SAELens saves it (sae.forSaving(): decoder norms folded, batchtopk as jumprelu) in the
// SAELens folder format under OUT/sae, with sparsity.safetensors = log10(feature density + 1e-10).

import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { SAE_EVAL_FILE, SAE_SUBDIR } from '../io/files.js';
import { adamw } from '../train/optimizer.js';
import { trainLoop, type BatchSource, type LoopState, type Objective, type StepMetrics, type TrainResult } from '../train/loop.js';
import type { ScheduleKind } from '../train/schedule.js';
import { progress } from '../util/progress.js';
import type { ActivationStore } from './activation-store.js';
import { DEFAULT_SAE_TRAINING, type SaeTrainingSettings } from './architectures/index.js';
import type { SaeConfig } from './config.js';
import { writeSae } from './files.js';
import { SaeMetricsAccumulator, type SaeMetrics } from './metrics.js';
import { initSae, type Sae } from './sae.js';


/** SAELens's defaults where it has them (lr, clipping, dead_feature_window, n_eval_reconstruction_batches). */
export const SAE_TRAIN_DEFAULTS = {
  lr: 3e-4,
  maxGradNorm: 1,
  deadFeatureWindow: 1000,
  evalBatches: 10,
  /** SAELens reads 1000 batches; 100 give the scalar to well under a percent on real activations */
  normEstimateBatches: 100,
} as const;

/** SAELens's log10 offset in sparsity.safetensors, so that a latent that never fired has a finite value */
const SPARSITY_EPS = 1e-10;

export interface TrainSaeSpec {
  /** the SAE to train: architecture, sizes, normalisation (expected_average_only_in with a null normScalingFactor: estimated from the data) */
  config: SaeConfig;
  /** batches of activations [tokens, d_in] on `device`, resumable (activationBatchSource wraps an ActivationStore) */
  data: BatchSource<T.Tensor>;
  /** run.json, metrics.jsonl, checkpoints, metrics.json and sae/ go here */
  outDir: string;
  steps: number;
  /** initialises the SAE (initSae) and seeds the loop; an integer in [0, 2^32) */
  seed: number;
  /** where the SAE's weights live (default cpu) */
  device?: T.Device;
  /** default 3e-4 */
  lr?: number;
  /** the lr schedule after warm-up (default constant) */
  schedule?: ScheduleKind;
  /** lr warm-up steps (default 0) */
  warmupSteps?: number;
  /** gradient clipping norm (default 1; 0 = off) */
  maxGradNorm?: number;
  /** sparsity coefficients and their warm-ups, aux and threshold rates: overrides of DEFAULT_SAE_TRAINING */
  settings?: Partial<SaeTrainingSettings>;
  /** a latent is dead once it has not fired for more than this many steps (default 1000) */
  deadFeatureWindow?: number;
  /** batches of the final evaluation (default 10) */
  evalBatches?: number;
  /** batches [tokens, d_in] to evaluate on (default: the training stream's next batches) */
  evalData?: Iterable<T.Tensor>;
  /** batches read to estimate expected_average_only_in's factor (default 100) */
  normEstimateBatches?: number;
  /** checkpoint every N steps (default 0: only at the end) */
  checkpointEvery?: number;
  /** as LoopConfig.resume (default 'auto') */
  resume?: 'auto' | boolean;
  /** stop after this many steps in this call (no evaluation or saving then) */
  stopAfter?: number;
  quiet?: boolean;
  onStep?: (m: StepMetrics) => void;
  /** what else determines the result (the model's fingerprint), merged into the run's config */
  identity?: Record<string, unknown>;
  /** written to run.json, not hashed */
  metadata?: Record<string, unknown>;
}

export interface TrainSaeResult {
  /** the SAE as trained (its training form; OUT/sae holds the saved form) */
  sae: Sae;
  /** the final evaluation, or null when the run stopped before its last step */
  evaluation: SaeMetrics | null;
  train: TrainResult;
  /** steps since each latent last fired, at the end [d_sae] */
  stepsSinceFired: number[];
  /** the saved SAE's folder and metrics.json, or null when the run stopped before its last step */
  saeDir: string | null;
  evalPath: string | null;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`trainSae: ${message}`);
}

/** Trains (or resumes training of) an SAE; see the file comment. */
export function trainSae(spec: TrainSaeSpec): TrainSaeResult {
  const device = spec.device ?? 'cpu';
  const window = spec.deadFeatureWindow ?? SAE_TRAIN_DEFAULTS.deadFeatureWindow;
  const evalBatches = spec.evalBatches ?? SAE_TRAIN_DEFAULTS.evalBatches;
  const normBatches = spec.normEstimateBatches ?? SAE_TRAIN_DEFAULTS.normEstimateBatches;
  check(Number.isInteger(window) && window >= 1, `deadFeatureWindow (${window}) must be an integer ≥ 1 (SAELens's default is 1000)`);
  check(Number.isInteger(evalBatches) && evalBatches >= 1, `evalBatches (${evalBatches}) must be an integer ≥ 1`);
  check(Number.isInteger(normBatches) && normBatches >= 1, `normEstimateBatches (${normBatches}) must be an integer ≥ 1`);
  const settings: SaeTrainingSettings = { ...DEFAULT_SAE_TRAINING, ...spec.settings };
  const config = spec.config.normalizeActivations === 'expected_average_only_in' && spec.config.normScalingFactor === null
    ? { ...spec.config, normScalingFactor: estimateNormScalingFactor(spec.data, spec.config.dIn, normBatches) }
    : spec.config;
  const lossNames = lossPartNames(config, settings);
  const sae = initSae(config, spec.seed, { device });
  const stepsSinceFired = T.keep(T.zeros([config.dSae], { dtype: 'i64', device })); // [d_sae]
  let l0 = Number.NaN;

  const objective: Objective<T.Tensor> = {
    lossNames,
    parts(x, ctx) {
      const deadMask = stepsSinceFired.gt(window); // [d_sae] bool, before this step's forward
      const pass = sae.loss(x, { step: ctx.step, deadMask, settings });
      T.noGrad(() => {
        const fires = pass.acts.ne(0); // [tokens, d_sae]
        stepsSinceFired.copy_(stepsSinceFired.add(1).maskedFill(fires.sum(0).gt(0), 0));
        l0 = fires.sum().item() / Math.max(1, fires.size(0));
      });
      return Object.fromEntries(lossNames.map((name) => [name, { value: pass.losses[name] as T.Tensor, weight: 1 }]));
    },
    stats: () => ({ l0, deadLatents: T.scope(() => stepsSinceFired.gt(window).sum().item()) }),
    describe: () => ({ kind: 'sae', architecture: config.architecture, settings, deadFeatureWindow: window, lossNames }),
  };

  // The counters, and a threshold that training moves outside the optimizer (batchtopk's).
  const movedThreshold = !sae.architecture.trainsThreshold;
  const state: LoopState = {
    save: () => new Map([['stepsSinceFired', stepsSinceFired], ...(movedThreshold && sae.weights.threshold !== undefined ? [['threshold', sae.weights.threshold] as const] : [])]),
    load(saved) {
      const counters = saved.get('stepsSinceFired');
      if (counters === undefined || counters.shape.join(',') !== String(config.dSae)) {
        throw new Error(`trainSae: the checkpoint's extra state has no stepsSinceFired [${config.dSae}]; it was not written by an SAE run of this size`);
      }
      T.noGrad(() => stepsSinceFired.copy_(counters));
      const threshold = saved.get('threshold');
      if (threshold === undefined || !movedThreshold) return;
      if (sae.weights.threshold === undefined) sae.weights.threshold = T.keep(T.scope(() => threshold.to(device).clone()));
      else T.noGrad(() => (sae.weights.threshold as T.Tensor).copy_(threshold));
    },
  };

  const { extra: _extra, hookName: _hook, modelName: _model, ...saeIdentity } = config;
  const parameters = new Map(Object.entries(sae.parameters()));
  let train: TrainResult;
  let sinceFired: number[];
  try {
    train = trainLoop({
      parameters, objective, data: spec.data, state, steps: spec.steps, seed: spec.seed, outDir: spec.outDir,
      lr: spec.lr ?? SAE_TRAIN_DEFAULTS.lr, optimizer: adamw({ betas: [0.9, 0.999] }), schedule: spec.schedule, warmupSteps: spec.warmupSteps,
      maxGradNorm: spec.maxGradNorm ?? SAE_TRAIN_DEFAULTS.maxGradNorm, checkpointEvery: spec.checkpointEvery, resume: spec.resume,
      stopAfter: spec.stopAfter, quiet: spec.quiet, onStep: spec.onStep,
      identity: { ...spec.identity, sae: saeIdentity },
      metadata: { hook: config.hookName, model: config.modelName, ...spec.metadata },
    });
    sinceFired = stepsSinceFired.toArray();
  } finally {
    stepsSinceFired.dispose();
    for (const p of parameters.values()) p.requiresGrad_(false); // the returned SAE is for inference
  }
  const deadAtEnd = sinceFired.filter((n) => n > window).length;
  if (train.steps < spec.steps) return { sae, evaluation: null, train, stepsSinceFired: sinceFired, saeDir: null, evalPath: null };

  const evaluation = evaluate(sae, spec.evalData ?? continuing(spec.data), evalBatches, spec.quiet ?? false);
  const evalPath = join(spec.outDir, SAE_EVAL_FILE);
  const { featureDensity, ...numbers } = evaluation;
  const record = {
    steps: train.steps, evalBatches, evaluatedOn: spec.evalData !== undefined ? 'evalData' : 'the training stream after the last step',
    ...numbers, deadLatentsInTraining: deadAtEnd, deadFeatureWindow: window,
  };
  // Lists of numbers (latent indices, histogram counts) on one line each.
  writeFileAtomic(evalPath, `${JSON.stringify(record, null, 2).replace(/\[\s+([-\d.e+,\s]+?)\s+\]/g, (_, list: string) => `[${list.split(/,\s+/).join(', ')}]`)}\n`);
  const saeDir = join(spec.outDir, SAE_SUBDIR);
  const saved = sae.forSaving();
  try {
    T.scope(() => writeSae(saeDir, saved.config, saved.weights, { sparsity: T.tensor(Array.from(featureDensity, (d) => Math.log10(d + SPARSITY_EPS))) }));
  } finally {
    for (const t of Object.values(saved.weights)) t?.dispose();
  }
  return { sae, evaluation, train, stepsSinceFired: sinceFired, saeDir, evalPath };
}

/** The source's next batches, one per iteration (made when asked for, in the asker's scope). */
function* continuing(data: BatchSource<T.Tensor>): Generator<T.Tensor, never, undefined> {
  for (;;) yield data.next();
}

/** SaeMetricsAccumulator over the first `batches` batches of `data` (inference forward: what the saved SAE computes). */
function evaluate(sae: Sae, data: Iterable<T.Tensor>, batches: number, quiet: boolean): SaeMetrics {
  const metrics = new SaeMetricsAccumulator();
  const bar = progress('sae eval', batches, { quiet, unit: 'batches' });
  const it = data[Symbol.iterator]();
  try {
    for (let i = 0; i < batches; i++) {
      const done = T.noGrad(() => T.scope(() => {
        const r = it.next();
        if (r.done === true) return true;
        const { acts, recon } = sae.forward(r.value);
        metrics.add(r.value, recon, acts);
        return false;
      }));
      if (done) break;
      bar.tick(1);
    }
  } finally {
    bar.stop();
    it.return?.();
  }
  return metrics.finish();
}

/** sqrt(d_in) / the mean over `batches` batches of the mean ‖x‖; the source is sought back to where it stood. */
export function estimateNormScalingFactor(data: BatchSource<T.Tensor>, dIn: number, batches: number): number {
  const start = data.position();
  let sum = 0;
  for (let i = 0; i < batches; i++) sum += T.noGrad(() => T.scope(() => data.next().to('f64').norm(2, -1).mean().item()));
  data.seek(start);
  const factor = Math.sqrt(dIn) / (sum / batches);
  check(Number.isFinite(factor) && factor > 0, `the activations' mean norm over ${batches} batches is ${sum / batches}, so expected_average_only_in has no scaling factor; use normalize 'none'`);
  return factor;
}

/** The names of Sae.loss's parts besides `total` for this architecture and settings (from one pass of a 2×2 SAE of the same kind). */
function lossPartNames(config: SaeConfig, settings: SaeTrainingSettings): string[] {
  const probe = initSae({ ...config, dIn: 2, dSae: 2, k: config.k === null ? null : 1, normalizeActivations: 'none', normScalingFactor: null }, 0);
  try {
    const names = T.noGrad(() => T.scope(() => Object.keys(probe.loss(T.ones([1, 2]), { step: 0, deadMask: T.zeros([2]).gt(0), settings }).losses)));
    return names.filter((n) => n !== 'total');
  } finally {
    for (const t of Object.values(probe.weights)) t?.dispose();
  }
}

/**
 * An ActivationStore as the loop's batch source: passes 0, 1, … one after another; position
 * {epoch, batch} (batches handed out in that pass); seek replays the stream from the pass's
 * start to that batch (reads from the store's disk cache when it has one, else runs the model
 * again). `identity` (the data's hash, maxLength, storeBatchPrompts: what the store does not
 * expose) joins describe(). close() ends the pass in progress and frees its buffer.
 */
export function activationBatchSource(store: ActivationStore, identity: Record<string, unknown>): BatchSource<T.Tensor> & { close(): void } {
  let epoch = 0;
  let batch = 0;
  let pass: Generator<T.Tensor, void, undefined> | null = null;
  const begin = (e: number): Generator<T.Tensor, void, undefined> => {
    pass?.return();
    epoch = e;
    batch = 0;
    pass = store.batches(e);
    return pass;
  };
  const take = (it: Generator<T.Tensor, void, undefined>): T.Tensor | null => {
    const r = it.next();
    return r.done === true ? null : r.value;
  };
  return {
    next() {
      let x = take(pass ?? begin(0));
      if (x === null) x = take(begin(epoch + 1));
      if (x === null) throw new Error(`activation store: pass ${epoch} handed out no batch; the data has no ${store.tokens} tokens`);
      batch++;
      return x; // [≤ trainBatchTokens, d_in]
    },
    tokens: (x) => x.size(0),
    position: () => ({ epoch, batch }),
    seek(p) {
      const e = p.epoch ?? 0;
      const n = p.batch ?? 0;
      const it = begin(e);
      for (let i = 0; i < n; i++) {
        const x = take(it);
        if (x === null) throw new Error(`activation store: cannot seek to batch ${n} of pass ${e}: the pass has ${i} batches; the data or the batch size changed since the checkpoint`);
        x.dispose();
      }
      batch = n;
    },
    describe: () => ({
      kind: 'sae-activations', hook: store.hook, tokens: store.tokens, dIn: store.dIn, trainBatchTokens: store.trainBatchTokens,
      bufferRows: store.capacity, shuffle: store.shuffle, seed: store.seed, conversations: store.conversations, rows: store.totalRows, ...identity,
    }),
    close() {
      pass?.return();
      pass = null;
    },
  };
}
