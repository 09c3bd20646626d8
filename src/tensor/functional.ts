// Functions of several tensors and the neural-network building blocks.

import { native, type Handle } from './native.js';
import { Tensor, type Reduction } from './tensor.js';

const handles = (ts: Tensor[]): Handle[] => ts.map((t) => t.handle);
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.where(condition.handle, a.handle, b.handle));
}
export function cat(tensors: Tensor[], dim = 0): Tensor { return new Tensor(native.cat(handles(tensors), dim)); }
export function stack(tensors: Tensor[], dim = 0): Tensor { return new Tensor(native.stack(handles(tensors), dim)); }
export function einsum(equation: string, ...tensors: Tensor[]): Tensor {
  return new Tensor(native.einsum(equation, handles(tensors)));
}
/** beta·bias + alpha·(a @ b), a [n, k], b [k, m] → [n, m] */
export function addmm(bias: Tensor, a: Tensor, b: Tensor, beta = 1, alpha = 1): Tensor {
  return new Tensor(native.addmm(bias.handle, a.handle, b.handle, beta, alpha));
}
/** x [..., in] @ weight[out, in]ᵀ + bias[out] → [..., out] (torch.nn.functional.linear) */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return new Tensor(native.linear(x.handle, weight.handle, bias?.handle ?? null));
}
/** LayerNorm over the trailing `normalizedShape` dims. */
export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  return new Tensor(native.layerNorm(x.handle, normalizedShape, weight?.handle ?? null, bias?.handle ?? null, eps));
}
/** weight [vocab, d] looked up at integer ids [...] → [..., d] */
export function embedding(weight: Tensor, ids: Tensor): Tensor { return new Tensor(native.embedding(weight.handle, ids.handle)); }

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
}
/** logits [N, C], target [N] (int64 class ids; ignoreIndex rows are skipped, default −100). */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return new Tensor(native.crossEntropy(logits.handle, target.handle, o.ignoreIndex ?? -100, REDUCTION[o.reduction ?? 'mean'], o.labelSmoothing ?? 0));
}
export function cosineSimilarity(a: Tensor, b: Tensor, dim = -1, eps = 1e-8): Tensor {
  return new Tensor(native.cosineSimilarity(a.handle, b.handle, dim, eps));
}
/** Inverted dropout (uses the global generator); identity when !train or p = 0. */
export function dropout(x: Tensor, p: number, train: boolean): Tensor {
  if (!train || p === 0) return x;
  return new Tensor(native.dropout(x.handle, p, train));
}

export interface AttentionOptions {
  /** additive float mask broadcastable to [batch, heads, q, k], or boolean (true = attend) */
  mask?: Tensor;
  causal?: boolean;
  dropout?: number;
}

/**
 * softmax(q kᵀ / √d + mask) v with q [batch, heads, q, d], k, v [batch, heads, k, d]
 * → [batch, heads, q, d]. With `causal`, query i of nq attends to keys j ≤ i + (nk − nq).
 * Uses libtorch's fused kernel where it exists.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  if (singleQueryFits(q, k, o)) return singleQueryAttention(q, k, v, o.mask);
  // Causal masks align bottom-right (the last query sees every key, as a KV cache needs).
  // libtorch's fused kernels align top-left and refuse a mask with is_causal, so those
  // cases take the composed path.
  const causalMismatch = o.causal === true && (o.mask !== undefined || q.size(-2) !== k.size(-2));
  if (!fusedAttentionWorks || causalMismatch) return attentionComposed(q, k, v, o);
  return new Tensor(native.scaledDotProductAttention(q.handle, k.handle, v.handle, o.mask?.handle ?? null, o.dropout ?? 0, o.causal ?? false));
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
