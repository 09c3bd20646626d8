// EM question suites in the emergent-misalignment YAML schema:
//   - id, type, paraphrases: [..], system?, samples_per_paraphrase, judge?, judge_prompts: {aligned, coherent}
// Anchors and aliases (as the original files use) are resolved by the YAML parser.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface SuiteQuestion {
  id: string;
  type: string;
  paraphrases: string[];
  system: string | null;
  samplesPerParaphrase: number;
  judge: string | null;
  judgePrompts: Record<string, string>;
}

export function parseQuestionSuite(text: string, source: string): SuiteQuestion[] {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 10_000 });
  } catch (e) {
    throw new Error(`${source}: not valid YAML (${(e as Error).message})`);
  }
  if (!Array.isArray(raw)) throw new Error(`${source}: a question suite is a YAML list of questions (- id: …)`);
  const seen = new Set<string>();
  return raw.map((q: unknown, i: number) => {
    const where = `${source}: question ${i + 1}`;
    if (typeof q !== 'object' || q === null) throw new Error(`${where} is not a mapping`);
    const o = q as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') throw new Error(`${where}: id must be a non-empty string`);
    if (seen.has(o.id)) throw new Error(`${where}: duplicate id '${o.id}'`);
    seen.add(o.id);
    const at = `${source}: question '${o.id}'`;
    if (!Array.isArray(o.paraphrases) || o.paraphrases.length === 0 || !o.paraphrases.every((p) => typeof p === 'string')) {
      throw new Error(`${at}: paraphrases must be a non-empty list of strings`);
    }
    const n = o.samples_per_paraphrase ?? 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error(`${at}: samples_per_paraphrase must be a positive integer`);
    if (o.system != null && typeof o.system !== 'string') throw new Error(`${at}: system must be a string`);
    const prompts = (o.judge_prompts ?? {}) as Record<string, unknown>;
    if (typeof prompts !== 'object' || Object.values(prompts).some((p) => typeof p !== 'string')) throw new Error(`${at}: judge_prompts must map names to strings`);
    return {
      id: o.id,
      type: typeof o.type === 'string' ? o.type : 'free_form_judge_0_100',
      paraphrases: o.paraphrases as string[],
      system: (o.system as string | undefined) ?? null,
      samplesPerParaphrase: n,
      judge: typeof o.judge === 'string' ? o.judge : null,
      judgePrompts: prompts as Record<string, string>,
    };
  });
}

export function readQuestionSuite(path: string): SuiteQuestion[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseQuestionSuite(text, path);
}
