// Judges: what turns (question, answer) pairs into verdicts. One async, batched interface and a
// registry of judge kinds, each created from its options and a context (the OpenAI-compatible
// endpoint LLM judges call, the request cache, progress). Every study and `basin eval` judge
// through here; the kinds themselves live one per file in judges/ (judges/index.ts loads them).

import type { Progress } from '../util/progress.js';

export interface JudgeItem {
  question: string;
  answer: string;
  /** the system prompt the answer was sampled under, if any */
  system?: string | null;
  /** the suite question's id (per-question rates, cache keys stay by text) */
  questionId?: string;
  /**
   * judge prompt templates the question suite gives for this question, by metric name
   * ('aligned', 'coherent', …), with {question} and {answer} placeholders; they take precedence
   * over a judge's default templates
   */
  judgePrompts?: Record<string, string>;
}

/**
 * One verdict; `label` always. A verdict is not judged (see isJudged) when its label is in
 * NOT_JUDGED_LABELS or a score it reports is null (the EM paper's "None": a logprob judge whose
 * answer put too little probability on numbers, such as CODE or REFUSAL); not-judged verdicts
 * leave every rate's denominator, and are counted and reported.
 */
export interface Verdict {
  label: string;
  /** 0–100, the EM paper's "aligned" scale (null: the judge refused to score) */
  aligned?: number | null;
  /** 0–100, the EM paper's "coherent" scale (null: the judge refused to score) */
  coherent?: number | null;
  /** severity 1–5 on the judge's scale (the oracle: 0 when not misaligned; a rubric judge also grades aligned answers 1–3) */
  severity?: number;
  /** the persona the judge attributes the answer to, when it can tell */
  persona?: string | null;
  /** other 0–100 scores by metric name (trait judges), null when refused */
  scores?: Record<string, number | null>;
  /** what the judge model returned (text, top logprobs), kept for audit */
  raw?: unknown;
  /** the member judges' verdicts of a multi-judge, in its order */
  members?: Verdict[];
}

/** The label of a misaligned answer, whatever the judge. */
export const MISALIGNED = 'MISALIGNED';

/** Labels that mean "no verdict": refused to score, unparseable answer, failed request. */
export const NOT_JUDGED_LABELS: ReadonlySet<string> = new Set(['UNSCORED', 'UNPARSED', 'JUDGE-FAILED']);

/** Whether the judge gave the item a label at all (CODE and REFUSAL count; see isJudged for rates). */
export function gaveLabel(v: Verdict): boolean {
  return !NOT_JUDGED_LABELS.has(v.label);
}

/** Whether a verdict counts in rates: a label, and no score the judge refused (null). */
export function isJudged(v: Verdict): boolean {
  return gaveLabel(v) && v.aligned !== null && v.coherent !== null;
}

/** Where LLM judges send chat-completion requests: any OpenAI-compatible server. */
export interface JudgeEndpoint {
  /** e.g. http://127.0.0.1:8000/v1 */
  baseUrl: string;
  apiKey: string | null;
  /** requests in flight at once */
  concurrency: number;
  /** per-request time-out */
  timeoutMs: number;
  /** retries of a request after a 429/5xx/time-out/connection reset, with exponential back-off and jitter */
  maxRetries: number;
}

export interface JudgeContext {
  /** null when no endpoint is configured: LLM judges then fail at creation, naming the fix */
  endpoint: JudgeEndpoint | null;
  /** folder of the on-disk request cache (null: no cache) */
  cacheDir: string | null;
  progress?: Progress;
}

/** A question about to be sampled and judged (an item without its answer). */
export type QuestionToJudge = Omit<JudgeItem, 'answer'>;

export interface Judge {
  /** names the judge and its settings, for reports */
  describe: string;
  /** every label this judge can give (a rate of any other label is always 0); absent when open-ended */
  labels?: readonly string[];
  /** one verdict per item, in order */
  judge(items: JudgeItem[]): Promise<Verdict[]>;
  /**
   * Checks, before anything is sampled, that the judge can judge answers to these questions:
   * that they are questions it knows, that every template it needs is there and fills, that its
   * server answers and serves its model. Throws naming the fix.
   */
  check?(questions: readonly QuestionToJudge[]): Promise<void>;
}

export interface JudgeKind {
  name: string;
  /** bump when verdicts change for the same answers (study keys include it) */
  version: number;
  summary: string;
  /** whether it calls an LLM over the context's endpoint */
  usesEndpoint: boolean;
  /** builds a judge from its options; throws naming a bad option (before any request) */
  create(options: Record<string, unknown>, context: JudgeContext): Judge;
}

const kinds = new Map<string, JudgeKind>();

export function registerJudgeKind(kind: JudgeKind): void {
  if (kinds.has(kind.name)) throw new Error(`judge '${kind.name}' is registered twice`);
  kinds.set(kind.name, kind);
}

export function judgeKind(name: string): JudgeKind {
  const kind = kinds.get(name);
  if (kind === undefined) throw new Error(`no judge '${name}'; judges: ${judgeKindNames().join(', ')}`);
  return kind;
}

export function judgeKindNames(): string[] {
  return [...kinds.keys()];
}

/** A context with no endpoint and no cache: enough for judges that call no LLM. */
export const OFFLINE: JudgeContext = { endpoint: null, cacheDir: null };

/** A judge by kind name, options and context. */
export function createJudge(name: string, options: Record<string, unknown> = {}, context: JudgeContext = OFFLINE): Judge {
  return judgeKind(name).create(options, context);
}

/** Refuses options a judge does not take. */
export function onlyOptions(judge: string, options: Record<string, unknown>, takes: readonly string[]): void {
  const extra = Object.keys(options).filter((k) => !takes.includes(k));
  if (extra.length > 0) throw new Error(`judge '${judge}' does not take option${extra.length === 1 ? '' : 's'} ${extra.join(', ')}; ${takes.length === 0 ? 'it takes none' : `its options: ${takes.join(', ')}`}`);
}
