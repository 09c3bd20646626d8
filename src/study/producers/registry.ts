// The producers every study shares (fine-tune, sample, judge, extract activations or persona
// vectors, …): a registry by name. A producer turns one task into the files of its artifact
// folder. Bump `version` when a change makes its output differ for the same inputs: keys
// include it, so stale artifacts are not reused.

import type { Tokenizer } from '../../io/tokenizer.js';
import type { Transformer } from '../../model/transformer.js';
import type { ModelPool } from '../model-pool.js';
import type { ModelRef, Task } from '../task.js';

export interface TaskIO {
  /** the (temporary) folder the producer writes its output into */
  dir: string;
  /** the artifact folder of the parent with this role (one parent) */
  parent(role: string): string;
  /** the artifact folders of the parents with this role, in order (none → []) */
  parents(role: string): string[];
  /** the path of the data file with this role */
  data(role: string): string;
  models: ModelPool;
  /** the task's model (loaded once and shared with the tasks that use the same one) */
  model(): Promise<{ model: Transformer; tokenizer: Tokenizer }>;
  /** the task's model with its folder resolved (a model made by a task is in the store) */
  modelRef(): ModelRef;
  /** reports how much of this task is done (0–1), for the study's progress display */
  progress(fractionDone: number): void;
}

export interface Producer<S = unknown> {
  name: string;
  version: number;
  /** one line for --help and the report's methods */
  summary: string;
  run(task: Task<S>, io: TaskIO): Promise<void> | void;
  /**
   * Checks, before any task of the study runs, what this task will need from outside the study
   * (an LLM judge's server and its model); `parent(role)` is the plan's task in that role.
   * Throws naming the fix.
   */
  check?(task: Task<S>, parent: (role: string) => Task): Promise<void>;
}

const registry = new Map<string, Producer>();

export function registerProducer<S>(p: Producer<S>): void {
  if (registry.has(p.name)) throw new Error(`producer '${p.name}' is registered twice`);
  registry.set(p.name, p as Producer);
}

/** Every registered producer, for `basin study kinds`. */
export function producers(): Producer[] {
  return [...registry.values()];
}

export function producer(name: string): Producer {
  const p = registry.get(name);
  if (p === undefined) throw new Error(`no producer '${name}'; registered: ${[...registry.keys()].join(', ') || '(none)'}`);
  return p;
}
