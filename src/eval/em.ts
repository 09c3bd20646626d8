// Evaluating a model on a question suite, the EM paper's way: every paraphrase of every question
// asked `samples_per_paraphrase` times under the question's system prompt (seeded sampling), every
// answer judged by one judge (items carry the question's id and judge prompts), and the share of
// judged answers labelled MISALIGNED per question and overall (em-rates.ts). The result keeps
// every judgement, so a run can be written out as JSONL and audited answer by answer, and warns
// in words when the rate stands on few of the answers: none judged, or more than a tenth not
// judged (quoting the judge's server when it refused requests).

import type { Tokenizer } from '../io/tokenizer.js';
import type { Transformer } from '../model/transformer.js';
import type { Progress } from '../util/progress.js';
import { labelRates, type OverallRate, type QuestionRate } from './em-rates.js';
import { cohenKappa, type LabelAgreement } from '../stats/agreement.js';
import { judgeAgreement, misalignedOrNot, type JudgeAgreement } from './agreement.js';
import { gaveLabel, isJudged, MISALIGNED, type Judge, type JudgeItem, type Verdict } from './judge.js';
import { sampleResponses } from './sampling.js';
import type { QuestionSuite } from './suites/suite.js';

/** Answers one evaluation may sample; above it, lower samples per paraphrase. */
export const MAX_EVAL_SAMPLES = 1_000_000;
/** Answers handed to a judge per call (the judging bar moves per chunk). */
export const JUDGE_CHUNK = 256;
/** Above this share of answers not judged, an evaluation warns that its rate stands on the rest. */
export const NOT_JUDGED_WARNING = 0.1;

/** One answer to draw: which question, paraphrase and sample it is. */
export interface PlannedSample {
  questionId: string;
  paraphraseIndex: number;
  /** the user message */
  paraphrase: string;
  system: string | null;
  /** 0-based index among the samples of this paraphrase */
  sample: number;
}

/** One judged answer: a JSONL row of `basin eval --out`. */
export interface Judgement extends PlannedSample {
  answer: string;
  verdict: Verdict;
}

export interface EvalOptions {
  temperature: number;
  maxNewTokens: number;
  seed: number;
  topP?: number;
  batchSize?: number;
  /** replaces every question's samples_per_paraphrase */
  samplesPerParaphrase?: number;
  /** the label whose rate is reported (default MISALIGNED) */
  label?: string;
  /** a progress bar for a stage ('sampling', 'judging') of `total` answers, made when the stage starts */
  progress?: (stage: string, total: number) => Progress;
  /** a second judge of the same answers to measure agreement with (the oracle, on a persona-world model) */
  reference?: Judge;
}

/**
 * How far the judges agree on MISALIGNED vs not, over answers both (all) gave a label:
 * a multi-judge's members among themselves (Fleiss' kappa, Cohen's per pair), and the judge
 * against the reference judge (Cohen's kappa).
 */
export interface EvalAgreement {
  members: JudgeAgreement | null;
  reference: ({ judge: string; excluded: number } & LabelAgreement) | null;
}

export interface SuiteEvaluation {
  suite: { name: string; source: string; format: string; questions: number };
  /** the judge's describe */
  judge: string;
  settings: {
    temperature: number; maxNewTokens: number; seed: number; topP: number | null;
    /** the override, or null when each question's own samples_per_paraphrase was used */
    samplesPerParaphrase: number | null;
    label: string;
  };
  questions: QuestionRate[];
  overall: OverallRate;
  /** what the rates leave out, in words (see judgingWarnings); empty when nothing to say */
  warnings: string[];
  agreement: EvalAgreement;
  judgements: Judgement[];
}

/** Every answer to draw, question by question, paraphrase by paraphrase; refuses more than MAX_EVAL_SAMPLES. */
export function planSamples(suite: QuestionSuite, samplesPerParaphrase?: number): PlannedSample[] {
  const total = suite.questions.reduce((n, q) => n + q.paraphrases.length * (samplesPerParaphrase ?? q.samplesPerParaphrase), 0);
  if (total > MAX_EVAL_SAMPLES) throw new Error(`${suite.source}: ${total} answers to sample, more than ${MAX_EVAL_SAMPLES}; lower --samples-per-paraphrase`);
  const planned: PlannedSample[] = [];
  for (const q of suite.questions) {
    q.paraphrases.forEach((paraphrase, paraphraseIndex) => {
      for (let sample = 0; sample < (samplesPerParaphrase ?? q.samplesPerParaphrase); sample++) {
        planned.push({ questionId: q.id, paraphraseIndex, paraphrase, system: q.system, sample });
      }
    });
  }
  return planned;
}

/** Verdicts for sampled answers, in chunks of JUDGE_CHUNK; the judge must return one verdict per answer. */
export async function judgeAnswers(suite: QuestionSuite, planned: readonly PlannedSample[], answers: readonly string[], judge: Judge, progress?: Progress): Promise<Judgement[]> {
  const prompts = new Map(suite.questions.map((q) => [q.id, q.judgePrompts]));
  const items: JudgeItem[] = planned.map((p, i) => {
    const judgePrompts = prompts.get(p.questionId) ?? {};
    return { question: p.paraphrase, answer: answers[i] as string, system: p.system, questionId: p.questionId, ...(Object.keys(judgePrompts).length > 0 ? { judgePrompts } : {}) };
  });
  const verdicts: Verdict[] = [];
  for (let i = 0; i < items.length; i += JUDGE_CHUNK) {
    const chunk = items.slice(i, i + JUDGE_CHUNK);
    const got = await judge.judge(chunk);
    if (got.length !== chunk.length) throw new Error(`judge ${judge.describe}: returned ${got.length} verdicts for ${chunk.length} answers`);
    verdicts.push(...got);
    progress?.tick(chunk.length);
  }
  return planned.map((p, i) => ({ ...p, answer: answers[i] as string, verdict: verdicts[i] as Verdict }));
}

/** The messages the judge's server refused requests with, in verdicts and their members' (JUDGE-FAILED raw.error). */
function refusals(v: Verdict): string[] {
  const error = v.label === 'JUDGE-FAILED' ? (v.raw as { error?: unknown } | undefined)?.error : undefined;
  return [...(typeof error === 'string' ? [error] : []), ...(v.members ?? []).flatMap(refusals)];
}

/**
 * Warnings about what a rate leaves out: no answer judged (no rate at all), or more than
 * NOT_JUDGED_WARNING of them not judged; either quotes the first request the judge's server
 * refused, when it refused any, with its fix.
 */
export function judgingWarnings(overall: OverallRate, judgements: readonly Judgement[], label: string): string[] {
  const n = overall.samples;
  if (n === 0 || overall.notJudged / n <= NOT_JUDGED_WARNING) return [];
  const left: Record<string, number> = {};
  for (const j of judgements) if (!isJudged(j.verdict)) left[j.verdict.label] = (left[j.verdict.label] ?? 0) + 1;
  const why = Object.entries(left).sort((a, b) => b[1] - a[1]).map(([l, k]) => `${l} ${k}`).join(', ');
  const refused = judgements.flatMap((j) => refusals(j.verdict));
  const server = refused.length === 0 ? '' : `; the judge's server refused ${refused.length} request${refused.length === 1 ? '' : 's'}, e.g. ${refused[0]}`;
  if (overall.judged === 0) return [`none of the ${n} answers was judged (${why}), so there is no ${label} rate${server}`];
  return [`${overall.notJudged} of ${n} answers (${((100 * overall.notJudged) / n).toFixed(1)}%) were not judged (${why}); the ${label} rate is over the other ${overall.judged} only, and is biased if the answers left out differ${server}`];
}

/** Samples, judges and rates a suite; the model carries whatever adapters should be active. */
export async function evaluateSuite(model: Transformer, tokenizer: Tokenizer, suite: QuestionSuite, judge: Judge, o: EvalOptions): Promise<SuiteEvaluation> {
  const planned = planSamples(suite, o.samplesPerParaphrase);
  await judge.check?.(suite.questions.flatMap((q) => q.paraphrases.map((question) => ({ question, questionId: q.id, judgePrompts: q.judgePrompts, system: q.system }))));
  const sampling = o.progress?.('sampling', planned.length);
  const answers = sampleResponses(model, tokenizer, planned.map((p) => ({ system: p.system, user: p.paraphrase })), {
    temperature: o.temperature, maxNewTokens: o.maxNewTokens, seed: o.seed,
    ...(o.topP !== undefined ? { topP: o.topP } : {}), ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}), ...(sampling ? { progress: sampling } : {}),
  });
  sampling?.stop();
  const judging = o.progress?.('judging', planned.length);
  const judgements = await judgeAnswers(suite, planned, answers, judge, judging);
  judging?.stop();
  const label = o.label ?? MISALIGNED;
  const { questions, overall } = labelRates(judgements, suite.questions.map((q) => q.id), label);
  const verdicts = judgements.map((j) => j.verdict);
  let referenceVerdicts: Verdict[] | undefined;
  if (o.reference !== undefined) referenceVerdicts = (await judgeAnswers(suite, planned, answers, o.reference)).map((j) => j.verdict);
  return {
    suite: { name: suite.name, source: suite.source, format: suite.format, questions: suite.questions.length },
    judge: judge.describe,
    settings: { temperature: o.temperature, maxNewTokens: o.maxNewTokens, seed: o.seed, topP: o.topP ?? null, samplesPerParaphrase: o.samplesPerParaphrase ?? null, label },
    questions,
    overall,
    warnings: judgingWarnings(overall, judgements, label),
    agreement: {
      members: verdicts.some((v) => v.members !== undefined) ? judgeAgreement(verdicts, { category: misalignedOrNot }) : null,
      reference: o.reference !== undefined ? agreementWith(o.reference.describe, verdicts, referenceVerdicts as Verdict[]) : null,
    },
    judgements,
  };
}

/** Cohen's kappa of MISALIGNED vs not between two judges' verdicts of the same answers (both labelled). */
function agreementWith(judge: string, verdicts: readonly Verdict[], reference: readonly Verdict[]): EvalAgreement['reference'] {
  const both = verdicts.map((v, i) => [v, reference[i] as Verdict] as const).filter(([v, r]) => gaveLabel(v) && gaveLabel(r));
  if (both.length === 0) return null;
  return { judge, excluded: verdicts.length - both.length, ...cohenKappa(both.map(([v]) => misalignedOrNot(v)), both.map(([, r]) => misalignedOrNot(r))) };
}
