// Scaled dot-product attention. libtorch's kernel where it is the fastest choice; on the CPU two
// paths that do less work than it does: a single query (a decode step) and causal
// self-attention computed in blocks of queries when no gradient is recorded (a prefill, an
// evaluation pass), which never computes the scores a causal mask would discard.

import { native } from './native.js';
import { Tensor } from './tensor.js';
import { cat, dropout } from './functional.js';
import { ones } from './create.js';
import { isGradEnabled } from './autograd.js';

export interface AttentionOptions {
  /** additive float mask broadcastable to [batch, heads, q, k], or boolean (true = attend) */
  mask?: Tensor;
  causal?: boolean;
  dropout?: number;
}

/**
 * softmax(q kᵀ / √d + mask) v with q [batch, heads, q, d], k, v [batch, heads, k, d]
 * → [batch, heads, q, d]. With `causal`, query i of nq attends to keys j ≤ i + (nk − nq).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  return ATTENTION_PATHS[attentionPath(q, k, v, o)](q, k, v, o);
}

type AttentionPath = (q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions) => Tensor;
const ATTENTION_PATHS = {
  singleQuery: (q, k, v, o) => singleQueryAttention(q, k, v, o.mask),
  causalBlocks: (q, k, v, o) => causalAttentionInBlocks(q, k, v, o.dropout ?? 0),
  fused: (q, k, v, o) => new Tensor(native.scaledDotProductAttention(q.handle, k.handle, v.handle, o.mask?.handle ?? null, o.dropout ?? 0, o.causal ?? false)),
  composed: attentionComposed,
} satisfies Record<string, AttentionPath>;

/** Which way scaledDotProductAttention computes these inputs. */
export function attentionPath(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): keyof typeof ATTENTION_PATHS {
  if (singleQueryFits(q, k, o)) return 'singleQuery';
  if (causalBlocksFit(q, k, v, o)) return 'causalBlocks';
  // Causal masks align bottom-right (the last query sees every key, as a KV cache needs).
  // libtorch's fused kernels align top-left and refuse a mask with is_causal, so those
  // cases take the composed path.
  const causalMismatch = o.causal === true && (o.mask !== undefined || q.size(-2) !== k.size(-2));
  return !fusedAttentionWorks || causalMismatch ? 'composed' : 'fused';
}

/** Most elements the single-query path's [batch, heads, keys, d] temporaries may have. */
const SINGLE_QUERY_MAX_ELEMENTS = 1 << 22;

// One query position (a decode step) on the CPU, without dropout, and small enough temporaries.
function singleQueryFits(q: Tensor, k: Tensor, o: AttentionOptions): boolean {
  if (q.size(-2) !== 1 || (o.dropout ?? 0) !== 0 || q.device !== 'cpu') return false;
  return k.numel <= SINGLE_QUERY_MAX_ELEMENTS;
}

/**
 * Attention for a single query position as a broadcast product and sums: on the CPU, the batched
 * matrix products of the general path pay one BLAS call per (batch, head) for 1-row matrices,
 * which dominates a decode step's attention; this is a few vectorised ops. A causal mask allows
 * every key to a last-position query, so only `mask` applies. q [b, h, 1, d], k, v [b, h, n, d].
 */
function singleQueryAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined): Tensor {
  let scores = q.mul(k).sum(-1, true).mT.mul(1 / Math.sqrt(q.size(-1))); // [b, h, 1, n]
  if (mask !== undefined) scores = mask.dtype === 'bool' ? scores.maskedFill(mask.logicalNot(), -Infinity) : scores.add(mask);
  return scores.softmax(-1).mT.mul(v).sum(-2, true); // [b, h, n, 1]·[b, h, n, d] summed over n → [b, h, 1, d]
}

/**
 * Query rows per block of the causalBlocks path (the last block takes the remainder), and the
 * fewest blocks worth it. Measured against libtorch 1.13's kernel on 2 threads, alone: 32-row
 * blocks ran 0.6x its time at 256 queries, 0.4x at 1024, even at 128, slower at 64. Inside a
 * forward pass of the bench models (256 queries) the gain is smaller: 0.75–0.9x.
 */
const CAUSAL_BLOCK_ROWS = 32;
const CAUSAL_MIN_BLOCKS = 4;

// Causal attention without a mask on the CPU, with enough queries for blocks to pay, and no
// gradient to record: backward through the blocks is slower than through the full product (each
// block's slice of q, k and v gets a gradient the size of the whole; 1.7x the time at 128 queries).
function causalBlocksFit(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): boolean {
  if (o.causal !== true || o.mask !== undefined || q.device !== 'cpu' || q.ndim !== 4 || k.ndim !== 4) return false;
  if (q.size(-2) < CAUSAL_MIN_BLOCKS * CAUSAL_BLOCK_ROWS || k.size(-2) < q.size(-2)) return false;
  return !(isGradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad));
}

/**
 * Causal attention one block of queries at a time: block [r0, r1) needs only keys
 * [0, r1 + nk − nq), and only the square of keys beside its own rows needs the mask. The full
 * path computes, masks, exponentiates and multiplies every score, about half of which the mask
 * throws away; here the work is (n + 1) / 2n of it for n blocks (53% for 256 queries). The
 * result is the same attention.
 * q [b, h, nq, d], k, v [b, h, nk, d] → [b, h, nq, d].
 */
function causalAttentionInBlocks(q: Tensor, k: Tensor, v: Tensor, dropoutP: number): Tensor {
  const [nq, nk, d] = [q.size(-2), k.size(-2), q.size(-1)];
  const offset = nk - nq;
  // Contiguous [b, h, n, d] so that each block's rows are a view the products fold without copies.
  const qs = q.mul(1 / Math.sqrt(d));
  const [kc, vc] = [k.contiguous(), v.contiguous()];
  const blocks = Math.floor(nq / CAUSAL_BLOCK_ROWS);
  const above = new Map<number, Tensor>(); // rows → [rows, rows] bool, true above the diagonal
  const out: Tensor[] = [];
  for (let i = 0; i < blocks; i++) {
    const r0 = i * CAUSAL_BLOCK_ROWS;
    const rows = i === blocks - 1 ? nq - r0 : CAUSAL_BLOCK_ROWS;
    const keys = r0 + rows + offset;
    let mask = above.get(rows);
    if (mask === undefined) {
      mask = ones([rows, rows], { dtype: 'bool', device: q.device }).triu(1);
      above.set(rows, mask);
    }
    const scores = qs.narrow(-2, r0, rows).matmul(kc.narrow(-2, 0, keys).mT); // [b, h, rows, keys]
    scores.narrow(-1, keys - rows, rows).maskedFill_(mask, -Infinity);
    out.push(dropout(scores.softmax(-1), dropoutP, true).matmul(vc.narrow(-2, 0, keys))); // [b, h, rows, d]
  }
  return cat(out, -2);
}

/** The same attention composed from plain ops (the reference the fused kernel is tested against). */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  const d = q.size(-1);
  let scores = q.matmul(k.mT).mul(1 / Math.sqrt(d)); // [batch, heads, q, k]
  if (o.causal) {
    const [nq, nk] = [q.size(-2), k.size(-2)];
    const keep = new Tensor(native.ones([nq, nk], 7, q.device)).tril(nk - nq);
    scores = scores.maskedFill(keep.logicalNot(), -Infinity);
  }
  if (o.mask !== undefined) {
    scores = o.mask.dtype === 'bool' ? scores.maskedFill(o.mask.logicalNot(), -Infinity) : scores.add(o.mask);
  }
  let p = scores.softmax(-1);
  if (o.dropout) p = dropout(p, o.dropout, true);
  return p.matmul(v);
}

/** Whether this libtorch build has a fused attention op (checked once). */
const fusedAttentionWorks: boolean = (() => {
  try {
    const h = native.zeros([1, 1, 1, 1], 0, 'cpu');
    native.scaledDotProductAttention(h, h, h, null, 0, false);
    return true;
  } catch {
    return false;
  }
})();
export function hasFusedAttention(): boolean { return fusedAttentionWorks; }
