// The train-sae producer: a sparse autoencoder trained on one hook point's activations of the
// task's model (with its parent adapters, role `adapters`, attached) over a chat JSONL data set
// (data role `train`; response, prompt or all tokens), by src/sae/train.ts — what `basin sae
// train` runs, as a keyed task. The model's activations stream through an ActivationStore
// (no disk cache: the artifact store is the cache); the SAE trains on the model's device.
// The final evaluation reads the optional data role `eval` (unshuffled, every batch up to
// evalBatches) or, without one, the training stream's next evalBatches batches (SAELens's way).
// Output:
//   sae/          the SAE in the SAELens folder format (cfg.json, sae_weights.safetensors,
//                 sparsity.safetensors), as trainSae saves it (readSae reads it)
//   metrics.json  the final evaluation (l0, explained variance, MSE, dead and dense latents, …)
//   run/          the loop's run.json and metrics.jsonl (one line per step); no checkpoints

import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SAE_EVAL_FILE, SAE_SUBDIR } from '../../io/files.js';
import { hookNames, readHfConfig } from '../../model/index.js';
import { checkpointDirs } from '../../train/checkpoint.js';
import { readChatJsonl } from '../../train/data.js';
import type { ScheduleKind } from '../../train/schedule.js';
import { ActivationStore, type TokenSelection } from '../../sae/activation-store.js';
import { DEFAULT_SAE_TRAINING, saeArchitectureNames, type SaeTrainingSettings } from '../../sae/architectures/index.js';
import type { ActivationNormalization, SaeArchitectureName, SaeConfig } from '../../sae/config.js';
import { activationBatchSource, SAE_TRAIN_DEFAULTS, trainSae } from '../../sae/train.js';
import { registerProducer } from './registry.js';

export const TRAIN_SAE_RUN_SUBDIR = 'run';

export interface TrainSaeSettings {
  /** the hook point read, by full name (blocks.L.hook_resid_post, …) */
  hook: string;
  architecture: SaeArchitectureName;
  /** latents */
  dSae: number;
  /** topk: latents per token; batchtopk: their mean per token; null for standard and jumprelu */
  k: number | null;
  normalize: ActivationNormalization;
  /** which positions of each conversation are rows */
  tokens: TokenSelection;
  steps: number;
  /** activation rows per step */
  batchTokens: number;
  lr: number;
  schedule: ScheduleKind;
  warmupSteps: number;
  maxGradNorm: number;
  /** loss coefficients and warm-ups: DEFAULT_SAE_TRAINING with any overrides, resolved */
  training: SaeTrainingSettings;
  deadFeatureWindow: number;
  evalBatches: number;
  /** conversations per forward of the activation store */
  storeBatchPrompts: number;
  /** conversations are cut to this many tokens (null: the model's context) */
  maxLength: number | null;
  /** the SAE's initialisation, the loop's seed and the store's pass orders */
  seed: number;
}

/** What a caller must give; everything else has the default trainSaeSettings fills in. */
export type TrainSaeSettingsInput = Pick<TrainSaeSettings, 'hook' | 'architecture' | 'dSae' | 'steps' | 'seed'>
  & Partial<Omit<TrainSaeSettings, 'training'>> & { training?: Partial<SaeTrainingSettings> };

/** Same defaults as `basin sae train`. */
export const TRAIN_SAE_DEFAULTS = {
  k: null, normalize: 'none', tokens: 'response', batchTokens: 4096, lr: SAE_TRAIN_DEFAULTS.lr, schedule: 'constant', warmupSteps: 0,
  maxGradNorm: SAE_TRAIN_DEFAULTS.maxGradNorm, deadFeatureWindow: SAE_TRAIN_DEFAULTS.deadFeatureWindow, evalBatches: SAE_TRAIN_DEFAULTS.evalBatches,
  storeBatchPrompts: 32, maxLength: null,
} as const satisfies Partial<TrainSaeSettings>;

/**
 * Resolved settings for a train-sae task (every default filled in, so keys see them), checked:
 * a known architecture, k given exactly for topk and batchtopk and at most dSae, positive counts.
 * Throws naming the setting.
 */
export function trainSaeSettings(input: TrainSaeSettingsInput): TrainSaeSettings {
  const { training, ...rest } = input;
  const s: TrainSaeSettings = { ...TRAIN_SAE_DEFAULTS, ...rest, training: { ...DEFAULT_SAE_TRAINING, ...training } };
  const fail = (message: string): never => {
    throw new Error(`train-sae settings: ${message}`);
  };
  const int = (name: keyof TrainSaeSettings, min: number) => {
    const v = s[name] as number;
    if (!(Number.isInteger(v) && v >= min)) fail(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  if (!saeArchitectureNames().includes(s.architecture)) fail(`unknown architecture '${s.architecture}'; architectures: ${saeArchitectureNames().join(', ')}`);
  int('dSae', 1);
  int('steps', 1);
  int('batchTokens', 1);
  int('warmupSteps', 0);
  int('deadFeatureWindow', 1);
  int('evalBatches', 1);
  int('storeBatchPrompts', 1);
  int('seed', 0);
  if (s.seed > 0xffffffff) fail(`seed must be below 2^32, got ${s.seed}`);
  if (s.maxLength !== null) int('maxLength', 2);
  if (s.warmupSteps > s.steps) fail(`warmupSteps (${s.warmupSteps}) is more than steps (${s.steps})`);
  if (!(Number.isFinite(s.lr) && s.lr > 0)) fail(`lr must be above 0, got ${s.lr}`);
  if (!(Number.isFinite(s.maxGradNorm) && s.maxGradNorm >= 0)) fail(`maxGradNorm must be ≥ 0 (0 = off), got ${s.maxGradNorm}`);
  if (!['response', 'prompt', 'all'].includes(s.tokens)) fail(`tokens must be 'response', 'prompt' or 'all', got ${JSON.stringify(s.tokens)}`);
  const usesK = s.architecture === 'topk' || s.architecture === 'batchtopk';
  if (usesK && s.k === null) fail(`a ${s.architecture} SAE needs k (${s.architecture === 'topk' ? 'latents kept per token' : 'the mean number of latents per token'})`);
  if (!usesK && s.k !== null) fail(`k is for topk and batchtopk SAEs, not ${s.architecture}; set it to null`);
  if (s.k !== null) {
    if (!(Number.isFinite(s.k) && s.k > 0 && (s.architecture !== 'topk' || Number.isInteger(s.k)))) fail(`k must be ${s.architecture === 'topk' ? 'an integer ≥ 1' : 'above 0'}, got ${s.k}`);
    if (s.k > s.dSae) fail(`k (${s.k}) is more than dSae (${s.dSae})`);
  }
  return s;
}

registerProducer<TrainSaeSettings>({
  name: 'train-sae',
  version: 1,
  summary: "a sparse autoencoder on a hook point's activations over chat JSONL (SAELens folder, metrics.json)",
  async check(task) {
    const dir = task.model?.dir;
    if (dir === undefined || dir === '') return; // a model made by a task: checked when it runs
    const config = await readHfConfig(dir);
    if (!hookNames(config.nLayers).includes(task.settings.hook)) {
      throw new Error(`task '${task.id}': hook ${JSON.stringify(task.settings.hook)} is not a hook point of this ${config.nLayers}-layer model; e.g. blocks.${Math.floor(config.nLayers / 2)}.hook_resid_post`);
    }
  },
  async run(task, io) {
    const s = task.settings;
    const { model, tokenizer } = await io.model();
    const ref = io.modelRef();
    const device = io.models.device;
    const maxLength = s.maxLength ?? model.config.maxPositions;
    const runDir = join(io.dir, TRAIN_SAE_RUN_SUBDIR);
    await io.models.withAdapters(model, io.parents('adapters'), () => {
      const storeOptions = { hook: s.hook, tokens: s.tokens, trainBatchTokens: s.batchTokens, storeBatchPrompts: s.storeBatchPrompts, maxLength, seed: s.seed, device };
      const store = new ActivationStore(model, tokenizer, { ...storeOptions, data: readChatJsonl(io.data('train')) });
      const data = activationBatchSource(store, { sha256: task.dataHashes.train ?? null, maxLength, storeBatchPrompts: s.storeBatchPrompts });
      const evalStore = task.data.eval === undefined ? null : new ActivationStore(model, tokenizer, { ...storeOptions, data: readChatJsonl(io.data('eval')), shuffle: false });
      const config: SaeConfig = {
        architecture: s.architecture, dIn: store.dIn, dSae: s.dSae, applyBDecToInput: true, normalizeActivations: s.normalize, normScalingFactor: null,
        k: s.k, rescaleActsByDecoderNorm: s.architecture === 'topk' || s.architecture === 'batchtopk', hookName: s.hook,
        modelName: ref.dir !== '' ? ref.dir : `task:${ref.task ?? ''}`, dtype: 'f32', extra: {},
      };
      try {
        trainSae({
          config, data, outDir: runDir, steps: s.steps, seed: s.seed, device, lr: s.lr, schedule: s.schedule, warmupSteps: s.warmupSteps,
          maxGradNorm: s.maxGradNorm, settings: s.training, deadFeatureWindow: s.deadFeatureWindow, evalBatches: s.evalBatches,
          ...(evalStore !== null ? { evalData: evalStore.batches(0) } : {}),
          checkpointEvery: 0, resume: false, quiet: true,
          identity: { model: `${ref.fingerprint}/${ref.dtype}`, adapters: io.parents('adapters').length },
          metadata: { task: task.id },
          onStep: (m) => io.progress((0.98 * m.step) / s.steps),
        });
      } finally {
        data.close();
      }
    });
    // Only the final files stay: the SAE and its evaluation at the top, the run's record under run/.
    renameSync(join(runDir, SAE_SUBDIR), join(io.dir, SAE_SUBDIR));
    renameSync(join(runDir, SAE_EVAL_FILE), join(io.dir, SAE_EVAL_FILE));
    for (const c of checkpointDirs(runDir)) rmSync(c.dir, { recursive: true, force: true });
    if (!existsSync(join(io.dir, SAE_SUBDIR))) throw new Error(`task '${task.id}': the trainer saved no SAE`);
    io.progress(1);
  },
});
