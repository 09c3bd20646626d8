// Running a study end to end: plan → execute → analyse → report. The output folder gets
// plan.json (every task, its key and parents), status.json (what happened to each task),
// results.json and report.html; the artifacts live in the store, shared by every study and
// output folder (keys never depend on paths). One writer per output folder.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { TaskOutputs, type ExecutionSummary, type Executor } from './executor.js';
import { lockOutputFolder } from './output-lock.js';
import type { ResolvedSpec } from './spec.js';
import { ArtifactStore } from './store.js';
import './producers/index.js';

export interface StudyOutcome {
  out: string;
  results: unknown;
  execution: ExecutionSummary;
  resultsPath: string;
  reportPath: string;
  headline: string[];
}

export interface RunStudyOptions {
  out: string;
  store: string;
  executor: Executor;
  quiet: boolean;
  /** the progress display's label (default: kind and scale) */
  label?: string;
  /** file names in OUT (default results.json, report.html) */
  files?: { results: string; report: string };
}

export async function runStudy(resolved: ResolvedSpec, o: RunStudyOptions): Promise<StudyOutcome> {
  const { kind, run } = resolved;
  mkdirSync(o.out, { recursive: true });
  const release = lockOutputFolder(o.out);
  try {
    const planned = await kind.plan(run);
    const { plan } = planned;
    writeFileAtomic(join(o.out, 'plan.json'), `${JSON.stringify({ study: kind.name, scale: run.scale, source: run.source, spec: run.spec, tasks: plan.tasks.map((t) => ({ id: t.id, producer: t.producer, key: t.key, parents: t.parents })) }, null, 1)}\n`);
    const store = new ArtifactStore(o.store);
    const execution = await o.executor.run(plan, { store, statusFile: join(o.out, 'status.json'), label: o.label ?? `${kind.name} ${run.scale}`, quiet: o.quiet });
    const results = await kind.analyse(run, new TaskOutputs(plan, store), planned, execution);
    const resultsPath = join(o.out, o.files?.results ?? 'results.json');
    const reportPath = join(o.out, o.files?.report ?? 'report.html');
    writeFileAtomic(resultsPath, JSON.stringify(results, null, 1));
    writeFileAtomic(reportPath, await kind.report(run, results, execution));
    return { out: o.out, results, execution, resultsPath, reportPath, headline: kind.headline(results) };
  } finally {
    release();
  }
}
