// The fine-tune producer: a LoRA adapter trained with SFT on a chat data set, optionally on top
// of earlier adapters (parents with role `adapters`, frozen) and with every row's system prompt
// replaced (the training-time persona). Output: adapter/ (PEFT format) and run/ (the trainer's
// run.json and metrics).

import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import { DEFAULT_LORA, LoraAdapter } from '../../model/lora.js';
import { saveAdapter } from '../../model/lora-io.js';
import { inoculate, readChatJsonl, tokenizeRows } from '../../train/data.js';
import { train } from '../../train/trainer.js';
import type { ScheduleKind } from '../../train/schedule.js';
import { ADAPTER_SUBDIR } from '../model-pool.js';
import { registerProducer } from './registry.js';

export interface LoraSettings {
  r: number;
  alpha: number;
  rslora: boolean;
  /** 'all-linear' or module names (q_proj, …) */
  targets: 'all-linear' | string[];
  dropout: number;
}

export interface FineTuneSettings {
  lora: LoraSettings;
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

registerProducer<FineTuneSettings>({
  name: 'fine-tune',
  version: 1,
  summary: 'LoRA SFT on a chat JSONL data set (loss on assistant tokens), on top of frozen parent adapters',
  async run(task, io) {
    const s = task.settings;
    if (task.model === null) throw new Error(`task '${task.id}': a fine-tune needs a model`);
    const { model, tokenizer } = await io.models.get(task.model);
    await io.models.withAdapters(model, io.parents('adapters'), () => {
      let rows = readChatJsonl(io.data('train'));
      if (s.systemPrompt !== null) rows = inoculate(rows, { text: s.systemPrompt, mode: 'replace' });
      const { examples } = tokenizeRows(rows, tokenizer, s.maxLength);
      const config = { ...DEFAULT_LORA, r: s.lora.r, alpha: s.lora.alpha, useRslora: s.lora.rslora, dropout: s.lora.dropout, targetModules: s.lora.targets, ...(task.model ? { baseModelNameOrPath: task.model.dir } : {}) };
      const adapter = LoraAdapter.attach(model, 'study', config, T.Generator.seeded(s.seed));
      try {
        train(model, examples, {
          outDir: join(io.dir, 'run'), steps: s.steps, batchSize: s.batchSize, lr: s.lr, schedule: s.schedule, seed: s.seed,
          trainable: { kind: 'lora', adapter }, padId: tokenizer.padTokenId ?? 0, quiet: true, metadata: { task: task.id },
          onStep: (m) => io.progress(m.step / s.steps),
        });
        saveAdapter(adapter, join(io.dir, ADAPTER_SUBDIR), { task: task.id });
      } finally {
        adapter.detach();
      }
    });
  },
});
