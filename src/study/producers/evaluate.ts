// The evaluate producer: how well a model (with its parent adapters) predicts the assistant
// turns of a chat data set — the mean cross-entropy per assistant token (nats) and its
// perplexity, teacher-forced, in data order. Output: value.json
// { meanLoss, perplexity, lossTokens, examples }.

import * as T from '../../tensor/index.js';
import { collate, inoculate, readChatJsonl, tokenizeRows } from '../../train/data.js';
import { writeValue } from './value.js';
import { registerProducer } from './registry.js';

export interface EvaluateSettings {
  /** tokens per example (longer rows are cut) */
  maxLength: number;
  /** every row's system prompt is replaced by this (null: the data's own) */
  systemPrompt: string | null;
  batchSize: number;
}

export interface Evaluation {
  meanLoss: number;
  perplexity: number;
  lossTokens: number;
  examples: number;
}

registerProducer<EvaluateSettings>({
  name: 'evaluate',
  version: 1,
  summary: 'mean cross-entropy per assistant token (and perplexity) on a chat data set, teacher-forced',
  async run(task, io) {
    const s = task.settings;
    const { model, tokenizer } = await io.model();
    let rows = readChatJsonl(io.data('eval'));
    if (s.systemPrompt !== null) rows = inoculate(rows, { text: s.systemPrompt, mode: 'replace' });
    const { examples } = tokenizeRows(rows, tokenizer, s.maxLength);
    let total = 0;
    let tokens = 0;
    await io.models.withAdapters(model, io.parents('adapters'), () => T.noGrad(() => {
      for (let i = 0; i < examples.length; i += s.batchSize) {
        T.scope(() => {
          const batch = collate(examples.slice(i, i + s.batchSize), tokenizer.padTokenId ?? 0, model.device);
          const logits = model.forward(batch.ids, { tokenMask: batch.tokenMask }); // [b, s, vocab]
          const n = batch.ids.size(1);
          const V = logits.size(-1);
          total += T.crossEntropy(logits.narrow(1, 0, n - 1).reshape(-1, V), batch.labels.reshape(-1), { ignoreIndex: -100, reduction: 'sum' }).item();
          tokens += batch.lossTokens;
        });
        io.progress(Math.min(1, (i + s.batchSize) / examples.length));
      }
    }));
    if (tokens === 0) throw new Error(`task '${task.id}': the data set has no assistant tokens to evaluate`);
    const result: Evaluation = { meanLoss: total / tokens, perplexity: Math.exp(total / tokens), lossTokens: tokens, examples: examples.length };
    writeValue(io.dir, result);
  },
});
