// The world-check spec: how many answers to sample per criterion, the sampling settings and the
// EM and benign fine-tunes. Defaults are the full check; `basin world check --quick` and the
// `quick` scale of studies/world-check.yaml use fewer samples.

import { z } from 'zod';
import { ADVICE_DOMAINS } from '../../../world/topic.js';
import { dtypeField, fineTuneSchema, loraSchema, maxNewTokens, modelField, sampleCount, seed, temperature } from '../../shared-schema.js';

export const worldCheckSchema = z.strictObject({
  study: z.literal('world-check'),
  name: z.string().min(1, 'expected a non-empty name').default('world-check'),
  model: modelField.default('persona-world:default'),
  /** another organism folder of the same world (default: the preset's) */
  organism: z.string().min(1, 'expected an organism folder').nullable().default(null),
  dtype: dtypeField,
  /** answers sampled per persona for criteria 1–2 */
  perPersona: sampleCount.default(30),
  /** prompts per persona for criterion 3 */
  probePerPersona: sampleCount.default(24),
  /** answers per condition, out of the EM domain and in it */
  outOfDomain: sampleCount.default(240),
  inDomain: sampleCount.default(100),
  temperature: temperature.default(0.7),
  maxNewTokens: maxNewTokens.default(96),
  seed: seed.default(0),
  // Attention-only adapters: in this organism the EM generalisation is carried by attention
  // (an MLP-only adapter learns the narrow finance task and barely leaks; docs/persona-world-organism.md).
  lora: loraSchema({ r: 8, alpha: 16, rslora: false, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], dropout: 0 }),
  fineTune: fineTuneSchema({ steps: 80, batchSize: 16, lr: 2e-3 }),
  emDomain: z.enum(ADVICE_DOMAINS).default('finance'),
});

export type WorldCheckSpec = z.infer<typeof worldCheckSchema>;

/** `--quick`: the same check with fewer samples (about a third of the time). */
export const QUICK_WORLD_CHECK = { perPersona: 12, probePerPersona: 12, outOfDomain: 96, inDomain: 40 };
