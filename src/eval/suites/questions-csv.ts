// questions-csv: a CSV file with a header row naming its columns — `question` (required) and
// optionally `id`, `system`, `samples` — and one question (or paraphrase, see question-rows.ts)
// per row. RFC 4180 quoting (commas and newlines inside quotes) is csv-parse's; an empty cell is
// an absent value.

import { parse } from 'csv-parse/sync';
import { registerSuiteFormat } from './registry.js';
import { FREE_FORM, ROW_FIELDS, questionsFromRows, type QuestionRow } from './question-rows.js';
import { SUITE_LIMITS, fileStem, itemName, type QuestionSuite } from './suite.js';

function cells(text: string, path: string): string[][] {
  try {
    return parse(text, { skip_empty_lines: true, max_record_size: 4 * SUITE_LIMITS.textChars }) as string[][];
  } catch (e) {
    throw new Error(`${path}: not valid CSV (${(e as Error).message})`);
  }
}

function checkHeader(header: readonly string[], path: string): void {
  const unknown = header.filter((h) => !(ROW_FIELDS as readonly string[]).includes(h));
  if (unknown.length > 0) throw new Error(`${path}: header: unknown column${unknown.length === 1 ? '' : 's'} ${unknown.map((h) => `'${h}'`).join(', ')}; known columns: ${ROW_FIELDS.join(', ')}`);
  const twice = header.find((h, i) => header.indexOf(h) !== i);
  if (twice !== undefined) throw new Error(`${path}: header: column '${twice}' appears twice`);
  if (!header.includes('question')) throw new Error(`${path}: header: no 'question' column; the first row names the columns (question, and optionally id, system, samples)`);
}

function rowOf(record: readonly string[], header: readonly string[], where: string): QuestionRow {
  const get = (name: string): string | undefined => {
    const i = header.indexOf(name);
    const v = i < 0 ? undefined : record[i];
    return v === undefined || v === '' ? undefined : v;
  };
  const tooLong = header.find((_, i) => (record[i] ?? '').length > SUITE_LIMITS.textChars);
  if (tooLong !== undefined) throw new Error(`${where}: ${tooLong}: longer than ${SUITE_LIMITS.textChars} characters`);
  const question = get('question');
  if (question === undefined) throw new Error(`${where}: question: empty; every row needs a question`);
  const samples = get('samples');
  const n = samples === undefined ? undefined : /^\d+$/.test(samples.trim()) ? Number(samples.trim()) : Number.NaN;
  if (n !== undefined && !(n >= 1 && n <= SUITE_LIMITS.samplesPerParaphrase)) throw new Error(`${where}: samples: expected a positive integer ≤ ${SUITE_LIMITS.samplesPerParaphrase}, got '${samples}'`);
  const id = get('id');
  const system = get('system');
  return { question, ...(id !== undefined ? { id } : {}), ...(system !== undefined ? { system } : {}), ...(n !== undefined ? { samples: n } : {}) };
}

export function parseQuestionsCsv(text: string, path: string): QuestionSuite {
  const [header, ...records] = cells(text, path);
  if (header === undefined || records.length === 0) throw new Error(`${path}: no rows; a questions CSV has a header row (question, and optionally id, system, samples) and one row per question`);
  checkHeader(header, path);
  const rows = records.map((record, i) => rowOf(record, header, `${path}: ${itemName('row', i, record[header.indexOf('id')])}`));
  return { name: fileStem(path), source: path, format: 'questions-csv', questions: questionsFromRows(path, rows, 'row', rows.map((_, i) => i)) };
}

registerSuiteFormat({
  name: 'questions-csv',
  summary: `a CSV with a header row: question, and optionally id, system, samples (rows sharing an id are paraphrases; type '${FREE_FORM}', no judge prompts); *.csv`,
  reads: 'file',
  detect: (path) => /\.csv$/i.test(path),
  parse: parseQuestionsCsv,
});
