// Run with cache: the activations at the hook points matching name patterns, optionally only at
// chosen positions, in an ActivationCache indexed as TransformerLens's (cache.get('resid_post', L)),
// plus the logits unless skipped — in which case the forward stops after the deepest block a
// requested hook needs.

import * as T from '../tensor/index.js';
import { hook, hookLayer, hookName, matchesPattern, type BlockPoint, type Hook, type TopHook } from './hooks.js';
import type { ForwardOptions, Transformer } from './transformer.js';

/**
 * Which positions to keep: 'all'; 'last' (each row's last real token — with left padding the
 * final column); or explicit indices into the positions of this call.
 */
export type PositionSelector = 'all' | 'last' | number[];

/**
 * Activations by hook point name, detached: [b, s, ...] for 'all', [b, ...] for 'last',
 * [b, k, ...] for k chosen positions (attention tensors keep heads first: [b, h, s, ...]).
 *
 * Lifetime follows the tensor scopes: the activations belong to the scope the run was made in,
 * exactly like its logits (freed when that scope ends, living until GC or dispose() outside any
 * scope). Return what you need from a scope as tensors (get, stack), or keep() the cache.
 */
export class ActivationCache {
  readonly #acts = new Map<string, T.Tensor>();

  /** Records an activation under its full hook point name. */
  set(name: string, activation: T.Tensor): void {
    this.#acts.get(name)?.dispose();
    this.#acts.set(name, activation);
  }

  /** Hook point names held, in the order they were recorded (forward order). */
  get names(): string[] {
    return [...this.#acts.keys()];
  }

  /** Whether the cache holds a point: has('resid_post', 3), has('blocks.3.hook_resid_post'), has('embed'). */
  has(point: string, layer?: number): boolean {
    return this.#acts.has(resolve(point, layer));
  }

  /** One activation: get('resid_post', 3) or get('blocks.3.hook_resid_post'); get('embed'). */
  get(point: string, layer?: number): T.Tensor {
    const name = resolve(point, layer);
    const t = this.#acts.get(name);
    if (t === undefined) {
      throw new Error(`ActivationCache has no ${name}; it holds ${this.names.join(', ') || 'nothing'} (record it with runWithCache({ names: ['${name}'] }))`);
    }
    return t;
  }

  /**
   * A block point at several layers stacked → [layers, ...] (a new tensor in the current scope).
   * Default: every layer the cache holds for that point, in block order.
   */
  stack(point: BlockPoint, layers?: number[]): T.Tensor {
    const chosen = layers ?? this.names.filter((n) => matchesPattern(hookName(point, '*'), n)).map((n) => hookLayer(n) as number).sort((a, b) => a - b);
    if (chosen.length === 0) throw new Error(`ActivationCache.stack('${point}'): the cache holds no ${hookName(point, '*')}; it holds ${this.names.join(', ') || 'nothing'}`);
    return T.stack(chosen.map((l) => this.get(point, l)), 0);
  }

  /** Exempts every activation from the scopes (see T.keep); free them with dispose(). */
  keep(): this {
    for (const t of this.#acts.values()) T.keep(t);
    return this;
  }

  /** Frees every activation now. */
  dispose(): void {
    for (const t of this.#acts.values()) t.dispose();
    this.#acts.clear();
  }
}

function resolve(point: string, layer: number | undefined): string {
  if (layer !== undefined) return hookName(point as BlockPoint, layer);
  return point === 'embed' || point === 'normalized' ? hookName(point as TopHook) : point;
}

export interface CacheOptions extends ForwardOptions {
  /** hook point names or globs, e.g. ['blocks.*.hook_resid_post'] or [hookName('resid_post', '*')] */
  names: string[];
  positions?: never;
  stopAtLayer?: never;
  at?: PositionSelector;
}

export interface RunWithCache {
  /** [b, s, vocab] (or [b, 1, vocab] with lastOnly); null with skipLogits */
  logits: T.Tensor | null;
  cache: ActivationCache;
}

/** Each row's last real position (the last true of tokenMask [b, s]) → [b] int64. */
export function lastTokenIndex(tokenMask: T.Tensor): T.Tensor {
  const s = tokenMask.size(1);
  // argmax of mask·(1..s) finds the last true position.
  return tokenMask.to('i64').mul(T.arange(1, s + 1, 1, { device: tokenMask.device })).argmax(1);
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
  return x.detach().indexSelect(posDim, T.tensor(at, { dtype: 'i64', device: x.device }));
}

/**
 * The block after which a forward can stop and still fire every hook these patterns match: the
 * deepest matched block, or undefined when one matches ln_final.hook_normalized (or nothing).
 */
function lastBlockNeeded(patterns: string[], allNames: string[]): number | undefined {
  let deepest = 0;
  for (const name of allNames) {
    if (!patterns.some((p) => matchesPattern(p, name))) continue;
    const layer = hookLayer(name);
    if (layer === null && name !== hookName('embed')) return undefined;
    deepest = Math.max(deepest, layer ?? 0);
  }
  return deepest;
}

/**
 * Runs the model and records the activations at `names`. With skipLogits, the forward stops
 * after the deepest block any requested or passed hook (or one of the model's persistent hooks)
 * needs; blocks after it never run.
 */
export function runWithCache(model: Transformer, ids: T.Tensor, o: CacheOptions): RunWithCache {
  const cache = new ActivationCache();
  const at = o.at ?? 'all';
  const recorders: Hook[] = o.names.map((pattern) =>
    hook(pattern, (x, ctx) => {
      cache.set(ctx.name, select(x, at, ctx.tokenMask));
    }),
  );
  const hooks = [...(o.hooks ?? []), ...recorders];
  if (o.skipLogits && o.cache === undefined) {
    const patterns = [...hooks, ...model.persistentHooks].map((h) => h.pattern);
    const stopAtLayer = lastBlockNeeded(patterns, model.hookPointNames);
    if (stopAtLayer !== undefined) {
      model.forward(ids, { ...o, hooks, stopAtLayer }).dispose();
      return { logits: null, cache };
    }
  }
  const out = model.forward(ids, { ...o, hooks });
  if (o.skipLogits) {
    out.dispose();
    return { logits: null, cache };
  }
  return { logits: out, cache };
}
