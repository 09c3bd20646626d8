// Schedules over optimizer steps. A step k counts from 0 (the k-th optimizer step runs with the
// values at k); totalSteps is the run's length.
//  - learning rate: linear warm-up, then constant, linear or cosine decay, as transformers'
//    get_*_schedule_with_warmup; the step runs at lr · lrFactor(k).
//  - loss-term weights: a constant, a linear warm-up from 0 to a value, or any function of the
//    step. A weight is resolved into a description for the run's config; a function is
//    described by its label and a hash of its value at every step of the run, so two runs with
//    the same description weight their terms identically.

import { createHash } from 'node:crypto';

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export function lrFactor(kind: ScheduleKind, step: number, totalSteps: number, warmupSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (kind === 'constant') return 1;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (kind === 'linear') return Math.max(0, 1 - progress);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** A loss term's weight over the run. */
export type WeightSchedule =
  | number
  | { kind: 'constant'; value: number }
  /** value · k / warmupSteps for k < warmupSteps, then value (0 at the first step, as the lr warm-up) */
  | { kind: 'warmup'; value: number; warmupSteps: number }
  /** any function of the step; label names it in run.json and error messages */
  | { kind: 'function'; label: string; at: (step: number, totalSteps: number) => number };

/** The weight at optimizer step k (from 0); throws when it is not a finite number. */
export function weightAt(w: WeightSchedule, step: number, totalSteps: number): number {
  let value: number;
  if (typeof w === 'number') value = w;
  else if (w.kind === 'constant') value = w.value;
  else if (w.kind === 'warmup') value = step < w.warmupSteps ? (w.value * step) / Math.max(1, w.warmupSteps) : w.value;
  else value = w.at(step, totalSteps);
  if (!Number.isFinite(value)) throw new Error(`weight schedule ${describeWeightName(w)}: the weight at step ${step} is ${value}; a weight must be a finite number`);
  return value;
}

/** What a weight schedule is, as plain JSON (hashed for resume and written to run.json). */
export function describeWeight(w: WeightSchedule, totalSteps: number): Record<string, unknown> {
  if (typeof w === 'number') return { kind: 'constant', value: w };
  if (w.kind !== 'function') return { ...w };
  const values = Float64Array.from({ length: totalSteps }, (_, k) => weightAt(w, k, totalSteps));
  return { kind: 'function', label: w.label, valuesSha256: createHash('sha256').update(new Uint8Array(values.buffer)).digest('hex').slice(0, 16) };
}

function describeWeightName(w: WeightSchedule): string {
  return typeof w === 'number' ? String(w) : w.kind === 'function' ? `'${w.label}'` : w.kind;
}
