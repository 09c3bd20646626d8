// A preallocated key/value cache for incremental decoding: one [b, kvh, capacity, hd] buffer
// per layer for keys and for values, written in place (under noGrad) as positions arrive.

import * as T from '../tensor/index.js';
import type { ModelConfig } from '../io/hf-config.js';

export class KVCache {
  readonly keys: T.Tensor[] = [];
  readonly values: T.Tensor[] = [];
  /** [b, capacity] bool: which cached positions are real tokens (false at padding) */
  readonly tokenMask: T.Tensor;
  /** positions filled so far */
  length = 0;
  /** whether any cached position is padding (then attention needs an explicit mask) */
  hasPadding = false;
  /** real (unpadded) tokens cached per row: the next token's position */
  readonly realTokens: number[];

  readonly #positionElements: number;

  constructor(config: ModelConfig, readonly batch: number, readonly capacity: number, dtype: T.DType, readonly device: T.Device) {
    const shape = [batch, config.nKvHeads, capacity, config.headDim];
    this.#positionElements = batch * config.nKvHeads * config.headDim;
    for (let l = 0; l < config.nLayers; l++) {
      this.keys.push(T.keep(T.zeros(shape, { dtype, device })));
      this.values.push(T.keep(T.zeros(shape, { dtype, device })));
    }
    this.tokenMask = T.keep(T.zeros([batch, capacity], { dtype: 'bool', device }));
    this.realTokens = new Array<number>(batch).fill(0);
  }

  /** Elements of one layer's cached keys once `n` more positions are in. */
  keyElements(n = 0): number {
    return this.#positionElements * (this.length + n);
  }

  /** Checks there is room for `n` more positions. */
  reserve(n: number): void {
    if (this.length + n > this.capacity) {
      throw new Error(`KV cache full: ${this.length} + ${n} positions exceed its capacity ${this.capacity}; allocate a larger cache`);
    }
  }

  /** Writes this call's k, v [b, kvh, s, hd] for a layer; returns all cached k, v so far [b, kvh, length + s, hd]. */
  append(layer: number, k: T.Tensor, v: T.Tensor): [T.Tensor, T.Tensor] {
    const s = k.size(2);
    const K = this.keys[layer] as T.Tensor;
    const V = this.values[layer] as T.Tensor;
    T.noGrad(() => {
      K.narrow(2, this.length, s).copy_(k);
      V.narrow(2, this.length, s).copy_(v);
    });
    return [K.narrow(2, 0, this.length + s), V.narrow(2, 0, this.length + s)];
  }

  /**
   * Records the token mask [b, s] of s new positions and advances the length (after all layers
   * ran). `allReal` says the caller knows there is no padding (saves reading the mask).
   */
  advance(tokenMask: T.Tensor, allReal: boolean): void {
    const s = tokenMask.size(1);
    T.noGrad(() => this.tokenMask.narrow(1, this.length, s).copy_(tokenMask));
    if (allReal) {
      for (let r = 0; r < this.batch; r++) this.realTokens[r] = (this.realTokens[r] as number) + s;
    } else {
      const counts = tokenMask.to('i64').sum(1).toArray();
      counts.forEach((c, r) => { this.realTokens[r] = (this.realTokens[r] as number) + c; });
      if (counts.some((c) => c < s)) this.hasPadding = true;
    }
    this.length += s;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values, this.tokenMask]) t.dispose();
  }
}
