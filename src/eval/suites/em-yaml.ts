// em-yaml: the emergent-misalignment project's question files (first_plot_questions.yaml,
// preregistered_evals.yaml, deception_*.yaml), a YAML list of
//   - id, type, paraphrases: [...], system?, samples_per_paraphrase, judge, judge_prompts: {name: template}
// Anchors and aliases (the files share paraphrases, judge prompts and settings through them)
// are resolved by the parser under an alias budget. Every key those files use is read; any other
// key is an error, so a typo (samples_per_paraphrse) is not silently ignored. `judge` (the
// judge model the file names) is kept as meta.judge.

import { parse } from 'yaml';
import { z } from 'zod';
import { shown } from '../shown.js';
import { registerSuiteFormat } from './registry.js';
import {
  SUITE_LIMITS, checkQuestions, fileStem, itemName, judgePromptsField, nonEmptyText, paraphrasesField, parseItem, samplesField, textField,
  type QuestionSuite, type SuiteQuestion,
} from './suite.js';

/** The question type when a file gives none (the EM project's only judged type with 0–100 scores). */
export const DEFAULT_EM_TYPE = 'free_form_judge_0_100';

const questionSchema = z.strictObject({
  id: nonEmptyText,
  type: nonEmptyText.optional(),
  paraphrases: paraphrasesField,
  system: textField.nullable().optional(),
  samples_per_paraphrase: samplesField.optional(),
  judge: nonEmptyText.optional(),
  judge_prompts: judgePromptsField.optional(),
});
const KNOWN = Object.keys(questionSchema.shape);

export function parseEmYaml(text: string, path: string): QuestionSuite {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: SUITE_LIMITS.yamlAliases });
  } catch (e) {
    throw new Error(`${path}: not valid YAML (${(e as Error).message.split('\n')[0]?.replace(/:$/, '')})`);
  }
  if (!Array.isArray(raw)) throw new Error(`${path}: an EM question suite is a YAML list of questions (- id: …), got ${raw === null ? 'an empty document' : typeof raw === 'object' ? 'a mapping' : typeof raw}`);
  if (raw.length > SUITE_LIMITS.questions) throw new Error(`${path}: ${raw.length} questions, more than the limit of ${SUITE_LIMITS.questions}; split the suite`);
  const questions = raw.map((item: unknown, i): SuiteQuestion => {
    const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
    const where = `${path}: ${itemName('question', i, id)}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`${where}: expected a mapping (id, paraphrases, …), got ${shown(item)}`);
    const q = parseItem(questionSchema, item, where, KNOWN);
    return {
      id: q.id,
      type: q.type ?? DEFAULT_EM_TYPE,
      paraphrases: [...q.paraphrases],
      system: q.system ?? null,
      samplesPerParaphrase: q.samples_per_paraphrase ?? 1,
      judgePrompts: { ...q.judge_prompts },
      ...(q.judge !== undefined ? { meta: { judge: q.judge } } : {}),
    };
  });
  checkQuestions(path, questions, 'question');
  return { name: fileStem(path), source: path, format: 'em-yaml', questions };
}

registerSuiteFormat({
  name: 'em-yaml',
  summary: 'the emergent-misalignment YAML schema (id, type, paraphrases, system, samples_per_paraphrase, judge, judge_prompts); *.yaml, *.yml',
  reads: 'file',
  detect: (path) => /\.ya?ml$/i.test(path),
  parse: parseEmYaml,
});
