// A training run's resolved config: one plain-JSON object holding every setting that changes
// the result. It is written to run.json and hashed into every checkpoint; resuming with a
// config whose hash differs is refused with the first settings that differ, each named by its
// dotted path with both values.

import { createHash } from 'node:crypto';
import { canonicalJson } from '../util/canonical-json.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The value as JSON reads it back (undefined fields dropped, non-finite numbers → null). */
export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

/** 16 hex digits of sha256 over the canonical JSON. */
export function configHash(config: Json): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

export interface ConfigDifference {
  /** dotted path, e.g. lora.alpha or optimizer.betas */
  path: string;
  /** canonical JSON of each side, or 'absent' */
  before: string;
  now: string;
}

/** Every leaf (arrays compared whole) where the two configs differ, in key order. */
export function configDifferences(before: Json | undefined, now: Json | undefined, path = ''): ConfigDifference[] {
  const isObject = (v: Json | undefined): v is { [key: string]: Json } => v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
  if (isObject(before) && isObject(now)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
    return keys.flatMap((k) => configDifferences(before[k], now[k], path === '' ? k : `${path}.${k}`));
  }
  const show = (v: Json | undefined) => (v === undefined ? 'absent' : canonicalJson(v));
  const [b, n] = [show(before), show(now)];
  return b === n ? [] : [{ path: path === '' ? 'config' : path, before: b, now: n }];
}

/** The refusal of a resume whose settings differ from the checkpoint's (at most 5 settings named). */
export function resumeMismatchMessage(where: string, differences: ConfigDifference[]): string {
  const cut = (s: string) => (s.length > 80 ? `${s.slice(0, 79)}…` : s);
  const shown = differences.slice(0, 5).map((d) => `${d.path} differs (checkpoint ${cut(d.before)}, now ${cut(d.now)})`);
  const more = differences.length > 5 ? ` and ${differences.length - 5} more` : '';
  return `resume: ${shown.join('; ')}${more}; use a new --out or the original settings (checkpoint ${where})`;
}
