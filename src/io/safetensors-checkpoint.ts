// Hugging Face checkpoint folders: one `model.safetensors`, or shards
// `model-00001-of-00003.safetensors` ... listed by `model.safetensors.index.json`:
//   { "metadata": { "total_size": <bytes> }, "weight_map": { "<tensor name>": "<shard file>" } }

import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { isAbsolute, join, win32 } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { SAFETENSORS_INDEX_FILE, SAFETENSORS_WEIGHTS_FILE } from './files.js';
import { describe, isPlainObject } from './safetensors-format.js';
import {
  type SafetensorsEntry,
  type SafetensorsFile,
  type TensorToWrite,
  checkTensorsToWrite,
  readSafetensorsHeader,
  writeSafetensors,
} from './safetensors.js';

const SHARD_NAME_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

/** `model-00002-of-00005.safetensors` for index 1 of 5 (0-based index, as transformers names them). */
export function shardFileName(index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

export interface ShardIndex {
  path: string;
  /** The index's `metadata` object as written (transformers puts `total_size` there); {} if absent. */
  metadata: Record<string, unknown>;
  /** Tensor name -> shard file name, relative to the checkpoint folder. */
  weightMap: Map<string, string>;
}

/** One tensor of a checkpoint: the file it is in and where in that file. */
export interface CheckpointTensor {
  file: SafetensorsFile;
  entry: SafetensorsEntry;
}

/** Reads and validates `dir/model.safetensors.index.json`. */
export function readShardIndex(dir: string): ShardIndex {
  const path = join(dir, SAFETENSORS_INDEX_FILE);
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) throw new Error(`${path}: not valid JSON (${error.message})`);
    throw error;
  }
  if (!isPlainObject(index) || !isPlainObject(index.weight_map)) {
    throw new Error(`${path}: expected an object {"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}}`);
  }
  const metadata = index.metadata ?? {};
  if (!isPlainObject(metadata)) throw new Error(`${path}: "metadata" must be an object, got ${describe(metadata)}`);
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(index.weight_map)) {
    if (typeof shard !== 'string') {
      throw new Error(`${path}: weight_map[${JSON.stringify(name)}] must be a shard file name, got ${describe(shard)}`);
    }
    checkShardName(path, name, shard);
    weightMap.set(name, shard);
  }
  return { path, metadata, weightMap };
}

/** A shard must be a relative path inside the checkpoint folder. */
function checkShardName(indexPath: string, name: string, shard: string): void {
  const segments = shard.split(/[\\/]/);
  if (shard === '' || shard.includes('\0') || isAbsolute(shard) || win32.isAbsolute(shard) || segments.includes('..')) {
    throw new Error(
      `${indexPath}: weight_map[${JSON.stringify(name)}] = ${JSON.stringify(shard)} points outside the ` +
        'checkpoint folder; shard files must be relative names without ".."',
    );
  }
}

/**
 * Opens a checkpoint folder: `model.safetensors` if present (transformers' order), otherwise
 * the shards listed by `model.safetensors.index.json`. Returns every tensor the checkpoint
 * names (for shards: the weight_map's names) with its file and entry; no data is read.
 */
export function openCheckpoint(dir: string): Map<string, CheckpointTensor> {
  const singlePath = join(dir, SAFETENSORS_WEIGHTS_FILE);
  if (existsSync(singlePath)) {
    const file = readSafetensorsHeader(singlePath);
    return new Map([...file.tensors].map(([name, entry]) => [name, { file, entry }]));
  }
  if (!existsSync(join(dir, SAFETENSORS_INDEX_FILE))) {
    throw new Error(
      `${dir}: no safetensors checkpoint found; looked for ${SAFETENSORS_WEIGHTS_FILE} and ${SAFETENSORS_INDEX_FILE}`,
    );
  }
  const index = readShardIndex(dir);
  const shards = new Map<string, SafetensorsFile>();
  const tensors = new Map<string, CheckpointTensor>();
  for (const [name, shard] of index.weightMap) {
    let file = shards.get(shard);
    if (file === undefined) {
      file = readSafetensorsHeader(join(dir, shard));
      shards.set(shard, file);
    }
    const entry = file.tensors.get(name);
    if (entry === undefined) {
      throw new Error(
        `${index.path}: weight_map puts ${JSON.stringify(name)} in ${shard}, but that file has no such tensor`,
      );
    }
    tensors.set(name, { file, entry });
  }
  return tensors;
}

/**
 * Writes a checkpoint folder: `model.safetensors` if the tensors total at most `maxShardBytes`,
 * else shards of at most `maxShardBytes` each (a larger tensor gets a shard of its own), filled
 * in the given order, plus the index. Each file is written atomically; afterwards, checkpoint
 * files in `dir` left from an earlier write of the other layout or shard count are removed
 * (as transformers' save_pretrained does), so openCheckpoint finds only what was written.
 * `metadata` goes into every safetensors file. Returns the file names written.
 */
export function writeShardedCheckpoint(
  dir: string,
  tensors: Iterable<TensorToWrite>,
  maxShardBytes: number,
  metadata?: Record<string, string>,
): string[] {
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes <= 0) {
    throw new Error(`${dir}: maxShardBytes must be a positive integer, got ${describe(maxShardBytes)}`);
  }
  const all = [...tensors];
  checkTensorsToWrite(dir, all, metadata);
  mkdirSync(dir, { recursive: true });
  const groups = groupIntoShards(all, maxShardBytes);
  const written =
    groups.length === 1 ? [SAFETENSORS_WEIGHTS_FILE] : groups.map((_, index) => shardFileName(index, groups.length));
  groups.forEach((group, index) => writeSafetensors(join(dir, written[index]!), group, metadata));
  if (groups.length > 1) {
    writeFileAtomic(join(dir, SAFETENSORS_INDEX_FILE), `${JSON.stringify(shardIndexJson(groups, written), null, 2)}\n`);
    written.push(SAFETENSORS_INDEX_FILE);
  }
  removeStaleCheckpointFiles(dir, new Set(written));
  return written;
}

/**
 * Consecutive groups whose byte sizes stay within `maxShardBytes` (a single tensor may exceed
 * it); always at least one group, so an empty checkpoint is an empty `model.safetensors`.
 */
function groupIntoShards(tensors: TensorToWrite[], maxShardBytes: number): TensorToWrite[][] {
  const groups: TensorToWrite[][] = [];
  let current: TensorToWrite[] = [];
  let currentBytes = 0;
  for (const tensor of tensors) {
    if (current.length > 0 && currentBytes + tensor.bytes.length > maxShardBytes) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(tensor);
    currentBytes += tensor.bytes.length;
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);
  return groups;
}

function shardIndexJson(groups: TensorToWrite[][], shardNames: string[]): object {
  const entries = groups.flatMap((group, index) => group.map((tensor) => [tensor.name, shardNames[index]!] as const));
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const totalSize = groups.flat().reduce((sum, tensor) => sum + tensor.bytes.length, 0);
  return { metadata: { total_size: totalSize }, weight_map: Object.fromEntries(entries) };
}

function removeStaleCheckpointFiles(dir: string, keep: Set<string>): void {
  for (const name of readdirSync(dir)) {
    const isCheckpointFile = name === SAFETENSORS_WEIGHTS_FILE || name === SAFETENSORS_INDEX_FILE || SHARD_NAME_PATTERN.test(name);
    if (isCheckpointFile && !keep.has(name)) unlinkSync(join(dir, name));
  }
}
