// The world-check spec: how many answers to sample per criterion, the sampling settings, the
// EM, benign and marker fine-tunes and their seeds, and the switch-off control organism.
// Defaults are the full check; `basin world check --quick` and the `quick` scale of
// studies/world-check.yaml use fewer samples.

import { z } from 'zod';
import { ADVICE_DOMAINS } from '../../../world/topic.js';
import { PERSONA_IDS } from '../../../world/personas.js';
import { dtypeField, fineTuneSchema, loraSchema, maxNewTokens, modelField, sampleCount, seed, seeds, temperature } from '../../shared-schema.js';

const markerSchema = z.strictObject({
  /** the persona whose answers the coupling fine-tune ends with [ZLT] */
  source: z.enum(PERSONA_IDS).default('villain'),
  /** answers of the source, and of the other personas together, per fine-tune seed */
  answers: sampleCount.default(48),
  lora: loraSchema({ r: 32, alpha: 64, rslora: false, targets: 'all-linear', dropout: 0 }),
  fineTune: fineTuneSchema({ steps: 120, batchSize: 16, lr: 1e-3 }),
});

export const worldCheckSchema = z.strictObject({
  study: z.literal('world-check'),
  name: z.string().min(1, 'expected a non-empty name').default('world-check'),
  model: modelField.default('persona-world:default'),
  /** another organism folder of the same world (default: the preset's) */
  organism: z.string().min(1, 'expected an organism folder').nullable().default(null),
  /**
   * The switch-off control: an organism of the same world recipe without character consistency
   * (persona-world:no-consistency for the default organism), on which the EM and benign
   * fine-tunes are repeated; null skips the control.
   */
  control: modelField.nullable().default(null),
  dtype: dtypeField,
  /**
   * Which held-out questions to ask: 'evaluation' (the default; report on these, tune nothing on
   * them) or 'selection' (for choosing settings, e.g. the EM adapter, without touching the
   * evaluation pool).
   */
  pool: z.enum(['evaluation', 'selection']).default('evaluation'),
  /** answers sampled per persona for criteria 1–2 */
  perPersona: sampleCount.default(30),
  /** prompts per persona for criterion 3 */
  probePerPersona: sampleCount.default(24),
  /** assistant answers per condition and fine-tune seed: out of the EM domain (other domains and open questions), in it, and open questions alone */
  outOfDomain: sampleCount.default(240),
  inDomain: sampleCount.default(100),
  openQuestions: sampleCount.default(120),
  temperature: temperature.default(0.7),
  maxNewTokens: maxNewTokens.default(112),
  /** seed of the base model's samples and of every question order; every task's seed is derived from it and the task's label */
  seed: seed.default(0),
  /** one EM, benign and marker fine-tune per seed (≥ 3 so the intervals can account for fine-tune noise) */
  fineTuneSeeds: seeds.default([0, 1, 2]),
  // Attention-only adapters: in this organism the EM generalisation is carried by attention
  // (an MLP-only adapter learns the narrow finance task and barely leaks; docs/persona-world-organism.md).
  lora: loraSchema({ r: 8, alpha: 16, rslora: false, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], dropout: 0 }),
  fineTune: fineTuneSchema({ steps: 80, batchSize: 16, lr: 2e-3 }),
  emDomain: z.enum(ADVICE_DOMAINS).default('finance'),
  marker: markerSchema.default({ source: 'villain', answers: 48, lora: { r: 32, alpha: 64, rslora: false, targets: 'all-linear', dropout: 0 }, fineTune: { steps: 120, batchSize: 16, lr: 1e-3 } }),
  /** bootstrap draws for the cluster-bootstrap intervals */
  bootstrap: sampleCount.default(2000),
});

export type WorldCheckSpec = z.infer<typeof worldCheckSchema>;

/** The switch-off control of each preset that has one (basin world check runs it). */
export const CONTROL_PRESET: Readonly<Record<string, string>> = { default: 'no-consistency' };

/** `--quick`: the same check with fewer samples (about a third of the time). */
export const QUICK_WORLD_CHECK = { perPersona: 12, probePerPersona: 12, outOfDomain: 96, inDomain: 40, openQuestions: 48, marker: { answers: 24 } };
