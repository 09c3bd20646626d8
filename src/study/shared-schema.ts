// Schema pieces every study kind's spec uses: integers and ranges that say what they expect,
// upper bounds on every count (a typo such as `per_persona: 30000000` is an error naming the
// limit, not an exhausted heap or a run that never ends), lists whose entries must be distinct,
// seeds, the model field, LoRA and fine-tune settings. zod objects here are strict: an unknown
// key is an error naming it.

import { z } from 'zod';
import type { LoraSettings } from './producers/fine-tune.js';

export const positiveInt = z.number().int('expected an integer').positive('expected a positive integer');
export const nonNegativeInt = z.number().int('expected an integer').nonnegative('expected an integer ≥ 0');
const positiveNumber = z.number().positive('expected a number > 0');
export const temperature = z.number().min(0, 'expected a temperature ≥ 0').max(10, 'expected a temperature ≤ 10');

/** A positive integer at most `max`. */
export const positiveIntAtMost = (max: number) => positiveInt.max(max, `expected an integer ≤ ${max}`);

/** Upper bounds of the counts a spec sets. */
export const LIMITS = {
  /** answers or prompts sampled per persona, question or condition */
  samples: 100_000,
  /** questions drawn from the world */
  questions: 10_000,
  bootstrap: 1_000_000,
  permutations: 10_000_000,
  steps: 10_000_000,
  batchSize: 65_536,
  maxNewTokens: 32_768,
  loraRank: 4096,
} as const;

export const sampleCount = positiveIntAtMost(LIMITS.samples);
export const questionCount = positiveIntAtMost(LIMITS.questions);
export const maxNewTokens = positiveIntAtMost(LIMITS.maxNewTokens);

/** The values that occur more than once in `xs`, each once, in order of first repeat. */
function repeated<T>(xs: readonly T[]): T[] {
  const seen = new Set<T>();
  const twice = new Set<T>();
  for (const x of xs) (seen.has(x) ? twice : seen).add(x);
  return [...twice];
}

/** A list whose entries (or `by` of each, named `what`) must be distinct; the error names the repeats. */
export function distinct<T extends z.ZodType>(list: z.ZodArray<T>, by: (x: z.output<T>) => unknown = (x) => x, what = 'entries') {
  return list.superRefine((xs, ctx) => {
    const twice = repeated(xs.map(by));
    if (twice.length > 0) ctx.addIssue({ code: 'custom', message: `${what} must be distinct; ${twice.map((x) => JSON.stringify(x)).join(', ')} ${twice.length === 1 ? 'appears' : 'appear'} more than once` });
  });
}

/** a seed: a uint32 */
export const seed = z.number().int('expected an integer seed').min(0, 'expected a seed ≥ 0').max(0xffffffff, 'expected a seed < 2^32');
export const seeds = distinct(z.array(seed).min(1, 'expected at least one seed'));

/** 'persona-world:<preset>' (the organism) or a Hugging Face model folder */
export const modelField = z.string().min(1, 'expected a model: persona-world:<preset> or a Hugging Face model folder');
/** the dtype a study computes in (f32 on a CPU; bf16 is what most GPU runs use) */
export const dtypeField = z.enum(['f32', 'bf16', 'f16']).default('f32');

/** LoRA settings; a partial mapping in a spec fills the rest from the kind's defaults. */
export function loraSchema(d: LoraSettings) {
  return z.strictObject({
    r: positiveIntAtMost(LIMITS.loraRank).default(d.r),
    alpha: positiveNumber.default(d.alpha),
    rslora: z.boolean().default(d.rslora),
    targets: z.union([z.literal('all-linear'), distinct(z.array(z.string().min(1, 'expected a module name')).min(1, 'expected at least one target module'))]).default(d.targets),
    dropout: z.number().min(0, 'expected a dropout in [0, 1)').lt(1, 'expected a dropout in [0, 1)').default(d.dropout),
  }).default(d);
}

/** SFT settings of a study's fine-tunes, with the kind's defaults. */
export function fineTuneSchema(d: { steps: number; batchSize: number; lr: number }) {
  return z.strictObject({
    steps: positiveIntAtMost(LIMITS.steps).default(d.steps),
    batchSize: positiveIntAtMost(LIMITS.batchSize).default(d.batchSize),
    lr: positiveNumber.max(1, 'expected a learning rate ≤ 1').default(d.lr),
  }).default(d);
}

/**
 * A judge by registered name and its options (checked when the study is planned: an unknown
 * option, or an LLM judge with no server configured, fails the plan, not a task).
 */
export const judgeField = z.strictObject({
  name: z.string().min(1, "expected a judge name (see 'basin study kinds')"),
  options: z.record(z.string(), z.unknown()).default({}),
});
export type JudgeField = z.infer<typeof judgeField>;
