// A model folder's fingerprint: what a study task's key says about the model it used. It hashes
// config.json, every tokenizer file, and each weight file's safetensors header (names, dtypes,
// shapes, offsets, metadata) with the file's size and a few fixed 4 KiB windows of its bytes —
// never the whole weights, so a 16 GB sharded checkpoint is fingerprinted by reading a few
// hundred kilobytes. The windows tell apart two checkpoints of one architecture (a base and its
// fine-tune share every header); the folder's path is not part of it, so a copy elsewhere has
// the same fingerprint.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { HF_CONFIG_FILE, SAFETENSORS_INDEX_FILE, SAFETENSORS_WEIGHTS_FILE, TOKENIZER_FILES } from './files.js';
import { readShardIndex } from './safetensors-checkpoint.js';
import { readSafetensorsHeader } from './safetensors.js';

/** bytes read from each weight file beyond its header, at evenly spaced offsets */
export const FINGERPRINT_WINDOWS = 8;
export const FINGERPRINT_WINDOW_BYTES = 4096;

export interface ModelFingerprint {
  /** 32 hex digits */
  fingerprint: string;
  /** the weight files hashed, relative to the folder */
  weightFiles: string[];
  /** bytes read from weight files (headers + windows), for the record */
  bytesRead: number;
}

function sha256(): ReturnType<typeof createHash> {
  return createHash('sha256');
}

/** The header bytes and sampled windows of one safetensors file, fed into `h`; returns bytes read. */
function hashWeightFile(path: string, h: ReturnType<typeof createHash>): number {
  const file = readSafetensorsHeader(path); // validates; reads only the prefix and the header
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const dataStart = file.dataStart;
    h.update(`size ${size} header `);
    const header = Buffer.alloc(dataStart);
    readSync(fd, header, 0, dataStart, 0);
    h.update(header);
    let read = dataStart;
    const dataBytes = size - dataStart;
    const window = Buffer.alloc(FINGERPRINT_WINDOW_BYTES);
    for (let i = 0; i < FINGERPRINT_WINDOWS && dataBytes > 0; i++) {
      const offset = dataStart + Math.floor((dataBytes * i) / FINGERPRINT_WINDOWS);
      const n = readSync(fd, window, 0, Math.min(FINGERPRINT_WINDOW_BYTES, size - offset), offset);
      h.update(`window ${offset} `);
      h.update(window.subarray(0, n));
      read += n;
    }
    return read;
  } finally {
    closeSync(fd);
  }
}

/** The fingerprint of an HF model folder (single-file or sharded safetensors). */
export function modelFingerprint(dir: string): ModelFingerprint {
  const configPath = join(dir, HF_CONFIG_FILE);
  if (!existsSync(configPath)) throw new Error(`${dir}: no ${HF_CONFIG_FILE}; a model folder needs one (is this a Hugging Face model folder?)`);
  const h = sha256();
  h.update('basin.model-fingerprint/1\n');
  h.update(readFileSync(configPath));
  for (const name of TOKENIZER_FILES) {
    const p = join(dir, name);
    if (existsSync(p)) h.update(`\n${name} ${sha256().update(readFileSync(p)).digest('hex')}`);
  }
  let weightFiles: string[];
  if (existsSync(join(dir, SAFETENSORS_INDEX_FILE))) {
    h.update(`\n${SAFETENSORS_INDEX_FILE} `);
    h.update(readFileSync(join(dir, SAFETENSORS_INDEX_FILE)));
    weightFiles = [...new Set(readShardIndex(dir).weightMap.values())].sort();
  } else if (existsSync(join(dir, SAFETENSORS_WEIGHTS_FILE))) {
    weightFiles = [SAFETENSORS_WEIGHTS_FILE];
  } else {
    throw new Error(`${dir}: no ${SAFETENSORS_WEIGHTS_FILE} or ${SAFETENSORS_INDEX_FILE}; basin reads safetensors checkpoints (convert .bin weights with transformers' save_pretrained(safe_serialization=True))`);
  }
  let bytesRead = 0;
  for (const f of weightFiles) {
    h.update(`\nweights ${f} `);
    bytesRead += hashWeightFile(join(dir, f), h);
  }
  return { fingerprint: h.digest('hex').slice(0, 32), weightFiles, bytesRead };
}
