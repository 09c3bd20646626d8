// questions-jsonl: one JSON object per line, {"question": "...", "id"?: "...", "system"?: "..." | null,
// "samples"?: N}; blank lines are skipped. Rows sharing an id are paraphrases, and a system of
// null or "" is none, as an empty CSV cell is (question-rows.ts).

import { z } from 'zod';
import { registerSuiteFormat } from './registry.js';
import { FREE_FORM, questionsFromRows, type QuestionRow } from './question-rows.js';
import { fileStem, itemName, nonEmptyText, parseItem, samplesField, textField, type QuestionSuite } from './suite.js';

const rowSchema = z.strictObject({
  question: nonEmptyText,
  id: nonEmptyText.optional(),
  system: textField.nullable().optional(),
  samples: samplesField.optional(),
});
const KNOWN = Object.keys(rowSchema.shape);

export function parseQuestionsJsonl(text: string, path: string): QuestionSuite {
  const rows: QuestionRow[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}: line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
    const where = `${path}: ${itemName('line', i, id)}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where}: expected an object {"question": …}, got ${line.slice(0, 60)}`);
    const r = parseItem(rowSchema, raw, where, KNOWN);
    rows.push({ question: r.question, ...(r.id !== undefined ? { id: r.id } : {}), ...(r.system !== undefined ? { system: r.system } : {}), ...(r.samples !== undefined ? { samples: r.samples } : {}) });
    lines.push(i);
  });
  if (rows.length === 0) throw new Error(`${path}: no rows; a questions JSONL file has one {"question": …} object per line`);
  return { name: fileStem(path), source: path, format: 'questions-jsonl', questions: questionsFromRows(path, rows, 'line', lines) };
}

registerSuiteFormat({
  name: 'questions-jsonl',
  summary: `one JSON object per line: question, and optionally id, system, samples (lines sharing an id are paraphrases; type '${FREE_FORM}'); *.jsonl`,
  reads: 'file',
  detect: (path) => /\.jsonl$/i.test(path),
  parse: parseQuestionsJsonl,
});
