// Sampling chat responses: prompts rendered with the model's chat template, generated in
// batches with a KV cache, seeded.

import type { Tokenizer } from '../io/tokenizer.js';
import { renderPrompt, stopTokenIds, type ChatPrompt } from '../model/chat-prompt.js';
import type { Transformer } from '../model/transformer.js';
import type { Hook } from '../model/hooks.js';
import { generate } from '../model/generate.js';
import type { Progress } from '../util/progress.js';

export type { ChatPrompt };

export interface SamplingOptions {
  temperature: number;
  maxNewTokens: number;
  seed: number;
  topP?: number;
  batchSize?: number;
  hooks?: Hook[];
  progress?: Progress;
}

/** One response per prompt (repeat a prompt for several samples), in order. */
export function sampleResponses(model: Transformer, tokenizer: Tokenizer, prompts: ChatPrompt[], o: SamplingOptions): string[] {
  const batch = o.batchSize ?? 64;
  const stop = stopTokenIds(model, tokenizer);
  const out: string[] = [];
  for (let i = 0; i < prompts.length; i += batch) {
    const chunk = prompts.slice(i, i + batch).map((p) => renderPrompt(tokenizer, p));
    const gens = generate(model, chunk, {
      maxNewTokens: o.maxNewTokens, temperature: o.temperature, ...(o.topP !== undefined ? { topP: o.topP } : {}),
      seed: o.seed * 1_000_003 + i, stopTokenIds: stop, vocabLimit: tokenizer.vocabSize, ...(tokenizer.padTokenId !== null ? { padTokenId: tokenizer.padTokenId } : {}),
      decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }), ...(o.hooks ? { hooks: o.hooks } : {}),
    });
    for (const g of gens) out.push(g.text ?? '');
    o.progress?.tick(chunk.length);
  }
  return out;
}
