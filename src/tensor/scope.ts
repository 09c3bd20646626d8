// Memory scopes. Tensors own native memory that V8 cannot see; `scope(fn)` frees every
// tensor created inside `fn` except the ones it returns (which move to the enclosing scope).
// Outside any scope, tensors live until dispose() or garbage collection (the finalizer is a
// backstop that also tells V8 how much native memory each tensor holds).

import { native } from './native.js';

export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
  /** Called when the object outlives every scope: it must arrange its own release (GC backstop). */
  escape(): void;
  /** A native id that disposeMany may free with others (nothing else to undo), or undefined. */
  readonly batchHandle?: number | undefined;
}

const frames: Disposable[][] = [];
const kept = new WeakSet<Disposable>();

/** Called by every Tensor constructor. */
export function track(t: Disposable): void {
  const top = frames[frames.length - 1];
  if (top !== undefined) top.push(t);
  else t.escape();
}

/** Exempts tensors from disposal by the scopes they were created in (e.g. model weights). */
export function keep<T>(value: T): T {
  visit(value, (t) => {
    if (!kept.has(t)) t.escape();
    kept.add(t);
  });
  return value;
}

/** Undoes keep(): the tensor is again freed by scope, or by dispose(). */
export function unkeep(t: Disposable): void {
  kept.delete(t);
}

/**
 * Runs fn and frees every tensor it created, except those reachable from its result
 * (a tensor, or arrays/plain objects of tensors, searched recursively) and kept ones.
 * fn must be synchronous: a Promise result is rejected with an error.
 */
export function scope<T>(fn: () => T): T {
  const frame: Disposable[] = [];
  frames.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    frames.pop();
    for (const t of frame) if (!kept.has(t)) t.dispose();
    throw e;
  }
  frames.pop();
  if (result instanceof Promise) {
    for (const t of frame) if (!kept.has(t)) t.dispose();
    throw new Error('scope(fn): fn returned a Promise; scopes are synchronous, await outside them');
  }
  const survivors = new Set<Disposable>();
  visit(result, (t) => survivors.add(t));
  const parent = frames[frames.length - 1];
  const batch = new Float64Array(frame.length); // ids freed in one native call: a scope ends with hundreds
  let batched = 0;
  const escaping: Disposable[] = [];
  for (const t of frame) {
    if (kept.has(t)) continue;
    if (survivors.has(t)) {
      if (parent !== undefined) parent.push(t);
      else escaping.push(t);
    } else {
      const id = t.batchHandle;
      if (id !== undefined) batch[batched++] = id;
      else t.dispose();
    }
  }
  if (batched > 0) native.disposeMany(batch.subarray(0, batched));
  // After the frees: a survivor that is a view of a freed temporary then owns its storage alone.
  for (const t of escaping) t.escape();
  return result;
}

/** How many scopes are open (for tests). */
export function scopeDepth(): number {
  return frames.length;
}

function isDisposable(v: unknown): v is Disposable {
  return typeof v === 'object' && v !== null && typeof (v as Disposable).dispose === 'function' && 'disposed' in v;
}

function visit(value: unknown, fn: (t: Disposable) => void, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (isDisposable(value)) {
    fn(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) visit(v, fn, depth + 1);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) visit(v, fn, depth + 1);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const v of Object.values(value as Record<string, unknown>)) visit(v, fn, depth + 1);
  }
}
