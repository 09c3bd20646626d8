// Run with cache: logits plus the activations at the hook points matching name patterns,
// optionally only at chosen positions, without keeping anything else.

import * as T from '../tensor/index.js';
import { hook, type Hook } from './hooks.js';
import type { ForwardOptions, Transformer } from './transformer.js';

/**
 * Which positions to keep: 'all'; 'last' (each row's last real token — with left padding the
 * final column); or explicit indices into the positions of this call.
 */
export type PositionSelector = 'all' | 'last' | number[];

export interface CacheOptions extends ForwardOptions {
  /** hook-point names or globs, e.g. ['blocks.*.hook_resid_post'] */
  names: string[];
  positions?: never;
  at?: PositionSelector;
}

export interface RunWithCache {
  /** [b, s, vocab] (or as ForwardOptions say) */
  logits: T.Tensor;
  /** hook name → activation, detached: [b, s, ...] for 'all', [b, ...] for 'last', [b, k, ...] for indices */
  cache: Map<string, T.Tensor>;
}

/** Each row's last real position (the last true of tokenMask [b, s]) → [b] int64. */
export function lastTokenIndex(tokenMask: T.Tensor): T.Tensor {
  const s = tokenMask.size(1);
  // argmax of mask·(1..s) finds the last true position.
  return tokenMask.to('i64').mul(T.arange(1, s + 1)).argmax(1);
}

function select(x: T.Tensor, at: PositionSelector, tokenMask: T.Tensor): T.Tensor {
  if (at === 'all') return x.detach();
  const posDim = x.ndim === 4 ? 2 : 1; // attention tensors are [b, h, s, ...]
  if (at === 'last') {
    const idx = lastTokenIndex(tokenMask); // [b]
    const shape = x.shape;
    shape[posDim] = 1;
    const ones = shape.map((n, i) => (i === 0 ? n : 1)); // [b, 1, …, 1]
    const gatherIdx = idx.view(...ones).expand(...shape);
    return x.detach().gather(posDim, gatherIdx).squeeze(posDim);
  }
  return x.detach().indexSelect(posDim, T.tensor(at, { dtype: 'i64' }));
}

export function runWithCache(model: Transformer, ids: T.Tensor, o: CacheOptions): RunWithCache {
  const cache = new Map<string, T.Tensor>();
  const at = o.at ?? 'all';
  const hooks: Hook[] = o.names.map((pattern) =>
    hook(pattern, (x, ctx) => {
      cache.set(ctx.name, T.keep(select(x, at, ctx.tokenMask)));
    }),
  );
  const logits = model.forward(ids, { ...o, hooks: [...(o.hooks ?? []), ...hooks] });
  return { logits, cache };
}
