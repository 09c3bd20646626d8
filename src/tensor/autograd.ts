// Grad-mode scopes (torch.no_grad / torch.enable_grad). Synchronous only.

import { native } from './native.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.isGradEnabled() as boolean;
  if (previous === enabled) return checkedSync(fn());
  native.setGradEnabled(enabled);
  try {
    return checkedSync(fn());
  } finally {
    native.setGradEnabled(previous);
  }
}

function checkedSync<T>(result: T): T {
  if (result instanceof Promise) throw new Error('noGrad/enableGrad: fn returned a Promise; grad-mode scopes are synchronous');
  return result;
}

/** Runs fn with autograd recording off: nothing inside builds a graph. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with autograd recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled() as boolean;
}
