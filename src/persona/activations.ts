// Method A activations: the residual stream (blocks.L.hook_resid_post, = HF hidden_states[L+1])
// at the last input token — the end of the rendered prompt, generation prompt included.

import * as T from '../tensor/index.js';
import type { Tokenizer } from '../io/tokenizer.js';
import type { Transformer } from '../model/transformer.js';
import { runWithCache } from '../model/activation-cache.js';
import { hookName } from '../model/hooks.js';
import { renderPrompt, type ChatPrompt } from '../model/chat-prompt.js';
import { padBatch } from '../model/padding.js';

/** For each prompt, the last-token resid_post at each layer: layer → rows of Float64Array [d_model]. */
export function lastTokenActivations(model: Transformer, tokenizer: Tokenizer, prompts: ChatPrompt[], layers: number[], batchSize = 64): Map<number, Float64Array[]> {
  const out = new Map<number, Float64Array[]>(layers.map((l) => [l, []]));
  const pad = tokenizer.padTokenId ?? 0;
  for (let i = 0; i < prompts.length; i += batchSize) {
    const ids = prompts.slice(i, i + batchSize).map((p) => renderPrompt(tokenizer, p));
    T.noGrad(() => T.scope(() => {
      const { ids: tokens, mask } = padBatch(ids, pad, 'left', model.device);
      const { cache } = runWithCache(model, tokens, { tokenMask: mask, names: layers.map((l) => hookName('resid_post', l)), at: 'last', skipLogits: true });
      for (const l of layers) {
        const acts = cache.get('resid_post', l); // [b, d]
        const flat = acts.to('f64').data() as Float64Array;
        const d = acts.size(1);
        for (let r = 0; r < acts.size(0); r++) out.get(l)?.push(flat.slice(r * d, (r + 1) * d));
      }
    }));
  }
  return out;
}
