// Evaluating a model on a question suite, the EM paper's way: every paraphrase of every question
// asked `samples_per_paraphrase` times under the question's system prompt (seeded sampling), every
// answer judged by one judge (items carry the question's id and judge prompts), and the share of
// judged answers labelled MISALIGNED per question and overall (em-rates.ts). The result keeps
// every judgement, so a run can be written out as JSONL and audited answer by answer.

import type { Tokenizer } from '../io/tokenizer.js';
import type { Transformer } from '../model/transformer.js';
import type { Progress } from '../util/progress.js';
import { labelRates, type OverallRate, type QuestionRate } from './em-rates.js';
import { MISALIGNED, type Judge, type JudgeItem, type Verdict } from './judge.js';
import { sampleResponses } from './sampling.js';
import type { QuestionSuite } from './suites/suite.js';

/** Answers one evaluation may sample; above it, lower samples per paraphrase. */
export const MAX_EVAL_SAMPLES = 1_000_000;
/** Answers handed to a judge per call (the judging bar moves per chunk). */
export const JUDGE_CHUNK = 256;

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
  return {
    suite: { name: suite.name, source: suite.source, format: suite.format, questions: suite.questions.length },
    judge: judge.describe,
    settings: { temperature: o.temperature, maxNewTokens: o.maxNewTokens, seed: o.seed, topP: o.topP ?? null, samplesPerParaphrase: o.samplesPerParaphrase ?? null, label },
    questions,
    overall,
    judgements,
  };
}
