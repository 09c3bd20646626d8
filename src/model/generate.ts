// Batched generation with a preallocated KV cache: prompts are left-padded, decoded together,
// greedy or sampled (temperature, top-k, top-p) from a seeded generator, stopping per row on
// an end-of-sequence token, a stop string or the token budget. Hooks stay active throughout.

import { freemem } from 'node:os';
import * as T from '../tensor/index.js';
import { KVCache } from './kv-cache.js';
import { padBatch } from './padding.js';
import type { Hook } from './hooks.js';
import type { Transformer } from './transformer.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (default) = greedy */
  temperature?: number;
  /** keep only the k most likely tokens (0 = off) */
  topK?: number;
  /** keep the smallest set of tokens whose probability reaches p (1 = off) */
  topP?: number;
  seed?: number;
  /** stop a row when it emits one of these (default: the config's eos ids) */
  stopTokenIds?: number[];
  /** stop a row when its decoded text contains one of these (needs `decode`); the text is cut before it */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
  /** the id fed for padding and after a row has stopped (default: first stop id, else 0) */
  padTokenId?: number;
  /**
   * sample only ids below this (the tokenizer's vocabulary; models often pad the embedding
   * matrix past it, e.g. Qwen2.5)
   */
  vocabLimit?: number;
  /** record each new token's log-probability under the model (temperature 1, no filtering) */
  logprobs?: boolean;
  hooks?: Hook[];
  /**
   * Pack the linear layers' weights for decode steps (Transformer.packWeights): faster on the
   * CPU, for memory about those weights' size, kept until model.unpackWeights(). 'auto'
   * (default) packs an f32 CPU model when the packed copy takes at most a quarter of the free
   * memory; false leaves the model as it is.
   */
  packWeights?: 'auto' | boolean;
}

export interface Generation {
  /** new token ids (the stop token included when it ended the row) */
  tokens: number[];
  /** decoded new text, cut at a stop string (only when `decode` was given) */
  text?: string;
  logprobs?: number[];
  finishReason: 'stop_token' | 'stop_string' | 'length';
}

export function generate(model: Transformer, prompts: number[][], o: GenerateOptions): Generation[] {
  if (prompts.length === 0) return [];
  if (prompts.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token');
  if (!(o.maxNewTokens >= 0)) throw new Error(`generate: maxNewTokens must be >= 0, got ${o.maxNewTokens}`);
  if (o.stopStrings?.length && o.decode === undefined) throw new Error('generate: stopStrings need a decode function (pass the tokenizer\'s decode)');
  const b = prompts.length;
  const longest = Math.max(...prompts.map((p) => p.length));
  const stopIds = new Set(o.stopTokenIds ?? model.config.eosTokenIds);
  const pad = o.padTokenId ?? [...stopIds][0] ?? 0;
  const generator = T.Generator.seeded(o.seed ?? 0);
  const out: Generation[] = prompts.map(() => ({ tokens: [], finishReason: 'length', ...(o.logprobs ? { logprobs: [] } : {}) }));
  const done = new Array<boolean>(b).fill(false);
  const cache = new KVCache(model.config, b, longest + o.maxNewTokens, model.dtype, model.device);
  if (shouldPack(model, o.packWeights ?? 'auto')) model.packWeights();

  try {
    T.noGrad(() => {
      // Prefill: the left-padded prompts.
      let logits = T.scope(() => {
        const { ids, mask } = padBatch(prompts, pad, 'left', model.device);
        return model.forward(ids, { tokenMask: mask, cache, lastOnly: true, hooks: o.hooks ?? [] }).select(1, 0); // [b, vocab]
      });
      for (let step = 0; step < o.maxNewTokens; step++) {
        const [next, lp] = T.scope(() => {
          const choice = pick(logits, o, generator); // [b]
          const chosenLp = o.logprobs ? logits.to('f32').logSoftmax(-1).gather(1, choice.unsqueeze(1)).squeeze(1).toArray() : null;
          return [choice.toArray(), chosenLp] as const;
        });
        logits.dispose();
        for (let r = 0; r < b; r++) {
          if (done[r]) continue;
          const g = out[r] as Generation;
          const tok = next[r] as number;
          g.tokens.push(tok);
          if (lp !== null) g.logprobs?.push(lp[r] as number);
          if (stopIds.has(tok)) {
            done[r] = true;
            g.finishReason = 'stop_token';
          } else if (o.stopStrings?.length && o.decode && o.stopStrings.some((sstr) => (o.decode as (ids: number[]) => string)(g.tokens).includes(sstr))) {
            done[r] = true;
            g.finishReason = 'stop_string';
          }
        }
        if (done.every(Boolean) || step === o.maxNewTokens - 1) break;
        logits = T.withKernelThreads(stepThreads(cache), () => T.scope(() => {
          const ids = T.tensor(next.map((t, r) => (done[r] ? pad : t)), { dtype: 'i64', shape: [b, 1], device: model.device });
          return model.forward(ids, { cache, decoding: true, lastOnly: true, hooks: o.hooks ?? [] }).select(1, 0);
        }));
      }
    });
  } finally {
    cache.dispose();
  }

  if (o.decode !== undefined) {
    for (const g of out) {
      let text = o.decode(g.finishReason === 'stop_token' ? g.tokens.slice(0, -1) : g.tokens);
      for (const s of o.stopStrings ?? []) {
        const at = text.indexOf(s);
        if (at >= 0) text = text.slice(0, at);
      }
      g.text = text;
    }
  }
  return out;
}

/**
 * Elements of a layer's cached keys up to which a CPU decode step runs libtorch's kernels on one
 * thread: the step is a chain of small ops, and waking a second thread for each costs more than
 * it saves. Attention over the cache is the largest; measured on 2 threads, one thread took 0.65x
 * the time at [16, 8, 48, 64] keys, the same at [16, 8, 128, 64], 1.25x at [16, 8, 512, 64].
 * Matrix products keep every thread either way.
 */
const ONE_THREAD_STEP_MAX_KEYS = 1 << 20;

export function stepThreads(cache: KVCache): number {
  return cache.device === 'cpu' && cache.keyElements(1) <= ONE_THREAD_STEP_MAX_KEYS ? 1 : T.getNumThreads();
}

type PickOptions = Pick<GenerateOptions, 'vocabLimit' | 'temperature' | 'topK' | 'topP'>;

/** Chooses one token per row from logits [b, vocab] → [b] int64. */
function pick(logits: T.Tensor, o: PickOptions, generator: T.Generator): T.Tensor {
  if ((o.temperature ?? 0) <= 0) return limitVocab(logits, o).argmax(-1);
  return draw(samplingProbabilities(logits, o), generator, logits.device);
}

function limitVocab(logits: T.Tensor, o: PickOptions): T.Tensor {
  return o.vocabLimit !== undefined && o.vocabLimit < logits.size(-1) ? logits.narrow(-1, 0, o.vocabLimit) : logits;
}

/**
 * What sampling draws from: logits [b, vocab] → probabilities [b, vocabLimit] at the
 * temperature (> 0), after top-k and top-p filtering. Row by row, so a row's probabilities do
 * not depend on the other rows.
 */
export function samplingProbabilities(logits: T.Tensor, o: PickOptions): T.Tensor {
  let scores = limitVocab(logits, o).to('f32').div(o.temperature as number);
  const vocab = scores.size(-1);
  if (o.topK !== undefined && o.topK > 0 && o.topK < vocab) {
    const [top] = scores.topk(o.topK, -1);
    const kth = top.narrow(1, o.topK - 1, 1); // [b, 1]
    scores = scores.maskedFill(scores.lt(kth), -Infinity);
  }
  if (o.topP !== undefined && o.topP < 1) {
    const [sorted, order] = scores.sort(-1, true);
    const cum = sorted.softmax(-1).cumsum(-1);
    // Drop a token when the tokens before it already reach p (so the first always stays).
    const drop = cum.sub(sorted.softmax(-1)).ge(o.topP);
    const dropInOrder = T.zeros(drop.shape, { dtype: 'bool', device: drop.device }).scatter(1, order, drop);
    scores = scores.maskedFill(dropInOrder, -Infinity);
  }
  return scores.softmax(-1); // [b, vocab]
}

/** One token per row of probs [b, vocab] → [b] int64 on `device`, drawn with the generator. */
export function draw(probs: T.Tensor, generator: T.Generator, device: T.Device): T.Tensor {
  // Drawn on the CPU, where the generator is, so a seed samples the same tokens on every device.
  const drawn = T.multinomial(probs.device === 'cpu' ? probs : probs.to('cpu'), 1, false, generator).squeeze(1); // [b]
  return drawn.device === device ? drawn : drawn.to(device);
}

// Whether to pack; packWeights itself declines models that are not f32 on the CPU.
export function shouldPack(model: Transformer, mode: 'auto' | boolean): boolean {
  return mode === 'auto' ? model.packableBytes <= freemem() / 4 : mode;
}
