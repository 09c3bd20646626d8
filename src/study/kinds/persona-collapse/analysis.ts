// From the raw measurements of a persona-collapse run to the numbers the report shows: M1, M2,
// M3, the headline table, marker rates and their tests, misalignment rates (out of and inside
// the EM domain), leakage against distance, the preconditions they rest on and the findings
// against the published note — each with its method, n and interval.

import { cosineMatrix, meanOffDiagonal, meanVector, shiftGeometry, shiftVectors } from '../../../persona/geometry.js';
import { separability } from '../../../probe/separability.js';
import { bootstrapCI, ratioOfMeansCI } from '../../../stats/resampling.js';
import { fisherExact, holmAdjust } from '../../../stats/hypothesis-tests.js';
import { spearman } from '../../../stats/spearman.js';
import { LAYER_CONVENTION, perQuestionActivations, readPersonaVectors, referenceLayer, type VectorSet } from '../../../persona/vectors.js';
import { rate, type Rate } from '../../../eval/rates.js';
import { PERSONAS, isPersonaId } from '../../../world/personas.js';
import type { Answer, RawResults, RunTime } from './collect.js';
import { cosineShiftTest, type CosineShiftTest } from './m1-test.js';
import { clusteredDifference, clusteredRate, type DifferenceEstimate, type RateEstimate } from './rates.js';
import { findingsOf, warningsOf, type Finding } from './findings.js';

/** "benign as % of EM" gets an interval over seeds only with at least this many seeds */
export const MIN_SEEDS_FOR_RATIO_CI = 3;

type Method = 'A' | 'B';

export interface M1Cell {
  condition: string;
  method: Method;
  layer: number;
  /** mean over seeds of the mean off-diagonal cosine */
  raw: number;
  /**
   * mean off-diagonal cosine after subtracting the *base* model's mean persona vector (same
   * seed, method, layer) from every persona vector: for base itself ≈ −1/(P−1) by
   * construction; a condition that moves every persona the same way away from the base's
   * centre raises it towards 1, one that spreads them keeps it near −1/(P−1)
   */
  baseCentred: number;
  /** mean off-diagonal cosine between the personas' shifts (condition − base): 1 = one shared shift, 0 = unrelated shifts; null for base */
  shiftCoherence: number | null;
  perSeed: number[];
  /** percentile bootstrap over questions (resampled jointly for every seed) */
  ci: [number, number];
  /** mean over seeds of the P×P cosine matrix */
  matrix: number[][];
  /** the persona-swap permutation test of (condition − base) mean off-diagonal cosine; null for base */
  vsBase: CosineShiftTest | null;
  /** the same test of an EM condition against benign; null for others */
  vsBenign: CosineShiftTest | null;
}

export interface PersonaCollapseResults {
  study: string;
  model: string;
  personas: string[];
  questions: number;
  layers: number[];
  referenceLayer: number;
  seeds: number[];
  layerConvention: string;
  m1: M1Cell[];
  m2: { method: Method; layer: number; reference: string; conditions: { name: string; fractionExplained: number; meanShiftNorm: number; cosineToAxis: number }[]; meanShiftCosines: { names: string[]; matrix: number[][] } }[];
  m3: { condition: string; method: Method; layer: number; lda: number; logistic: number; silhouette: number; chance: number; n: number; excluded: number }[];
  /** `ci` null with fewer than MIN_SEEDS_FOR_RATIO_CI seeds (`ciMethod` then says so) */
  headline: { method: Method; layer: number; base: number; benign: number; em: number; benignPercentOfEm: number; ci: [number, number] | null; seeds: number; ciMethod: string }[];
  markers: { source: string; stage: string; persona: string; rate: Rate; fisherVsCoupled: { pValue: number; holm: number } | null }[];
  couplingEfficiency: { source: string; stage: string; coupledFirst: Rate; coupledAfter: Rate; efficiency: number }[];
  /** per EM condition: bystanders = aligned personas other than the induction persona and the focal persona */
  leakage: { inductionPersona: string; distance: number; bystanderMisaligned: RateEstimate; focalMisaligned: RateEstimate }[];
  /** null when undefined: fewer than 3 induction personas, or all distances or all rates equal */
  leakageSpearman: { rho: number; pValue: number; n: number; method: string } | null;
  /** out-of-domain misaligned rate per condition and persona, pooled over seeds (Wilson intervals) */
  misalignment: { condition: string; persona: string; rate: Rate }[];
  /** the persona misalignment is measured on most (the assistant) */
  focal: string;
  /** out-of-domain questions per persona per seed; the EM domain and in-domain questions per persona per seed (null: not measured, and why) */
  design: { oodQuestions: Record<string, number>; inDomain: { domain: string; questions: number } | null; inDomainMissing: string | null; temperature: number };
  /**
   * per condition: the focal persona out of and inside the EM domain, the bystanders (aligned
   * personas other than the focal and the induction persona) pooled, the induction persona
   * in-domain; cluster-bootstrap intervals over questions and seeds
   */
  rates: { condition: string; focalOod: RateEstimate; bystanderOod: RateEstimate; focalInDomain: RateEstimate | null; inductionInDomain: { persona: string; rate: RateEstimate } | null; unjudged: number; sampled: number }[];
  /** did EM take? the reference EM condition's in-domain rate and its out-of-domain rise over base (focal persona) */
  emCheck: { condition: string; inDomain: RateEstimate | null; oodRise: DifferenceEstimate };
  /** the misalignment judge and its settings, in words */
  misalignmentJudge: string;
  /** total compute behind these results: the tasks' recorded seconds plus this analysis (see `time`) */
  seconds: number;
  time: RunTime & { analysisSeconds: number };
  /** preconditions that failed, in words: the report shows them first */
  warnings: string[];
  /** the published note's claims, each with what this run measured and whether it agrees */
  findings: Finding[];
  /** the reference EM condition (the assistant's, when there is one) */
  reference: string;
}

const CONVENTION = `${LAYER_CONVENTION} (0-based blocks)`;

function meanMatrix(ms: number[][][]): number[][] {
  const p = ms[0]?.length ?? 0;
  return Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => ms.reduce((s, m) => s + (m[i]?.[j] as number), 0) / ms.length));
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Each vector minus `centre`. */
function minusVector(vectors: readonly Float64Array[], centre: Float64Array): Float64Array[] {
  return vectors.map((v) => v.map((x, i) => x - (centre[i] as number)));
}

/** Mean off-diagonal cosine between shift vectors; NaN when a shift is zero (a persona did not move). */
function coherence(shifts: Float64Array[]): number {
  return shifts.some((s) => s.every((x) => x === 0)) ? NaN : meanOffDiagonal(cosineMatrix(shifts));
}

/** Persona means from per-question rows for a resample of question indices. */
function resampledMeans(perQuestion: { rows: Float64Array[]; labels: string[] }, personas: string[], q: number, pick: number[]): Float64Array[] {
  const d = perQuestion.rows[0]?.length ?? 0;
  return personas.map((_, pi) => {
    const m = new Float64Array(d);
    for (const qi of pick) {
      const row = perQuestion.rows[pi * q + qi] as Float64Array;
      for (let k = 0; k < d; k++) m[k] = (m[k] as number) + (row[k] as number) / pick.length;
    }
    return m;
  });
}

export function analyse(raw: RawResults, started = performance.now()): PersonaCollapseResults {
  const { spec } = raw;
  const personas = raw.personas.map((p) => p.id);
  const q = raw.questions.length;
  const methods = spec.methods;
  const ref = referenceLayer(raw.nLayers);
  const refLayer = raw.layers.reduce((best, l) => (Math.abs(l - ref) < Math.abs(best - ref) ? l : best), raw.layers[0] as number);
  const sets = new Map<string, VectorSet>(); // `${condition}|${seed}|${method}`
  for (const m of raw.measurements) for (const method of methods) {
    const dir = m.vectors[method];
    if (dir !== undefined) sets.set(`${m.condition}|${m.seed}|${method}`, readPersonaVectors(dir));
  }
  const get = (c: string, s: number, m: Method) => sets.get(`${c}|${s}|${m}`) as VectorSet;
  const conditionNames = raw.conditions.map((c) => c.name);

  // M1 with a bootstrap over questions and the persona-swap permutation test against base (and,
  // for EM conditions, against benign).
  const emConditions = conditionNames.filter((c) => c.startsWith('em:'));
  const reference = emConditions.includes('em:assistant') ? 'em:assistant' : (emConditions[0] as string);
  const m1: M1Cell[] = [];
  const vectorsOf = (c: string, method: Method, layer: number) => spec.seeds.map((s) => get(c, s, method).means.get(layer) as Float64Array[]);
  const test = (x: string, y: string, method: Method, layer: number) => cosineShiftTest(vectorsOf(x, method, layer), vectorsOf(y, method, layer), { resamples: spec.statistics.permutations, seed: 2 });
  for (const method of methods) for (const layer of raw.layers) {
    const baseVectors = vectorsOf('base', method, layer);
    for (const c of conditionNames) {
      const perSeedVectors = vectorsOf(c, method, layer);
      const perSeed = perSeedVectors.map((v) => meanOffDiagonal(cosineMatrix(v)));
      const baseCentred = mean(perSeedVectors.map((v, si) => meanOffDiagonal(cosineMatrix(minusVector(v, meanVector(baseVectors[si] as Float64Array[]))))));
      const shiftCoherence = c === 'base' ? null : mean(perSeedVectors.map((v, si) => coherence(shiftVectors(v, baseVectors[si] as Float64Array[]))));
      const matrix = meanMatrix(perSeedVectors.map((v) => cosineMatrix(v)));
      const perQ = spec.seeds.map((s) => perQuestionActivations(get(c, s, method), layer));
      const boot = bootstrapCI(Array.from({ length: q }, (_, i) => i), {
        resamples: spec.statistics.bootstrap, seed: 1,
        statistic: (idx: Float64Array) => mean(perQ.map((pq) => meanOffDiagonal(cosineMatrix(resampledMeans(pq, personas, q, Array.from(idx)))))),
      });
      m1.push({
        condition: c, method, layer, raw: mean(perSeed), baseCentred, shiftCoherence, perSeed, ci: [boot.lower, boot.upper], matrix,
        vsBase: c === 'base' ? null : test('base', c, method, layer),
        vsBenign: c.startsWith('em:') && conditionNames.includes('benign') ? test('benign', c, method, layer) : null,
      });
    }
  }

  // M2: shifts from base, the EM (assistant) mean shift as the shared axis.
  const m2: PersonaCollapseResults['m2'] = [];
  for (const method of methods) for (const layer of raw.layers) {
    const perSeed = spec.seeds.map((s) => shiftGeometry(
      get('base', s, method).means.get(layer) as Float64Array[],
      Object.fromEntries(conditionNames.filter((c) => c !== 'base').map((c) => [c, get(c, s, method).means.get(layer) as Float64Array[]])),
      reference,
    ));
    const names = perSeed[0]?.meanShiftCosines.names ?? [];
    m2.push({
      method, layer, reference,
      conditions: names.map((name, i) => ({
        name,
        fractionExplained: mean(perSeed.map((g) => g.conditions[i]?.fractionExplainedByAxis as number)),
        meanShiftNorm: mean(perSeed.map((g) => g.conditions[i]?.meanShiftNorm as number)),
        cosineToAxis: mean(perSeed.map((g) => g.conditions[i]?.cosineToAxis as number)),
      })),
      meanShiftCosines: { names, matrix: meanMatrix(perSeed.map((g) => g.meanShiftCosines.matrix)) },
    });
  }

  // M3: separability of per-question activations (folds stratified by persona). A Method B row
  // whose every sampled response was empty has no response tokens: it is all zeros, has no
  // direction, and is left out (counted in `excluded`); folds are fewer than 5 when a persona
  // then has fewer rows, and a seed where one has fewer than 2 is left out of the means.
  const m3: PersonaCollapseResults['m3'] = [];
  const folds = Math.min(5, q);
  for (const method of methods) for (const layer of raw.layers) for (const c of conditionNames) {
    let excluded = 0;
    const accs = spec.seeds.map((s) => {
      const all = perQuestionActivations(get(c, s, method), layer);
      const keep = all.rows.map((r) => r.some((x) => x !== 0));
      excluded += keep.filter((k) => !k).length;
      const labels = all.labels.filter((_, i) => keep[i]);
      const smallest = Math.min(...personas.map((p) => labels.filter((l) => l === p).length));
      if (smallest < 2) return null; // a persona with fewer than 2 rows cannot be cross-validated
      return separability(all.rows.filter((_, i) => keep[i]), labels, { folds: Math.min(folds, smallest), seed: 0 });
    }).filter((a) => a !== null);
    m3.push({
      condition: c, method, layer, n: accs[0]?.n ?? 0, chance: accs[0]?.chanceAccuracy ?? 0, excluded,
      lda: mean(accs.map((a) => a.lda.accuracy)), logistic: mean(accs.map((a) => a.logistic.accuracy)), silhouette: mean(accs.map((a) => a.silhouette.cosine)),
    });
  }

  // Headline: base → benign → EM at the reference layer, with "benign as % of EM".
  const headline: PersonaCollapseResults['headline'] = [];
  for (const method of methods) {
    const vals = (c: string) => spec.seeds.map((s) => meanOffDiagonal(cosineMatrix(get(c, s, method).means.get(refLayer) as Float64Array[])));
    const [b, bn, em] = [vals('base'), vals('benign'), vals(reference)];
    const ratio = (mean(bn) - mean(b)) / (mean(em) - mean(b));
    const n = spec.seeds.length;
    if (n >= MIN_SEEDS_FOR_RATIO_CI) {
      const r = ratioOfMeansCI({ base: b, benign: bn, em }, { resamples: spec.statistics.bootstrap, seed: 3, pairing: 'paired' });
      headline.push({ method, layer: refLayer, base: mean(b), benign: mean(bn), em: mean(em), benignPercentOfEm: 100 * ratio, ci: [100 * r.lower, 100 * r.upper], seeds: n, ciMethod: `${r.method} over ${n} seeds (paired)` });
    } else {
      headline.push({ method, layer: refLayer, base: mean(b), benign: mean(bn), em: mean(em), benignPercentOfEm: 100 * ratio, ci: null, seeds: n, ciMethod: `interval not estimable with ${n} seed${n === 1 ? '' : 's'} (needs ≥ ${MIN_SEEDS_FOR_RATIO_CI}: a bootstrap over fewer seeds only reshuffles the per-seed ratios)` });
    }
  }

  // Markers: pooled over seeds; Fisher exact for each second stage against the coupled model.
  const pooled = new Map<string, { k: number; n: number }>();
  for (const m of raw.markers) for (const [p, v] of Object.entries(m.rates)) {
    const key = `${m.source}|${m.stage}|${p}`;
    const acc = pooled.get(key) ?? { k: 0, n: 0 };
    pooled.set(key, { k: acc.k + v.k, n: acc.n + v.n });
  }
  const markerRows: PersonaCollapseResults['markers'] = [];
  const tests: { idx: number; p: number }[] = [];
  for (const [key, v] of pooled) {
    const [source, stage, persona] = key.split('|') as [string, string, string];
    let fisher: { pValue: number; holm: number } | null = null;
    const coupled = pooled.get(`${source}|coupled|${persona}`);
    if (stage.startsWith('coupled+') && coupled !== undefined) {
      const p = fisherExact([[coupled.k, coupled.n - coupled.k], [v.k, v.n - v.k]]).pValue;
      fisher = { pValue: p, holm: p };
      tests.push({ idx: markerRows.length, p });
    }
    markerRows.push({ source, stage, persona, rate: rate(v.k, v.n), fisherVsCoupled: fisher });
  }
  const adjusted = holmAdjust(tests.map((t) => t.p));
  tests.forEach((t, i) => { (markerRows[t.idx]?.fisherVsCoupled as { holm: number }).holm = adjusted[i] as number; });
  const couplingEfficiency: PersonaCollapseResults['couplingEfficiency'] = [];
  for (const source of spec.marker.sources) for (const stage of spec.marker.secondStage) {
    const first = pooled.get(`${source}|coupled|${source}`);
    const after = pooled.get(`${source}|${stage}+coupled|${source}`);
    if (first && after) {
      const [a, b] = [rate(first.k, first.n), rate(after.k, after.n)];
      couplingEfficiency.push({ source, stage, coupledFirst: a, coupledAfter: b, efficiency: a.rate > 0 ? b.rate / a.rate : NaN });
    }
  }

  // Misalignment: per condition and persona (pooled over seeds, Wilson); per condition the focal
  // persona, the bystanders pooled and the in-domain rates with cluster-bootstrap intervals over
  // questions and seeds; leakage against distance.
  const draws = spec.statistics.bootstrap;
  const answersOf = (c: string, where: Answer['where'], keep: (persona: string) => boolean) => raw.answers.filter((a) => a.condition === c && a.where === where && keep(a.persona));
  const misalignment: PersonaCollapseResults['misalignment'] = [];
  for (const c of conditionNames) for (const p of personas) {
    const xs = answersOf(c, 'out-of-domain', (x) => x === p);
    misalignment.push({ condition: c, persona: p, rate: rate(xs.filter((a) => a.misaligned).length, xs.length) });
  }
  const focal = raw.focal;
  const aligned = (p: string) => !isPersonaId(p) || PERSONAS[p].alignment === 'aligned';
  const rates: PersonaCollapseResults['rates'] = raw.conditions.map((c, ci) => {
    const induction = c.kind === 'em' && c.inductionPersona !== focal ? (c.inductionPersona as string) : null;
    const ms = raw.measurements.filter((m) => m.condition === c.name);
    return {
      condition: c.name,
      focalOod: clusteredRate(answersOf(c.name, 'out-of-domain', (p) => p === focal), { draws, seed: 10 + ci }),
      bystanderOod: clusteredRate(answersOf(c.name, 'out-of-domain', (p) => p !== focal && p !== c.inductionPersona && aligned(p)), { draws, seed: 100 + ci }),
      focalInDomain: raw.inDomain === null ? null : clusteredRate(answersOf(c.name, 'in-domain', (p) => p === focal), { draws, seed: 200 + ci }),
      inductionInDomain: raw.inDomain === null || induction === null ? null : { persona: induction, rate: clusteredRate(answersOf(c.name, 'in-domain', (p) => p === induction), { draws, seed: 300 + ci }) },
      unjudged: ms.reduce((n, m) => n + m.unjudged['out-of-domain'] + m.unjudged['in-domain'], 0),
      sampled: ms.reduce((n, m) => n + m.sampled['out-of-domain'] + m.sampled['in-domain'], 0),
    };
  });
  const emCheck: PersonaCollapseResults['emCheck'] = {
    condition: reference,
    inDomain: rates.find((r) => r.condition === reference)?.focalInDomain ?? null,
    oodRise: clusteredDifference(answersOf(reference, 'out-of-domain', (p) => p === focal), answersOf('base', 'out-of-domain', (p) => p === focal), { draws, seed: 400, names: [reference, 'base'] }),
  };
  const baseA = methods.includes('A') ? 'A' : (methods[0] as Method);
  const baseVecs = spec.seeds.map((s) => get('base', s, baseA).means.get(refLayer) as Float64Array[]);
  const cosTo = (a: string, b: string) => mean(baseVecs.map((v) => (cosineMatrix(v)[personas.indexOf(a)]?.[personas.indexOf(b)] as number)));
  const leakage: PersonaCollapseResults['leakage'] = [];
  if (personas.includes('assistant')) {
    for (const c of raw.conditions.filter((x) => x.kind === 'em')) {
      const P = c.inductionPersona as string;
      const r = rates.find((x) => x.condition === c.name) as PersonaCollapseResults['rates'][number];
      leakage.push({ inductionPersona: P, distance: 1 - cosTo(P, 'assistant'), bystanderMisaligned: r.bystanderOod, focalMisaligned: r.focalOod });
    }
  }
  let leakageSpearman: PersonaCollapseResults['leakageSpearman'] = null;
  const constant = (xs: number[]) => xs.every((x) => x === xs[0]);
  if (leakage.length >= 3 && !constant(leakage.map((l) => l.distance)) && !constant(leakage.map((l) => l.bystanderMisaligned.rate))) {
    const sp = spearman(leakage.map((l) => l.distance), leakage.map((l) => l.bystanderMisaligned.rate));
    leakageSpearman = { rho: sp.rho, pValue: sp.pValue, n: sp.n, method: sp.method };
  }

  const partial = {
    study: spec.name, model: raw.model, personas, questions: q, layers: raw.layers, referenceLayer: refLayer, seeds: spec.seeds,
    layerConvention: CONVENTION, m1, m2, m3, headline, markers: markerRows, couplingEfficiency, leakage, leakageSpearman, misalignment, misalignmentJudge: raw.misalignmentJudge,
    focal, design: { oodQuestions: raw.oodQuestions, inDomain: raw.inDomain === null ? null : { domain: raw.inDomain.domain, questions: raw.inDomain.questions }, inDomainMissing: raw.inDomainMissing, temperature: spec.misalignment.temperature },
    rates, emCheck, reference,
  };
  const warnings = warningsOf(spec, partial);
  const findings = findingsOf(spec, partial);
  const analysisSeconds = (performance.now() - started) / 1000;
  return { ...partial, warnings, findings, time: { ...raw.time, analysisSeconds }, seconds: raw.time.taskSeconds + analysisSeconds };
}
