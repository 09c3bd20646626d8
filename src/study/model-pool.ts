// The models a study's tasks run on, loaded once and shared: tasks on the same base model reuse
// the loaded weights; a task's adapters (parents that are fine-tunes) are attached for the
// task and detached after it, whatever happens.

import { join } from 'node:path';
import type * as T from '../tensor/index.js';
import { loadModel, type LoadedModel } from '../model/load.js';
import { loadAdapter } from '../model/lora-io.js';
import { ADAPTER_SUBDIR, TOKENIZER_FILE } from '../io/files.js';
import type { Tokenizer } from '../io/tokenizer.js';
import type { Transformer } from '../model/transformer.js';
import type { ModelRef } from './task.js';


export interface ModelPoolOptions {
  /** where models are loaded (default cpu); dtypes come with each task's model */
  device?: T.Device;
}

export class ModelPool {
  private current: { id: string; loaded: LoadedModel } | null = null;

  constructor(private readonly o: ModelPoolOptions = {}) {}

  get device(): T.Device {
    return this.o.device ?? 'cpu';
  }

  /** The base model (loaded on first use; a different base replaces the loaded one). */
  async get(ref: ModelRef): Promise<{ model: Transformer; tokenizer: Tokenizer }> {
    const id = `${ref.fingerprint}/${ref.dtype}`;
    if (this.current?.id !== id) {
      this.release();
      const loaded = await loadModel(ref.dir, { dtype: ref.dtype, device: this.device });
      this.current = { id, loaded };
    }
    const { model, tokenizer } = this.current.loaded;
    if (tokenizer === null) throw new Error(`${ref.dir}: no ${TOKENIZER_FILE}; studies need the model's tokenizer`);
    return { model, tokenizer };
  }

  /** Runs fn with the adapters of these fine-tune artifacts attached (frozen, in order). */
  async withAdapters<R>(model: Transformer, artifactDirs: string[], fn: () => R | Promise<R>): Promise<R> {
    const loaded = artifactDirs.map((d, i) => loadAdapter(model, join(d, ADAPTER_SUBDIR), `stack-${i}`));
    try {
      return await fn();
    } finally {
      for (const a of loaded.reverse()) a.detach();
    }
  }

  /** Drops the loaded model (its tensors are freed with it). */
  release(): void {
    this.current = null;
  }
}
