// An executor runs a plan's tasks in dependency order and records what happened to each. The
// local executor runs them in this process; a cluster executor (Slurm) implements the same
// interface, so studies never know which one ran them.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TASK_VALUE_FILE } from '../io/files.js';
import type { ArtifactStore } from './store.js';
import type { Plan } from './task.js';

/** cached: found in the store (or finished first by another process); interrupted: the process got SIGINT/SIGTERM while it ran */
export type TaskState = 'pending' | 'cached' | 'running' | 'done' | 'failed' | 'skipped' | 'interrupted';

export interface TaskStatus {
  id: string;
  key: string;
  producer: string;
  state: TaskState;
  /** wall time this run spent on the task (0 when found done; > 0 when another process finished it first) */
  seconds: number;
  error?: string;
}

export interface ExecutionSummary {
  executor: string;
  tasks: TaskStatus[];
  /** tasks computed by this run / found finished in the store */
  ran: number;
  cached: number;
  seconds: number;
}

export interface ExecuteOptions {
  store: ArtifactStore;
  /** where the per-task status is kept up to date (JSON), or null */
  statusFile: string | null;
  /** the progress display's label */
  label: string;
  quiet: boolean;
}

export interface Executor {
  name: string;
  run(plan: Plan, o: ExecuteOptions): Promise<ExecutionSummary>;
}

/** Read access to finished tasks' outputs, by task id (what `analyse` sees). */
export class TaskOutputs {
  constructor(private readonly plan: Plan, private readonly store: ArtifactStore) {}

  dir(id: string): string {
    const t = this.plan.get(id);
    if (!this.store.has(t.key)) throw new Error(`study: task '${id}' has no output (key ${t.key}); run the study to completion first`);
    return this.store.path(t.key);
  }

  json<T>(id: string, file = TASK_VALUE_FILE): T {
    return JSON.parse(readFileSync(join(this.dir(id), file), 'utf8')) as T;
  }
}
