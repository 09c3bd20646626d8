// A child process for the study-framework tests: runs a small study of a test kind ('sleepy':
// N independent tasks, each sleeping a while then writing a value) through the real spec
// reader, planner, local executor and store. argv: OUT STORE TASKS MS [TAG]. Prints one JSON
// line: the execution summary and the tasks this process computed.

import { registerProducer } from '../../src/study/producers/registry.js';
import { registerStudyKind } from '../../src/study/kind.js';
import { Plan } from '../../src/study/task.js';
import { LocalExecutor } from '../../src/study/local-executor.js';
import { runStudy } from '../../src/study/run-study.js';
import { parseStudySpec } from '../../src/study/spec.js';
import { writeValue } from '../../src/study/producers/value.js';
import { z } from 'zod';

const [out, store, tasks, ms, tag = 'worker'] = process.argv.slice(2) as [string, string, string, string, string?];
const computed: string[] = [];

registerProducer<{ index: number; ms: number }>({
  name: 'sleepy',
  version: 1,
  summary: 'test producer: sleeps, then writes its index squared',
  async run(task, io) {
    await new Promise((r) => setTimeout(r, task.settings.ms));
    computed.push(task.id);
    writeValue(io.dir, { square: task.settings.index ** 2, by: tag });
  },
});

registerStudyKind({
  name: 'sleepy',
  summary: 'test kind',
  schema: z.strictObject({ study: z.literal('sleepy'), name: z.string(), tasks: z.number().int().positive(), ms: z.number().int().nonnegative() }),
  plan(run) {
    const plan = new Plan();
    for (let i = 0; i < run.spec.tasks; i++) plan.add({ id: `task ${i}`, producer: 'sleepy', settings: { index: i, ms: run.spec.ms } });
    return { plan, context: null };
  },
  analyse: (run, outputs) => Array.from({ length: run.spec.tasks }, (_, i) => outputs.json<{ square: number }>(`task ${i}`).square),
  report: (_run, results) => `<html><body>${JSON.stringify(results)}</body></html>`,
  headline: (r) => [JSON.stringify(r)],
});

const resolved = parseStudySpec(JSON.stringify({ study: 'sleepy', name: 'sleepy', tasks: Number(tasks), ms: Number(ms) }), 'worker', 'full');
const outcome = await runStudy(resolved, { out, store, executor: new LocalExecutor(), quiet: true });
console.log(JSON.stringify({ ran: outcome.execution.ran, cached: outcome.execution.cached, computed, results: outcome.results }));
