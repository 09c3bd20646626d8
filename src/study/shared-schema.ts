// Schema pieces every study kind's spec uses: integers and ranges that say what they expect,
// seeds, the model field, LoRA and fine-tune settings. zod objects here are strict: an unknown
// key is an error naming it.

import { z } from 'zod';

export const positiveInt = z.number().int('expected an integer').positive('expected a positive integer');
export const nonNegativeInt = z.number().int('expected an integer').nonnegative('expected an integer ≥ 0');
export const positiveNumber = z.number().positive('expected a number > 0');
export const probability = z.number().min(0, 'expected a number in [0, 1]').max(1, 'expected a number in [0, 1]');
export const temperature = z.number().min(0, 'expected a temperature ≥ 0').max(10, 'expected a temperature ≤ 10');
/** a seed: a uint32 */
export const seed = z.number().int('expected an integer seed').min(0, 'expected a seed ≥ 0').max(0xffffffff, 'expected a seed < 2^32');
export const seeds = z.array(seed).min(1, 'expected at least one seed').refine((s) => new Set(s).size === s.length, 'seeds must be distinct');

/** 'persona-world:<preset>' (the organism) or a Hugging Face model folder */
export const modelField = z.string().min(1, 'expected a model: persona-world:<preset> or a Hugging Face model folder');
/** the dtype a study computes in (f32 on a CPU; bf16 is what most GPU runs use) */
export const dtypeField = z.enum(['f32', 'bf16', 'f16']).default('f32');

export interface LoraDefaults {
  r: number;
  alpha: number;
  rslora: boolean;
  targets: 'all-linear' | string[];
  dropout: number;
}

/** LoRA settings; a partial mapping in a spec fills the rest from the kind's defaults. */
export function loraSchema(d: LoraDefaults) {
  return z.strictObject({
    r: positiveInt.default(d.r),
    alpha: positiveNumber.default(d.alpha),
    rslora: z.boolean().default(d.rslora),
    targets: z.union([z.literal('all-linear'), z.array(z.string().min(1)).min(1)]).default(d.targets),
    dropout: z.number().min(0).max(1, 'expected a dropout in [0, 1)').default(d.dropout),
  }).default(d);
}

/** SFT settings of a study's fine-tunes, with the kind's defaults. */
export function fineTuneSchema(d: { steps: number; batchSize: number; lr: number }) {
  return z.strictObject({
    steps: positiveInt.default(d.steps),
    batchSize: positiveInt.default(d.batchSize),
    lr: positiveNumber.max(1, 'expected a learning rate ≤ 1').default(d.lr),
  }).default(d);
}
