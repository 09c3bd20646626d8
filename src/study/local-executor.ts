// The local executor: every task in this process, in plan order, one at a time (they share the
// loaded model). Finished tasks are found in the store and skipped; each computed task is
// written atomically; the status file says, per task, whether it was cached, ran (and how
// long) or failed (and why). One progress bar for the whole study, weighted by task cost.

import { writeFileAtomic } from '../io/atomic-write.js';
import { onInterrupt } from '../util/interrupt.js';
import { progress } from '../util/progress.js';
import type { ExecuteOptions, ExecutionSummary, Executor, TaskStatus } from './executor.js';
import { ModelPool, type ModelPoolOptions } from './model-pool.js';
import { producer } from './producers/registry.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL_SUBDIR } from '../io/files.js';
import { modelFingerprint } from '../io/fingerprint.js';
import { fileContentHash } from './keys.js';
import type { ModelRef, Plan, Task } from './task.js';

export class LocalExecutor implements Executor {
  readonly name = 'local';

  constructor(private readonly models: ModelPoolOptions = {}) {}

  async run(plan: Plan, o: ExecuteOptions): Promise<ExecutionSummary> {
    const t0 = performance.now();
    const status: TaskStatus[] = plan.tasks.map((t) => ({ id: t.id, key: t.key, producer: t.producer, state: o.store.has(t.key) ? 'cached' : 'pending', seconds: 0 }));
    const writeStatus = () => {
      if (o.statusFile !== null) writeFileAtomic(o.statusFile, `${JSON.stringify({ executor: this.name, updatedAt: new Date().toISOString(), tasks: status }, null, 1)}\n`);
    };
    writeStatus();
    const todo = plan.tasks.filter((_, i) => status[i]?.state === 'pending');
    const bar = progress(o.label, todo.reduce((s, t) => s + t.cost, 0), { quiet: o.quiet, unit: 'work' });
    const pool = new ModelPool(this.models);
    let ran = 0;
    const forget = onInterrupt(() => {
      bar.stop();
      for (const s of status) if (s.state === 'running') s.state = 'interrupted';
      writeStatus();
    });
    try {
      for (const [i, task] of plan.tasks.entries()) {
        const st = status[i] as TaskStatus;
        if (st.state !== 'pending') continue;
        st.state = 'running';
        writeStatus();
        const started = performance.now();
        let ticked = 0;
        try {
          checkInputs(task);
          const { built } = await o.store.produce(task.key, async (dir) => {
            await producer(task.producer).run(task, {
              dir,
              parent: (role) => single(plan, o, task, role),
              parents: (role) => many(plan, o, task, role),
              data: (role) => {
                const p = task.data[role];
                if (p === undefined) throw new Error(`task '${task.id}': no data with role '${role}'`);
                return p;
              },
              models: pool,
              modelRef: () => resolveModel(plan, o, task),
              model: () => pool.get(resolveModel(plan, o, task)),
              progress: (fraction) => {
                const step = Math.floor(Math.min(1, fraction) * task.cost) - ticked;
                if (step > 0) bar.tick(step, { task: task.id });
                ticked += Math.max(0, step);
              },
            });
            return record(plan, task, (performance.now() - started) / 1000);
          });
          st.state = built ? 'done' : 'cached';
          st.seconds = (performance.now() - started) / 1000;
          if (built) ran++;
        } catch (e) {
          st.state = 'failed';
          st.error = (e as Error).message;
          for (const later of status) if (later.state === 'pending') later.state = 'skipped';
          writeStatus();
          throw new Error(`study task '${task.id}' failed: ${(e as Error).message}`, { cause: e });
        }
        if (task.cost > ticked) bar.tick(task.cost - ticked, { task: task.id });
        writeStatus();
      }
    } finally {
      forget();
      bar.stop();
      pool.release();
    }
    return { executor: this.name, tasks: status, ran, cached: status.filter((s) => s.state === 'cached').length, seconds: (performance.now() - t0) / 1000 };
  }
}

/** Data files and the model folder must still be what the plan hashed: the output is stored under that hash. */
function checkInputs(task: Task): void {
  const ref = task.model;
  if (ref !== null && ref.task === null && modelFingerprint(ref.dir).fingerprint !== ref.fingerprint) {
    throw new Error(`${ref.dir}: the model changed since the study was planned (its fingerprint differs); run the study again to plan it on the model as it is now`);
  }
  for (const [role, path] of Object.entries(task.data)) {
    let now: string;
    try {
      now = fileContentHash(path, statSync(path).mtimeMs);
    } catch {
      throw new Error(`${role} data ${path} is gone since the study was planned`);
    }
    if (now !== task.dataHashes[role]) throw new Error(`${role} data ${path} changed since the study was planned; run the study again to plan it on the data as it is now`);
  }
}

function resolveModel(plan: Plan, o: ExecuteOptions, task: Task): ModelRef {
  const ref = task.model;
  if (ref === null) throw new Error(`task '${task.id}': this producer needs a model, and the task names none`);
  return ref.task === null ? ref : { ...ref, dir: join(o.store.path(plan.get(ref.task).key), MODEL_SUBDIR) };
}

function parentIds(task: Task, role: string): string[] {
  const ids = task.parents[role];
  return ids === undefined ? [] : Array.isArray(ids) ? ids : [ids];
}

function many(plan: Plan, o: ExecuteOptions, task: Task, role: string): string[] {
  return parentIds(task, role).map((id) => o.store.path(plan.get(id).key));
}

function single(plan: Plan, o: ExecuteOptions, task: Task, role: string): string {
  const dirs = many(plan, o, task, role);
  if (dirs.length !== 1) throw new Error(`task '${task.id}': expected one parent with role '${role}', found ${dirs.length}`);
  return dirs[0] as string;
}

function record(plan: Plan, task: Task, seconds: number) {
  const p = producer(task.producer);
  const keyOf = (id: string) => plan.get(id).key;
  const parents = Object.fromEntries(Object.entries(task.parents).map(([role, ids]) => [role, Array.isArray(ids) ? ids.map(keyOf) : keyOf(ids)]));
  return { key: task.key, id: task.id, producer: p.name, producerVersion: p.version, model: task.model ? `${task.model.fingerprint}/${task.model.dtype}` : null, parents, data: task.dataHashes, settings: task.settings, seconds };
}
