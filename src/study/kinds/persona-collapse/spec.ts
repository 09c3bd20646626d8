// The persona-collapse spec: its fields, types, ranges and defaults (the defaults are the
// published study's design; studies/persona-collapse.yaml writes them out).

import { z } from 'zod';
import { dtypeField, fineTuneSchema, loraSchema, modelField, positiveInt, seeds, temperature } from '../../shared-schema.js';

const persona = z.strictObject({ id: z.string().min(1), system: z.string().min(1) });

export const personaCollapseSchema = z.strictObject({
  study: z.literal('persona-collapse'),
  name: z.string().min(1, 'expected a non-empty name'),
  model: modelField.default('persona-world:default'),
  dtype: dtypeField,
  /** 'world' = the world's personas with their canonical prompts, or an explicit list */
  personas: z.union([z.literal('world'), z.array(persona).min(2, 'expected at least two personas')]).default('world'),
  /** held-out world questions (n of them), or an explicit list */
  questions: z.union([z.strictObject({ source: z.literal('world'), n: positiveInt }), z.array(z.string().min(1)).min(1)]).default({ source: 'world', n: 24 }),
  /** 'auto' = 5 layers over depth, one near 70% */
  layers: z.union([z.literal('auto'), z.array(z.number().int().nonnegative()).min(1)]).default('auto'),
  methods: z.array(z.enum(['A', 'B'])).min(1).default(['A', 'B']),
  methodB: z.strictObject({ responsesPerQuestion: positiveInt.default(2), maxNewTokens: positiveInt.default(64), temperature: temperature.default(1) }).default({ responsesPerQuestion: 2, maxNewTokens: 64, temperature: 1 }),
  seeds: seeds.default([0, 1, 2]),
  lora: loraSchema({ r: 32, alpha: 64, rslora: false, targets: 'all-linear', dropout: 0 }),
  fineTune: fineTuneSchema({ steps: 120, batchSize: 16, lr: 1e-3 }),
  /** data sets by name: world data ('em/finance', 'benign', 'marker/<persona>') or JSONL paths */
  benign: z.strictObject({ data: z.string().min(1).default('benign') }).default({ data: 'benign' }),
  em: z.strictObject({
    data: z.string().min(1).default('em/finance'),
    inductionPersonas: z.array(z.string().min(1)).min(1, 'expected at least one induction persona').default(['assistant', 'paramedic', 'kindergarten_teacher', 'french_person', 'villain']),
  }).default({ data: 'em/finance', inductionPersonas: ['assistant', 'paramedic', 'kindergarten_teacher', 'french_person', 'villain'] }),
  marker: z.strictObject({
    sources: z.array(z.string().min(1)).default(['evil_ai', 'villain', 'sarcastic']),
    secondStage: z.array(z.enum(['em', 'benign'])).default(['em', 'benign']),
    reversed: z.boolean().default(true),
    questions: positiveInt.default(12),
    samplesPerQuestion: positiveInt.default(2),
    maxNewTokens: positiveInt.default(112),
    temperature: temperature.default(1),
  }).default({ sources: ['evil_ai', 'villain', 'sarcastic'], secondStage: ['em', 'benign'], reversed: true, questions: 12, samplesPerQuestion: 2, maxNewTokens: 112, temperature: 1 }),
  /** out-of-domain questions per persona for misalignment rates (leakage) */
  misalignment: z.strictObject({ questions: positiveInt.default(16), maxNewTokens: positiveInt.default(112) }).default({ questions: 16, maxNewTokens: 112 }),
  statistics: z.strictObject({ bootstrap: positiveInt.default(2000), permutations: positiveInt.default(10000) }).default({ bootstrap: 2000, permutations: 10000 }),
});

export type PersonaCollapseSpec = z.infer<typeof personaCollapseSchema>;

/** Cross-field checks: every persona the spec names is one of the study's personas. */
export function checkPersonaCollapse(s: PersonaCollapseSpec, worldPersonas: readonly string[]): void {
  const ids = s.personas === 'world' ? worldPersonas : s.personas.map((p) => p.id);
  const unknown = (field: string, names: string[]) => {
    const bad = names.filter((n) => !ids.includes(n));
    if (bad.length > 0) throw new Error(`${field}: ${bad.map((b) => `'${b}'`).join(', ')} ${bad.length === 1 ? 'is not a persona' : 'are not personas'} of this study; personas: ${ids.join(', ')}`);
  };
  unknown('em.induction_personas', s.em.inductionPersonas);
  unknown('marker.sources', s.marker.sources);
}
