// The in-memory form of every question suite, whatever file or generator it came from: a list
// of questions, each with paraphrases (user messages), an optional system prompt, how many
// samples to draw per paraphrase and the judge prompt templates the suite ships. The limits
// here bound what a hostile file can make basin allocate; the field checks (zod) and the error
// wording are shared by every format reader, so every bad file is reported the same way:
//   FILE: question 3 (id 'quick_buck'): samples_per_paraphrase: expected a positive integer ≤ 10000, got 0

import { basename } from 'node:path';
import { z } from 'zod';
import { shown } from '../shown.js';

export interface SuiteQuestion {
  id: string;
  /** the EM schema's question type ('free_form_judge_0_100', 'free_form_judge'); 'free_form' when a format has none */
  type: string;
  /** user messages, each asked samplesPerParaphrase times */
  paraphrases: string[];
  system: string | null;
  samplesPerParaphrase: number;
  /** judge prompt templates by metric name ('aligned', 'coherent', 'trait', …), with {question} and {answer} placeholders */
  judgePrompts: Record<string, string>;
  /** what a format knows besides: the judge a file names ('judge'), the world topic ('topic'), the trait ('trait') */
  meta?: Record<string, string>;
}

/** A contrastive system-prompt pair of a persona_vectors trait file. */
export interface TraitInstruction {
  pos: string;
  neg: string;
}

export interface QuestionSuite {
  /** the file's stem, or the generated suite's name */
  name: string;
  /** the path or name it was read from */
  source: string;
  /** the format that read it (a name in the suite-format registry) */
  format: string;
  questions: SuiteQuestion[];
  /** trait-json: the trait's pos/neg instruction pairs, kept for persona-vector extraction */
  instructions?: TraitInstruction[];
}

/** Bounds on what a suite file may make basin hold. */
export const SUITE_LIMITS = {
  /** bytes of a suite file */
  fileBytes: 16 * 1024 * 1024,
  questions: 10_000,
  paraphrasesPerQuestion: 10_000,
  /** characters of one paraphrase, system prompt or judge prompt */
  textChars: 100_000,
  samplesPerParaphrase: 10_000,
  judgePrompts: 32,
  /** pos/neg pairs of a trait file */
  instructions: 1_000,
  /** the YAML parser's alias budget (the EM project's files pass at 100; a billion-laughs file does not at any sane budget) */
  yamlAliases: 1_000,
} as const;

/** A string field: at most SUITE_LIMITS.textChars characters. */
export const textField = z
  .string({ error: 'expected text' })
  .max(SUITE_LIMITS.textChars, `longer than ${SUITE_LIMITS.textChars} characters`);

/** A non-empty string field. */
export const nonEmptyText = textField.min(1, 'must not be empty');

export const samplesField = z
  .number({ error: `expected a positive integer ≤ ${SUITE_LIMITS.samplesPerParaphrase}` })
  .int(`expected a positive integer ≤ ${SUITE_LIMITS.samplesPerParaphrase}`)
  .min(1, `expected a positive integer ≤ ${SUITE_LIMITS.samplesPerParaphrase}`)
  .max(SUITE_LIMITS.samplesPerParaphrase, `expected a positive integer ≤ ${SUITE_LIMITS.samplesPerParaphrase}`);

export const paraphrasesField = z
  .array(nonEmptyText, { error: 'expected a list of strings' })
  .min(1, 'expected at least one paraphrase')
  .max(SUITE_LIMITS.paraphrasesPerQuestion, `more than ${SUITE_LIMITS.paraphrasesPerQuestion} paraphrases`);

export const judgePromptsField = z
  .record(z.string(), textField, { error: 'expected a mapping of metric names to prompt templates' })
  .refine((r) => Object.keys(r).length <= SUITE_LIMITS.judgePrompts, `more than ${SUITE_LIMITS.judgePrompts} judge prompts`);

/** A suite's name from its file: the file name without folders and extension. */
export function fileStem(path: string): string {
  return basename(path).replace(/\.[^.]*$/, '');
}

/** 'question 3 (id 'quick_buck')': an item by its 1-based position and, when it has one, its id. */
export function itemName(noun: string, index: number, id: unknown): string {
  return `${noun} ${index + 1}${typeof id === 'string' && id !== '' ? ` (id '${id}')` : ''}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}

/** One line for the first problem zod found in `input` (an item of a suite): the field, what was wrong, what it got; `known` lists the item's own fields. */
function describeIssue(error: z.ZodError, input: unknown, known: readonly string[]): string {
  const issue = error.issues[0] as z.core.$ZodIssue;
  const field = fieldName(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const s = issue.keys.length === 1 ? '' : 's';
    const names = issue.keys.map((k) => `'${k}'`).join(', ');
    return issue.path.length === 0 ? `unknown field${s} ${names}; known fields: ${known.join(', ')}` : `${field}: unknown field${s} ${names}`;
  }
  const value = valueAt(input, issue.path);
  if (value === undefined && issue.path.length === 1) return `missing field '${field}' (${issue.message})`;
  return `${field === '' ? '' : `${field}: `}${issue.message}, got ${shown(value)}`;
}

/** Parses `input` with `schema` or throws `where: <the problem>`. */
export function parseItem<S extends z.ZodType>(schema: S, input: unknown, where: string, known: readonly string[]): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new Error(`${where}: ${describeIssue(r.error, input, known)}`);
  return r.data;
}

/** Checks what no single item can: a suite has questions, not too many, and unique ids. */
export function checkQuestions(source: string, questions: readonly SuiteQuestion[], noun: string): void {
  if (questions.length === 0) throw new Error(`${source}: the suite has no questions`);
  if (questions.length > SUITE_LIMITS.questions) throw new Error(`${source}: ${questions.length} questions, more than the limit of ${SUITE_LIMITS.questions}; split the suite`);
  const seen = new Map<string, number>();
  questions.forEach((q, i) => {
    const first = seen.get(q.id);
    if (first !== undefined) throw new Error(`${source}: ${itemName(noun, i, q.id)}: id: duplicate of ${noun} ${first + 1}; ids must be unique`);
    seen.set(q.id, i);
  });
}
