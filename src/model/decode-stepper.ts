// A step-wise batched decoder, for serving many requests at once: rows join between steps
// (their prompts prefilled, left-padded, into a KV cache of their own, which is then merged with
// the running rows' cache) and leave between steps, and each step picks
// every row's next token with the row's own sampling settings and its own seeded generator. A
// row's tokens therefore do not depend on which other rows share its steps, up to float rounding
// (a product over a batch of another shape may round differently). generate() — one batch from
// start to end — is separate and unchanged; the token choice here is its `pick`, one row at a time,
// so a row seeded s picks what generate() with seed s picks for that prompt alone.
//
// The cache keeps each row's real tokens contiguous at its right end (left padding, then the
// prompt, then the generated tokens): a merge right-aligns every source's rows, and positions
// come from each row's count of real tokens, so rows of different ages share one cache.
//
// Use: add(rows) → ids; then repeatedly pick() (each row's next token), drop(ids) the rows that
// are done, advance() (one decode forward for the rest); add() again between advance and pick.
// A dropped row leaves the cache lazily, as generate() keeps finished rows: it is fed padding
// until the cache is rebuilt anyway (rows join, or it is full) or half the rows are dropped —
// a rebuild copies the whole cache, which costs more than a few extra rows in a decode step.

import * as T from '../tensor/index.js';
import { KVCache } from './kv-cache.js';
import { padBatch } from './padding.js';
import { draw, samplingProbabilities, shouldPack, stepThreads } from './generate.js';
import type { Hook } from './hooks.js';
import type { Transformer } from './transformer.js';

export interface DecodeRow {
  /** prompt token ids [n], n ≥ 1 */
  prompt: number[];
  /** 0 = greedy */
  temperature: number;
  /** keep the smallest set of tokens whose probability reaches p (1 = off) */
  topP: number;
  /** seed of the row's own generator (unused when greedy) */
  seed: number;
  /** report the chosen token's log-probability */
  logprobs: boolean;
  /** and this many most likely alternatives (0 = none) */
  topLogprobs: number;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
}

export interface StepToken {
  /** the row's id, as add() returned it */
  row: number;
  token: number;
  /**
   * log-probability of `token` at temperature 1 under the unfiltered distribution over ids below
   * vocabLimit (NaN when the row did not ask for logprobs)
   */
  logprob: number;
  /** the row's topLogprobs most likely tokens, most likely first */
  top: TokenLogprob[];
}

export interface DecodeStepperOptions {
  /** the id fed at padding positions */
  padTokenId: number;
  /** pick and score only ids below this (the tokenizer's vocabulary; embeddings are often padded past it) */
  vocabLimit?: number;
  hooks?: Hook[];
  /** pack the linear layers' weights for decode steps, as generate() does (default 'auto') */
  packWeights?: 'auto' | boolean;
}

interface Row {
  id: number;
  spec: DecodeRow;
  /** null for greedy rows */
  generator: T.Generator | null;
  /** the token pick() chose, fed by advance() (padding once dropped) */
  next: number;
  dropped: boolean;
}

/** Cache positions added beyond what the rows hold whenever a cache is (re)built: amortizes the copies. */
function headroom(length: number): number {
  return Math.min(Math.max(length, 64), 1024);
}

export class DecodeStepper {
  #cache: KVCache | null = null;
  /** [rows, vocab]: each row's logits for its next token (kept), while rows await pick() */
  #logits: T.Tensor | null = null;
  /** the cache's rows, in order (dropped ones included until the next rebuild) */
  #rows: Row[] = [];
  /** pick() ran and advance() has not yet */
  #picked = false;
  #nextId = 0;

  constructor(readonly model: Transformer, private readonly o: DecodeStepperOptions) {
    if (shouldPack(model, o.packWeights ?? 'auto')) model.packWeights();
  }

  /** Rows in the batch (not dropped). */
  get size(): number {
    return this.#live().length;
  }

  /** Prefills these rows and merges them into the batch (not between pick and advance); returns their ids. */
  add(rows: DecodeRow[]): number[] {
    if (this.#picked) throw new Error('DecodeStepper.add: rows join between advance() and pick(); call advance() first');
    if (rows.length === 0) return [];
    const empty = rows.findIndex((r) => r.prompt.length === 0);
    if (empty >= 0) throw new Error(`DecodeStepper.add: row ${empty} has an empty prompt; every prompt needs at least one token`);
    const model = this.model;
    const live = this.#live();
    const running = live.length > 0 ? this.#cache : null;
    const longest = Math.max(...rows.map((r) => r.prompt.length));
    const prefill = new KVCache(model.config, rows.length, longest + (running === null ? headroom(longest) : 0), model.dtype, model.device);
    let fresh: T.Tensor | undefined;
    let merged: KVCache | undefined;
    let logits: T.Tensor;
    try {
      fresh = T.keep(T.noGrad(() => T.scope(() => {
        const { ids, mask } = padBatch(rows.map((r) => r.prompt), this.o.padTokenId, 'left', model.device);
        return model.forward(ids, { tokenMask: mask, cache: prefill, lastOnly: true, hooks: this.o.hooks ?? [] }).select(1, 0); // [k, vocab]
      })));
      merged = running === null ? prefill : this.#merge([{ cache: running, rows: live }, { cache: prefill, rows: rows.map((_, i) => i) }]);
      logits = running === null ? fresh : T.keep(T.scope(() => T.cat([this.#select(this.#logits as T.Tensor, live), fresh as T.Tensor], 0))); // [live + k, vocab]
    } catch (e) {
      if (merged !== prefill) merged?.dispose();
      prefill.dispose();
      fresh?.dispose();
      throw e;
    }
    // Success: the batch's old cache and logits give way to the merged ones.
    if (merged !== prefill) prefill.dispose();
    if (logits !== fresh) fresh.dispose();
    const kept = live.map((i) => this.#rows[i] as Row);
    this.#clear();
    this.#cache = merged;
    this.#logits = logits;
    this.#rows = kept;
    return rows.map((spec) => {
      const id = this.#nextId++;
      this.#rows.push({ id, spec, generator: spec.temperature > 0 ? T.Generator.seeded(spec.seed) : null, next: -1, dropped: false });
      return id;
    });
  }

  /** Each row's next token from its logits (does not run the model; advance() feeds them). */
  pick(): StepToken[] {
    if (this.#picked) throw new Error('DecodeStepper.pick: already picked this step; call advance() first');
    this.#picked = true;
    const logits = this.#logits;
    const live = this.#live();
    if (logits === null || live.length === 0) return [];
    const rows = this.#rows;
    const vocabLimit = this.o.vocabLimit;
    return T.noGrad(() => T.scope(() => {
      const limited = vocabLimit !== undefined && vocabLimit < logits.size(-1) ? logits.narrow(-1, 0, vocabLimit) : logits; // [b, V]
      const greedy = live.some((i) => (rows[i] as Row).generator === null) ? limited.argmax(-1).toArray() : [];
      // Sampling rows, grouped by their settings: one probability computation per group (row by
      // row, as pick() would for the row alone), then one draw per row from its own generator.
      const groups = new Map<string, number[]>();
      for (const [i, r] of rows.entries()) {
        r.next = r.dropped ? this.o.padTokenId : r.generator === null ? greedy[i] as number : -1;
        if (r.next !== -1) continue;
        const key = `${r.spec.temperature}/${r.spec.topP}`;
        groups.set(key, [...(groups.get(key) ?? []), i]);
      }
      for (const group of groups.values()) {
        const { temperature, topP } = (rows[group[0] as number] as Row).spec;
        const probs = samplingProbabilities(this.#select(logits, group), { temperature, topP, vocabLimit }); // [group, V]
        group.forEach((i, j) => {
          const r = rows[i] as Row;
          r.next = draw(probs.narrow(0, j, 1), r.generator as T.Generator, 'cpu').toArray()[0] as number;
        });
      }
      const scored = live.filter((i) => (rows[i] as Row).spec.logprobs);
      const k = Math.min(limited.size(-1), Math.max(0, ...scored.map((i) => (rows[i] as Row).spec.topLogprobs)));
      let chosen: number[] = [];
      let topValues: number[] = [];
      let topIds: number[] = [];
      if (scored.length > 0) {
        const lsm = this.#select(limited, scored).to('f32').logSoftmax(-1); // [scored, V]
        const picked = T.tensor(scored.map((i) => (rows[i] as Row).next), { dtype: 'i64', shape: [scored.length, 1], device: lsm.device });
        chosen = lsm.gather(1, picked).toArray(); // [scored]
        if (k > 0) {
          const [values, indices] = lsm.topk(k, -1); // [scored, k]
          topValues = values.toArray();
          topIds = indices.toArray();
        }
      }
      return live.map((i): StepToken => {
        const r = rows[i] as Row;
        const at = scored.indexOf(i);
        const n = at < 0 ? 0 : Math.min(r.spec.topLogprobs, k);
        const top = Array.from({ length: n }, (_, j) => ({ token: topIds[at * k + j] as number, logprob: topValues[at * k + j] as number }));
        return { row: r.id, token: r.next, logprob: at < 0 ? Number.NaN : (chosen[at] as number), top };
      });
    }));
  }

  /** Takes these rows out of the batch (unknown ids are ignored): they are picked no more. */
  drop(ids: Iterable<number>): void {
    const gone = new Set(ids);
    for (const r of this.#rows) {
      if (!gone.has(r.id)) continue;
      r.dropped = true;
      r.next = this.o.padTokenId;
    }
    if (this.#live().length === 0) this.#clear();
  }

  /** Feeds every row's picked token through one decode forward: the rows' next logits. */
  advance(): void {
    if (!this.#picked) throw new Error('DecodeStepper.advance: no tokens picked; call pick() first');
    this.#picked = false;
    if (this.#rows.length === 0) return;
    let cache = this.#cache as KVCache;
    const live = this.#live();
    if (cache.length + 1 > cache.capacity || 2 * live.length <= this.#rows.length) {
      const rebuilt = this.#merge([{ cache, rows: live }]);
      cache.dispose();
      this.#cache = cache = rebuilt;
      this.#rows = live.map((i) => this.#rows[i] as Row);
    }
    const model = this.model;
    const next = this.#rows.map((r) => r.next);
    const logits = T.keep(T.noGrad(() => T.withKernelThreads(stepThreads(cache), () => T.scope(() => {
      const ids = T.tensor(next, { dtype: 'i64', shape: [next.length, 1], device: model.device });
      return model.forward(ids, { cache, decoding: true, lastOnly: true, hooks: this.o.hooks ?? [] }).select(1, 0); // [b, vocab]
    }))));
    this.#logits?.dispose();
    this.#logits = logits;
  }

  /** Frees the cache and logits; the stepper is empty afterwards (and can take rows again). */
  dispose(): void {
    this.#clear();
    this.#picked = false;
  }

  #clear(): void {
    this.#cache?.dispose();
    this.#logits?.dispose();
    this.#cache = null;
    this.#logits = null;
    this.#rows = [];
  }

  /** Indices (in the cache) of the rows not dropped. */
  #live(): number[] {
    return this.#rows.flatMap((r, i) => (r.dropped ? [] : [i]));
  }

  /** These rows of x [b, ...] (x itself when they are all of its rows, in order). */
  #select(x: T.Tensor, rows: number[]): T.Tensor {
    if (rows.length === x.size(0) && rows.every((r, i) => r === i)) return x;
    return x.indexSelect(0, T.tensor(rows, { dtype: 'i64', shape: [rows.length], device: x.device }));
  }

  /**
   * A new cache holding these rows of these caches, in order, each right-aligned (its real
   * tokens end at the last position), trimmed to the longest row, with headroom to grow.
   */
  #merge(sources: { cache: KVCache; rows: number[] }[]): KVCache {
    const model = this.model;
    const real = sources.flatMap((s) => s.rows.map((r) => s.cache.realTokens[r] as number));
    const length = Math.max(...real);
    const out = new KVCache(model.config, real.length, length + headroom(length), model.dtype, model.device);
    try {
      T.noGrad(() => T.scope(() => {
        let at = 0;
        for (const { cache, rows } of sources) {
          const span = Math.max(...rows.map((r) => cache.realTokens[r] as number));
          const whole = rows.length === cache.batch && rows.every((r, i) => r === i);
          const index = whole ? undefined : T.tensor(rows, { dtype: 'i64', shape: [rows.length], device: model.device });
          const copy = (dst: T.Tensor, src: T.Tensor) => {
            const block = src.narrow(2, cache.length - span, span); // [b_src, kvh, span, hd]
            dst.narrow(0, at, rows.length).narrow(2, length - span, span).copy_(index === undefined ? block : block.indexSelect(0, index));
          };
          for (let l = 0; l < model.config.nLayers; l++) {
            copy(out.keys[l] as T.Tensor, cache.keys[l] as T.Tensor);
            copy(out.values[l] as T.Tensor, cache.values[l] as T.Tensor);
          }
          at += rows.length;
        }
        const mask = real.flatMap((n) => [...new Array<number>(length - n).fill(0), ...new Array<number>(n).fill(1)]);
        out.tokenMask.narrow(1, 0, length).copy_(T.tensor(mask, { dtype: 'bool', shape: [real.length, length], device: model.device }));
      }));
    } catch (e) {
      out.dispose();
      throw e;
    }
    out.length = length;
    out.hasPadding = real.some((n) => n < length);
    real.forEach((n, i) => { out.realTokens[i] = n; });
    return out;
  }
}
