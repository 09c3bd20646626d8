// Running a study end to end: plan → execute → analyse → report. The output folder gets
// plan.json (every task, its key and parents), status.json (what happened to each task),
// results.json and report.html; the artifacts live in the store, shared by every study and
// output folder (keys never depend on paths). One writer per output folder; results of an
// earlier run there are removed first, so a failed run never leaves them beside its plan.

import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { STUDY_OUTPUT_FILES } from '../io/files.js';
import { TaskOutputs, type ExecutionSummary, type Executor } from './executor.js';
import { lockOutputFolder } from './output-lock.js';
import type { ResolvedSpec } from './spec.js';
import { ArtifactStore } from './store.js';
import { producer } from './producers/registry.js';
import type { Plan, Task } from './task.js';
import './producers/index.js';

export interface StudyOutcome {
  out: string;
  results: unknown;
  execution: ExecutionSummary;
  resultsPath: string;
  reportPath: string;
  headline: string[];
}

export interface OutputFiles {
  results: string;
  report: string;
  plan: string;
  status: string;
}

export interface RunStudyOptions {
  out: string;
  store: string;
  executor: Executor;
  quiet: boolean;
  /** the progress display's label (default: kind and scale) */
  label?: string;
  /** file names in OUT */
  files?: Partial<OutputFiles>;
  /** the CLI flag that chose OUT, for messages (default --out) */
  outFlag?: string;
}

export async function runStudy(resolved: ResolvedSpec, o: RunStudyOptions): Promise<StudyOutcome> {
  const { kind, run } = resolved;
  const files = { ...STUDY_OUTPUT_FILES, ...o.files };
  const outFlag = o.outFlag ?? '--out';
  if (existsSync(o.out) && !statSync(o.out).isDirectory()) throw new Error(`${o.out}: is a file; ${outFlag} names a folder for the study's results`);
  try {
    mkdirSync(o.out, { recursive: true });
  } catch (e) {
    throw new Error(`${o.out}: cannot create the output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a writable ${outFlag}`);
  }
  const release = lockOutputFolder(o.out, outFlag);
  try {
    const store = new ArtifactStore(o.store);
    const resultsPath = join(o.out, files.results);
    const reportPath = join(o.out, files.report);
    for (const p of [resultsPath, reportPath]) rmSync(p, { force: true });
    const planned = await kind.plan(run);
    const { plan } = planned;
    writeFileAtomic(join(o.out, files.plan), `${JSON.stringify({ study: kind.name, scale: run.scale, source: run.source, spec: run.spec, tasks: plan.tasks.map((t) => ({ id: t.id, producer: t.producer, key: t.key, parents: t.parents })) }, null, 1)}\n`);
    await checkOutsideNeeds(plan, store);
    const execution = await o.executor.run(plan, { store, statusFile: join(o.out, files.status), label: o.label ?? `${kind.name} ${run.scale}`, quiet: o.quiet });
    const results = await kind.analyse(run, new TaskOutputs(plan, store), planned, execution);
    writeFileAtomic(resultsPath, JSON.stringify(results, null, 1));
    writeFileAtomic(reportPath, await kind.report(run, results, execution));
    return { out: o.out, results, execution, resultsPath, reportPath, headline: kind.headline(results) };
  } finally {
    release();
  }
}

/** Runs every producer's check for the tasks still to run, before the first of them starts. */
async function checkOutsideNeeds(plan: Plan, store: ArtifactStore): Promise<void> {
  const byId = new Map(plan.tasks.map((t) => [t.id, t]));
  for (const task of plan.tasks) {
    const check = producer(task.producer).check;
    if (check === undefined || store.has(task.key)) continue;
    const parent = (role: string): Task => {
      const id = task.parents[role];
      const found = typeof id === 'string' ? byId.get(id) : undefined;
      if (found === undefined) throw new Error(`task '${task.id}' has no single parent in the role '${role}'`);
      return found;
    };
    try {
      await check(task, parent);
    } catch (e) {
      throw new Error(`study task '${task.id}' cannot run: ${(e as Error).message}`);
    }
  }
}
