// The safetensors format, byte level (https://github.com/huggingface/safetensors):
//
//   [8 bytes: header length N, u64 little-endian]
//   [N bytes: UTF-8 JSON object, usually padded with spaces]
//     { "__metadata__"?: { string: string },
//       "<tensor name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ... }
//   [data: each tensor's bytes, row-major, little-endian, at data_offsets relative to byte 8 + N]
//
// The validation follows the reference Rust implementation: the tensors' byte ranges, sorted,
// must tile the data section exactly (no overlaps, no holes, nothing after the last tensor).
// This module is pure (no file access) so that every rule lives in one place.

/** Bytes per element of each supported dtype (the format's dtype names). */
export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const satisfies Record<string, number>;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

/** The reference implementation's limit; a longer header means a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Where one tensor lives: bytes [start, end) counted from the start of the data section. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  start: number;
  end: number;
}

/** The validated header of a safetensors file; tensor data stays on disk. */
export interface SafetensorsFile {
  path: string;
  /** The `__metadata__` object ({} when absent). */
  metadata: Record<string, string>;
  /** Absolute file offset of the data section: 8 + header length. */
  dataStart: number;
  fileSize: number;
  /** In header order. */
  tensors: Map<string, SafetensorsEntry>;
}

const METADATA_KEY = '__metadata__';
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(SAFETENSORS_DTYPE_BYTES, value);
}

/** Whether `shape` is an array of non-negative safe integers. */
export function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0);
}

/** Exact byte length of a tensor (BigInt: a hostile shape's product can exceed 2^53). */
export function tensorByteLength(dtype: SafetensorsDtype, shape: readonly number[]): bigint {
  return shape.reduce((bytes, dim) => bytes * BigInt(dim), BigInt(SAFETENSORS_DTYPE_BYTES[dtype]));
}

/**
 * Checks the 8-byte length prefix against the file size and returns the header length.
 * `fileSize` must be >= 8.
 */
export function checkHeaderLength(path: string, headerLength: bigint, fileSize: number): number {
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `${path}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit; ` +
        'the first 8 bytes are corrupt or this is not a safetensors file',
    );
  }
  if (headerLength > BigInt(fileSize - 8)) {
    throw new Error(
      `${path}: header length ${headerLength} runs past the end of the ${fileSize}-byte file; ` +
        'the file is truncated or not a safetensors file',
    );
  }
  return Number(headerLength);
}

/**
 * Validates a header against the size of the data section that follows it.
 * Returns the metadata and the tensors in header order.
 */
export function parseHeader(
  path: string,
  headerBytes: Uint8Array,
  dataLength: number,
): { metadata: Record<string, string>; tensors: Map<string, SafetensorsEntry> } {
  const header = decodeHeaderJson(path, headerBytes);
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(path, value);
    else tensors.set(name, parseEntry(path, name, value));
  }
  checkTiling(path, tensors, dataLength);
  return { metadata, tensors };
}

function decodeHeaderJson(path: string, headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch {
    throw new Error(`${path}: header is not valid UTF-8; the file is corrupt or not a safetensors file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${path}: header is not valid JSON (${(error as Error).message}); the file is corrupt or not a safetensors file`,
    );
  }
  if (!isPlainObject(header)) {
    throw new Error(
      `${path}: header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}, got ${describe(header)}`,
    );
  }
  return header;
}

function parseMetadata(path: string, value: unknown): Record<string, string> {
  if (value === null) return {};
  if (!isPlainObject(value)) {
    throw new Error(`${path}: ${METADATA_KEY} must be an object of string values, got ${describe(value)}`);
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw new Error(`${path}: ${METADATA_KEY}.${describe(key)} must be a string, got ${describe(item)}`);
    }
  }
  return value as Record<string, string>;
}

function parseEntry(path: string, name: string, value: unknown): SafetensorsEntry {
  const where = `${path}: tensor ${describe(name)}`;
  if (!isPlainObject(value)) {
    throw new Error(`${where}: entry must be an object {dtype, shape, data_offsets}, got ${describe(value)}`);
  }
  const missing = ['dtype', 'shape', 'data_offsets'].filter((field) => !Object.hasOwn(value, field));
  if (missing.length > 0) {
    throw new Error(`${where}: entry must be an object {dtype, shape, data_offsets}; missing ${missing.join(', ')}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isSafetensorsDtype(dtype)) {
    throw new Error(
      `${where}: unknown dtype ${describe(dtype)}; supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`,
    );
  }
  if (!isValidShape(shape)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  if (!isValidOffsets(offsets)) {
    throw new Error(
      `${where}: data_offsets must be [begin, end] with integers 0 <= begin <= end, got ${describe(offsets)}`,
    );
  }
  const [start, end] = offsets;
  const needed = tensorByteLength(dtype, shape);
  if (BigInt(end - start) !== needed) {
    throw new Error(
      `${where}: data_offsets [${start}, ${end}] span ${end - start} bytes, ` +
        `but ${dtype} with shape [${shape.join(', ')}] needs ${needed}`,
    );
  }
  // `+ 0` turns a JSON -0 into 0, so that Object.is and Map keys behave for callers.
  return { dtype, shape: shape.map((dim) => dim + 0), start: start + 0, end: end + 0 };
}

function isValidOffsets(offsets: unknown): offsets is [number, number] {
  return (
    Array.isArray(offsets) &&
    offsets.length === 2 &&
    offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0) &&
    offsets[0] <= offsets[1]
  );
}

/** The byte ranges, sorted by (start, end), must cover [0, dataLength) once each. */
function checkTiling(path: string, tensors: Map<string, SafetensorsEntry>, dataLength: number): void {
  const ranges = [...tensors].sort(([, a], [, b]) => a.start - b.start || a.end - b.end);
  let covered = 0; // everything before this data offset belongs to exactly one tensor
  let previous: string | undefined;
  for (const [name, { start, end }] of ranges) {
    if (start < covered) {
      throw new Error(
        `${path}: tensor ${describe(name)} at data bytes [${start}, ${end}) overlaps ` +
          `tensor ${describe(previous)}, which ends at ${covered}`,
      );
    }
    if (start > covered) {
      const after = previous === undefined ? 'at the start of the data' : `after tensor ${describe(previous)}`;
      throw new Error(
        `${path}: data bytes [${covered}, ${start}) ${after} belong to no tensor; ` +
          'tensors must be stored back to back',
      );
    }
    if (end > dataLength) {
      throw new Error(
        `${path}: tensor ${describe(name)} ends at data byte ${end}, but the data section ` +
          `has only ${dataLength} bytes; the file is truncated`,
      );
    }
    covered = end;
    previous = name;
  }
  if (covered < dataLength) {
    throw new Error(
      `${path}: ${dataLength - covered} bytes after the last tensor belong to no tensor ` +
        `(data section is ${dataLength} bytes, tensors end at ${covered}); the file has trailing garbage`,
    );
  }
}

export interface HeaderEntryToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  start: number;
  end: number;
}

/**
 * The 8-byte length prefix plus the header JSON, `__metadata__` first, then `entries` in the
 * given order, padded with spaces so that the data section starts at a multiple of 8.
 * Built by hand: JSON.stringify would move integer-like names ("0") before `__metadata__`.
 */
export function encodeHeader(
  entries: readonly HeaderEntryToWrite[],
  metadata: Record<string, string> | undefined,
): Uint8Array {
  const fields: string[] = [];
  if (metadata !== undefined) fields.push(`"${METADATA_KEY}":${encodeObject(Object.entries(metadata))}`);
  for (const { name, dtype, shape, start, end } of entries) {
    fields.push(
      `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${start},${end}]}`,
    );
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = Buffer.alloc(8 + headerLength, ' ');
  bytes.writeBigUInt64LE(BigInt(headerLength), 0);
  json.copy(bytes, 8);
  return bytes;
}

function encodeObject(entries: [string, string][]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON value for error messages, cut to a readable length (headers can hold huge or deep values). */
export function describe(value: unknown): string {
  if (Array.isArray(value)) {
    const shown = value.slice(0, 8).map((item) => (typeof item === 'object' && item !== null ? '…' : describe(item)));
    return `[${shown.join(', ')}${value.length > 8 ? `, … (${value.length} items)` : ''}]`;
  }
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
