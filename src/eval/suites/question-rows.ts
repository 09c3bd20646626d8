// Questions from flat rows, shared by questions-csv and questions-jsonl. A row has `question`
// (the user message) and optionally `id`, `system` and `samples` (answers per paraphrase, default
// 1). Rows with the same id are paraphrases of one question, in row order, and must agree on
// its system prompt and samples; a row without an id is a question of its own, 'q<row>', and a
// file that also gives some row that id is refused (naming both rows) rather than merging the
// two. An empty or blank system prompt is none, in both formats.

import { SUITE_LIMITS, checkQuestions, itemName, type SuiteQuestion } from './suite.js';

/** The columns (CSV) or fields (JSONL) a question row may have. */
export const ROW_FIELDS = ['question', 'id', 'system', 'samples'] as const;

/** A row's values, checked by its format. */
export interface QuestionRow {
  question: string;
  id?: string;
  system?: string | null;
  samples?: number;
}

/** The question type of flat files: they carry no judge prompts. */
export const FREE_FORM = 'free_form';

/**
 * Questions from checked rows; `noun` names a row as its format counts them ('row' of a CSV,
 * 'line' of a JSONL file) and `positions` gives each row's 0-based number in that count.
 */
export function questionsFromRows(source: string, rows: readonly QuestionRow[], noun: string, positions: readonly number[]): SuiteQuestion[] {
  const byId = new Map<string, { question: SuiteQuestion; first: number }>();
  const explicit = new Map<string, number>();
  rows.forEach((row, i) => {
    if (row.id !== undefined && !explicit.has(row.id)) explicit.set(row.id, positions[i] as number);
  });
  rows.forEach((row, i) => {
    const at = positions[i] as number;
    const id = row.id ?? `q${at + 1}`;
    const named = explicit.get(id);
    if (row.id === undefined && named !== undefined) {
      throw new Error(`${source}: ${noun} ${at + 1}: has no id, so it is named '${id}', the id ${noun} ${named + 1} gives; give ${noun} ${at + 1} an id (or ${noun} ${named + 1} another), so the two are not merged into one question`);
    }
    const system = row.system === undefined || row.system === null || row.system.trim() === '' ? null : row.system;
    const samples = row.samples ?? 1;
    const seen = byId.get(id);
    if (seen === undefined) {
      byId.set(id, { first: at, question: { id, type: FREE_FORM, paraphrases: [row.question], system, samplesPerParaphrase: samples, judgePrompts: {} } });
      return;
    }
    const where = `${source}: ${itemName(noun, at, id)}`;
    const rule = `rows with one id are paraphrases of one question and share its`;
    if (seen.question.system !== system) throw new Error(`${where}: system: differs from ${noun} ${seen.first + 1}, the first with this id (${rule} system prompt); give the rows different ids or the same system`);
    if (seen.question.samplesPerParaphrase !== samples) throw new Error(`${where}: samples: ${samples} differs from ${seen.question.samplesPerParaphrase} in ${noun} ${seen.first + 1}, the first with this id (${rule} samples)`);
    if (seen.question.paraphrases.length >= SUITE_LIMITS.paraphrasesPerQuestion) throw new Error(`${where}: more than ${SUITE_LIMITS.paraphrasesPerQuestion} paraphrases of one id`);
    seen.question.paraphrases.push(row.question);
  });
  const questions = [...byId.values()].map((q) => q.question);
  checkQuestions(source, questions, noun);
  return questions;
}
