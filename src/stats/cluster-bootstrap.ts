/**
 * A cluster bootstrap for rates measured on a crossed design: answers to repeated questions
 * under several seeds (fine-tune seeds, sampling seeds). Answers to one question are not
 * independent (a question that elicits harm does so under every seed), nor are answers under
 * one seed (one fine-tune is one draw of the training noise), so a binomial interval over the
 * answers is too narrow. Each bootstrap draw resamples the questions with replacement (one
 * draw shared by every group, so groups asked the same questions stay paired) and, within each
 * group, its seeds with replacement; an observation's weight is the product of how often its
 * question and its seed were drawn. Group means under those weights feed the statistic (a rate,
 * or a difference of two groups' rates), and the interval is the percentile interval of the
 * statistic over draws. With few seeds (2–3) the seed resampling is coarse and the interval
 * errs narrow on the seed side; the method string says how many there were.
 */
import { createRng } from '../util/rng.js';
import { assertConfidenceLevel, quantileOfSorted } from './basics.js';

export interface ClusteredObservation {
  /** the measurement: 1/0 for a rate, or any finite number */
  value: number;
  /** the question (cluster) it answers; the same text in two groups is the same cluster */
  question: string;
  /** the seed it was made under (a fine-tune seed, a sampling seed); resampled within its group */
  seed: string;
}

export interface ClusterBootstrapOptions {
  draws: number;
  seed: number;
  /** default 0.95 */
  level?: number;
}

export interface ClusterBootstrapInterval {
  estimate: number;
  lo: number;
  hi: number;
  level: number;
  draws: number;
  /** distinct questions over all groups */
  questions: number;
  /** distinct (group, seed) pairs */
  seeds: number;
  method: string;
}

/** The weighted mean of every group under question weights wq and per-group seed weights. */
function groupMeans(groups: [string, ClusteredObservation[]][], wq: Map<string, number>, ws: Map<string, Map<string, number>>): Record<string, number> | null {
  const means: Record<string, number> = {};
  for (const [name, obs] of groups) {
    const seedWeights = ws.get(name) as Map<string, number>;
    let sum = 0;
    let weight = 0;
    for (const o of obs) {
      const w = (wq.get(o.question) ?? 0) * (seedWeights.get(o.seed) ?? 0);
      sum += w * o.value;
      weight += w;
    }
    if (weight === 0) return null;
    means[name] = sum / weight;
  }
  return means;
}

function counts(ids: readonly string[], draw: () => number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[draw()] as string;
    m.set(id, (m.get(id) ?? 0) + 1);
  }
  return m;
}

/**
 * statistic(means of each group) with a percentile interval from the crossed cluster bootstrap
 * (questions shared across groups, seeds within groups). Draws in which some group received no
 * weight (none of its questions drawn) are redrawn.
 */
export function bootstrapGroups(
  groups: Record<string, ClusteredObservation[]>,
  statistic: (means: Record<string, number>) => number,
  o: ClusterBootstrapOptions,
): ClusterBootstrapInterval {
  const level = o.level ?? 0.95;
  assertConfidenceLevel(level, 'bootstrapGroups');
  if (!Number.isInteger(o.draws) || o.draws < 1) throw new RangeError(`bootstrapGroups: draws must be a positive integer (got ${o.draws})`);
  const entries = Object.entries(groups);
  if (entries.length === 0) throw new Error('bootstrapGroups: no groups');
  for (const [name, obs] of entries) {
    if (obs.length === 0) throw new Error(`bootstrapGroups: group '${name}' has no observations`);
    const bad = obs.find((x) => !Number.isFinite(x.value));
    if (bad !== undefined) throw new RangeError(`bootstrapGroups: group '${name}' has a non-finite value (${bad.value}) for question "${bad.question}"`);
  }
  const questions = [...new Set(entries.flatMap(([, obs]) => obs.map((x) => x.question)))];
  const seedsOf = new Map(entries.map(([name, obs]) => [name, [...new Set(obs.map((x) => x.seed))]] as const));
  const ones = (ids: readonly string[]) => new Map(ids.map((id) => [id, 1]));
  const plain = groupMeans(entries, ones(questions), new Map([...seedsOf].map(([g, s]) => [g, ones(s)]))) as Record<string, number>;
  const estimate = statistic(plain);
  const rng = createRng(o.seed).fork('cluster-bootstrap');
  const values: number[] = [];
  let redrawn = 0;
  while (values.length < o.draws) {
    const wq = counts(questions, () => rng.int(questions.length));
    const ws = new Map([...seedsOf].map(([g, s]) => [g, counts(s, () => rng.int(s.length))]));
    const means = groupMeans(entries, wq, ws);
    if (means === null) {
      if (++redrawn > 100 * o.draws) throw new Error('bootstrapGroups: almost every draw leaves a group without weight; do the groups share so few questions?');
      continue;
    }
    values.push(statistic(means));
  }
  values.sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  const seedCounts = [...seedsOf].map(([g, s]) => `${g}: ${s.length}`).join(', ');
  return {
    estimate,
    lo: quantileOfSorted(values, alpha),
    hi: quantileOfSorted(values, 1 - alpha),
    level,
    draws: o.draws,
    questions: questions.length,
    seeds: [...seedsOf.values()].reduce((n, s) => n + s.length, 0),
    method: `percentile cluster bootstrap (${o.draws} draws): questions resampled (${questions.length}, shared by every group), seeds resampled within each group (${seedCounts})`,
  };
}
