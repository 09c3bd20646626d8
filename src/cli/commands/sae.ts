// `basin sae`: sparse autoencoders on a model's activations, as subcommands (`basin sae train`;
// others join the SUBCOMMANDS list). `sae train` streams a hook point's activations over chat
// JSONL (ActivationStore) into trainSae (src/sae/train.ts) and writes the SAE in the SAELens
// folder format. Every flag, the model's config (the hook must be one of its points; k ≤ d_sae),
// the data rows and the --out folder's checkpoints are checked before the model is loaded, so a
// typo costs no compute.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as T from '../../tensor/index.js';
import { SAE_EVAL_FILE, SAE_SUBDIR, TOKENIZER_FILE } from '../../io/files.js';
import { modelFingerprint } from '../../io/fingerprint.js';
import { hookNames, loadModel, readHfConfig } from '../../model/index.js';
import { checkpointDirs } from '../../train/checkpoint.js';
import { readChatJsonl } from '../../train/data.js';
import type { ScheduleKind } from '../../train/schedule.js';
import { ActivationStore, type TokenSelection } from '../../sae/activation-store.js';
import { DEFAULT_SAE_TRAINING, saeArchitectureNames, type SaeTrainingSettings } from '../../sae/architectures/index.js';
import type { ActivationNormalization, SaeArchitectureName, SaeConfig } from '../../sae/config.js';
import { activationBatchSource, SAE_TRAIN_DEFAULTS, trainSae } from '../../sae/train.js';
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

/** `basin sae <subcommand>`; a new one is a Command here. */
const SUBCOMMANDS: Command[] = [saeTrain];

const usage = `basin sae <subcommand> [flags]     (basin sae <subcommand> --help for each)

Sparse autoencoders on a model's activations.

${SUBCOMMANDS.map((c) => `  ${c.name.padEnd(8)}  ${c.summary}`).join('\n')}`;

export const saeCommand: Command = {
  name: 'sae',
  summary: 'sparse autoencoders: train one on a hook point\'s activations (SAELens format)',
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
