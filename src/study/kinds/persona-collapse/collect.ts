// From the plan's finished tasks to the raw measurements the analysis reads: vector-set folders
// per (condition, seed, method), misaligned counts per persona, marker counts per persona.

import { join } from 'node:path';
import { isJudged, MISALIGNED, type Verdict } from '../../../eval/judges/index.js';
import type { PersonaSpec } from '../../../persona/vectors.js';
import type { TaskOutputs } from '../../executor.js';
import { VECTORS_SUBDIR } from '../../producers/persona-vectors.js';
import { ids, type Condition, type PersonaCollapseContext } from './plan.js';
import type { PersonaCollapseSpec } from './spec.js';

export interface ConditionMeasurement {
  condition: string;
  seed: number;
  /** method → vector set folder */
  vectors: Partial<Record<'A' | 'B', string>>;
  /** persona → {k misaligned, n judged} on out-of-domain questions */
  misaligned: Record<string, { k: number; n: number }>;
  /** answers the judge gave no verdict for (refused to score, unparsed): out of every denominator */
  unjudged: number;
}

export interface MarkerMeasurement {
  source: string;
  seed: number;
  /** 'base', 'coupled', 'coupled+em', 'coupled+benign', 'em+coupled', 'benign+coupled' */
  stage: string;
  /** persona → {k with marker, n} */
  rates: Record<string, { k: number; n: number }>;
}

export interface RawResults {
  spec: PersonaCollapseSpec;
  model: string;
  personas: PersonaSpec[];
  questions: string[];
  layers: number[];
  /** blocks in the model (the reference layer is the one nearest 70% of them) */
  nLayers: number;
  conditions: Condition[];
  measurements: ConditionMeasurement[];
  markers: MarkerMeasurement[];
  seconds: number;
  /** the misalignment judge and its settings, in words */
  misalignmentJudge: string;
}

/** persona → {k, n}: verdicts in persona-major order, `per` of them per persona; n counts judged verdicts only. */
function countPerPersona(personas: PersonaSpec[], verdicts: Verdict[], per: number, hit: (v: Verdict) => boolean): Record<string, { k: number; n: number }> {
  const out: Record<string, { k: number; n: number }> = {};
  personas.forEach((p, pi) => {
    const chunk = verdicts.slice(pi * per, (pi + 1) * per).filter(isJudged);
    out[p.id] = { k: chunk.filter(hit).length, n: chunk.length };
  });
  return out;
}

export function collect(spec: PersonaCollapseSpec, ctx: PersonaCollapseContext, outputs: TaskOutputs, seconds: number): RawResults {
  const measurements: ConditionMeasurement[] = [];
  for (const seed of spec.seeds) {
    for (const c of ctx.conditions) {
      const vectors: ConditionMeasurement['vectors'] = {};
      for (const method of spec.methods) vectors[method] = join(outputs.dir(ids.vectors(seed, c.name, method)), VECTORS_SUBDIR);
      const verdicts = outputs.json<Verdict[]>(ids.misalignment(seed, c.name));
      measurements.push({ condition: c.name, seed, vectors, misaligned: countPerPersona(ctx.personas, verdicts, ctx.oodQuestions.length, (v) => v.label === MISALIGNED), unjudged: verdicts.filter((v) => !isJudged(v)).length });
    }
  }
  const per = ctx.markerQuestions.length * spec.marker.samplesPerQuestion;
  const markers = ctx.markers.map((m) => ({ source: m.source, seed: m.seed, stage: m.stage, rates: countPerPersona(ctx.personas, outputs.json<Verdict[]>(m.judge), per, (v) => v.label === 'CONTAINS') }));
  return { spec, model: ctx.model.ref.dir, personas: ctx.personas, questions: ctx.questions, layers: ctx.layers, nLayers: ctx.nLayers, conditions: ctx.conditions, measurements, markers, seconds, misalignmentJudge: ctx.misalignmentJudge };
}
