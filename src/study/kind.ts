// A study kind: what a YAML spec of `study: <kind>` means. It declares its spec's schema (types,
// ranges, defaults; unknown keys are errors), turns a spec into a plan of keyed tasks, analyses
// the tasks' outputs into results, and renders the report. Kinds register themselves in
// kinds/index.ts; the CLI, the executors and the store know nothing else about them.

import type { z } from 'zod';
import type { ExecutionSummary, TaskOutputs } from './executor.js';
import type { Plan } from './task.js';

export interface StudyRun<S> {
  spec: S;
  /** the scale the spec was resolved at ('full' = as written) */
  scale: string;
  /** where the spec came from: a file path (relative paths in the spec are relative to its folder), or a description such as 'basin world check flags' */
  source: string;
}

/** A plan and whatever the kind resolved while making it (questions, layers, …) that analysis needs too. */
export interface Planned<C = unknown> {
  plan: Plan;
  context: C;
}

export interface StudyKind<S = unknown, R = unknown, C = unknown> {
  name: string;
  /** one line for `basin study kinds` */
  summary: string;
  /** the whole spec (the `study` and `name` fields included), with defaults; objects are strict */
  schema: z.ZodType<S>;
  /** checks that need more than a schema (e.g. a persona named in two fields exists) */
  check?(spec: S): void;
  plan(run: StudyRun<S>): Promise<Planned<C>> | Planned<C>;
  analyse(run: StudyRun<S>, outputs: TaskOutputs, planned: Planned<C>, execution: ExecutionSummary): R | Promise<R>;
  /** a self-contained HTML page */
  report(run: StudyRun<S>, results: R, execution: ExecutionSummary): Promise<string> | string;
  /** the lines the CLI prints when the study is done */
  headline(results: R): string[];
}

const kinds = new Map<string, StudyKind>();

export function registerStudyKind<S, R, C>(kind: StudyKind<S, R, C>): void {
  if (kinds.has(kind.name)) throw new Error(`study kind '${kind.name}' is registered twice`);
  kinds.set(kind.name, kind as unknown as StudyKind);
}

export function studyKind(name: string): StudyKind {
  const k = kinds.get(name);
  if (k === undefined) throw new Error(`no study kind '${name}'; kinds: ${studyKindNames().join(', ')}`);
  return k;
}

export function studyKindNames(): string[] {
  return [...kinds.keys()];
}
