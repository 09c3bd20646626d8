// safetensors files ⇄ tensors. Loading reads each tensor's bytes from disk straight into the
// tensor's own memory (no second copy of the weights is ever held).

import * as T from '../tensor/index.js';
import { readSafetensorsHeader, readTensorBytesInto, writeSafetensors, type SafetensorsFile, type TensorToWrite } from './safetensors.js';
import { openCheckpoint } from './safetensors-checkpoint.js';
import type { SafetensorsEntry } from './safetensors-format.js';

/** Reads one entry into a new CPU tensor, optionally converting its dtype (tensor by tensor). */
export function readTensor(file: SafetensorsFile, name: string, entry: SafetensorsEntry, dtype?: T.DType): T.Tensor {
  const stored = T.dtypeFromSafetensors(entry.dtype);
  const t = T.empty(entry.shape, { dtype: stored });
  try {
    readTensorBytesInto(file, name, t.bytesView());
  } catch (e) {
    t.dispose();
    throw e;
  }
  if (dtype === undefined || dtype === stored) return t;
  const converted = t.to(dtype);
  t.dispose();
  return converted;
}

/** All tensors of one .safetensors file, plus its metadata. Tensors are kept (outlive scopes). */
export function loadSafetensors(path: string, dtype?: T.DType): { tensors: Map<string, T.Tensor>; metadata: Record<string, string> } {
  const file = readSafetensorsHeader(path);
  const tensors = new Map<string, T.Tensor>();
  for (const [name, entry] of file.tensors) tensors.set(name, T.keep(readTensor(file, name, entry, floatOnly(entry, dtype))));
  return { tensors, metadata: file.metadata };
}

/**
 * All tensors of an HF checkpoint folder (model.safetensors or sharded with an index), floating
 * ones converted to `dtype`, each moved to `device` as it is read (one tensor at a time on the CPU).
 */
export function loadCheckpointTensors(dir: string, o: { dtype?: T.DType; device?: T.Device } = {}): Map<string, T.Tensor> {
  const out = new Map<string, T.Tensor>();
  for (const [name, { file, entry }] of openCheckpoint(dir)) {
    const t = readTensor(file, name, entry, floatOnly(entry, o.dtype));
    out.set(name, T.keep(o.device === undefined || o.device === 'cpu' ? t : moveTo(t, o.device)));
  }
  return out;
}

function moveTo(t: T.Tensor, device: T.Device): T.Tensor {
  const moved = t.to(device);
  t.dispose();
  return moved;
}

// Only floating tensors change dtype on load; integer buffers keep theirs.
function floatOnly(entry: SafetensorsEntry, dtype: T.DType | undefined): T.DType | undefined {
  return T.DTYPES[T.dtypeFromSafetensors(entry.dtype)].floating ? dtype : undefined;
}

/** Tensors as the writer's input; bytes are produced one tensor at a time while writing. */
export function* tensorsToWrite(tensors: Iterable<[string, T.Tensor]>): Iterable<TensorToWrite> {
  for (const [name, t] of tensors) {
    yield { name, dtype: T.DTYPES[t.dtype].safetensors as TensorToWrite['dtype'], shape: t.shape, bytes: t.toBytes() };
  }
}

/** Writes tensors to one .safetensors file atomically. */
export function saveSafetensors(path: string, tensors: Map<string, T.Tensor> | Iterable<[string, T.Tensor]>, metadata?: Record<string, string>): void {
  writeSafetensors(path, tensorsToWrite(tensors), metadata);
}
