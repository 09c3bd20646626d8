// The one generic training loop: an objective (named loss parts of a batch, summed with their
// weights) minimised over a set of named parameters by a pluggable optimizer, with a
// learning-rate schedule with warm-up, gradient accumulation, clipping, JSONL metrics, a
// progress bar, atomic checkpoints and exact (bit-identical) resume. SFT (trainer.ts) is one
// objective and one batch source; anything else that trains by gradient steps is another. State
// the run moves besides the parameters and the optimizer (an SAE's dead-latent counters, a
// moving threshold) joins the checkpoints through `state`; numbers an objective reports besides
// its loss (an SAE's l0) join each step's metrics through `stats`.
//
// Every setting that changes the result is resolved into one plain-JSON config: written to
// run.json and hashed into every checkpoint. A resume whose config differs is refused, naming
// each differing setting with both values.

import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { TRAIN_RUN_FILE, TRAIN_METRICS_FILE } from '../io/files.js';
import { progress } from '../util/progress.js';
import { adamw, type OptimizerConfig, type OptimizerFactory } from './optimizer.js';
import { lrFactor, type ScheduleKind } from './schedule.js';
import { configDifferences, configHash, resumeMismatchMessage, toJson, type Json } from './run-config.js';
import { decodeRng, encodeRng, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';

/** What the objective sees besides the batch. */
export interface StepContext {
  /** optimizer steps done before this one: 0 during the first step */
  step: number;
  totalSteps: number;
  /** which micro-batch of this step (0 … gradAccum − 1) */
  microBatch: number;
  /** the trained parameters by name */
  parameters: ReadonlyMap<string, T.Tensor>;
}

/** One named part of the loss: a scalar [] with grad, and its weight at this step. */
export interface LossPart {
  value: T.Tensor;
  weight: number;
}

export interface Objective<B> {
  /** every name parts() returns, in order; distinct */
  readonly lossNames: string[];
  /** the loss parts of one micro-batch; the micro-batch's loss is Σ weight · value */
  parts(batch: B, ctx: StepContext): Record<string, LossPart>;
  /** the objective's settings (loss terms and their weights), part of the run's config */
  describe(): Record<string, unknown>;
  /** numbers describing the step just taken besides its loss (read after each step; with gradient accumulation, of its last micro-batch), written into its metrics as `stats` */
  stats?(): Record<string, number>;
}

/** State a run moves besides its parameters and optimizer (e.g. counters its objective keeps), saved in every checkpoint and restored on resume. */
export interface LoopState {
  /** the tensors to save, by name (called at each checkpoint; the loop does not free them) */
  save(): Map<string, T.Tensor>;
  /** restores the saved tensors on resume (the loop frees them after the call: copy what is kept) */
  load(tensors: ReadonlyMap<string, T.Tensor>): void;
}

/** Where micro-batches come from, resumably. Batches are built inside the loop's scope and freed with it. */
export interface BatchSource<B> {
  next(): B;
  /** real tokens in a batch (for tokens per second) */
  tokens(batch: B): number;
  /** where the source stands, saved in checkpoints */
  position(): Record<string, number>;
  seek(position: Record<string, number>): void;
  /** the data's identity (content hash, batch size), part of the run's config */
  describe(): Record<string, unknown>;
}

export interface LoopConfig {
  outDir: string;
  /** optimizer steps */
  steps: number;
  /** micro-batches per optimizer step (default 1); each micro-batch's loss is divided by it */
  gradAccum?: number;
  lr: number;
  /** default 0 */
  weightDecay?: number;
  /** default adamw() */
  optimizer?: OptimizerFactory;
  schedule?: ScheduleKind;
  warmupSteps?: number;
  /** 0 (default) = no clipping */
  maxGradNorm?: number;
  /** seeds the global generator (dropout); an integer in [0, 2^32) */
  seed: number;
  /** 0 (default) = only at the end */
  checkpointEvery?: number;
  /**
   * 'auto' (default): continue from the last checkpoint in outDir if there is one; true: there
   * must be one; false: there must be none (a fresh run refuses to overwrite another).
   */
  resume?: 'auto' | boolean;
  /** stop after this many steps in this call (for tests of interruption) */
  stopAfter?: number;
  /** no progress bar */
  quiet?: boolean;
  onStep?: (m: StepMetrics) => void;
}

export interface LoopSpec<B> extends LoopConfig {
  /** what is trained, by name (checkpoint keys); the loop turns their grad on */
  parameters: Map<string, T.Tensor>;
  objective: Objective<B>;
  data: BatchSource<B>;
  /** extra state to checkpoint and restore (default none) */
  state?: LoopState;
  /** the rest of what determines the result (the model's identity, what is trained), merged into the config */
  identity?: Record<string, unknown>;
  /** written to run.json beside the config, not hashed (data file names, device, notes) */
  metadata?: Record<string, unknown>;
}

/** Every setting that changes the result; written to run.json and hashed for resume. */
export interface ResolvedConfig {
  steps: number;
  gradAccum: number;
  lr: number;
  schedule: { kind: ScheduleKind; warmupSteps: number };
  optimizer: OptimizerConfig & { weightDecay: number };
  maxGradNorm: number;
  seed: number;
  data: Record<string, unknown>;
  objective: Record<string, unknown>;
  /** identity fields (model, lora | full, …) */
  [key: string]: unknown;
}

/** run.json */
export interface RunRecord {
  runHash: string;
  config: ResolvedConfig;
  metadata: Record<string, unknown>;
}

export interface StepMetrics {
  step: number;
  /** Σ weight · part, averaged over the step's micro-batches */
  loss: number;
  /** each unweighted loss part, averaged over the micro-batches */
  parts: Record<string, number>;
  /** each part's weight at this step */
  weights: Record<string, number>;
  lr: number;
  /** the gradient's global 2-norm before clipping */
  gradNorm: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
  /** the objective's stats() after this step, when it has them */
  stats?: Record<string, number>;
}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  resumedFrom: number | null;
  metricsPath: string;
}

export class TrainingError extends Error {}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`train: ${message}`);
}

/** The run's config from a spec (validating every setting). */
export function resolveLoopConfig<B>(spec: LoopSpec<B>): ResolvedConfig {
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  const gradAccum = spec.gradAccum ?? 1;
  const warmupSteps = spec.warmupSteps ?? 0;
  const maxGradNorm = spec.maxGradNorm ?? 0;
  const weightDecay = spec.weightDecay ?? 0;
  check(int(spec.steps, 1), `steps (${spec.steps}) must be a positive integer`);
  check(int(gradAccum, 1), `gradAccum (${gradAccum}) must be a positive integer`);
  check(Number.isFinite(spec.lr) && spec.lr >= 0, `lr (${spec.lr}) must be a finite number >= 0`);
  check(int(warmupSteps, 0), `warmupSteps (${warmupSteps}) must be an integer >= 0`);
  check(Number.isFinite(maxGradNorm) && maxGradNorm >= 0, `maxGradNorm (${maxGradNorm}) must be >= 0 (0 = no clipping)`);
  check(Number.isFinite(weightDecay) && weightDecay >= 0, `weightDecay (${weightDecay}) must be >= 0`);
  check(int(spec.seed, 0) && spec.seed <= 0xffffffff, `seed (${spec.seed}) must be an integer in [0, 2^32 - 1]`);
  const config: ResolvedConfig = {
    steps: spec.steps, gradAccum, lr: spec.lr,
    schedule: { kind: spec.schedule ?? 'constant', warmupSteps },
    optimizer: { ...(spec.optimizer ?? adamw()).config, weightDecay },
    maxGradNorm, seed: spec.seed,
    data: spec.data.describe(),
    objective: spec.objective.describe(),
    ...spec.identity,
  };
  return toJson(config) as ResolvedConfig;
}

/** Runs (or resumes) the training described by spec. */
export function trainLoop<B>(spec: LoopSpec<B>): TrainResult {
  const { objective, data, outDir } = spec;
  const config = resolveLoopConfig(spec);
  const runHash = configHash(config as unknown as Json);
  const names = new Set<string>();
  for (const name of objective.lossNames) {
    if (names.has(name)) throw new Error(`train: the objective names the loss '${name}' twice; each loss part needs its own name`);
    names.add(name);
  }
  const parameters = spec.parameters;
  check(parameters.size > 0, 'nothing to train (the trainable selection is empty)');
  const paramList = [...parameters.values()];
  for (const p of paramList) p.requiresGrad_(true);
  const { gradAccum, steps: totalSteps, maxGradNorm } = config;
  const optimizer = (spec.optimizer ?? adamw()).create(paramList, { lr: config.lr, weightDecay: config.optimizer.weightDecay });
  mkdirSync(outDir, { recursive: true });
  const metricsPath = join(outDir, TRAIN_METRICS_FILE);

  // Start fresh, or resume exactly where the last checkpoint stopped.
  let step = 0;
  T.manualSeed(config.seed);
  const ckpt = loadLatestCheckpoint(outDir);
  const resume = spec.resume ?? 'auto';
  if (resume === true && ckpt === null) throw new Error(`${outDir}: nothing to resume (no checkpoint-N folder); run without --resume to start`);
  if (resume === false && ckpt !== null) throw new Error(`${outDir}: already has checkpoints (${ckpt.dir}); pass --resume to continue that run, or choose a new --out`);
  let resumedFrom: number | null = null;
  if (ckpt !== null) {
    try {
      if (ckpt.state.runHash !== runHash) throw new Error(resumeMismatchMessage(ckpt.dir, configDifferences(ckpt.state.config, config as unknown as Json)));
      T.noGrad(() => {
        for (const [name, p] of parameters) {
          const saved = ckpt.trainable.get(name);
          if (saved === undefined) throw new Error(`${ckpt.dir}: the checkpoint has no ${name}`);
          p.copy_(saved);
        }
      });
      // Optimizer state tensors are keyed `<param index>.<name>`: each goes to its parameter's
      // device (loadStateDict keeps its own copies; the scope frees the moved ones).
      T.scope(() => {
        const deviceOf = (key: string, t: T.Tensor) => (paramList[Number(key.split('.')[0])] ?? t).device;
        const tensors = Object.fromEntries([...ckpt.optimizerTensors].map(([key, t]) => [key, t.to(deviceOf(key, t))]));
        optimizer.loadStateDict({ ...ckpt.state.optimizer, tensors });
      });
      T.Generator.global().setState(decodeRng(ckpt.state.rng));
      data.seek(ckpt.state.data);
      if (spec.state !== undefined) {
        if (ckpt.extraState === null) throw new Error(`${ckpt.dir}: the checkpoint has no extra state (it was written by a run without it), so this run cannot resume from it exactly; use a new --out`);
        spec.state.load(ckpt.extraState);
      }
    } finally {
      for (const t of [...ckpt.trainable.values(), ...ckpt.optimizerTensors.values(), ...(ckpt.extraState?.values() ?? [])]) t.dispose();
    }
    step = ckpt.state.step;
    resumedFrom = step;
    truncateMetrics(metricsPath, step);
  } else {
    writeFileSync(metricsPath, '');
  }
  const record: RunRecord = { runHash, config, metadata: spec.metadata ?? {} };
  writeFileAtomic(join(outDir, TRAIN_RUN_FILE), JSON.stringify(record, null, 1));

  const stopAt = Math.min(totalSteps, spec.stopAfter !== undefined ? step + spec.stopAfter : totalSteps);
  const bar = progress('train', totalSteps - step, { quiet: spec.quiet ?? false, unit: 'steps' });
  const t0 = performance.now();
  let tokens = 0;
  let lastLoss = NaN;
  const lastGood = () => (resumedFrom !== null || step > 0 ? `; the last good checkpoint is in ${outDir}` : '');
  try {
    while (step < stopAt) {
      const lr = config.lr * lrFactor(config.schedule.kind, step, totalSteps, config.schedule.warmupSteps);
      for (const g of optimizer.groups) g.lr = lr;
      optimizer.zeroGrad();
      const sums: Record<string, number> = {};
      const weights: Record<string, number> = {};
      let total = 0;
      for (let microBatch = 0; microBatch < gradAccum; microBatch++) {
        T.scope(() => {
          const batch = data.next();
          tokens += data.tokens(batch);
          const parts = objective.parts(batch, { step, totalSteps, microBatch, parameters });
          for (const name of Object.keys(parts)) if (!names.has(name)) throw new Error(`train: the objective returned a loss '${name}' it does not declare (it declares ${[...names].join(', ')})`);
          let loss: T.Tensor | null = null;
          const values: Record<string, number> = {};
          for (const name of names) {
            const part = parts[name];
            if (part === undefined) throw new Error(`train: the objective returned no loss '${name}' at step ${step + 1}`);
            const weighted = part.weight === 1 ? part.value : part.value.mul(part.weight);
            loss = loss === null ? weighted : loss.add(weighted);
            values[name] = part.value.item();
            weights[name] = part.weight;
          }
          const value = (loss as T.Tensor).item();
          if (!Number.isFinite(value)) {
            throw new TrainingError(`loss is ${value} at step ${step + 1} (${Object.entries(values).map(([k, v]) => `${k} ${v}`).join(', ')}); try a lower learning rate or gradient clipping${lastGood()}`);
          }
          (loss as T.Tensor).div(gradAccum).backward();
          total += value / gradAccum;
          for (const [k, v] of Object.entries(values)) sums[k] = (sums[k] ?? 0) + v / gradAccum;
        });
      }
      const gradNorm = maxGradNorm > 0 ? T.clipGradNorm(paramList, maxGradNorm) : gradientNorm(paramList);
      if (!Number.isFinite(gradNorm)) throw new TrainingError(`gradient norm is ${gradNorm} at step ${step + 1}; try a lower learning rate${lastGood()}`);
      optimizer.step();
      step++;
      lastLoss = total;
      const elapsed = (performance.now() - t0) / 1000;
      const stats = objective.stats?.();
      const m: StepMetrics = { step, loss: total, parts: sums, weights, lr, gradNorm, tokensPerSecond: tokens / elapsed, elapsedSeconds: elapsed, ...(stats !== undefined ? { stats } : {}) };
      appendFileSync(metricsPath, `${JSON.stringify(m)}\n`);
      spec.onStep?.(m);
      bar.tick(1, { loss: total });
      const every = spec.checkpointEvery ?? 0;
      if ((every > 0 && step % every === 0) || step === totalSteps) writeCheckpoint();
    }
  } finally {
    bar.stop();
    optimizer.zeroGrad();
  }
  return { steps: step, finalLoss: lastLoss, resumedFrom, metricsPath };

  function writeCheckpoint(): void {
    const s = optimizer.stateDict();
    saveCheckpoint(outDir, {
      step,
      data: data.position(),
      rng: encodeRng(T.Generator.global().getState()),
      optimizer: { kind: s.kind, groups: s.groups, scalars: s.scalars },
      config: config as unknown as Json,
      runHash,
    }, parameters, new Map(Object.entries(s.tensors)), spec.state !== undefined ? { extraState: spec.state.save() } : {});
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
