// The fine-tune producer: SFT on a chat data set (loss on assistant tokens), optionally with
// every row's system prompt replaced (the training-time persona).
// - LoRA (`lora` set): an adapter trained on top of the frozen base and any earlier adapters
//   (parents with role `adapters`). Output: adapter/ (PEFT format) and run/ (the trainer's
//   run.json and metrics).
// - Full (`lora: null`): every weight trained, on a private copy of the base (the shared loaded
//   model is never changed). Output: model/ (an HF folder, tokenizer included; later tasks run
//   on it through `plan.modelFrom(id)`) and run/.

import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import { loadModel, saveModel } from '../../model/load.js';
import { DEFAULT_LORA, LoraAdapter } from '../../model/lora.js';
import { saveAdapter } from '../../model/lora-io.js';
import type { Tokenizer } from '../../io/tokenizer.js';
import type { Transformer } from '../../model/transformer.js';
import { inoculate, readChatJsonl, tokenizeRows, type Example } from '../../train/data.js';
import { train, type Trainable } from '../../train/trainer.js';
import type { ScheduleKind } from '../../train/schedule.js';
import { ADAPTER_SUBDIR, MODEL_SUBDIR, TOKENIZER_FILE } from '../../io/files.js';
import { registerProducer, type TaskIO } from './registry.js';

export interface LoraSettings {
  r: number;
  alpha: number;
  rslora: boolean;
  /** 'all-linear' or module names (q_proj, …) */
  targets: 'all-linear' | string[];
  dropout: number;
}

export interface FineTuneSettings {
  /** null: full fine-tuning */
  lora: LoraSettings | null;
  steps: number;
  batchSize: number;
  lr: number;
  schedule: ScheduleKind;
  /** tokens per example (longer rows are cut) */
  maxLength: number;
  /** every row's system prompt is replaced by this (null: the data's own) */
  systemPrompt: string | null;
  seed: number;
}

function examples(s: FineTuneSettings, io: TaskIO, tokenizer: Tokenizer): Example[] {
  let rows = readChatJsonl(io.data('train'));
  if (s.systemPrompt !== null) rows = inoculate(rows, { text: s.systemPrompt, mode: 'replace' });
  return tokenizeRows(rows, tokenizer, s.maxLength).examples;
}

function sft(model: Transformer, tokenizer: Tokenizer, data: Example[], s: FineTuneSettings, trainable: Trainable, io: TaskIO, id: string): void {
  train(model, data, {
    outDir: join(io.dir, 'run'), steps: s.steps, batchSize: s.batchSize, lr: s.lr, schedule: s.schedule, seed: s.seed,
    trainable, padId: tokenizer.padTokenId ?? 0, quiet: true, metadata: { task: id },
    onStep: (m) => io.progress(m.step / s.steps),
  });
}

registerProducer<FineTuneSettings>({
  name: 'fine-tune',
  version: 1,
  summary: 'SFT on a chat JSONL data set (loss on assistant tokens): a LoRA adapter on top of frozen parent adapters, or a full fine-tune',
  async run(task, io) {
    const s = task.settings;
    const ref = io.modelRef();
    if (s.lora === null) {
      if (io.parents('adapters').length > 0) throw new Error(`task '${task.id}': a full fine-tune starts from a model, not from adapters; run it on a model folder (merge adapters into one first)`);
      const { model, tokenizer } = await loadModel(ref.dir, { dtype: ref.dtype, device: io.models.device }); // a private copy
      if (tokenizer === null) throw new Error(`${ref.dir}: no ${TOKENIZER_FILE}; fine-tuning needs the model's tokenizer`);
      sft(model, tokenizer, examples(s, io, tokenizer), s, { kind: 'full' }, io, task.id);
      for (const p of model.params.values()) p.requiresGrad_(false);
      saveModel(model, join(io.dir, MODEL_SUBDIR), { tokenizerFrom: ref.dir, metadata: { task: task.id } });
      return;
    }
    const lora = s.lora;
    const { model, tokenizer } = await io.model();
    await io.models.withAdapters(model, io.parents('adapters'), () => {
      const config = { ...DEFAULT_LORA, r: lora.r, alpha: lora.alpha, useRslora: lora.rslora, dropout: lora.dropout, targetModules: lora.targets, ...(ref.dir ? { baseModelNameOrPath: ref.dir } : {}) };
      const adapter = LoraAdapter.attach(model, 'study', config, T.Generator.seeded(s.seed));
      try {
        sft(model, tokenizer, examples(s, io, tokenizer), s, { kind: 'lora', adapter }, io, task.id);
        saveAdapter(adapter, join(io.dir, ADAPTER_SUBDIR), { task: task.id });
      } finally {
        adapter.detach();
      }
    });
  },
});
