// trait-json: a persona_vectors trait file (data_generation/trait_data_{extract,eval}/<trait>.json):
//   {"instruction": [{"pos": "...", "neg": "..."}, …], "questions": ["...", …], "eval_prompt": "...{question}...{answer}..."}
// Each question becomes a suite question '<trait>_<n>' asked with no system prompt, judged by
// the eval prompt as its 'trait' judge prompt (0–100: how strongly the answer shows the trait);
// the pos/neg instruction pairs stay on the suite for persona-vector extraction. The trait is
// the file's stem. persona_vectors samples 10 answers per question (n_per_question).

import { z } from 'zod';
import { registerSuiteFormat } from './registry.js';
import { SUITE_LIMITS, fileStem, nonEmptyText, parseItem, type QuestionSuite } from './suite.js';

/** Answers per question when a trait file is evaluated, as persona_vectors' eval_persona draws. */
export const TRAIT_SAMPLES_PER_QUESTION = 10;
/** The judge-prompt name a trait file's eval_prompt is given. */
export const TRAIT_METRIC = 'trait';

const schema = z.strictObject({
  instruction: z
    .array(z.strictObject({ pos: nonEmptyText, neg: nonEmptyText }), { error: 'expected a list of {pos, neg} pairs' })
    .max(SUITE_LIMITS.instructions, `more than ${SUITE_LIMITS.instructions} pairs`),
  questions: z
    .array(nonEmptyText, { error: 'expected a list of strings' })
    .min(1, 'expected at least one question')
    .max(SUITE_LIMITS.questions, `more than ${SUITE_LIMITS.questions} questions; split the file`),
  eval_prompt: nonEmptyText.refine((p) => p.includes('{answer}'), 'the eval prompt has no {answer} placeholder'),
});
const KNOWN = Object.keys(schema.shape);

export function parseTraitJson(text: string, path: string): QuestionSuite {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${path}: a trait file is a JSON object {"instruction", "questions", "eval_prompt"}`);
  const t = parseItem(schema, raw, path, KNOWN);
  const trait = fileStem(path);
  const questions = t.questions.map((q, i) => ({
    id: `${trait}_${i + 1}`,
    type: 'free_form_judge_0_100',
    paraphrases: [q],
    system: null,
    samplesPerParaphrase: TRAIT_SAMPLES_PER_QUESTION,
    judgePrompts: { [TRAIT_METRIC]: t.eval_prompt },
    meta: { trait },
  }));
  return { name: trait, source: path, format: 'trait-json', questions, instructions: t.instruction.map((p) => ({ pos: p.pos, neg: p.neg })) };
}

registerSuiteFormat({
  name: 'trait-json',
  summary: 'a persona_vectors trait file {instruction: [{pos, neg}], questions, eval_prompt}; *.json',
  reads: 'file',
  detect: (path) => /\.json$/i.test(path),
  parse: parseTraitJson,
});
