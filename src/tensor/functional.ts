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

