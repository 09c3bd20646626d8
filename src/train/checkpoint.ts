// Training checkpoints: trainable tensors, optimizer state, data position, RNG state, the
// run's resolved config and, when the run has any, the extra state its objective moves (an SAE's
// dead-latent counters), in a folder `checkpoint-<step>` that appears atomically (written as a
// temp folder, then renamed). Resuming from one reproduces the uninterrupted run exactly.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { CHECKPOINT_DIR_PREFIX, CHECKPOINT_EXTRA_STATE_FILE, CHECKPOINT_OPTIMIZER_FILE, CHECKPOINT_STATE_FILE, CHECKPOINT_TRAINABLE_FILE } from '../io/files.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors-tensors.js';
import type { Json } from './run-config.js';

export interface TrainerState {
  /** optimizer steps done */
  step: number;
  /** where the data source stands (for SFT: epoch and cursor in that epoch's example order) */
  data: Record<string, number>;
  /** the global generator (dropout) state, base64 */
  rng: string;
  optimizer: { kind: string; groups: { lr: number; weightDecay: number }[]; scalars: Record<string, number> };
  /** the run's resolved config and its hash: resuming a different run is refused, naming what differs */
  config: Json;
  runHash: string;
}

export interface Checkpoint {
  dir: string;
  state: TrainerState;
  trainable: Map<string, T.Tensor>;
  optimizerTensors: Map<string, T.Tensor>;
  /** the run's extra state (LoopSpec.state), or null when the run had none */
  extraState: Map<string, T.Tensor> | null;
}

const PREFIX = CHECKPOINT_DIR_PREFIX;

export function checkpointDirs(outDir: string): { step: number; dir: string }[] {
  if (!existsSync(outDir)) return [];
  return readdirSync(outDir)
    .filter((n) => n.startsWith(PREFIX) && /^\d+$/.test(n.slice(PREFIX.length)))
    .map((n) => ({ step: Number(n.slice(PREFIX.length)), dir: join(outDir, n) }))
    .sort((a, b) => a.step - b.step);
}

/** Writes checkpoint-<step>; `extraState` (when given) goes into its own file; only the newest `keep` (default 2) checkpoints are kept. */
export function saveCheckpoint(outDir: string, state: TrainerState, trainable: Map<string, T.Tensor>, optimizerTensors: Map<string, T.Tensor>, o: { extraState?: Map<string, T.Tensor>; keep?: number } = {}): string {
  const final = join(outDir, `${PREFIX}${state.step}`);
  const tmp = join(outDir, `.tmp-${PREFIX}${state.step}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  saveSafetensors(join(tmp, CHECKPOINT_TRAINABLE_FILE), trainable);
  saveSafetensors(join(tmp, CHECKPOINT_OPTIMIZER_FILE), optimizerTensors);
  if (o.extraState !== undefined) saveSafetensors(join(tmp, CHECKPOINT_EXTRA_STATE_FILE), o.extraState);
  writeFileAtomic(join(tmp, CHECKPOINT_STATE_FILE), JSON.stringify(state, null, 1));
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  for (const old of checkpointDirs(outDir).slice(0, -(o.keep ?? 2))) rmSync(old.dir, { recursive: true, force: true });
  return final;
}

export function loadLatestCheckpoint(outDir: string): Checkpoint | null {
  const latest = checkpointDirs(outDir).at(-1);
  if (latest === undefined) return null;
  const state = JSON.parse(readFileSync(join(latest.dir, CHECKPOINT_STATE_FILE), 'utf8')) as TrainerState;
  return {
    dir: latest.dir,
    state,
    trainable: loadSafetensors(join(latest.dir, CHECKPOINT_TRAINABLE_FILE)).tensors,
    optimizerTensors: loadSafetensors(join(latest.dir, CHECKPOINT_OPTIMIZER_FILE)).tensors,
    extraState: existsSync(join(latest.dir, CHECKPOINT_EXTRA_STATE_FILE)) ? loadSafetensors(join(latest.dir, CHECKPOINT_EXTRA_STATE_FILE)).tensors : null,
  };
}

export const encodeRng = (b: Uint8Array): string => Buffer.from(b).toString('base64');
export const decodeRng = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
