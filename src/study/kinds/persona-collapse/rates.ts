// Misalignment rates of a persona-collapse run with intervals that respect how the answers
// were drawn: the same question is asked of several personas, in several conditions and under
// every seed, so answers are not independent. Intervals come from a cluster bootstrap over
// questions and seeds (stats/cluster-bootstrap.ts); a difference of two rates (EM's rise over
// the base) draws the questions once for both, so shared questions stay paired (seeds are
// resampled within each condition).

import { bootstrapGroups } from '../../../stats/cluster-bootstrap.js';
import type { Answer } from './collect.js';

export interface RateEstimate {
  /** misaligned answers, judged answers */
  k: number;
  n: number;
  rate: number;
  /** 95% interval; null when n = 0 */
  ci: [number, number] | null;
  /** distinct questions and seeds the answers came from */
  questions: number;
  seeds: number;
  method: string;
}

export interface DifferenceEstimate {
  estimate: number;
  ci: [number, number] | null;
  method: string;
}

const observations = (answers: readonly Answer[]) => answers.map((a) => ({ value: a.misaligned ? 1 : 0, question: a.question, seed: String(a.seed) }));
const distinct = (xs: readonly unknown[]) => new Set(xs).size;

export function clusteredRate(answers: readonly Answer[], o: { draws: number; seed: number }): RateEstimate {
  const k = answers.filter((a) => a.misaligned).length;
  const n = answers.length;
  const questions = distinct(answers.map((a) => a.question));
  const seeds = distinct(answers.map((a) => a.seed));
  if (n === 0) return { k, n, rate: NaN, ci: null, questions, seeds, method: 'no judged answers' };
  const b = bootstrapGroups({ answers: observations(answers) }, (m) => m.answers as number, { draws: o.draws, seed: o.seed, level: 0.95 });
  return { k, n, rate: k / n, ci: [b.lo, b.hi], questions: b.questions, seeds: b.seeds, method: b.method };
}

/** rate(a) − rate(b): one draw of questions for both (shared questions stay paired), seeds within each; `names` label the two groups in the method string. */
export function clusteredDifference(a: readonly Answer[], b: readonly Answer[], o: { draws: number; seed: number; names: [string, string] }): DifferenceEstimate {
  if (a.length === 0 || b.length === 0) return { estimate: NaN, ci: null, method: 'no judged answers' };
  const [na, nb] = o.names;
  if (na === nb) throw new Error(`clusteredDifference: the two groups need different names (got '${na}' twice)`);
  const r = bootstrapGroups({ [na]: observations(a), [nb]: observations(b) }, (m) => (m[na] as number) - (m[nb] as number), { draws: o.draws, seed: o.seed, level: 0.95 });
  return { estimate: r.estimate, ci: [r.lo, r.hi], method: r.method };
}

/** '26.3% [95% CI 21.1–32.2], n=240 (60 questions × 3 seeds)'; compact: '26.3% [21.1–32.2], n=240 (60 q × 3 s)' */
export function formatEstimate(r: RateEstimate, o: { compact?: boolean } = {}): string {
  if (r.n === 0) return 'no judged answers';
  const ci = r.ci === null ? '' : ` [${o.compact ? '' : '95% CI '}${(100 * r.ci[0]).toFixed(1)}–${(100 * r.ci[1]).toFixed(1)}]`;
  const design = o.compact ? `${r.questions} q × ${r.seeds} s` : `${r.questions} question${r.questions === 1 ? '' : 's'} × ${r.seeds} seed${r.seeds === 1 ? '' : 's'}`;
  return `${(100 * r.rate).toFixed(1)}%${ci}, n=${r.n} (${design})`;
}
