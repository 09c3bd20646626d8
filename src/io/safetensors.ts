// Reading and writing safetensors files, byte level. No tensor engine here: readers hand out
// the byte ranges (or copy them straight into memory the caller owns), writers take bytes.
// The format and its validation rules are in safetensors-format.ts; sharded checkpoint folders
// in safetensors-checkpoint.ts.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomic-write.js';
import {
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsFile,
  MAX_HEADER_BYTES,
  SAFETENSORS_DTYPE_BYTES,
  checkHeaderLength,
  describe,
  encodeHeader,
  isSafetensorsDtype,
  isValidShape,
  parseHeader,
  tensorByteLength,
} from './safetensors-format.js';

export {
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsFile,
  MAX_HEADER_BYTES,
  SAFETENSORS_DTYPE_BYTES,
  isSafetensorsDtype,
} from './safetensors-format.js';

/** One tensor to write: its bytes are row-major and little-endian, as the format stores them. */
export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  bytes: Uint8Array;
}

/**
 * Reads and validates the header of a safetensors file. Reads only the 8-byte prefix and the
 * header, never the tensor data. Throws an Error naming the file and the problem.
 */
export function readSafetensorsHeader(path: string): SafetensorsFile {
  const fd = openSync(path, 'r');
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new Error(`${path}: not a regular file; expected a .safetensors file`);
    const fileSize = stats.size;
    if (fileSize < 8) {
      throw new Error(
        `${path}: file is ${fileSize} bytes, shorter than the 8-byte length prefix of a safetensors file; ` +
          'the file is empty or truncated',
      );
    }
    const prefix = Buffer.alloc(8);
    readExactly(path, fd, prefix, 0);
    const headerLength = checkHeaderLength(path, prefix.readBigUInt64LE(0), fileSize);
    const headerBytes = Buffer.alloc(headerLength);
    readExactly(path, fd, headerBytes, 8);
    const dataStart = 8 + headerLength;
    const { metadata, tensors } = parseHeader(path, headerBytes, fileSize - dataStart);
    return { path, metadata, dataStart, fileSize, tensors };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads tensor `name`'s bytes from disk straight into `dest`, whose length must equal the
 * tensor's byte length (so a loader can fill a tensor's own memory without a second copy).
 */
export function readTensorBytesInto(file: SafetensorsFile, name: string, dest: Uint8Array): void {
  const entry = getEntry(file, name);
  const byteLength = entry.end - entry.start;
  if (dest.length !== byteLength) {
    throw new Error(
      `${file.path}: tensor ${JSON.stringify(name)} (${entry.dtype} [${entry.shape.join(', ')}]) is ` +
        `${byteLength} bytes, but the destination holds ${dest.length}`,
    );
  }
  const fd = openSync(file.path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== file.fileSize) {
      throw new Error(
        `${file.path}: file size changed from ${file.fileSize} to ${size} bytes since its header was read; ` +
          'read the header again',
      );
    }
    readExactly(file.path, fd, dest, file.dataStart + entry.start);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads tensor `name`'s bytes into a new buffer. The buffer starts at offset 0 of its own
 * ArrayBuffer, so typed-array views of any dtype are aligned.
 */
export function readTensorBytes(file: SafetensorsFile, name: string): Uint8Array {
  const entry = getEntry(file, name);
  const bytes = new Uint8Array(entry.end - entry.start);
  readTensorBytesInto(file, name, bytes);
  return bytes;
}

/** The entry of tensor `name`, or an error listing some of the names the file does have. */
export function getEntry(file: SafetensorsFile, name: string): SafetensorsEntry {
  const entry = file.tensors.get(name);
  if (entry === undefined) {
    const names = [...file.tensors.keys()];
    const shown = names.slice(0, 10).map((n) => JSON.stringify(n)).join(', ');
    throw new Error(
      `${file.path}: no tensor named ${JSON.stringify(name)}; the file has ${names.length} tensors` +
        (names.length > 0 ? `: ${shown}${names.length > 10 ? ', …' : ''}` : ''),
    );
  }
  return entry;
}

/**
 * Writes a safetensors file atomically (temp file + rename), streaming each tensor's bytes
 * after the header. Tensors are stored as the reference implementation orders them: by
 * element size descending, then by name, so every tensor starts at a multiple of its
 * element size (the data section starts at a multiple of 8).
 */
export function writeSafetensors(
  path: string,
  tensors: Iterable<TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  const ordered = [...tensors];
  checkTensorsToWrite(path, ordered, metadata);
  ordered.sort(
    (a, b) =>
      SAFETENSORS_DTYPE_BYTES[b.dtype] - SAFETENSORS_DTYPE_BYTES[a.dtype] ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  let offset = 0;
  const entries = ordered.map(({ name, dtype, shape, bytes }) => {
    const start = offset;
    offset += bytes.length;
    return { name, dtype, shape, start, end: offset };
  });
  const header = encodeHeader(entries, metadata);
  if (header.length - 8 > MAX_HEADER_BYTES) {
    throw new Error(
      `${path}: header would be ${header.length - 8} bytes, over the ${MAX_HEADER_BYTES}-byte limit ` +
        'readers enforce; write fewer tensors per file',
    );
  }
  writeFileAtomic(path, [header, ...ordered.map((tensor) => tensor.bytes)]);
}

/** Validates tensors and metadata before anything is written; errors are prefixed with `path`. */
export function checkTensorsToWrite(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> | undefined,
): void {
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (typeof value !== 'string') {
      throw new Error(`${path}: metadata ${JSON.stringify(key)} must be a string, got ${describe(value)}`);
    }
  }
  const seen = new Set<string>();
  for (const { name, dtype, shape, bytes } of tensors) {
    const where = `${path}: tensor ${JSON.stringify(name)}`;
    if (typeof name !== 'string' || name === '__metadata__') {
      throw new Error(`${path}: tensor name ${describe(name)} is not allowed; use a string other than "__metadata__"`);
    }
    if (seen.has(name)) throw new Error(`${where} is given twice; tensor names must be unique`);
    seen.add(name);
    if (!isSafetensorsDtype(dtype)) {
      throw new Error(
        `${where}: unknown dtype ${describe(dtype)}; supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`,
      );
    }
    if (!isValidShape(shape)) {
      throw new Error(`${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
    }
    const needed = tensorByteLength(dtype, shape);
    if (!(bytes instanceof Uint8Array) || BigInt(bytes.length) !== needed) {
      throw new Error(
        `${where}: ${dtype} with shape [${shape.join(', ')}] needs ${needed} bytes, ` +
          `got ${bytes instanceof Uint8Array ? `${bytes.length}` : describe(bytes)}`,
      );
    }
  }
}

/** Fills `dest` from file offset `position`; a short read means the file shrank under us. */
function readExactly(path: string, fd: number, dest: Uint8Array, position: number): void {
  let done = 0;
  while (done < dest.length) {
    const read = readSync(fd, dest, done, dest.length - done, position + done);
    if (read === 0) {
      throw new Error(
        `${path}: file ended at byte ${position + done} while ${dest.length} bytes from byte ${position} ` +
          'were expected; was it modified while being read?',
      );
    }
    done += read;
  }
}
