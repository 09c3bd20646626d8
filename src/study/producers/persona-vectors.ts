// The persona-vector producer: one vector set per (model + adapters, method), written in
// basin's vector-set format under v/. Method A reads the last prompt token; Method B the mean
// over response tokens of sampled answers (a parent sample task, role `responses`, holding
// responsesPerQuestion answers per persona × question, persona-major).

import { join } from 'node:path';
import { extractPersonaVectors, type PersonaSpec, type VectorMethod } from '../../persona/vectors.js';
import type { Sample } from './sample.js';
import { readValue } from './value.js';
import { registerProducer } from './registry.js';

export const VECTORS_SUBDIR = 'v';

export interface PersonaVectorSettings {
  method: VectorMethod;
  personas: PersonaSpec[];
  questions: string[];
  /** blocks.L.hook_resid_post = HF hidden_states[L+1] */
  layers: number[];
  /** Method B: answers per persona × question in the `responses` parent */
  responsesPerQuestion: number | null;
}

registerProducer<PersonaVectorSettings>({
  name: 'persona-vectors',
  version: 1,
  summary: 'persona vectors from the residual stream (Method A: last prompt token; B: mean over sampled response tokens)',
  async run(task, io) {
    const s = task.settings;
    const { model, tokenizer } = await io.model();
    let responses: Map<string, string[][]> | undefined;
    if (s.method === 'B') {
      const k = s.responsesPerQuestion ?? 0;
      const texts = readValue<Sample[]>(io.parent('responses')).map((x) => x.answer);
      const q = s.questions.length;
      if (texts.length !== s.personas.length * q * k) throw new Error(`task '${task.id}': ${texts.length} responses, expected ${s.personas.length} personas × ${q} questions × ${k}`);
      responses = new Map(s.personas.map((p, pi) => [p.id, s.questions.map((_, qi) => texts.slice((pi * q + qi) * k, (pi * q + qi + 1) * k))]));
    }
    await io.models.withAdapters(model, io.parents('adapters'), () => {
      extractPersonaVectors(model, tokenizer, s.personas, s.questions, join(io.dir, VECTORS_SUBDIR), { method: s.method, layers: s.layers, ...(responses ? { responses } : {}) }, { task: task.id });
    });
    io.progress(1);
  },
});
