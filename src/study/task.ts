// A study's plan: a graph of keyed tasks. Each task names a producer (fine-tune, sample, judge,
// extract vectors, …), the base model it uses, its parent tasks by role, its data files and
// its resolved settings. Tasks are added parents first, so the plan's order is a valid
// execution order; keys are computed as tasks are added (see keys.ts).

import { statSync } from 'node:fs';
import { modelFingerprint } from '../io/fingerprint.js';
import { fileContentHash, taskKey } from './keys.js';
import { producer } from './producers/registry.js';

/**
 * A base model a task runs on: its folder (where to load it), its fingerprint and the dtype its
 * floating weights are computed in (what keys see: bf16 results are not f32 results). A model
 * made by an earlier task of the plan (a full fine-tune) has `task` set: its folder is found in
 * the store when the task runs, and its fingerprint is that task's key. The device is the
 * executor's choice and not part of keys.
 */
export interface ModelRef {
  /** the folder; '' for a model made by a task (resolved when it runs) */
  dir: string;
  fingerprint: string;
  dtype: ModelDType;
  /** the id of the task whose output folder holds this model, or null */
  task: string | null;
}


export type ModelDType = 'f32' | 'bf16' | 'f16';

const fingerprints = new Map<string, string>();

export function modelRef(dir: string, dtype: ModelDType = 'f32'): ModelRef {
  let fp = fingerprints.get(dir);
  if (fp === undefined) {
    fp = modelFingerprint(dir).fingerprint;
    fingerprints.set(dir, fp);
  }
  return { dir, fingerprint: fp, dtype, task: null };
}

export interface TaskInit<S = unknown> {
  /** unique within the plan and readable: 'seed 0 · fine-tune em:assistant' */
  id: string;
  producer: string;
  model?: ModelRef;
  /** role → parent task id(s), e.g. { adapters: [...], samples: '...' } */
  parents?: Record<string, string | string[]>;
  /** role → data file path; the key sees the file's content hash, not the path */
  data?: Record<string, string>;
  /** everything else the output depends on, resolved (no defaults left to the producer) */
  settings: S;
  /** relative amount of work, for the progress display (default 1) */
  cost?: number;
}

export interface Task<S = unknown> extends Required<Omit<TaskInit<S>, 'model'>> {
  model: ModelRef | null;
  /** role → sha256 of the data file's content */
  dataHashes: Record<string, string>;
  key: string;
}

export class Plan {
  readonly tasks: Task[] = [];
  private readonly byId = new Map<string, Task>();

  /** Adds a task (its parents must already be in the plan) and returns it with its key. */
  add<S>(init: TaskInit<S>): Task<S> {
    if (this.byId.has(init.id)) throw new Error(`plan: two tasks are named '${init.id}'`);
    const p = producer(init.producer);
    const parents = { ...(init.parents ?? {}) };
    if (init.model?.task) {
      if (parents.model !== undefined) throw new Error(`plan: task '${init.id}' runs on a model made by a task; the parent role 'model' is taken by it`);
      parents.model = init.model.task;
    }
    const parentKeys: Record<string, string | string[]> = {};
    for (const [role, ids] of Object.entries(parents)) {
      const keyOf = (id: string) => {
        const t = this.byId.get(id);
        if (t === undefined) throw new Error(`plan: task '${init.id}' names parent '${id}' (${role}), which is not in the plan yet`);
        return t.key;
      };
      parentKeys[role] = Array.isArray(ids) ? ids.map(keyOf) : keyOf(ids);
    }
    const data = init.data ?? {};
    const dataHashes: Record<string, string> = {};
    for (const [role, path] of Object.entries(data)) {
      let mtimeMs: number;
      try {
        mtimeMs = statSync(path).mtimeMs;
      } catch {
        throw new Error(`plan: task '${init.id}' reads ${role} data from ${path}, which does not exist`);
      }
      dataHashes[role] = fileContentHash(path, mtimeMs);
    }
    const key = taskKey({ producer: p.name, version: p.version, model: init.model ? `${init.model.fingerprint}/${init.model.dtype}` : null, parents: parentKeys, data: dataHashes, settings: init.settings });
    const task: Task<S> = { id: init.id, producer: p.name, model: init.model ?? null, parents, data, dataHashes, settings: init.settings, cost: init.cost ?? 1, key };
    this.tasks.push(task as Task);
    this.byId.set(task.id, task as Task);
    return task;
  }

  /** The model a full fine-tune task of this plan writes, to run later tasks on. */
  modelFrom(taskId: string, dtype: ModelDType = 'f32'): ModelRef {
    const t = this.get(taskId);
    return { dir: '', fingerprint: `task:${t.key}`, dtype, task: t.id };
  }

  get(id: string): Task {
    const t = this.byId.get(id);
    if (t === undefined) throw new Error(`plan: no task '${id}'`);
    return t;
  }
}
