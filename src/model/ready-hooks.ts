// Ready-made hooks: steering (add a vector), activation patching, direction ablation.
// Each returns a HookFn to bind with hook(pattern, fn).

import * as T from '../tensor/index.js';
import type { HookContext, HookFn } from './hooks.js';
import { lastTokenIndex, type ActivationCache } from './activation-cache.js';

/**
 * Where a steering vector is added:
 *  all      — every position
 *  prompt   — real prompt tokens (not padding, not response)
 *  response — response tokens (every decode step; in teacher-forced runs, ctx.responseMask)
 *  last     — each row's last prompt token (the end of the rendered prompt)
 */
export type SteerPositions = 'all' | 'prompt' | 'response' | 'last';

/** v in the activation's dtype, on its device (a vector made on the CPU steers a model on any device). */
function like(v: T.Tensor, x: T.Tensor): T.Tensor {
  const cast = v.to(x.dtype);
  return cast.device === x.device ? cast : cast.to(x.device);
}

/** [b, s, 1] float mask of the positions selected in this call. */
function positionWeights(ctx: HookContext, where: SteerPositions, dtype: T.DType): T.Tensor | null {
  const [b, s] = ctx.tokenMask.shape as [number, number];
  const device = ctx.tokenMask.device;
  const response = ctx.decoding ? T.ones([b, s], { dtype: 'bool', device }) : ctx.responseMask ?? T.zeros([b, s], { dtype: 'bool', device });
  let m: T.Tensor;
  switch (where) {
    case 'all': return null;
    case 'response': m = response; break;
    case 'prompt': m = ctx.tokenMask.logicalAnd(response.logicalNot()); break;
    case 'last': {
      if (ctx.decoding) return T.zeros([b, s, 1], { dtype, device });
      const prompt = ctx.tokenMask.logicalAnd(response.logicalNot());
      const idx = lastTokenIndex(prompt); // [b]
      m = T.zeros([b, s], { dtype: 'bool', device }).scatter(1, idx.unsqueeze(1), T.ones([b, 1], { dtype: 'bool', device }));
      break;
    }
  }
  return m.to(dtype).unsqueeze(2);
}

/** Adds coef·vector [d] to a residual-like activation [b, s, d] at the chosen positions. */
export function steer(vector: T.Tensor, coef: number, where: SteerPositions = 'all'): HookFn {
  return (x, ctx) => {
    const add = like(vector, x).mul(coef); // [d]
    const w = positionWeights(ctx, where, x.dtype);
    return w === null ? x.add(add) : x.add(w.mul(add));
  };
}

/**
 * Replaces the activation with the one recorded in another run's cache (same shape), or only
 * at `positions` (indices into this call's positions) when given.
 */
export function patchFrom(cache: ActivationCache, positions?: number[]): HookFn {
  return (x, ctx) => {
    if (!cache.has(ctx.name)) throw new Error(`patchFrom: the source cache has no ${ctx.name}; record it with runWithCache({ names: ['${ctx.name}'] })`);
    const src = cache.get(ctx.name);
    if (positions === undefined) return like(src, x);
    const idx = T.tensor(positions, { dtype: 'i64', device: x.device });
    const posDim = x.ndim === 4 ? 2 : 1;
    const shape = x.shape;
    shape[posDim] = positions.length;
    const view = shape.map((_, i) => (i === posDim ? positions.length : 1));
    return x.scatter(posDim, idx.view(...view).expand(...shape), like(src, x).indexSelect(posDim, idx));
  };
}

/** Removes the component along `direction` [d]: x − (x·û)û (projection ablation). */
export function ablateDirection(direction: T.Tensor): HookFn {
  return (x) => {
    const u = like(direction, x).div(direction.norm().item()); // [d]
    const coeff = x.matmul(u).unsqueeze(-1); // [b, s, 1]
    return x.sub(coeff.mul(u));
  };
}
