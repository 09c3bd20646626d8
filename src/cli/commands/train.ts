// `basin train`: LoRA (or full-parameter) fine-tuning of an HF model folder on chat JSONL.

import { ADAPTER_SUBDIR, MODEL_SUBDIR } from '../../io/files.js';
import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import { loadModel } from '../../model/load.js';
import { LoraAdapter, DEFAULT_LORA } from '../../model/lora.js';
import { saveAdapter } from '../../model/lora-io.js';
import { saveModel } from '../../model/load.js';
import { inoculate, readChatJsonl, tokenizeRows } from '../../train/data.js';
import { klToReference, type KlDirection } from '../../train/kl-term.js';
import { train } from '../../train/trainer.js';
import { adamw, sgd, type OptimizerFactory } from '../../train/optimizer.js';
import type { ScheduleKind, WeightSchedule } from '../../train/schedule.js';
import { numberFlag, parse, UsageError, type Command } from '../command.js';

const usage = `basin train --model DIR --data FILE.jsonl --out DIR [flags]

Fine-tunes on chat rows {"messages":[{"role","content"}…]} rendered with the model's chat
template; the loss is on assistant tokens only. Writes checkpoints, metrics.jsonl and run.json
to --out, and at the end the adapter (PEFT format) in OUT/adapter or the model in OUT/model.
Run the same command again with --resume to continue an interrupted run exactly; a resume with
any setting that changes the result (LoRA, optimizer, schedule, data, model, …) is refused,
naming the setting.

What to train
  --full                  train the model's own parameters instead of a LoRA adapter
  --max-layer L           train only layers <= L (full) / put LoRA only on layers <= L
  --lora-r R              rank (default 8)         --lora-alpha A   (default 16)
  --lora-dropout P        (default 0)              --rslora         scale alpha/sqrt(r)
  --lora-targets LIST     comma-separated module names, or all-linear (default)

Optimisation
  --steps N (default 100)   --batch-size B (default 8)   --grad-accum K (default 1)
  --lr LR (default 1e-4)    --weight-decay W (default 0)  --schedule constant|linear|cosine
  --warmup N (default 0)    --max-grad-norm C (default 1; 0 = off)
  --optimizer adamw|sgd (default adamw)
  --betas B1,B2 (AdamW, default 0.9,0.999)   --eps E (AdamW, default 1e-8)
  --momentum M (SGD, default 0)
  --max-length N (default 512)  --seed S (default 0)   --checkpoint-every N (default 50)

Inoculation and regularisation
  --inoculate TEXT        training-time system prompt for every row
  --inoculate-mode prepend|replace (default replace)
  --kl W                  add W × KL to the base model on response tokens
  --kl-direction forward|reverse (default forward: KL(base ‖ model))
  --kl-warmup N           raise the KL weight linearly from 0 to W over the first N steps

  --resume                continue from the last checkpoint in --out
  --json                  one JSON line per step on stdout, no progress bar`;

export const trainCommand: Command = {
  name: 'train',
  summary: 'LoRA or full fine-tuning on chat JSONL, with inoculation, KL and exact resume',
  usage,
  async run(argv) {
    const { values, help } = parse(argv, {
      model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, full: { type: 'boolean' },
      'max-layer': { type: 'string' }, 'lora-r': { type: 'string' }, 'lora-alpha': { type: 'string' }, 'lora-dropout': { type: 'string' },
      rslora: { type: 'boolean' }, 'lora-targets': { type: 'string' }, steps: { type: 'string' }, 'batch-size': { type: 'string' },
      'grad-accum': { type: 'string' }, lr: { type: 'string' }, 'weight-decay': { type: 'string' }, schedule: { type: 'string' },
      warmup: { type: 'string' }, 'max-grad-norm': { type: 'string' }, 'max-length': { type: 'string' }, seed: { type: 'string' },
      'checkpoint-every': { type: 'string' }, inoculate: { type: 'string' }, 'inoculate-mode': { type: 'string' }, kl: { type: 'string' },
      'kl-direction': { type: 'string' }, 'kl-warmup': { type: 'string' }, resume: { type: 'boolean' },
      optimizer: { type: 'string' }, betas: { type: 'string' }, eps: { type: 'string' }, momentum: { type: 'string' },
    });
    if (help) {
      console.log(usage);
      return 0;
    }
    for (const req of ['model', 'data', 'out']) if (typeof values[req] !== 'string') throw new UsageError(`missing --${req}`);
    const [modelDir, dataPath, out] = [values.model as string, values.data as string, values.out as string];
    const schedule = (values.schedule ?? 'constant') as ScheduleKind;
    if (!['constant', 'linear', 'cosine'].includes(schedule)) throw new UsageError(`--schedule must be constant, linear or cosine`);
    const mode = (values['inoculate-mode'] ?? 'replace') as 'prepend' | 'replace';
    if (!['prepend', 'replace'].includes(mode)) throw new UsageError('--inoculate-mode must be prepend or replace');
    const direction = (values['kl-direction'] ?? 'forward') as KlDirection;
    if (!['forward', 'reverse'].includes(direction)) throw new UsageError('--kl-direction must be forward or reverse');
    const maxLayer = values['max-layer'] === undefined ? undefined : numberFlag(values, 'max-layer', 0);
    const optimizer = optimizerFrom(values);

    const { model, tokenizer } = await loadModel(modelDir);
    if (tokenizer === null) throw new Error(`${modelDir}: no tokenizer.json, so chat rows cannot be tokenized`);
    let rows = readChatJsonl(dataPath);
    if (typeof values.inoculate === 'string') rows = inoculate(rows, { text: values.inoculate, mode });
    const maxLength = numberFlag(values, 'max-length', 512);
    const data = tokenizeRows(rows, tokenizer, maxLength);
    const json = values.json === true;
    if (data.truncated > 0 && !json) console.error(`basin train: ${data.truncated} of ${rows.length} rows were cut to ${maxLength} tokens (${data.tokensCut} tokens dropped)`);

    const seed = numberFlag(values, 'seed', 0);
    const targets = typeof values['lora-targets'] === 'string' && values['lora-targets'] !== 'all-linear' ? values['lora-targets'].split(',') : 'all-linear';
    const adapter = values.full ? null : LoraAdapter.attach(model, 'default', {
      ...DEFAULT_LORA, r: numberFlag(values, 'lora-r', 8), alpha: numberFlag(values, 'lora-alpha', 16), dropout: numberFlag(values, 'lora-dropout', 0),
      useRslora: values.rslora === true, targetModules: targets, baseModelNameOrPath: modelDir,
      ...(maxLayer !== undefined ? { layersToTransform: Array.from({ length: maxLayer + 1 }, (_, i) => i) } : {}),
    }, T.Generator.seeded(seed));
    const klWeight = numberFlag(values, 'kl', 0);
    const klWarmup = numberFlag(values, 'kl-warmup', 0);
    if (values['kl-warmup'] !== undefined && values.kl === undefined) throw new UsageError('--kl-warmup needs --kl W (the weight it warms up to)');
    const klSchedule: WeightSchedule = klWarmup > 0 ? { kind: 'warmup', value: klWeight, warmupSteps: klWarmup } : klWeight;
    const kl = values.kl === undefined ? [] : [klToReference(klSchedule, direction)];
    if (kl.length > 0 && adapter === null) throw new UsageError('--kl with --full needs a separate reference model, which the command line does not load; use LoRA');

    const result = train(model, data.examples, {
      outDir: out, steps: numberFlag(values, 'steps', 100), batchSize: numberFlag(values, 'batch-size', 8), gradAccum: numberFlag(values, 'grad-accum', 1),
      lr: numberFlag(values, 'lr', 1e-4), weightDecay: numberFlag(values, 'weight-decay', 0), optimizer, schedule, warmupSteps: numberFlag(values, 'warmup', 0),
      maxGradNorm: numberFlag(values, 'max-grad-norm', 1), seed, checkpointEvery: numberFlag(values, 'checkpoint-every', 50),
      trainable: adapter === null ? { kind: 'full', ...(maxLayer !== undefined ? { maxLayer } : {}) } : { kind: 'lora', adapter },
      terms: kl, ...(kl.length > 0 ? { reference: 'base' as const } : {}), padId: tokenizer.padTokenId ?? 0, quiet: json,
      metadata: { model: modelDir, data: dataPath, inoculation: typeof values.inoculate === 'string' ? { text: values.inoculate, mode } : null, truncatedRows: data.truncated, resume: values.resume === true },
      resume: values.resume === true,
      ...(json ? { onStep: (m) => console.log(JSON.stringify(m)) } : {}),
    });
    if (adapter !== null) saveAdapter(adapter, join(out, ADAPTER_SUBDIR), { steps: String(result.steps) });
    else saveModel(model, join(out, MODEL_SUBDIR), { tokenizerFrom: modelDir });
    const where = join(out, adapter !== null ? ADAPTER_SUBDIR : MODEL_SUBDIR);
    if (json) console.log(JSON.stringify({ done: true, steps: result.steps, finalLoss: result.finalLoss, resumedFrom: result.resumedFrom, output: where }));
    else console.log(`trained ${result.steps} steps${result.resumedFrom !== null ? ` (resumed from step ${result.resumedFrom})` : ''}; final loss ${result.finalLoss.toFixed(4)}; saved ${where}`);
    return 0;
  },
};

/** --optimizer with its hyper-parameter flags; a flag of the other optimizer is an error. */
function optimizerFrom(values: Record<string, string | boolean | undefined>): OptimizerFactory {
  const name = values.optimizer ?? 'adamw';
  if (name === 'sgd') {
    for (const f of ['betas', 'eps']) if (values[f] !== undefined) throw new UsageError(`--${f} is an AdamW setting; drop it or use --optimizer adamw`);
    return sgd({ momentum: numberFlag(values, 'momentum', 0) });
  }
  if (name !== 'adamw') throw new UsageError(`--optimizer must be adamw or sgd, got '${String(name)}'`);
  if (values.momentum !== undefined) throw new UsageError('--momentum is an SGD setting; drop it or use --optimizer sgd');
  let betas: [number, number] | undefined;
  if (typeof values.betas === 'string') {
    const parts = values.betas.split(',').map(Number);
    if (parts.length !== 2 || parts.some((b) => !Number.isFinite(b))) throw new UsageError(`--betas must be two numbers like 0.9,0.999, got '${values.betas}'`);
    betas = parts as [number, number];
  }
  return adamw({ ...(betas !== undefined ? { betas } : {}), eps: numberFlag(values, 'eps', 1e-8) });
}
