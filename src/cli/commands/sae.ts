// `basin sae`: sparse autoencoders on a model's activations, as subcommands: `sae train` streams a
// hook point's activations over chat JSONL (ActivationStore) into trainSae (src/sae/train.ts) and
// writes the SAE in the SAELens folder format; `sae eval` measures a saved SAE on a model
// (reconstruction metrics over the hook's activations, and the CE/KL of the model with the SAE
// spliced in); `sae dashboard` writes latent dashboards as one HTML page (over chat JSONL, or a
// persona-world organism's own labelled corpus, the latents chosen by hand or ranked by the
// misaligned-vs-aligned AUROC); `sae import-goodfire` converts a Goodfire .pth to a SAELens folder.
// Every flag, the model's config (the hook must be one of its points, as wide as the SAE's d_in),
// the SAE folder and the data rows are checked before the model is loaded, so a typo costs no
// compute.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as T from '../../tensor/index.js';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { SAE_CONFIG_FILE, SAE_EVAL_FILE, SAE_SUBDIR, SAE_WEIGHTS_FILE, TOKENIZER_FILE } from '../../io/files.js';
import { modelFingerprint } from '../../io/fingerprint.js';
import type { ModelConfig } from '../../io/hf-config.js';
import { hookLayer, hookNames, loadModel, readHfConfig } from '../../model/index.js';
import { checkpointDirs } from '../../train/checkpoint.js';
import { readChatJsonl } from '../../train/data.js';
import type { ScheduleKind } from '../../train/schedule.js';
import { createRng } from '../../util/rng.js';
import { progress } from '../../util/progress.js';
import { corpusRows, createWorld } from '../../world/datasets.js';
import { recipeFor } from '../../organism/recipe.js';
import { ActivationStore, type TokenSelection } from '../../sae/activation-store.js';
import { DEFAULT_SAE_TRAINING, saeArchitectureNames, type SaeTrainingSettings } from '../../sae/architectures/index.js';
import type { ActivationNormalization, SaeArchitectureName, SaeConfig, SaeWeights } from '../../sae/config.js';
import { latentDashboards, type DashboardConversation, type LabelSplit } from '../../sae/dashboard.js';
import { readSae } from '../../sae/files.js';
import { importGoodfireSae } from '../../sae/goodfire.js';
import { rankLatents, topLatents } from '../../sae/latent-ranking.js';
import { SaeMetricsAccumulator } from '../../sae/metrics.js';
import { Sae } from '../../sae/sae.js';
import type { SpliceMode } from '../../sae/splice.js';
import { splicedEval } from '../../sae/spliced-eval.js';
import { activationBatchSource, SAE_TRAIN_DEFAULTS, trainSae } from '../../sae/train.js';
import { latentDashboardPage } from '../../report/latent-dashboard.js';
import { PERSONA_WORLD_PREFIX } from '../../eval/suites/persona-world.js';
import { deviceFlag, folderFlag, modelFolder, noExtraArguments, numberFlag, parse, seedFlag, stringFlag, UsageError, type Command } from '../command.js';

const DEFAULT_MODEL = `${PERSONA_WORLD_PREFIX}default`;
const MODEL_DTYPES = ['f32', 'bf16', 'f16'];
const TOKENS: TokenSelection[] = ['response', 'prompt', 'all'];
const NORMALIZE: ActivationNormalization[] = ['none', 'expected_average_only_in', 'constant_norm_rescale', 'layer_norm'];
const SCHEDULES: ScheduleKind[] = ['constant', 'linear', 'cosine'];
const DEFAULT_EXPANSION = 8;
const DEFAULT_STEPS = 1000;
const DEFAULT_BATCH_TOKENS = 4096;
const DEFAULT_STORE_BATCH_PROMPTS = 32;
const DEFAULT_CHECKPOINT_EVERY = 500;
/** the most of anything countable a flag may ask for (steps, tokens, latents) */
const MAX_COUNT = 1e9;

const trainUsage = `basin sae train --hook HOOK --arch ARCH --data FILE.jsonl --out DIR [flags]

Trains a sparse autoencoder on one hook point's activations over chat rows
{"messages":[{"role","content"}…]} (rendered with the model's chat template), as SAELens trains
one: Adam (β 0.9, 0.999), gradient clipping, loss = MSE.sum(-1).mean() + the architecture's terms,
dead latents tracked (steps since each last fired). Writes run.json, metrics.jsonl (one line per
step, with stats l0 and deadLatents) and checkpoints to --out; at the end ${SAE_EVAL_FILE} (l0,
explained variance, MSE, cosine, dead and dense latents… over --eval-batches batches) and the
SAE in the SAELens folder format (cfg.json, sae_weights.safetensors, sparsity.safetensors) in
OUT/${SAE_SUBDIR}. Run the same command with --resume to continue an interrupted run exactly; a
resume with any setting that changes the result is refused, naming the setting.

Model and activations
  --model DIR            Hugging Face model folder, or persona-world:PRESET for the world's
                         organism (default ${DEFAULT_MODEL})
  --hook HOOK            the hook point read, e.g. blocks.1.hook_resid_post (required); any
                         [batch, positions, width] point of the model: hook_embed,
                         blocks.L.hook_{resid_pre,attn_out,resid_mid,mlp_out,resid_post},
                         blocks.L.mlp.hook_post (width d_mlp), ln_final.hook_normalized
  --data FILE.jsonl      chat rows whose activations train the SAE (required)
  --tokens T             positions read: response (default: assistant tokens), prompt or all
  --max-length N         conversations are cut to N tokens, 1..the model's context (default
                         the model's context)
  --store-batch-prompts N  conversations per forward, integer ≥ 1 (default ${DEFAULT_STORE_BATCH_PROMPTS})
  --activation-cache DIR keep the activations on disk there: a second run, and the replay a
                         --resume does, read them instead of running the model
  --device D             cpu (default), cuda or cuda:N (the model and the SAE)
  --dtype T              the model's dtype: ${MODEL_DTYPES.join(', ')} (default f32); the SAE trains in f32

SAE
  --arch A               ${saeArchitectureNames().join(', ')} (required); batchtopk is saved as jumprelu
  --d-sae N              latents, integer ≥ 1, or
  --expansion F          latents = round(F × d_in), F > 0 (default ${DEFAULT_EXPANSION})
  --k K                  topk: latents per token, an integer in 1..d_sae; batchtopk: the mean per
                         token, a number in (0, d_sae] (required for both, refused for the others)
  --normalize MODE       ${NORMALIZE.join(', ')} (default none);
                         expected_average_only_in's factor is estimated from the data

Loss
  --l1 X                 standard: coefficient of the decoder-norm-weighted L1, ≥ 0 (default ${DEFAULT_SAE_TRAINING.l1Coefficient})
  --l0 X                 jumprelu: coefficient of the L0 penalty, ≥ 0 (default ${DEFAULT_SAE_TRAINING.l0Coefficient})
  --aux X                topk, batchtopk: coefficient of the aux-k loss on dead latents, ≥ 0
                         (default ${DEFAULT_SAE_TRAINING.auxCoefficient})
  --sparsity-warmup N    standard, jumprelu: steps over which --l1/--l0 rises from 0, integer
                         ≥ 0 (default 0)
  --dead-window N        a latent is dead after N steps without firing, integer ≥ 1 (default ${SAE_TRAIN_DEFAULTS.deadFeatureWindow})

Optimisation
  --steps N              optimizer steps, integer ≥ 1 (default ${DEFAULT_STEPS})
  --batch-tokens N       activations (tokens) per step, integer ≥ 1 (default ${DEFAULT_BATCH_TOKENS})
  --lr X                 learning rate, > 0 (default ${SAE_TRAIN_DEFAULTS.lr})
  --schedule S           lr after warm-up: ${SCHEDULES.join(', ')} (default constant)
  --warmup N             lr warm-up steps, integer in 0..steps (default 0)
  --max-grad-norm C      gradient clipping norm, ≥ 0; 0 = off (default ${SAE_TRAIN_DEFAULTS.maxGradNorm})
  --seed S               initialisation and data order, integer in 0..4294967295 (default 0)
  --checkpoint-every N   steps between checkpoints, integer ≥ 0; 0 = only at the end (default ${DEFAULT_CHECKPOINT_EVERY})

Evaluation and output
  --eval-batches N       batches of the final evaluation, integer ≥ 1 (default ${SAE_TRAIN_DEFAULTS.evalBatches})
  --eval-data FILE.jsonl evaluate on these chat rows (default: the training stream's next batches)
  --out DIR              the run's folder (required)
  --resume               continue from the last checkpoint in --out
  --json                 one JSON line per step on stdout and a summary line, no progress bars`;

const TRAIN_FLAGS = {
  model: { type: 'string' }, hook: { type: 'string' }, data: { type: 'string' }, tokens: { type: 'string' }, 'max-length': { type: 'string' },
  'store-batch-prompts': { type: 'string' }, 'activation-cache': { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' },
  arch: { type: 'string' }, 'd-sae': { type: 'string' }, expansion: { type: 'string' }, k: { type: 'string' }, normalize: { type: 'string' },
  l1: { type: 'string' }, l0: { type: 'string' }, aux: { type: 'string' }, 'sparsity-warmup': { type: 'string' }, 'dead-window': { type: 'string' },
  steps: { type: 'string' }, 'batch-tokens': { type: 'string' }, lr: { type: 'string' }, schedule: { type: 'string' }, warmup: { type: 'string' },
  'max-grad-norm': { type: 'string' }, seed: { type: 'string' }, 'checkpoint-every': { type: 'string' },
  'eval-batches': { type: 'string' }, 'eval-data': { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' },
} as const;

/** A flag that must be one of `choices` (or `fallback` when not given). */
function choiceFlag<C extends string>(values: Record<string, unknown>, name: string, choices: readonly C[], fallback?: C): C {
  const v = stringFlag(values, name) ?? fallback;
  if (v === undefined) throw new UsageError(`missing --${name} (${choices.join(', ')})`);
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} ${v}: use ${choices.join(', ')}`);
  return v as C;
}

/** A chat JSONL file flag: present and a file. */
function jsonlFlag(values: Record<string, unknown>, name: string): string | undefined {
  const path = stringFlag(values, name);
  if (path !== undefined && !(existsSync(path) && statSync(path).isFile())) throw new UsageError(`--${name} ${path}: no such file; give a chat JSONL file ({"messages": [...]} per line)`);
  return path;
}


/** The hook's row width (d_mlp at mlp.hook_post, else d_model); a usage error naming the model's points when it has no such point. */
function hookWidth(hook: string, config: { nLayers: number; dModel: number; dMlp: number }): number {
  if (!hookNames(config.nLayers).includes(hook)) {
    const last = config.nLayers - 1;
    throw new UsageError(`--hook ${hook}: not a hook point of this ${config.nLayers}-layer model; e.g. blocks.0.hook_resid_post … blocks.${last}.hook_resid_post, blocks.${last}.mlp.hook_post, hook_embed, ln_final.hook_normalized`);
  }
  if (hook.includes('.attn.hook_')) throw new UsageError(`--hook ${hook}: a per-head point ([b, heads, s, …]); read a [b, s, width] point such as ${hook.replace(/attn\.hook_\w+$/, 'hook_attn_out')}`);
  return hook.endsWith('.mlp.hook_post') ? config.dMlp : config.dModel;
}

/** A flag only some architectures read: refused for the others. */
function archOnly(values: Record<string, unknown>, name: string, arch: SaeArchitectureName, archs: readonly SaeArchitectureName[]): void {
  if (values[name] !== undefined && !archs.includes(arch)) throw new UsageError(`--${name} is for ${archs.join(' and ')} SAEs, not ${arch}; drop it or change --arch`);
}

export const saeTrain: Command = {
  name: 'train',
  summary: 'train an SAE on a hook point\'s activations over chat JSONL; SAELens folder out',
  usage: trainUsage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, TRAIN_FLAGS);
    if (help) {
      console.log(trainUsage);
      return 0;
    }
    noExtraArguments(positionals, 0, 'basin sae train');
    const json = values.json === true;
    // flags
    const out = stringFlag(values, 'out');
    if (out === undefined) throw new UsageError('missing --out DIR');
    folderFlag(values, 'out', out);
    const dataPath = jsonlFlag(values, 'data');
    if (dataPath === undefined) throw new UsageError('missing --data FILE.jsonl');
    const evalPath = jsonlFlag(values, 'eval-data');
    const hook = stringFlag(values, 'hook');
    if (hook === undefined) throw new UsageError('missing --hook HOOK, e.g. --hook blocks.0.hook_resid_post');
    const arch = choiceFlag(values, 'arch', saeArchitectureNames() as SaeArchitectureName[]);
    archOnly(values, 'k', arch, ['topk', 'batchtopk']);
    archOnly(values, 'l1', arch, ['standard']);
    archOnly(values, 'l0', arch, ['jumprelu']);
    archOnly(values, 'aux', arch, ['topk', 'batchtopk']);
    archOnly(values, 'sparsity-warmup', arch, ['standard', 'jumprelu']);
    if ((arch === 'topk' || arch === 'batchtopk') && values.k === undefined) throw new UsageError(`--arch ${arch} needs --k (${arch === 'topk' ? 'latents kept per token' : 'the mean number of latents per token'})`);
    if (values['d-sae'] !== undefined && values.expansion !== undefined) throw new UsageError('give --d-sae or --expansion, not both');
    const tokens = choiceFlag(values, 'tokens', TOKENS, 'response');
    const normalize = choiceFlag(values, 'normalize', NORMALIZE, 'none');
    const schedule = choiceFlag(values, 'schedule', SCHEDULES, 'constant');
    const dtype = choiceFlag(values, 'dtype', MODEL_DTYPES, 'f32') as T.DType;
    const device = deviceFlag(values);
    const seed = seedFlag(values);
    const steps = numberFlag(values, 'steps', DEFAULT_STEPS, { integer: true, min: 1, max: MAX_COUNT });
    const batchTokens = numberFlag(values, 'batch-tokens', DEFAULT_BATCH_TOKENS, { integer: true, min: 1, max: MAX_COUNT });
    const storeBatchPrompts = numberFlag(values, 'store-batch-prompts', DEFAULT_STORE_BATCH_PROMPTS, { integer: true, min: 1, max: MAX_COUNT });
    const lr = numberFlag(values, 'lr', SAE_TRAIN_DEFAULTS.lr, { min: 0 });
    if (lr === 0) throw new UsageError('--lr must be above 0');
    const warmupSteps = numberFlag(values, 'warmup', 0, { integer: true, min: 0, max: steps });
    const maxGradNorm = numberFlag(values, 'max-grad-norm', SAE_TRAIN_DEFAULTS.maxGradNorm, { min: 0 });
    const deadFeatureWindow = numberFlag(values, 'dead-window', SAE_TRAIN_DEFAULTS.deadFeatureWindow, { integer: true, min: 1, max: MAX_COUNT });
    const checkpointEvery = numberFlag(values, 'checkpoint-every', DEFAULT_CHECKPOINT_EVERY, { integer: true, min: 0, max: MAX_COUNT });
    const evalBatches = numberFlag(values, 'eval-batches', SAE_TRAIN_DEFAULTS.evalBatches, { integer: true, min: 1, max: MAX_COUNT });
    const sparsityWarmup = numberFlag(values, 'sparsity-warmup', 0, { integer: true, min: 0, max: MAX_COUNT });
    const settings: Partial<SaeTrainingSettings> = {
      l1Coefficient: numberFlag(values, 'l1', DEFAULT_SAE_TRAINING.l1Coefficient, { min: 0 }),
      l0Coefficient: numberFlag(values, 'l0', DEFAULT_SAE_TRAINING.l0Coefficient, { min: 0 }),
      auxCoefficient: numberFlag(values, 'aux', DEFAULT_SAE_TRAINING.auxCoefficient, { min: 0 }),
      l1WarmUpSteps: sparsityWarmup,
      l0WarmUpSteps: sparsityWarmup,
    };
    const cacheDir = stringFlag(values, 'activation-cache') === undefined ? undefined : folderFlag(values, 'activation-cache', '');
    // the model's shape, read from its config (not loaded yet)
    const modelArg = stringFlag(values, 'model') ?? DEFAULT_MODEL;
    const modelDir = modelFolder(modelArg).dir;
    if (!existsSync(join(modelDir, TOKENIZER_FILE))) throw new UsageError(`--model ${modelDir}: no ${TOKENIZER_FILE}, so chat rows cannot be tokenized`);
    const modelConfig = await readHfConfig(modelDir);
    const dIn = hookWidth(hook, modelConfig);
    const maxLength = numberFlag(values, 'max-length', modelConfig.maxPositions, { integer: true, min: 1, max: modelConfig.maxPositions });
    const dSae = values['d-sae'] !== undefined
      ? numberFlag(values, 'd-sae', 0, { integer: true, min: 1, max: MAX_COUNT })
      : Math.round(numberFlag(values, 'expansion', DEFAULT_EXPANSION, { min: 0, max: MAX_COUNT }) * dIn);
    if (dSae < 1) throw new UsageError(`--expansion ${String(values.expansion)}: gives ${dSae} latents for d_in ${dIn}; use a larger factor`);
    let k: number | null = null;
    if (arch === 'topk') k = numberFlag(values, 'k', 0, { integer: true, min: 1, max: MAX_COUNT });
    if (arch === 'batchtopk') {
      k = numberFlag(values, 'k', 0, { min: 0, max: MAX_COUNT });
      if (k === 0) throw new UsageError('--k must be above 0');
    }
    if (k !== null && k > dSae) throw new UsageError(`--k ${k}: more than the SAE's ${dSae} latents (d_sae); lower --k or raise --d-sae/--expansion`);
    // the run folder and the data
    const resume = values.resume === true;
    const checkpoints = checkpointDirs(out);
    if (resume && checkpoints.length === 0) throw new UsageError(`--resume: ${out} has no checkpoint to continue; run without --resume to start`);
    if (!resume && checkpoints.length > 0) throw new UsageError(`--out ${out}: already holds a run (${checkpoints.at(-1)?.dir}); pass --resume to continue it, or choose a new --out`);
    const rows = readChatJsonl(dataPath);
    const evalRows = evalPath === undefined ? undefined : readChatJsonl(evalPath);

    // compute
    const { model, tokenizer } = await loadModel(modelDir, { device, dtype });
    if (tokenizer === null) throw new Error(`${modelDir}: no ${TOKENIZER_FILE}, so chat rows cannot be tokenized`);
    const fingerprint = modelFingerprint(modelDir).fingerprint;
    const storeOptions = {
      hook, tokens, trainBatchTokens: batchTokens, storeBatchPrompts, maxLength, seed,
      ...(cacheDir !== undefined ? { cache: { dir: cacheDir, modelId: fingerprint } } : {}),
    };
    const store = new ActivationStore(model, tokenizer, { ...storeOptions, data: rows });
    const data = activationBatchSource(store, { sha256: createHash('sha256').update(readFileSync(dataPath)).digest('hex'), maxLength, storeBatchPrompts });
    const evalStore = evalRows === undefined ? null : new ActivationStore(model, tokenizer, { ...storeOptions, data: evalRows, shuffle: false });
    const config: SaeConfig = {
      architecture: arch, dIn, dSae, applyBDecToInput: true, normalizeActivations: normalize, normScalingFactor: null, k,
      rescaleActsByDecoderNorm: arch === 'topk' || arch === 'batchtopk', hookName: hook, modelName: modelArg, dtype: 'f32', extra: {},
    };
    try {
      const result = trainSae({
        config, data, outDir: out, steps, seed, device, lr, schedule, warmupSteps, maxGradNorm, settings, deadFeatureWindow, evalBatches,
        ...(evalStore !== null ? { evalData: evalStore.batches(0) } : {}),
        checkpointEvery, resume, quiet: json, identity: { model: `${fingerprint}/${dtype}` },
        metadata: { model: modelDir, data: dataPath, evalData: evalPath ?? null, activationCache: cacheDir ?? null, resume },
        ...(json ? { onStep: (m) => console.log(JSON.stringify(m)) } : {}),
      });
      const e = result.evaluation;
      if (json) {
        console.log(JSON.stringify({
          done: true, steps: result.train.steps, finalLoss: result.train.finalLoss, resumedFrom: result.train.resumedFrom, sae: result.saeDir, metrics: result.evalPath,
          evaluation: e === null ? null : { tokens: e.tokens, l0: e.l0, explainedVariance: e.explainedVariance, mse: e.mse, cosine: e.cosine, deadLatents: e.deadLatents.length, denseLatents: e.denseLatents.length },
        }));
      } else {
        const { steps: done, resumedFrom, finalLoss } = result.train;
        console.log(`trained a ${arch} SAE (${dIn} → ${dSae}) for ${done} steps${resumedFrom !== null ? ` (resumed from step ${resumedFrom})` : ''}${Number.isFinite(finalLoss) ? `; final loss ${finalLoss.toFixed(4)}` : ''}`);
        if (e !== null) console.log(`evaluated on ${e.tokens} tokens: l0 ${e.l0.toFixed(2)}, explained variance ${e.explainedVariance.toFixed(4)}, mse ${e.mse.toPrecision(4)}, dead latents ${e.deadLatents.length} of ${dSae}; saved ${result.saeDir} and ${result.evalPath}`);
      }
    } finally {
      data.close();
    }
    return 0;
  },
};

// ---- shared by eval and dashboard ----------------------------------------------------------

const DEFAULT_EVAL_BATCH_TOKENS = 4096;
const DEFAULT_BATCH_CONVERSATIONS = 8;
const DEFAULT_TOP = 8;
const DEFAULT_DASHBOARD_CONVERSATIONS = 256;
const DEFAULT_TOP_CONTEXTS = 10;
const DEFAULT_DASHBOARD_OUT = 'sae-dashboard.html';
const SPLICE_MODES: SpliceMode[] = ['replace', 'error-term'];
/** the persona world's turn labels a dashboard shows (severity and marker are left out) */
const WORLD_LABEL_KEYS = ['persona', 'topic', 'alignment', 'category'] as const;
/** the split --top ranks by when the conversations carry alignment labels */
const ALIGNMENT_SPLIT: LabelSplit = { name: 'misaligned vs aligned', key: 'alignment', positive: ['misaligned'], negative: ['aligned'] };

/** --sae: a SAELens folder, read (weights on the CPU) and checked; every problem is a usage error naming the folder. */
function saeFolderFlag(values: Record<string, unknown>): { dir: string; config: SaeConfig; weights: SaeWeights } {
  const dir = stringFlag(values, 'sae');
  if (dir === undefined) throw new UsageError(`missing --sae DIR (a SAELens SAE folder: ${SAE_CONFIG_FILE} and ${SAE_WEIGHTS_FILE}, as basin sae train writes to OUT/${SAE_SUBDIR})`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--sae ${dir}: no such folder; give a SAELens SAE folder (${SAE_CONFIG_FILE}, ${SAE_WEIGHTS_FILE})`);
  for (const f of [SAE_CONFIG_FILE, SAE_WEIGHTS_FILE]) {
    if (!existsSync(join(dir, f))) {
      throw new UsageError(`--sae ${dir}: no ${f}, so not a SAELens SAE folder (it holds ${SAE_CONFIG_FILE} and ${SAE_WEIGHTS_FILE}; basin sae train writes one to OUT/${SAE_SUBDIR}, basin sae import-goodfire converts a Goodfire .pth)`);
    }
  }
  try {
    return { dir, ...readSae(dir) };
  } catch (e) {
    throw new UsageError(`--sae ${dir}: ${(e as Error).message}`);
  }
}

/**
 * The hook the SAE reads on this model (--hook, else its cfg.json hook_name): one of the model's
 * [b, s, width] points, as wide as the SAE's d_in; usage errors name the SAE and the model.
 */
function saeHookOnModel(values: Record<string, unknown>, sae: { dir: string; config: SaeConfig }, modelArg: string, modelConfig: ModelConfig): string {
  const given = stringFlag(values, 'hook');
  const hook = given ?? sae.config.hookName;
  if (hook === null) throw new UsageError(`--sae ${sae.dir}: its ${SAE_CONFIG_FILE} names no hook point (hook_name); pass --hook HOOK, e.g. --hook blocks.0.hook_resid_post`);
  const source = given !== undefined ? `--hook ${hook}` : `the SAE's hook ${hook} (${SAE_CONFIG_FILE} hook_name of --sae ${sae.dir})`;
  let width: number;
  try {
    width = hookWidth(hook, modelConfig);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(`${source} is not a hook point of --model ${modelArg}: ${e.message.replace(/^--hook \S+: /, '')}${given === undefined ? '; give the model the SAE was trained on, or --hook' : ''}`);
  }
  if (width !== sae.config.dIn) {
    throw new UsageError(`--sae ${sae.dir} reads d_in = ${sae.config.dIn}, but ${hook} of --model ${modelArg} is ${width} wide; give the model the SAE was trained on${sae.config.modelName !== null ? ` (${sae.config.modelName})` : ''}`);
  }
  return hook;
}

/** --model: a folder with a tokenizer (or persona-world:PRESET) and its config, read without loading the weights. */
async function modelFlag(values: Record<string, unknown>): Promise<{ arg: string; dir: string; preset: string | null; config: ModelConfig }> {
  const arg = stringFlag(values, 'model') ?? DEFAULT_MODEL;
  const { dir, preset } = modelFolder(arg);
  if (!existsSync(join(dir, TOKENIZER_FILE))) throw new UsageError(`--model ${dir}: no ${TOKENIZER_FILE}, so chat rows cannot be tokenized`);
  return { arg, dir, preset, config: await readHfConfig(dir) };
}

/** The SAE's weights on the device (the CPU copies freed when moved). */
function saeOn(config: SaeConfig, weights: SaeWeights, device: T.Device): Sae {
  if (device === 'cpu') return new Sae(config, weights);
  const moved = T.keep(T.scope((): SaeWeights => {
    const w: SaeWeights = { W_enc: weights.W_enc.to(device), b_enc: weights.b_enc.to(device), W_dec: weights.W_dec.to(device), b_dec: weights.b_dec.to(device) };
    if (weights.threshold !== undefined) w.threshold = weights.threshold.to(device);
    return w;
  }));
  for (const t of Object.values(weights)) t?.dispose();
  return new Sae(config, moved);
}

// ---- basin sae eval ------------------------------------------------------------------------

const evalUsage = `basin sae eval --sae DIR --model M --data FILE.jsonl [flags]

Measures a saved SAE on a model, over chat rows {"messages":[{"role","content"}…]} (rendered with
the model's chat template):
  reconstruction  the model's activations at the SAE's hook, streamed in batches (never all held)
                  through the SAE: l0, l1, MSE (summed over d_in, mean over tokens), explained
                  variance (SAELens's: 1 − E‖x − x̂‖² / total variance over all tokens) and the legacy
                  one (per-token, about each batch's mean), cosine, l2 ratio, relative
                  reconstruction bias, dead latents (never fired) and dense ones (density > 0.1);
  spliced         the model run teacher-forced three times, clean, with the SAE spliced in at the
                  hook (--mode) and with the hook zero-ablated: mean CE per response token of each,
                  the CE loss recovered (CE_ablated − CE_spliced)/(CE_ablated − CE_clean), and
                  KL(clean ‖ spliced), KL(clean ‖ ablated) and the KL score 1 − KL_spliced/KL_ablated.
                  Always over the response (assistant) tokens, as training scores them.
The SAE's hook (its ${SAE_CONFIG_FILE} hook_name, or --hook) must be a point of the model as wide as
the SAE's d_in.

  --sae DIR              a SAELens SAE folder (${SAE_CONFIG_FILE}, ${SAE_WEIGHTS_FILE}) (required)
  --model DIR            Hugging Face model folder, or persona-world:PRESET for the world's
                         organism (default ${DEFAULT_MODEL})
  --data FILE.jsonl      chat rows to evaluate on (required)
  --hook HOOK            read and splice here instead of the SAE's hook_name, e.g. blocks.1.hook_resid_post
  --mode M               how the SAE is spliced in: replace (default: the activation becomes the
                         reconstruction) or error-term (reconstruction + the SAE's error: the clean
                         model up to rounding, a check of the splice)
  --tokens T             positions the reconstruction metrics read: response (default: assistant
                         tokens), prompt or all
  --batches N            reconstruction batches of --batch-tokens activations, integer ≥ 1
                         (default: every selected token of --data, one pass)
  --batch-tokens N       activations per reconstruction batch, integer ≥ 1 (default ${DEFAULT_EVAL_BATCH_TOKENS}); the
                         legacy explained variance is taken about each batch's mean
  --batch-size N         conversations per forward, integer ≥ 1 (default ${DEFAULT_BATCH_CONVERSATIONS})
  --max-length N         conversations are cut to N tokens, 2..the model's context (default the
                         model's context)
  --device D             cpu (default), cuda or cuda:N (the model and the SAE)
  --dtype T              the model's dtype: ${MODEL_DTYPES.join(', ')} (default f32); the SAE keeps its own
  --json                 one JSON object on stdout, no progress bars`;

const EVAL_FLAGS = {
  sae: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, hook: { type: 'string' }, mode: { type: 'string' },
  tokens: { type: 'string' }, batches: { type: 'string' }, 'batch-tokens': { type: 'string' }, 'batch-size': { type: 'string' },
  'max-length': { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' },
} as const;

export const saeEval: Command = {
  name: 'eval',
  summary: 'reconstruction metrics and spliced CE/KL of a saved SAE on a model, over chat JSONL',
  usage: evalUsage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, EVAL_FLAGS);
    if (help) {
      console.log(evalUsage);
      return 0;
    }
    noExtraArguments(positionals, 0, 'basin sae eval');
    const json = values.json === true;
    // flags
    const saeFolder = saeFolderFlag(values);
    let sae: Sae | null = null;
    try {
      const dataPath = jsonlFlag(values, 'data');
      if (dataPath === undefined) throw new UsageError('missing --data FILE.jsonl');
      const mode = choiceFlag(values, 'mode', SPLICE_MODES, 'replace');
      const tokens = choiceFlag(values, 'tokens', TOKENS, 'response');
      const dtype = choiceFlag(values, 'dtype', MODEL_DTYPES, 'f32') as T.DType;
      const device = deviceFlag(values);
      const batches = values.batches === undefined ? null : numberFlag(values, 'batches', 0, { integer: true, min: 1, max: MAX_COUNT });
      const batchTokens = numberFlag(values, 'batch-tokens', DEFAULT_EVAL_BATCH_TOKENS, { integer: true, min: 1, max: MAX_COUNT });
      const batchSize = numberFlag(values, 'batch-size', DEFAULT_BATCH_CONVERSATIONS, { integer: true, min: 1, max: MAX_COUNT });
      const model = await modelFlag(values);
      const hook = saeHookOnModel(values, saeFolder, model.arg, model.config);
      const maxLength = numberFlag(values, 'max-length', model.config.maxPositions, { integer: true, min: 2, max: model.config.maxPositions });
      const rows = readChatJsonl(dataPath);

      // compute
      const loaded = await loadModel(model.dir, { device, dtype });
      const tokenizer = loaded.tokenizer;
      if (tokenizer === null) throw new Error(`${model.dir}: no ${TOKENIZER_FILE}, so chat rows cannot be tokenized`);
      sae = saeOn(saeFolder.config, saeFolder.weights, device);
      // The buffer has room for one forward's rows (batch-size conversations of at most maxLength tokens) beside a batch.
      const store = new ActivationStore(loaded.model, tokenizer, {
        data: rows, hook, tokens, trainBatchTokens: batchTokens, storeBatchPrompts: batchSize, maxLength, shuffle: false,
        nBatchesInBuffer: Math.max(2, Math.ceil((batchSize * maxLength) / batchTokens) + 1),
      });
      const totalBatches = Math.min(batches ?? Infinity, Math.ceil(store.totalRows / batchTokens));
      const metrics = new SaeMetricsAccumulator();
      const bar = progress('sae eval: reconstruction', totalBatches, { quiet: json, unit: 'batches' });
      let done = 0;
      try {
        const s = sae;
        for (const x of store.batches(0)) {
          T.noGrad(() => T.scope(() => {
            const { acts, recon } = s.forward(x);
            metrics.add(x, recon, acts);
          }));
          x.dispose();
          bar.tick(1);
          if (++done >= totalBatches) break;
        }
      } finally {
        bar.stop();
      }
      const m = metrics.finish();
      const splicedBar = progress(`sae eval: spliced (${mode})`, rows.length, { quiet: json, unit: 'conversations' });
      let seen = 0;
      const spliced = (() => {
        try {
          return splicedEval(loaded.model, tokenizer, sae, {
            data: rows, hook, mode, batchSize, maxLength,
            onProgress: (p) => {
              splicedBar.tick(p.conversations - seen);
              seen = p.conversations;
            },
          });
        } finally {
          splicedBar.stop();
        }
      })();
      const { config } = saeFolder;
      const reconstruction = {
        tokens: m.tokens, batches: done, tokenSelection: tokens, l0: m.l0, l1: m.l1, mse: m.mse,
        explainedVariance: m.explainedVariance, explainedVarianceLegacy: m.explainedVarianceLegacy,
        cosine: m.cosine, l2Ratio: m.l2Ratio, relativeReconstructionBias: m.relativeReconstructionBias,
        deadLatents: m.deadLatents.length, denseLatents: m.denseLatents.length, denseDensity: m.denseDensity,
      };
      if (json) {
        console.log(JSON.stringify({
          sae: saeFolder.dir, model: model.arg, hook, architecture: config.architecture, dIn: config.dIn, dSae: config.dSae, mode,
          conversations: rows.length, truncated: store.truncated, reconstruction,
          spliced: { conversations: spliced.conversations, tokens: spliced.tokens, truncated: spliced.truncated, ce: spliced.ce, kl: spliced.kl },
        }));
      } else {
        const f = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : String(v));
        console.log(`SAE ${saeFolder.dir} (${config.architecture}, ${config.dIn} → ${config.dSae}) at ${hook} of ${model.arg}, over ${rows.length} conversations of ${dataPath}${store.truncated > 0 ? ` (${store.truncated} cut to ${maxLength} tokens)` : ''}`);
        console.log(`reconstruction over ${m.tokens} ${tokens} tokens (${done} batch${done === 1 ? '' : 'es'}): l0 ${f(m.l0)}, explained variance ${f(m.explainedVariance)} (legacy ${f(m.explainedVarianceLegacy)}), mse ${f(m.mse)}, cosine ${f(m.cosine)}, l2 ratio ${f(m.l2Ratio)}; dead latents ${m.deadLatents.length} of ${config.dSae}, dense (> ${m.denseDensity}) ${m.denseLatents.length}`);
        const { ce, kl } = spliced;
        console.log(`spliced (${mode}) over ${spliced.tokens} response tokens: CE clean ${f(ce.ceClean)}, spliced ${f(ce.ceSae)}, zero-ablated ${f(ce.ceZeroAbl)}; CE loss recovered ${f(ce.score)}; KL spliced ${f(kl.klSae)}, ablated ${f(kl.klAbl)}, KL score ${f(kl.score)}`);
      }
    } finally {
      for (const t of Object.values(sae?.weights ?? saeFolder.weights)) t?.dispose();
    }
    return 0;
  },
};

// ---- basin sae dashboard -------------------------------------------------------------------

const dashboardUsage = `basin sae dashboard --sae DIR --model M [--data FILE.jsonl] [--latents I,J,… | --top N] [flags]

Writes latent dashboards as one self-contained HTML page (atomically) and prints its path: per
latent, its density and activations, its top contexts with the tokens shaded by activation, a
histogram, the tokens its decoder direction promotes and suppresses, and — when the conversations
carry labels — its mean turn score and AUROC by label, and the AUROC of misaligned against aligned
turns (alignment label).

Conversations: --data, chat rows {"messages":[…]} with, optionally, "labels": one record of string
labels per assistant message (e.g. {"persona":"villain","alignment":"misaligned"}); or, when --model
is persona-world:PRESET and no --data is given, a seeded sample of the world's own corpus with each
assistant turn's labels (${WORLD_LABEL_KEYS.join(', ')}), so the page shows which personas,
topics and alignments each latent fires on.

Latents: --latents, or --top N (default ${DEFAULT_TOP}): a ranking pass over every latent first, choosing the N with
the highest AUROC of misaligned against aligned turns (each turn scored by the max of the latent's
activations over its tokens) when the conversations carry alignment labels, else the N most
active (density × mean activation where it fires, over the --tokens positions).

  --sae DIR              a SAELens SAE folder (${SAE_CONFIG_FILE}, ${SAE_WEIGHTS_FILE}) (required)
  --model DIR            Hugging Face model folder, or persona-world:PRESET for the world's
                         organism (default ${DEFAULT_MODEL})
  --data FILE.jsonl      chat rows (required unless --model is persona-world:PRESET)
  --conversations N      at most N conversations, a seeded sample (kept in file order) when there are
                         more, integer ≥ 1 (default ${DEFAULT_DASHBOARD_CONVERSATIONS})
  --seed S               the sample, integer in 0..4294967295 (default 0)
  --hook HOOK            read here instead of the SAE's hook_name
  --latents I,J,…        the latents shown, distinct integers in 0..d_sae−1
  --top N                the N latents ranked first, integer in 1..d_sae (default ${DEFAULT_TOP}, at most d_sae)
  --tokens T             positions read for density, histograms, top contexts and the activity
                         ranking: response (default: assistant tokens), prompt or all
  --top-contexts N       contexts per latent, integer ≥ 1 (default ${DEFAULT_TOP_CONTEXTS})
  --batch-size N         conversations per forward, integer ≥ 1 (default ${DEFAULT_BATCH_CONVERSATIONS})
  --max-length N         conversations are cut to N tokens, 1..the model's context (default the
                         model's context)
  --title TEXT           the page's title (default "SAE latents at HOOK")
  --out FILE.html        the page (default ${DEFAULT_DASHBOARD_OUT}); its folder is made
  --device D             cpu (default), cuda or cuda:N (the model and the SAE)
  --dtype T              the model's dtype: ${MODEL_DTYPES.join(', ')} (default f32); the SAE keeps its own
  --json                 one JSON line on stdout (the page, the latents and their numbers), no progress bars`;

const DASHBOARD_FLAGS = {
  sae: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' }, conversations: { type: 'string' }, seed: { type: 'string' },
  hook: { type: 'string' }, latents: { type: 'string' }, top: { type: 'string' }, tokens: { type: 'string' }, 'top-contexts': { type: 'string' },
  'batch-size': { type: 'string' }, 'max-length': { type: 'string' }, title: { type: 'string' }, out: { type: 'string' },
  device: { type: 'string' }, dtype: { type: 'string' },
} as const;

/** --latents I,J,…: distinct integers in 0..dSae−1. */
function latentsFlag(value: string, dSae: number): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const latents = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  const bad = parts.filter((_, i) => !(Number.isInteger(latents[i]) && (latents[i] as number) < dSae));
  if (parts.length === 0 || bad.length > 0) {
    throw new UsageError(`--latents ${value}: ${bad.map((b) => `'${b}'`).join(', ')} ${bad.length === 1 ? 'is not a latent' : 'are not latents'} of this SAE; give distinct integers in 0..${dSae - 1} (d_sae ${dSae}), comma-separated`);
  }
  const twice = latents.filter((l, i) => latents.indexOf(l) !== i);
  if (twice.length > 0) throw new UsageError(`--latents ${value}: latent ${twice[0]} is given twice`);
  return latents;
}

/** An output file flag: not a folder, and not below a file. */
function fileOutFlag(values: Record<string, unknown>, name: string, fallback: string): string {
  const path = stringFlag(values, name) ?? fallback;
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--${name} ${path}: is a folder; give a file path, e.g. ${join(path, fallback)}`);
  let p = dirname(resolve(path));
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  if (existsSync(p) && !statSync(p).isDirectory()) throw new UsageError(`--${name} ${path}: ${p} is a file, so the page cannot be written below it`);
  return path;
}

/** Chat rows with optional per-turn labels ("labels": one record per assistant message); problems name the file and line. */
function readLabelledJsonl(path: string): DashboardConversation[] {
  const rows = readChatJsonl(path);
  const lines = readFileSync(path, 'utf8').split('\n').map((line, i) => ({ line, n: i + 1 })).filter((l) => l.line.trim() !== '');
  return rows.map((row, r) => {
    const { line, n } = lines[r] as { line: string; n: number };
    const labels = (JSON.parse(line) as { labels?: unknown }).labels;
    if (labels === undefined) return { messages: row.messages };
    const turns = row.messages.filter((m) => m.role === 'assistant').length;
    const where = `${path}:${n}`;
    if (!Array.isArray(labels) || labels.length !== turns) throw new Error(`${where}: "labels" must be an array of ${turns} records, one per assistant message`);
    return {
      messages: row.messages,
      labels: labels.map((record, t) => {
        if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new Error(`${where}: labels[${t}] must be an object of string labels, e.g. {"alignment": "misaligned"}`);
        return Object.fromEntries(Object.entries(record as Record<string, unknown>).map(([k, v]) => {
          if (!['string', 'number', 'boolean'].includes(typeof v)) throw new Error(`${where}: labels[${t}].${k} must be a string (or a number or boolean), got ${JSON.stringify(v)}`);
          return [k, String(v)];
        }));
      }),
    };
  });
}

/** A persona world's corpus conversations with their assistant turns' labels. */
function worldConversations(preset: string): DashboardConversation[] {
  return corpusRows(createWorld(recipeFor(preset).world)).map((row) => ({
    messages: row.messages.map((m) => ({ role: m.role, content: m.content })),
    labels: row.turns.map((t) => Object.fromEntries(WORLD_LABEL_KEYS.map((k) => [k, String(t[k])]))),
  }));
}

/** At most n conversations: a seeded sample, in the original order. */
function sampleConversations<C>(rows: C[], n: number, seed: number): C[] {
  if (rows.length <= n) return rows;
  const chosen = createRng(seed).fork('sae/dashboard/sample').sample(rows.map((_, i) => i), n).sort((a, b) => a - b);
  return chosen.map((i) => rows[i] as C);
}

export const saeDashboard: Command = {
  name: 'dashboard',
  summary: 'latent dashboards of a saved SAE as one HTML page (top latents by misaligned-vs-aligned AUROC)',
  usage: dashboardUsage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, DASHBOARD_FLAGS);
    if (help) {
      console.log(dashboardUsage);
      return 0;
    }
    noExtraArguments(positionals, 0, 'basin sae dashboard');
    const json = values.json === true;
    // flags
    const saeFolder = saeFolderFlag(values);
    let sae: Sae | null = null;
    try {
      const { dSae } = saeFolder.config;
      const dataPath = jsonlFlag(values, 'data');
      if (values.latents !== undefined && values.top !== undefined) throw new UsageError('give --latents or --top, not both');
      const latentsArg = stringFlag(values, 'latents');
      const chosen = latentsArg === undefined ? null : latentsFlag(latentsArg, dSae);
      const top = numberFlag(values, 'top', Math.min(DEFAULT_TOP, dSae), { integer: true, min: 1, max: dSae });
      const nConversations = numberFlag(values, 'conversations', DEFAULT_DASHBOARD_CONVERSATIONS, { integer: true, min: 1, max: MAX_COUNT });
      const seed = seedFlag(values);
      const tokens = choiceFlag(values, 'tokens', TOKENS, 'response');
      const topContexts = numberFlag(values, 'top-contexts', DEFAULT_TOP_CONTEXTS, { integer: true, min: 1, max: MAX_COUNT });
      const batchSize = numberFlag(values, 'batch-size', DEFAULT_BATCH_CONVERSATIONS, { integer: true, min: 1, max: MAX_COUNT });
      const title = stringFlag(values, 'title');
      const out = fileOutFlag(values, 'out', DEFAULT_DASHBOARD_OUT);
      const dtype = choiceFlag(values, 'dtype', MODEL_DTYPES, 'f32') as T.DType;
      const device = deviceFlag(values);
      const model = await modelFlag(values);
      const hook = saeHookOnModel(values, saeFolder, model.arg, model.config);
      const maxLength = numberFlag(values, 'max-length', model.config.maxPositions, { integer: true, min: 1, max: model.config.maxPositions });
      if (dataPath === undefined && model.preset === null) {
        throw new UsageError(`missing --data FILE.jsonl: --model ${model.arg} is not a persona-world organism, whose own corpus would be read without it`);
      }
      const source = dataPath ?? `the persona-world ${model.preset} corpus`;
      const all = dataPath !== undefined ? readLabelledJsonl(dataPath) : worldConversations(model.preset as string);
      const conversations = sampleConversations(all, nConversations, seed);
      const alignments = new Set(conversations.flatMap((c) => (c.labels ?? []).map((l) => l.alignment)));
      const split = ALIGNMENT_SPLIT.positive.some((v) => alignments.has(v)) && ALIGNMENT_SPLIT.negative.some((v) => alignments.has(v)) ? ALIGNMENT_SPLIT : null;

      // compute
      const loaded = await loadModel(model.dir, { device, dtype });
      const tokenizer = loaded.tokenizer;
      if (tokenizer === null) throw new Error(`${model.dir}: no ${TOKENIZER_FILE}, so chat rows cannot be tokenized`);
      sae = saeOn(saeFolder.config, saeFolder.weights, device);
      let latents: number[];
      let chosenBy: 'given' | 'auroc' | 'activity' = 'given';
      if (chosen !== null) {
        latents = chosen;
      } else {
        const bar = progress('sae dashboard: ranking latents', conversations.length, { quiet: json, unit: 'conversations' });
        let seen = 0;
        try {
          const ranking = rankLatents(loaded.model, tokenizer, sae, {
            conversations, hook, tokens, split, batchConversations: batchSize, maxLength,
            onProgress: (p) => {
              bar.tick(p.conversations - seen);
              seen = p.conversations;
            },
          });
          ({ latents, by: chosenBy } = topLatents(ranking, top));
        } finally {
          bar.stop();
        }
      }
      const data = latentDashboards(loaded.model, tokenizer, sae, {
        conversations, latents, hook, tokens, topContexts, batchConversations: batchSize, maxLength, splits: split === null ? [] : [split],
      });
      const why = chosenBy === 'given' ? 'chosen by hand' : chosenBy === 'auroc' ? `the ${latents.length} with the highest AUROC ${ALIGNMENT_SPLIT.name}` : `the ${latents.length} most active`;
      const page = await latentDashboardPage(data, {
        ...(title !== undefined ? { title } : {}),
        subtitle: `SAE ${saeFolder.dir} (${saeFolder.config.architecture}, ${saeFolder.config.dIn} → ${dSae}) on ${model.arg}; ${conversations.length} conversations of ${source}; latents ${why}`,
      });
      const outDir = dirname(resolve(out));
      mkdirSync(outDir, { recursive: true });
      writeFileAtomic(out, page);
      if (json) {
        console.log(JSON.stringify({
          page: out, sae: saeFolder.dir, model: model.arg, hook, data: source, conversations: data.conversations, turns: data.turns, tokens: data.tokens, chosenBy,
          latents: data.latents.map((l) => ({
            latent: l.latent, density: l.density, maxActivation: l.maxActivation, meanActivation: l.meanActivation,
            splits: l.splits.map((s) => ({ name: s.name, auroc: s.auroc, positiveTurns: s.positiveTurns, negativeTurns: s.negativeTurns })),
          })),
        }));
      } else {
        console.log(`latents ${latents.join(', ')} (${why}) over ${data.conversations} conversations (${data.tokens} ${tokens} tokens, ${data.turns} labelled turns)`);
        console.log(out);
      }
    } finally {
      for (const t of Object.values(sae?.weights ?? saeFolder.weights)) t?.dispose();
    }
    return 0;
  },
};

// ---- basin sae import-goodfire -------------------------------------------------------------

const SAE_DTYPES: SaeConfig['dtype'][] = ['f32', 'bf16', 'f16'];

const importUsage = `basin sae import-goodfire FILE.pth --out DIR --hook HOOK [flags]

Converts one of Goodfire's SAEs (a torch.save'd state_dict of encoder_linear and decoder_linear,
e.g. Llama-3.1-8B-Instruct-SAE-l19.pth) into a SAELens folder (${SAE_CONFIG_FILE}, ${SAE_WEIGHTS_FILE}):
architecture standard, W_enc = encoder_linear.weightᵀ, W_dec = decoder_linear.weightᵀ, no b_dec
subtracted from the input. The .pth is read by a restricted unpickler: nothing in it runs. The file
does not say where the SAE reads, so --hook names it: Goodfire's "l19" reads the output of decoder
block 19, blocks.19.hook_resid_post (Hugging Face hidden_states[20]). Prints the folder written,
d_in and d_sae.

  FILE.pth               the Goodfire .pth (required)
  --out DIR              the SAE folder to write (required; refused when it already holds an SAE)
  --hook HOOK            the hook point it reads, blocks.L.hook_resid_post for an lL SAE (required);
                         any [b, s, width] point name: hook_embed, blocks.L.hook_{resid_pre,attn_out,
                         resid_mid,mlp_out,resid_post}, blocks.L.mlp.hook_post, ln_final.hook_normalized
  --model-name NAME      the model it was trained on, recorded in ${SAE_CONFIG_FILE}, e.g.
                         meta-llama/Llama-3.1-8B-Instruct (default: none recorded)
  --dtype T              the weights' dtype on disk: ${SAE_DTYPES.join(', ')} (default: the file's)
  --json                 one JSON line on stdout`;

const IMPORT_FLAGS = {
  out: { type: 'string' }, hook: { type: 'string' }, 'model-name': { type: 'string' }, dtype: { type: 'string' },
} as const;

export const saeImportGoodfire: Command = {
  name: 'import-goodfire',
  summary: 'convert a Goodfire SAE .pth into a SAELens folder',
  usage: importUsage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, IMPORT_FLAGS);
    if (help) {
      console.log(importUsage);
      return 0;
    }
    const pth = positionals[0];
    if (pth === undefined) throw new UsageError('missing FILE.pth, the Goodfire SAE to convert');
    noExtraArguments(positionals, 1, 'basin sae import-goodfire');
    if (!existsSync(pth) || !statSync(pth).isFile()) throw new UsageError(`${pth}: no such file; give a Goodfire SAE .pth`);
    const out = stringFlag(values, 'out');
    if (out === undefined) throw new UsageError('missing --out DIR, the SAE folder to write');
    folderFlag(values, 'out', out);
    for (const f of [SAE_CONFIG_FILE, SAE_WEIGHTS_FILE]) {
      if (existsSync(join(out, f))) throw new UsageError(`--out ${out}: already holds an SAE (${f}); choose a new --out or remove it`);
    }
    const hook = stringFlag(values, 'hook');
    if (hook === undefined) throw new UsageError('missing --hook HOOK: the file does not say where the SAE reads; Goodfire\'s lL SAE reads blocks.L.hook_resid_post');
    const layer = hookLayer(hook);
    if (!hookNames((layer ?? 0) + 1).includes(hook)) {
      throw new UsageError(`--hook ${hook}: not a hook point name; e.g. blocks.19.hook_resid_post (Goodfire's l19), blocks.L.mlp.hook_post, hook_embed, ln_final.hook_normalized`);
    }
    if (hook.includes('.attn.hook_')) throw new UsageError(`--hook ${hook}: a per-head point ([b, heads, s, …]); an SAE reads a [b, s, width] point such as blocks.${layer ?? 0}.hook_resid_post`);
    const modelName = stringFlag(values, 'model-name');
    const dtype = values.dtype === undefined ? undefined : choiceFlag(values, 'dtype', SAE_DTYPES);
    const json = values.json === true;

    const config = importGoodfireSae(pth, out, { hookName: hook, ...(modelName !== undefined ? { modelName } : {}), ...(dtype !== undefined ? { dtype } : {}) });
    if (json) {
      console.log(JSON.stringify({ sae: out, dIn: config.dIn, dSae: config.dSae, hook, modelName: config.modelName, dtype: config.dtype, architecture: config.architecture }));
    } else {
      console.log(`wrote ${out}: a standard SAE, d_in ${config.dIn}, d_sae ${config.dSae}, reading ${hook} (${config.dtype})`);
    }
    return 0;
  },
};

/** `basin sae <subcommand>`; a new one is a Command here. */
const SUBCOMMANDS: Command[] = [saeTrain, saeEval, saeDashboard, saeImportGoodfire];

const usage = `basin sae <subcommand> [flags]     (basin sae <subcommand> --help for each)

Sparse autoencoders on a model's activations.

${SUBCOMMANDS.map((c) => `  ${c.name.padEnd(Math.max(...SUBCOMMANDS.map((s) => s.name.length)))}  ${c.summary}`).join('\n')}`;

export const saeCommand: Command = {
  name: 'sae',
  summary: 'sparse autoencoders: train, evaluate, dashboard and import them (SAELens format)',
  usage,
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      console.log(usage);
      return name === undefined ? 1 : 0;
    }
    const sub = SUBCOMMANDS.find((c) => c.name === name);
    if (sub === undefined) throw new UsageError(`unknown subcommand '${name}'; subcommands: ${SUBCOMMANDS.map((c) => c.name).join(', ')}`);
    try {
      return await sub.run(rest);
    } catch (e) {
      // A usage error shows the subcommand's usage, not the list of subcommands.
      if (e instanceof UsageError || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
        console.error(`basin sae ${name}: ${e.message}\n\n${sub.usage}`);
        return 2;
      }
      throw e;
    }
  },
};
