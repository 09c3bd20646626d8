// From the plan's finished tasks to the raw measurements the analysis reads: vector-set folders
// per (condition, seed, method), every judged misalignment answer (condition, seed, persona,
// question, misaligned?), marker counts per persona, and the compute time the tasks' records
// say they took.

import { join } from 'node:path';
import { TASK_RECORD_FILE } from '../../../io/files.js';
import { isJudged, MISALIGNED, type Verdict } from '../../../eval/judges/index.js';
import type { PersonaSpec } from '../../../persona/vectors.js';
import type { ExecutionSummary, TaskOutputs } from '../../executor.js';
import type { Plan } from '../../task.js';
import type { TaskRecord } from '../../store.js';
import { VECTORS_SUBDIR } from '../../producers/persona-vectors.js';
import { ids, type Condition, type PersonaCollapseContext } from './plan.js';
import type { PersonaCollapseSpec } from './spec.js';

export type Where = 'out-of-domain' | 'in-domain';

/** One judged answer of a misalignment sample. */
export interface Answer {
  condition: string;
  seed: number;
  persona: string;
  where: Where;
  question: string;
  misaligned: boolean;
}

export interface ConditionMeasurement {
  condition: string;
  seed: number;
  /** method → vector set folder */
  vectors: Partial<Record<'A' | 'B', string>>;
  /** answers the judge gave no verdict for (refused to score, unparsed): out of every denominator */
  unjudged: Record<Where, number>;
  /** answers sampled, judged or not */
  sampled: Record<Where, number>;
}

export interface MarkerMeasurement {
  source: string;
  seed: number;
  /** 'base', 'coupled', 'coupled+em', 'coupled+benign', 'em+coupled', 'benign+coupled' */
  stage: string;
  /** persona → {k with marker, n} */
  rates: Record<string, { k: number; n: number }>;
}

/** Where the run's time went: the sum over the tasks' own records, whichever run built them. */
export interface RunTime {
  /** Σ seconds of the distinct tasks (by key) the results rest on, from each task's task.json */
  taskSeconds: number;
  /** distinct tasks (two plan entries with one key are one task) */
  tasks: number;
  /** wall time of the run that wrote this report, and what it computed or found */
  thisRunSeconds: number;
  ran: number;
  cached: number;
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
  answers: Answer[];
  focal: string;
  /** out-of-domain questions per persona, and in-domain ones (null: not measured, with why) */
  oodQuestions: Record<string, number>;
  inDomain: { domain: string; questions: number; personas: Record<string, string[]> } | null;
  inDomainMissing: string | null;
  markers: MarkerMeasurement[];
  time: RunTime;
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

/** The compute time the plan's tasks took, summed over their records (each distinct key once). */
export function runTime(plan: Plan, outputs: TaskOutputs, execution: ExecutionSummary): RunTime {
  const seconds = new Map<string, number>();
  for (const t of plan.tasks) if (!seconds.has(t.key)) seconds.set(t.key, outputs.json<TaskRecord>(t.id, TASK_RECORD_FILE).seconds);
  return { taskSeconds: [...seconds.values()].reduce((a, b) => a + b, 0), tasks: seconds.size, thisRunSeconds: execution.seconds, ran: execution.ran, cached: execution.cached };
}

export function collect(spec: PersonaCollapseSpec, ctx: PersonaCollapseContext, outputs: TaskOutputs, time: RunTime): RawResults {
  const measurements: ConditionMeasurement[] = [];
  const answers: Answer[] = [];
  // Prompts of a sample task in order, as (persona, question); the judge's verdicts follow them.
  const read = (id: string, prompts: { persona: string; question: string }[], where: Where, condition: string, seed: number): { unjudged: number; sampled: number } => {
    const verdicts = outputs.json<Verdict[]>(id);
    if (verdicts.length !== prompts.length) throw new Error(`study: task '${id}' has ${verdicts.length} verdicts for ${prompts.length} prompts; rerun the study`);
    let unjudged = 0;
    verdicts.forEach((v, i) => {
      const p = prompts[i] as { persona: string; question: string };
      if (!isJudged(v)) unjudged++;
      else answers.push({ condition, seed, persona: p.persona, where, question: p.question, misaligned: v.label === MISALIGNED });
    });
    return { unjudged, sampled: verdicts.length };
  };
  const oodPrompts = ctx.ood.flatMap((o) => o.questions.map((question) => ({ persona: o.persona, question })));
  for (const seed of spec.seeds) {
    for (const c of ctx.conditions) {
      const vectors: ConditionMeasurement['vectors'] = {};
      for (const method of spec.methods) vectors[method] = join(outputs.dir(ids.vectors(seed, c.name, method)), VECTORS_SUBDIR);
      const ood = read(ids.misalignment(seed, c.name), oodPrompts, 'out-of-domain', c.name, seed);
      let inside = { unjudged: 0, sampled: 0 };
      if (ctx.inDomain !== null) {
        const d = ctx.inDomain;
        inside = read(ids.inDomain(seed, c.name), (d.personas[c.name] ?? []).flatMap((persona) => d.questions.map((question) => ({ persona, question }))), 'in-domain', c.name, seed);
      }
      measurements.push({ condition: c.name, seed, vectors, unjudged: { 'out-of-domain': ood.unjudged, 'in-domain': inside.unjudged }, sampled: { 'out-of-domain': ood.sampled, 'in-domain': inside.sampled } });
    }
  }
  const per = ctx.markerQuestions.length * spec.marker.samplesPerQuestion;
  const markers = ctx.markers.map((m) => ({ source: m.source, seed: m.seed, stage: m.stage, rates: countPerPersona(ctx.personas, outputs.json<Verdict[]>(m.judge), per, (v) => v.label === 'CONTAINS') }));
  return {
    spec, model: ctx.model.ref.dir, personas: ctx.personas, questions: ctx.questions, layers: ctx.layers, nLayers: ctx.nLayers, conditions: ctx.conditions, measurements, answers,
    focal: ctx.focal, oodQuestions: Object.fromEntries(ctx.ood.map((o) => [o.persona, o.questions.length])),
    inDomain: ctx.inDomain === null ? null : { domain: ctx.inDomain.domain, questions: ctx.inDomain.questions.length, personas: ctx.inDomain.personas },
    inDomainMissing: ctx.inDomainMissing, markers, time, misalignmentJudge: ctx.misalignmentJudge,
  };
}
