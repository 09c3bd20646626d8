// A decoder-only transformer, nanoGPT-style, for every registered model family (Llama, Qwen2,
// GPT-2). The family (src/model/families/) names the Hugging Face weights and picks each part —
// RMSNorm or LayerNorm, RoPE or learned positions, a gated SiLU or a GELU MLP, separate or fused
// q/k/v — and the config holds sizes, biases and tied embeddings. Parameters keep their Hugging
// Face names, so loading and saving is a rename-free copy (GPT-2's Conv1D weights, stored
// [in, out] on disk, are held [out, in]).
//
// Devices: a model lives on one device (`model.device`, its weights'), and every tensor the model
// layer creates — masks, positions, token ids, the KV cache, padding — is created there: each
// factory call (T.tensor, T.zeros, T.ones, T.full, T.arange, T.eye, T.empty) passes
// `device: this.device` / `device: model.device`, or the device of the tensor it works on.
// test/model/device.test.ts checks this for src/model, the persona extractors, eval/sampling,
// src/train and src/study.

import * as T from '../tensor/index.js';
import { ropeInverseFrequencies, type ModelConfig } from '../io/hf-config.js';
import { FusedLinear, Linear } from './linear.js';
import { HookSet, hookName, hookNames, type Hook, type HookContext } from './hooks.js';
import type { KVCache } from './kv-cache.js';
import { blockModules, familyFor, topModules, weightSpecs, type ModelFamily } from './families/registry.js';

interface Norm {
  weight: T.Tensor;
  bias: T.Tensor | undefined;
}

interface Block {
  ln1: Norm;
  ln2: Norm;
  /** separate q, k, v (their weights fused into one matrix, qkvFused), or one fused qkv projection */
  q?: Linear;
  k?: Linear;
  v?: Linear;
  qkv?: Linear;
  o: Linear;
  /** gated MLPs: gate and up (their weights fused into one matrix, gateUpFused) */
  gate?: Linear;
  up: Linear;
  down: Linear;
  qkvFused?: FusedLinear;
  gateUpFused?: FusedLinear;
}

type Context = Omit<HookContext, 'name' | 'layer'>;

export interface ForwardOptions {
  /** [b, s] bool or 0/1: real tokens (true) vs padding (false). Default: all real. */
  tokenMask?: T.Tensor;
  /** [b, s] int: positions; default from tokenMask (count of real tokens before, as HF does for left padding) */
  positions?: T.Tensor;
  /** [b, s] bool: response positions (hooks use it to steer or read only the response) */
  responseMask?: T.Tensor;
  /** continue from (and append to) this cache */
  cache?: KVCache;
  /** this call continues a generation (every position is a response token) */
  decoding?: boolean;
  hooks?: Hook[];
  /** compute logits only at the last position ([b, 1, vocab]) */
  lastOnly?: boolean;
  /** skip the unembedding entirely (returns the final normalized residual [b, s, d]) */
  skipLogits?: boolean;
  /**
   * stop after block L: return its resid_post [b, s, d] (= HF hidden_states[L+1]) without
   * running later blocks, the final norm or the unembedding (not with a KV cache)
   */
  stopAtLayer?: number;
}

export class Transformer {
  readonly config: ModelConfig;
  /** the registered family that names the weights and picks the parts */
  readonly family: ModelFamily;
  /** the dtype of the floating weights; activations are computed in it */
  readonly dtype: T.DType;
  /** where every weight lives; every tensor the model creates is created here */
  readonly device: T.Device;
  /** every parameter by its Hugging Face name, in module order (Conv1D weights held as [out, in]) */
  readonly params = new Map<string, T.Tensor>();
  readonly blocks: Block[] = [];
  /** [vocab, d] */
  readonly embed: T.Tensor;
  /** [maxPositions, d]: learned positions, or undefined with RoPE */
  readonly wpe: T.Tensor | undefined;
  readonly lnFinal: Norm;
  readonly lmHead: Linear;
  readonly hookPointNames: string[];
  readonly #persistentHooks: Hook[] = [];
  #ropeTable: { cos: T.Tensor; sinSigned: T.Tensor; length: number } | undefined;
  /** [headDim / 2] f32 */
  readonly #invFreq: T.Tensor | undefined;

  /** Builds the model from a map of HF-named tensors (which it keeps), all on one device. */
  constructor(config: ModelConfig, weights: Map<string, T.Tensor>) {
    this.config = config;
    this.family = familyFor(config);
    for (const { name, shape } of weightSpecs(this.family, config)) {
      const t = weights.get(name);
      if (t === undefined) throw new Error(`checkpoint is missing ${name} (shape [${shape}]) for a ${config.family} model with ${config.nLayers} layers`);
      const got = t.shape.join(',');
      if (got !== shape.join(',')) throw new Error(`checkpoint: ${name} has shape [${got}], config.json implies [${shape}]`);
      this.params.set(name, T.keep(t));
    }
    const param = (name: string) => this.params.get(name) as T.Tensor;
    const norm = (path: string): Norm => ({ weight: param(`${path}.weight`), bias: this.params.get(`${path}.bias`) });
    const linear = (path: string) => new Linear(path, param(`${path}.weight`), this.params.get(`${path}.bias`));

    const top = topModules(this.family);
    this.embed = param(`${top.embed}.weight`);
    this.dtype = this.embed.dtype;
    this.device = this.embed.device;
    const strays = [...this.params].filter(([, t]) => t.device !== this.device).map(([n, t]) => `${n} (${t.device})`);
    if (strays.length > 0) throw new Error(`Transformer: the embedding is on ${this.device} but ${strays.slice(0, 3).join(', ')} are not; load every weight onto one device`);
    this.wpe = top.positions === undefined ? undefined : param(`${top.positions}.weight`);
    for (let l = 0; l < config.nLayers; l++) {
      const m = blockModules(this.family, l);
      const blk: Block = { ln1: norm(m.ln1), ln2: norm(m.ln2), o: linear(m.o), up: linear(m.up), down: linear(m.down) };
      if (m.qkv !== undefined) {
        blk.qkv = linear(m.qkv);
      } else {
        [blk.q, blk.k, blk.v] = [linear(m.q as string), linear(m.k as string), linear(m.v as string)];
        blk.qkvFused = this.#fuse([blk.q, blk.k, blk.v]);
      }
      if (m.gate !== undefined) {
        blk.gate = linear(m.gate);
        blk.gateUpFused = this.#fuse([blk.gate, blk.up]);
      }
      this.blocks.push(blk);
    }
    this.lnFinal = norm(top.finalNorm);
    this.lmHead = config.tiedEmbeddings ? new Linear(top.lmHead, this.embed) : linear(top.lmHead);
    this.hookPointNames = hookNames(config.nLayers);
    if (this.family.positions === 'rope') {
      this.#invFreq = T.keep(T.tensor(ropeInverseFrequencies(config), { dtype: 'f32', device: this.device }));
    }
  }

  // Fuses linear layers (their weights become views of one matrix) and records the views as the parameters.
  #fuse(parts: Linear[]): FusedLinear {
    const fused = new FusedLinear(parts);
    for (const p of parts) {
      this.params.set(`${p.path}.weight`, p.weight);
      if (p.bias !== undefined) this.params.set(`${p.path}.bias`, p.bias);
    }
    return fused;
  }

  /** Every Linear layer by module path (what LoRA targets). */
  linears(): Linear[] {
    const out: Linear[] = [];
    for (const b of this.blocks) {
      for (const m of [b.q, b.k, b.v, b.qkv, b.o, b.gate, b.up, b.down]) if (m !== undefined) out.push(m);
    }
    if (!this.config.tiedEmbeddings) out.push(this.lmHead);
    return out;
  }

  /**
   * Packs the weights of the linear layers a forward multiplies by (fused matrices whole, the
   * LM head included) for products with few rows (see Linear.pack): decoding runs faster, for
   * extra memory about those weights' size. Returns the bytes packed, 0 where packing does not
   * apply (not f32 on the CPU, or a libtorch without XNNPACK). Idempotent.
   */
  packWeights(): number {
    let bytes = 0;
    for (const m of this.#productLinears()) if (m.pack()) bytes += m.packedBytes;
    return bytes;
  }
  /** Frees the packed weights. */
  unpackWeights(): void {
    for (const m of this.#productLinears()) m.unpack();
  }
  /** Bytes the packed weights hold (0 when unpacked). */
  get packedBytes(): number {
    return this.#productLinears().reduce((n, m) => n + m.packedBytes, 0);
  }
  /** Bytes packWeights() would add: the f32 weights of the layers it packs. */
  get packableBytes(): number {
    return this.#productLinears().reduce((n, m) => n + m.weight.numel * 4, 0);
  }

  #productLinears(): Linear[] {
    const out: Linear[] = [];
    for (const b of this.blocks) {
      out.push(b.qkvFused?.whole ?? (b.qkv as Linear), b.o, b.gateUpFused?.whole ?? b.up, b.down);
    }
    out.push(this.lmHead);
    return out;
  }

  get parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.numel;
    return n;
  }

  /** Hooks that stay active for every call until removed (prefer withHooks, which is scoped). */
  addHooks(hooks: Hook[]): () => void {
    new HookSet(hooks, this.hookPointNames); // validates the patterns now
    this.#persistentHooks.push(...hooks);
    return () => {
      for (const h of hooks) {
        const i = this.#persistentHooks.indexOf(h);
        if (i >= 0) this.#persistentHooks.splice(i, 1);
      }
    };
  }

  /** The hooks addHooks (or withHooks) made active for every call, now. */
  get persistentHooks(): readonly Hook[] {
    return [...this.#persistentHooks];
  }

  /** Runs fn with hooks active for every forward inside (generation included); removes them after, even on throw. */
  withHooks<R>(hooks: Hook[], fn: () => R): R {
    const remove = this.addHooks(hooks);
    try {
      const r = fn();
      if (r instanceof Promise) return r.finally(remove) as R;
      remove();
      return r;
    } catch (e) {
      remove();
      throw e;
    }
  }

  /**
   * ids [b, s] int → logits [b, s, vocab] (or [b, 1, vocab] with lastOnly, the final normalized
   * residual [b, s, d] with skipLogits, or block L's resid_post [b, s, d] with stopAtLayer L).
   */
  forward(ids: T.Tensor, o: ForwardOptions = {}): T.Tensor {
    const c = this.config;
    const [b, s] = ids.shape as [number, number];
    const lastBlock = o.stopAtLayer ?? c.nLayers - 1;
    if (o.stopAtLayer !== undefined) this.#checkStopAtLayer(o.stopAtLayer, o.cache);
    const cache = o.cache;
    const offset = cache?.length ?? 0;
    if (cache !== undefined) cache.reserve(s);
    const hooks = new HookSet([...this.#persistentHooks, ...(o.hooks ?? [])], this.hookPointNames);
    const tokenMask = o.tokenMask === undefined ? T.ones([b, s], { dtype: 'bool', device: this.device }) : o.tokenMask.dtype === 'bool' ? o.tokenMask : o.tokenMask.ne(0);
    const ctx: Context = { offset, tokenMask, responseMask: o.responseMask, decoding: o.decoding ?? false };
    const allReal = o.tokenMask === undefined || Boolean(tokenMask.all().item());
    const positions = o.positions ?? this.#positions(tokenMask, cache, allReal);

    let x = T.embedding(this.embed, ids); // [b, s, d]
    if (this.wpe !== undefined) x = x.add(T.embedding(this.wpe, positions));
    x = hooks.run(hookName('embed'), x, ctx, null);

    // Positions never exceed the absolute index, so offset + s bounds them (no read-back needed).
    const rope = this.#invFreq === undefined ? undefined : this.#rope(positions, o.positions === undefined ? offset + s : positions.max().item() + 1);
    // Additive attention mask [b, 1, s, total], or none when causal alone suffices.
    const padded = !allReal || (cache?.hasPadding ?? false);
    const mask = padded || (offset > 0 && s > 1) ? this.#attentionMask(tokenMask, cache) : undefined;

    // Without hooks nothing can hold on to a block's temporaries, so each block frees them (and
    // the residual it consumed) as it ends: peak memory is one block's, not the whole forward's.
    // Under autograd this only drops handles; the graph keeps what backward needs.
    const freeAsWeGo = hooks.empty;
    for (let l = 0; l <= lastBlock; l++) {
      const blk = this.blocks[l] as Block;
      const block = (): T.Tensor => {
        const resid = hooks.run(hookName('resid_pre', l), x, ctx, l); // [b, s, d]
        let attnOut = this.#attention(blk, this.#norm(resid, blk.ln1), l, rope, mask, cache, hooks, ctx);
        attnOut = hooks.run(hookName('attn_out', l), attnOut, ctx, l);
        const mid = hooks.run(hookName('resid_mid', l), resid.add(attnOut), ctx, l);
        let mlpOut = this.#mlp(blk, this.#norm(mid, blk.ln2), l, hooks, ctx);
        mlpOut = hooks.run(hookName('mlp_out', l), mlpOut, ctx, l);
        return hooks.run(hookName('resid_post', l), mid.add(mlpOut), ctx, l);
      };
      if (freeAsWeGo) {
        const next = T.scope(block);
        x.dispose();
        x = next;
      } else {
        x = block();
      }
    }
    if (cache !== undefined) cache.advance(tokenMask, allReal);

    if (o.lastOnly) x = x.narrow(1, s - 1, 1);
    if (o.stopAtLayer !== undefined) return x;
    x = hooks.run(hookName('normalized'), this.#norm(x, this.lnFinal), ctx, null);
    if (o.skipLogits) return x;
    return this.lmHead.forward(x);
  }

  #checkStopAtLayer(layer: number, cache: KVCache | undefined): void {
    const n = this.config.nLayers;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < n)) {
      throw new Error(`forward: stopAtLayer ${layer} is not a block of this ${n}-layer model; use 0..${n - 1} (resid_post of block L = HF hidden_states[L+1])`);
    }
    if (cache !== undefined) throw new Error('forward: stopAtLayer cannot fill a KV cache (later layers would be missing from it); drop one of the two');
  }

  // Positions as HF computes them: the count of real tokens before each position (so left
  // padding does not shift positions), continuing from the cache.
  #positions(tokenMask: T.Tensor, cache: KVCache | undefined, allReal: boolean): T.Tensor {
    const [b, s] = tokenMask.shape as [number, number];
    if (allReal && cache !== undefined) {
      // Every new token is real: row r continues at its count of real cached tokens.
      return T.tensor(cache.realTokens.flatMap((c) => Array.from({ length: s }, (_, i) => c + i)), { dtype: 'i64', shape: [b, s], device: this.device });
    }
    let pos = tokenMask.to('i64').cumsum(1).sub(1); // [b, s]
    if (cache !== undefined && cache.length > 0) {
      pos = pos.add(cache.tokenMask.narrow(1, 0, cache.length).to('i64').sum(1, true));
    }
    return pos.clamp(0);
  }

  #attentionMask(tokenMask: T.Tensor, cache: KVCache | undefined): T.Tensor {
    const [b, s] = tokenMask.shape as [number, number];
    const past = cache?.length ?? 0;
    const total = past + s;
    const keys = past > 0 ? T.cat([(cache as KVCache).tokenMask.narrow(1, 0, past), tokenMask], 1) : tokenMask; // [b, total]
    const causal = T.ones([s, total], { dtype: 'bool', device: this.device }).tril(past); // key j visible from query i iff j <= past + i
    let keep = causal.unsqueeze(0).logicalAnd(keys.unsqueeze(1)); // [b, s, total]
    // A padding query would see no key at all (softmax of nothing = NaN): let it see itself.
    const eye = T.eye(s, s, { dtype: 'bool', device: this.device });
    const diag = past > 0 ? T.cat([T.zeros([s, past], { dtype: 'bool', device: this.device }), eye], 1) : eye;
    keep = keep.logicalOr(diag.unsqueeze(0).logicalAnd(tokenMask.logicalNot().unsqueeze(2)));
    const neg = this.dtype === 'f32' || this.dtype === 'f64' ? -3.4028234663852886e38 : -3.3895313892515355e38;
    return T.zeros([b, 1, s, total], { dtype: this.dtype, device: this.device }).maskedFill(keep.logicalNot().unsqueeze(1), neg);
  }

  // cos, sinSigned [b, 1, s, hd] for these positions, from a table grown as needed.
  #rope(positions: T.Tensor, need: number): { cos: T.Tensor; sinSigned: T.Tensor } {
    if (this.#ropeTable === undefined || this.#ropeTable.length < need) {
      const length = Math.max(need, 2 * (this.#ropeTable?.length ?? 256));
      this.#ropeTable?.cos.dispose();
      this.#ropeTable?.sinSigned.dispose();
      const angles = T.arange(length, undefined, 1, { dtype: 'f32', device: this.device }).unsqueeze(1).mul((this.#invFreq as T.Tensor).unsqueeze(0)); // [len, hd/2]
      const [cos, sin] = [angles.cos(), angles.sin()];
      this.#ropeTable = {
        cos: T.keep(T.cat([cos, cos], 1).to(this.dtype)), // [len, hd]
        sinSigned: T.keep(T.cat([sin.neg(), sin], 1).to(this.dtype)), // [len, hd]: −sin, then sin (see applyRope)
        length,
      };
    }
    const [b, s] = positions.shape as [number, number];
    const flat = positions.reshape(-1);
    const cos = this.#ropeTable.cos.indexSelect(0, flat).view(b, 1, s, -1);
    const sinSigned = this.#ropeTable.sinSigned.indexSelect(0, flat).view(b, 1, s, -1);
    return { cos, sinSigned };
  }

  #norm(x: T.Tensor, n: Norm): T.Tensor {
    const c = this.config;
    if (this.family.norm === 'layernorm') return T.layerNorm(x, [c.dModel], n.weight, n.bias, c.normEps);
    // RMSNorm as HF computes it: in f32, then back to the input dtype before the weight.
    const x32 = x.dtype === 'f32' ? x : x.to('f32');
    const normed = x32.mul(x32.square().mean(-1, true).add(c.normEps).rsqrt());
    return n.weight.mul(x.dtype === 'f32' ? normed : normed.to(x.dtype));
  }

  #attention(
    blk: Block, x: T.Tensor, l: number, rope: { cos: T.Tensor; sinSigned: T.Tensor } | undefined,
    mask: T.Tensor | undefined, cache: KVCache | undefined, hooks: HookSet, ctx: Context,
  ): T.Tensor {
    const { nHeads: h, nKvHeads: kvh, headDim: hd } = this.config;
    const [b, s] = x.shape as [number, number];
    let q: T.Tensor, k: T.Tensor, v: T.Tensor;
    if (blk.qkv !== undefined) {
      [q, k, v] = blk.qkv.forward(x).split([h * hd, kvh * hd, kvh * hd], 2) as [T.Tensor, T.Tensor, T.Tensor];
    } else {
      [q, k, v] = (blk.qkvFused as FusedLinear).forward(x) as [T.Tensor, T.Tensor, T.Tensor];
    }
    q = q.view(b, s, h, hd).transpose(1, 2); // [b, h, s, hd]
    k = k.view(b, s, kvh, hd).transpose(1, 2); // [b, kvh, s, hd]
    v = v.view(b, s, kvh, hd).transpose(1, 2);
    if (rope !== undefined) {
      q = applyRope(q, rope.cos, rope.sinSigned);
      k = applyRope(k, rope.cos, rope.sinSigned);
    }
    q = hooks.run(hookName('q', l), q, ctx, l);
    k = hooks.run(hookName('k', l), k, ctx, l);
    v = hooks.run(hookName('v', l), v, ctx, l);
    if (cache !== undefined) [k, v] = cache.append(l, k, v); // [b, kvh, total, hd]
    if (kvh !== h) {
      const rep = h / kvh;
      const total = k.size(2);
      k = k.unsqueeze(2).expand(b, kvh, rep, total, hd).reshape(b, h, total, hd);
      v = v.unsqueeze(2).expand(b, kvh, rep, total, hd).reshape(b, h, total, hd);
    }
    let out: T.Tensor;
    const patternName = hookName('pattern', l);
    if (hooks.has(patternName)) {
      let scores = q.matmul(k.mT).mul(1 / Math.sqrt(hd)); // [b, h, s, total]
      scores = mask !== undefined ? scores.add(mask) : scores.add(causalMask(s, k.size(2), this.dtype, this.device));
      const pattern = hooks.run(patternName, scores.softmax(-1), ctx, l);
      out = pattern.matmul(v);
    } else if (mask !== undefined) {
      out = T.scaledDotProductAttention(q, k, v, { mask });
    } else {
      // No padding: plain causal attention (a single decode step sees every cached key).
      out = T.scaledDotProductAttention(q, k, v, { causal: s > 1 && (cache?.length ?? 0) === 0 });
    }
    return blk.o.forward(out.transpose(1, 2).reshape(b, s, h * hd));
  }

  #mlp(blk: Block, x: T.Tensor, l: number, hooks: HookSet, ctx: Context): T.Tensor {
    let hidden: T.Tensor;
    if (this.family.mlp === 'gated-silu') {
      const [gate, up] = (blk.gateUpFused as FusedLinear).forward(x) as [T.Tensor, T.Tensor];
      hidden = gate.silu().mul(up); // [b, s, d_mlp]
    } else {
      const a = blk.up.forward(x); // [b, s, d_mlp]
      hidden = this.config.activation === 'gelu' ? a.gelu('none') : a.gelu('tanh');
    }
    hidden = hooks.run(hookName('post', l), hidden, ctx, l);
    return blk.down.forward(hidden);
  }
}

/**
 * x [b, h, s, hd] rotated as HF does: x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁].
 * `sinSigned` is sin with its first half negated, so [−x₂, x₁]·sin = [x₂, x₁]·sinSigned exactly
 * (both halves of sin are equal): no negation kernel. The products are rounded before the sum,
 * as HF rounds them (a fused multiply-add differs in bf16).
 */
function applyRope(x: T.Tensor, cos: T.Tensor, sinSigned: T.Tensor): T.Tensor {
  const [x1, x2] = x.split(x.size(-1) / 2, -1) as [T.Tensor, T.Tensor];
  return x.mul(cos).add(T.cat([x2, x1], -1).mul(sinSigned));
}

/** Additive causal mask [s, total] for queries at the end of `total` keys. */
function causalMask(s: number, total: number, dtype: T.DType, device: T.Device): T.Tensor {
  const keep = T.ones([s, total], { dtype: 'bool', device }).tril(total - s);
  return T.zeros([s, total], { dtype, device }).maskedFill(keep.logicalNot(), -Infinity);
}
