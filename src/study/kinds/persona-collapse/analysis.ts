// From the raw measurements of a persona-collapse run to the numbers the report shows: M1, M2,
// M3, the headline table, marker rates and their tests, leakage against distance — each with
// its method, n and interval.

import { cosineMatrix, meanOffDiagonal, personaCosineGeometry, shiftGeometry } from '../../../persona/geometry.js';
import { separability } from '../../../probe/separability.js';
import { bootstrapCI, permutationTestPaired, ratioOfMeansCI } from '../../../stats/resampling.js';
import { fisherExact, holmAdjust } from '../../../stats/hypothesis-tests.js';
import { spearman } from '../../../stats/spearman.js';
import { LAYER_CONVENTION, perQuestionActivations, readPersonaVectors, referenceLayer, type VectorSet } from '../../../persona/vectors.js';
import { rate, type Rate } from '../../../eval/rates.js';
import { PERSONAS, isPersonaId } from '../../../world/personas.js';
import type { RawResults } from './collect.js';

type Method = 'A' | 'B';

export interface M1Cell {
  condition: string;
  method: Method;
  layer: number;
  /** mean over seeds of the mean off-diagonal cosine */
  raw: number;
  centered: number;
  perSeed: number[];
  /** percentile bootstrap over questions (resampled jointly for every seed) */
  ci: [number, number];
  /** mean over seeds of the P×P cosine matrix */
  matrix: number[][];
  /** sign-flip permutation test over persona pairs of (condition − base) cosines; null for base */
  vsBase: { meanDifference: number; pValue: number; pairs: number; method: string } | null;
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
  headline: { method: Method; layer: number; base: number; benign: number; em: number; benignPercentOfEm: number; ci: [number, number]; seeds: number; ciMethod: string }[];
  markers: { source: string; stage: string; persona: string; rate: Rate; fisherVsCoupled: { pValue: number; holm: number } | null }[];
  couplingEfficiency: { source: string; stage: string; coupledFirst: Rate; coupledAfter: Rate; efficiency: number }[];
  leakage: { inductionPersona: string; distance: number; bystanderMisaligned: Rate; assistantMisaligned: Rate }[];
  /** null when undefined: fewer than 3 induction personas, or all distances or all rates equal */
  leakageSpearman: { rho: number; pValue: number; n: number; method: string } | null;
  misalignment: { condition: string; persona: string; rate: Rate }[];
  /** the misalignment judge and its settings, in words */
  misalignmentJudge: string;
  seconds: number;
  /** preconditions that failed, in words: the report shows them first */
  warnings: string[];
}

const CONVENTION = `${LAYER_CONVENTION} (0-based blocks)`;

function meanMatrix(ms: number[][][]): number[][] {
  const p = ms[0]?.length ?? 0;
  return Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => ms.reduce((s, m) => s + (m[i]?.[j] as number), 0) / ms.length));
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
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

/** Preconditions the results rest on, checked: a failed one is said in words. */
function warningsOf(raw: RawResults, markers: PersonaCollapseResults['markers']): string[] {
  const out: string[] = [];
  const unjudged = raw.measurements.reduce((n, m) => n + m.unjudged, 0);
  if (unjudged > 0) {
    const total = unjudged + raw.measurements.reduce((n, m) => n + Object.values(m.misaligned).reduce((a, c) => a + c.n, 0), 0);
    out.push(`The misalignment judge (${raw.misalignmentJudge}) gave no verdict for ${unjudged} of ${total} answers (refused to score or unparseable); they are left out of every misalignment rate's denominator. If many are missing, the rates describe the answers the judge could read, not all answers.`);
  }
  for (const source of raw.spec.marker.sources) {
    const coupled = markers.find((m) => m.source === source && m.stage === 'coupled' && m.persona === source);
    if (coupled !== undefined && coupled.rate.rate < 0.5) {
      out.push(`The marker coupling to ${source} did not take: after the coupling fine-tune ${source} produced the marker in ${(100 * coupled.rate.rate).toFixed(1)}% of answers (n=${coupled.rate.n}). Whether a second fine-tune destroys a coupling cannot be tested on this run; the marker results below measure no coupling.`);
    }
  }
  return out;
}

export function analyse(raw: RawResults): PersonaCollapseResults {
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

  // M1 with bootstrap over questions and a pair-level permutation test against base.
  const m1: M1Cell[] = [];
  for (const method of methods) for (const layer of raw.layers) {
    const baseMatrix = meanMatrix(spec.seeds.map((s) => cosineMatrix(get('base', s, method).means.get(layer) as Float64Array[])));
    for (const c of conditionNames) {
      const perSeedVectors = spec.seeds.map((s) => get(c, s, method).means.get(layer) as Float64Array[]);
      const perSeed = perSeedVectors.map((v) => personaCosineGeometry(v).raw.meanOffDiagonal);
      const centered = mean(perSeedVectors.map((v) => personaCosineGeometry(v).centered.meanOffDiagonal));
      const matrix = meanMatrix(perSeedVectors.map((v) => cosineMatrix(v)));
      const perQ = spec.seeds.map((s) => perQuestionActivations(get(c, s, method), layer));
      const boot = bootstrapCI(Array.from({ length: q }, (_, i) => i), {
        resamples: spec.statistics.bootstrap, seed: 1,
        statistic: (idx: Float64Array) => mean(perQ.map((pq) => meanOffDiagonal(cosineMatrix(resampledMeans(pq, personas, q, Array.from(idx)))))),
      });
      let vsBase: M1Cell['vsBase'] = null;
      if (c !== 'base') {
        const diffs: number[] = [];
        for (let i = 0; i < personas.length; i++) for (let j = i + 1; j < personas.length; j++) diffs.push((matrix[i]?.[j] as number) - (baseMatrix[i]?.[j] as number));
        const t = permutationTestPaired(diffs, { resamples: spec.statistics.permutations, seed: 2 });
        vsBase = { meanDifference: mean(diffs), pValue: t.pValue, pairs: diffs.length, method: `${t.method} sign-flip permutation over persona pairs` };
      }
      m1.push({ condition: c, method, layer, raw: mean(perSeed), centered, perSeed, ci: [boot.lower, boot.upper], matrix, vsBase });
    }
  }

  // M2: shifts from base, the EM (assistant) mean shift as the shared axis.
  const emConditions = conditionNames.filter((c) => c.startsWith('em:'));
  const reference = emConditions.includes('em:assistant') ? 'em:assistant' : (emConditions[0] as string);
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
    const r = ratioOfMeansCI({ base: b, benign: bn, em }, { resamples: spec.statistics.bootstrap, seed: 3, pairing: 'paired' });
    headline.push({ method, layer: refLayer, base: mean(b), benign: mean(bn), em: mean(em), benignPercentOfEm: 100 * r.estimate, ci: [100 * r.lower, 100 * r.upper], seeds: spec.seeds.length, ciMethod: `${r.method} over seeds (paired)` });
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

  // Misalignment per condition and persona, pooled over seeds; leakage against distance.
  const misalignment: PersonaCollapseResults['misalignment'] = [];
  for (const c of conditionNames) for (const p of personas) {
    const ms = raw.measurements.filter((m) => m.condition === c);
    misalignment.push({ condition: c, persona: p, rate: rate(ms.reduce((s, m) => s + (m.misaligned[p]?.k ?? 0), 0), ms.reduce((s, m) => s + (m.misaligned[p]?.n ?? 0), 0)) });
  }
  const baseA = methods.includes('A') ? 'A' : (methods[0] as Method);
  const baseVecs = spec.seeds.map((s) => get('base', s, baseA).means.get(refLayer) as Float64Array[]);
  const cosTo = (a: string, b: string) => mean(baseVecs.map((v) => (cosineMatrix(v)[personas.indexOf(a)]?.[personas.indexOf(b)] as number)));
  const leakage: PersonaCollapseResults['leakage'] = [];
  const aligned = (p: string) => !isPersonaId(p) || PERSONAS[p].alignment === 'aligned';
  if (personas.includes('assistant')) {
    for (const c of raw.conditions.filter((x) => x.kind === 'em')) {
      const P = c.inductionPersona as string;
      const bystanders = personas.filter((p) => p !== P && aligned(p));
      const rows = misalignment.filter((m) => m.condition === c.name && bystanders.includes(m.persona));
      const asst = misalignment.find((m) => m.condition === c.name && m.persona === 'assistant') as { rate: Rate };
      leakage.push({
        inductionPersona: P, distance: 1 - cosTo(P, 'assistant'),
        bystanderMisaligned: rate(rows.reduce((s, r) => s + r.rate.k, 0), rows.reduce((s, r) => s + r.rate.n, 0)),
        assistantMisaligned: asst.rate,
      });
    }
  }
  let leakageSpearman: PersonaCollapseResults['leakageSpearman'] = null;
  const constant = (xs: number[]) => xs.every((x) => x === xs[0]);
  if (leakage.length >= 3 && !constant(leakage.map((l) => l.distance)) && !constant(leakage.map((l) => l.bystanderMisaligned.rate))) {
    const sp = spearman(leakage.map((l) => l.distance), leakage.map((l) => l.bystanderMisaligned.rate));
    leakageSpearman = { rho: sp.rho, pValue: sp.pValue, n: sp.n, method: sp.method };
  }

  return {
    study: spec.name, model: raw.model, personas, questions: q, layers: raw.layers, referenceLayer: refLayer, seeds: spec.seeds,
    layerConvention: CONVENTION, m1, m2, m3, headline, markers: markerRows, couplingEfficiency, leakage, leakageSpearman, misalignment, misalignmentJudge: raw.misalignmentJudge, seconds: raw.seconds, warnings: warningsOf(raw, markerRows),
  };
}
