// A model folder's fingerprint: what a study task's key says about the model it used. It hashes
// config.json, every tokenizer file, and each weight file the loader would read (the same
// choice as openCheckpoint: model.safetensors, else the shards of the index) by its size, its
// safetensors header (names, dtypes, shapes, offsets, metadata) and three 1 KiB windows of every
// tensor (its start, middle and end) — never the weights in full, so a 16 GB checkpoint is
// fingerprinted by reading a few megabytes. The windows tell apart checkpoints of one
// architecture (a base and its fine-tune share every header): a change to any whole tensor is
// seen; an edit confined to a few elements between windows is not. The folder's path is not
// part of it, so a copy elsewhere has the same fingerprint.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { HF_CONFIG_FILE, SAFETENSORS_INDEX_FILE, SAFETENSORS_WEIGHTS_FILE, TOKENIZER_FILES } from './files.js';
import { openCheckpoint } from './safetensors-checkpoint.js';

/** bytes read at each of a tensor's start, middle and end */
export const FINGERPRINT_WINDOW_BYTES = 1024;

export interface ModelFingerprint {
  /** 32 hex digits */
  fingerprint: string;
  /** the weight files hashed, relative to the folder */
  weightFiles: string[];
  /** bytes read from weight files (headers + windows), for the record */
  bytesRead: number;
}

/** The fingerprint of an HF model folder (single-file or sharded safetensors). */
export function modelFingerprint(dir: string): ModelFingerprint {
  const configPath = join(dir, HF_CONFIG_FILE);
  if (!existsSync(configPath)) throw new Error(`${dir}: no ${HF_CONFIG_FILE}; a model folder needs one (is this a Hugging Face model folder?)`);
  if (!existsSync(join(dir, SAFETENSORS_WEIGHTS_FILE)) && !existsSync(join(dir, SAFETENSORS_INDEX_FILE))) {
    throw new Error(`${dir}: no ${SAFETENSORS_WEIGHTS_FILE} or ${SAFETENSORS_INDEX_FILE}; basin reads safetensors checkpoints (convert .bin weights with transformers' save_pretrained(safe_serialization=True))`);
  }
  const h = createHash('sha256');
  h.update('basin.model-fingerprint/2\n');
  h.update(readFileSync(configPath));
  for (const name of TOKENIZER_FILES) {
    const p = join(dir, name);
    if (existsSync(p)) h.update(`\n${name} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
  }
  const tensors = openCheckpoint(dir); // validates every header; reads no data
  const files = new Map<string, { start: number; end: number; name: string }[]>();
  for (const [name, { file, entry }] of tensors) {
    const list = files.get(file.path) ?? [];
    list.push({ start: file.dataStart + entry.start, end: file.dataStart + entry.end, name });
    files.set(file.path, list);
  }
  let bytesRead = 0;
  const window = Buffer.alloc(FINGERPRINT_WINDOW_BYTES);
  const weightFiles = [...files.keys()].sort();
  for (const path of weightFiles) {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const firstData = Math.min(...(files.get(path) ?? []).map((t) => t.start));
      const header = Buffer.alloc(Math.min(firstData, size));
      bytesRead += readSync(fd, header, 0, header.length, 0);
      h.update(`\nweights ${relative(dir, path)} size ${size} header `);
      h.update(header);
      for (const t of (files.get(path) ?? []).sort((a, b) => a.start - b.start)) {
        const n = t.end - t.start;
        const offsets = [...new Set([t.start, t.start + Math.max(0, Math.floor(n / 2) - FINGERPRINT_WINDOW_BYTES / 2), Math.max(t.start, t.end - FINGERPRINT_WINDOW_BYTES)])];
        for (const at of offsets) {
          const got = readSync(fd, window, 0, Math.min(FINGERPRINT_WINDOW_BYTES, t.end - at), at);
          h.update(`\n${t.name}@${at - t.start} `);
          h.update(window.subarray(0, got));
          bytesRead += got;
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return { fingerprint: h.digest('hex').slice(0, 32), weightFiles: weightFiles.map((p) => relative(dir, p)), bytesRead };
}
