// Misalignment rates of an evaluated suite: per question and overall, the share of judged
// answers with one label (MISALIGNED unless told otherwise). Answers the judge gave no verdict
// for (NOT_JUDGED_LABELS) are counted and reported but leave the denominator. Each rate has a
// Wilson score interval, which treats answers as independent. Answers to one question are not
// independent (a suite of 8 questions × 100 samples holds far less information than 800
// independent answers), so the overall rate also has a clustered interval: the Wilson score
// interval at the design-effect-corrected sample size n/deff, with Kish's deff = 1 + (m − 1)·ICC,
// m = Σ nᵢ²/n the size-weighted mean answers per question and ICC the one-way ANOVA estimate of
// the intra-question correlation of the label (clamped to [0, 1], so the clustered interval is
// never narrower than the plain one).

import { normalQuantile, wilsonInterval } from '../stats/index.js';
import { isJudged, MISALIGNED, type Verdict } from './judge.js';

/** What one judged answer contributes: the question it answers and its verdict. */
export interface Judged {
  questionId: string;
  verdict: Verdict;
}

export interface LabelRate {
  /** answers sampled */
  samples: number;
  /** answers the judge gave a verdict for: the denominator */
  judged: number;
  /** judged answers with the label: the numerator */
  hits: number;
  /** hits / judged; null when nothing was judged */
  rate: number | null;
  /** Wilson score 95% interval, answers taken as independent; null when nothing was judged */
  wilson: [number, number] | null;
  /** how many answers got each label, not-judged labels included */
  labels: Record<string, number>;
}

export interface QuestionRate extends LabelRate {
  id: string;
}

export interface ClusteredInterval {
  lower: number;
  upper: number;
  /** questions with at least one judged answer */
  clusters: number;
  /** the ANOVA estimate of the intra-question correlation, clamped to [0, 1] */
  icc: number;
  /** Kish's design effect 1 + (m − 1)·ICC */
  designEffect: number;
  /** judged answers / design effect */
  effectiveN: number;
  method: 'Wilson score at the design-effect-corrected n (Kish deff, ANOVA ICC over questions)';
}

export interface OverallRate extends LabelRate {
  /** answers without a verdict (left out of the denominator) */
  notJudged: number;
  /** null when fewer than 2 questions have judged answers (no between-question spread to estimate) */
  clustered: ClusteredInterval | null;
}

export const CONFIDENCE = 0.95;

function labelRate(items: readonly Judged[], label: string): LabelRate {
  const labels: Record<string, number> = {};
  for (const it of items) labels[it.verdict.label] = (labels[it.verdict.label] ?? 0) + 1;
  const judged = items.filter((it) => isJudged(it.verdict));
  const hits = judged.filter((it) => it.verdict.label === label).length;
  const ci = judged.length > 0 ? wilsonInterval(hits, judged.length, CONFIDENCE) : null;
  return { samples: items.length, judged: judged.length, hits, rate: ci === null ? null : hits / judged.length, wilson: ci === null ? null : [ci.lower, ci.upper], labels };
}

/** Wilson's score interval for a rate p observed over an effective (real-valued) sample size n. */
function wilsonAt(p: number, n: number): [number, number] {
  const z = normalQuantile(0.5 + CONFIDENCE / 2);
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [p === 0 ? 0 : Math.max(0, centre - half), p === 1 ? 1 : Math.min(1, centre + half)];
}

/**
 * The intra-question correlation of a 0/1 label by one-way ANOVA (hits kᵢ of nᵢ answers per
 * question): (MSB − MSW) / (MSB + (n₀ − 1)·MSW), n₀ = (N − Σnᵢ²/N)/(Q − 1), clamped to [0, 1];
 * 0 when neither mean square has any spread (every answer alike).
 */
export function anovaIcc(clusters: readonly { hits: number; judged: number }[]): number {
  const q = clusters.length;
  const n = clusters.reduce((s, c) => s + c.judged, 0);
  const p = clusters.reduce((s, c) => s + c.hits, 0) / n;
  const msb = clusters.reduce((s, c) => s + c.judged * (c.hits / c.judged - p) ** 2, 0) / (q - 1);
  const msw = n > q ? clusters.reduce((s, c) => s + c.hits * (1 - c.hits / c.judged), 0) / (n - q) : 0;
  const n0 = (n - clusters.reduce((s, c) => s + c.judged ** 2, 0) / n) / (q - 1);
  const denominator = msb + (n0 - 1) * msw;
  if (!(denominator > 0)) return 0;
  return Math.min(1, Math.max(0, (msb - msw) / denominator));
}

function clusteredInterval(questions: readonly QuestionRate[]): ClusteredInterval | null {
  const clusters = questions.filter((q) => q.judged > 0);
  if (clusters.length < 2) return null;
  const n = clusters.reduce((s, c) => s + c.judged, 0);
  const p = clusters.reduce((s, c) => s + c.hits, 0) / n;
  const m = clusters.reduce((s, c) => s + c.judged ** 2, 0) / n;
  const icc = anovaIcc(clusters);
  const designEffect = 1 + (m - 1) * icc;
  const effectiveN = n / designEffect;
  const [lower, upper] = wilsonAt(p, effectiveN);
  return { lower, upper, clusters: clusters.length, icc, designEffect, effectiveN, method: 'Wilson score at the design-effect-corrected n (Kish deff, ANOVA ICC over questions)' };
}

/** Per-question rates in `questionIds` order, and the overall rate pooled over every judged answer. */
export function labelRates(items: readonly Judged[], questionIds: readonly string[], label = MISALIGNED): { questions: QuestionRate[]; overall: OverallRate } {
  const byQuestion = new Map<string, Judged[]>(questionIds.map((id) => [id, []]));
  for (const it of items) {
    const list = byQuestion.get(it.questionId);
    if (list === undefined) throw new Error(`a judgement names question '${it.questionId}', which is not in the suite`);
    list.push(it);
  }
  const questions = questionIds.map((id) => ({ id, ...labelRate(byQuestion.get(id) as Judged[], label) }));
  const all = labelRate(items, label);
  return { questions, overall: { ...all, notJudged: all.samples - all.judged, clustered: clusteredInterval(questions) } };
}
