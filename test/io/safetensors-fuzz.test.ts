// Mutation fuzzing of the safetensors reader. Every mutated file must either parse into a
// result that satisfies all the format's invariants (checked here independently of the
// reader's own validation) or throw a plain Error whose message names the file.
// Reproduce a failure by rerunning with the BASIN_FUZZ_SEED it prints; fuzz longer with
// BASIN_FUZZ_CASES=<n>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type SafetensorsDtype,
  type SafetensorsFile,
  SAFETENSORS_DTYPE_BYTES,
  readSafetensorsHeader,
  readTensorBytes,
  writeSafetensors,
} from '../../src/io/safetensors.js';

const BASE_SEED = Number(process.env.BASIN_FUZZ_SEED ?? 0x5afe7e45);
const CASES = Number(process.env.BASIN_FUZZ_CASES ?? 2000);

type Rng = () => number; // uniform in [0, 1)

/** mulberry32: a small seeded PRNG, so every case is reproducible from its seed. */
function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

function buildFile(header: string, data: Uint8Array, padTo8: boolean): Buffer {
  let json = Buffer.from(header, 'utf8');
  if (padTo8) json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, ' ')]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

/** The header text and data of a file whose length prefix is still sane, else null. */
function splitFile(file: Buffer): { header: string; data: Buffer } | null {
  if (file.length < 8) return null;
  const length = file.readBigUInt64LE(0);
  if (length > BigInt(file.length - 8)) return null;
  const end = 8 + Number(length);
  return { header: file.subarray(8, end).toString('utf8'), data: file.subarray(end) };
}

/**
 * Like splitFile, with the header parsed as a JSON object, else null. Headers holding DEEP are
 * left alone: JSON.stringify recurses and would overflow the stack re-serializing them.
 */
function splitJson(file: Buffer): { header: Record<string, unknown>; data: Buffer } | null {
  const parts = splitFile(file);
  if (parts === null || parts.header.length > DEEP.length / 2) return null;
  try {
    const header: unknown = JSON.parse(parts.header);
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
    return { header: header as Record<string, unknown>, data: parts.data };
  } catch {
    return null;
  }
}

/** Values that do not belong in a header, or belong in the wrong place. */
const JUNK: readonly unknown[] = [
  null, true, 0, -1, -0.5, 1.5, 1e300, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 4, 8,
  '', '3', 'F32', 'BF16', 'F8_E4M3', 'f32', [], [0], [1, 2], [-1, 4], [2, 1], [0, 2 ** 60], ['0', '4'],
  [1.5, 3], [[0, 4]], {}, { dtype: 'U8' }, { dtype: 'U8', shape: [], data_offsets: [0, 1] },
  { '': '' }, { key: 5 }, { key: 'value' },
];
const DEEP = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
const NUMBER_TEXT = ['1e400', '-1', '-0', '1.5', '1e2', '9007199254740993', '18446744073709551616', '"3"', 'null', '[]', '{}', '0', '7', DEEP];

type Mutation = (rng: Rng, file: Buffer) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  flipHeaderBytes(rng, file) {
    const out = Buffer.from(file);
    const end = Math.min(out.length, splitFile(file) ? out.length - splitFile(file)!.data.length : out.length);
    for (let n = 1 + int(rng, 4); n > 0 && end > 8; n--) out[8 + int(rng, end - 8)] = int(rng, 256);
    return out;
  },
  setLengthPrefix(rng, file) {
    const out = Buffer.from(file);
    if (out.length < 8) return out;
    const current = out.readBigUInt64LE(0);
    const choices = [
      0n, BigInt(int(rng, out.length + 16)), current + 1n, current - 1n, current + BigInt(1 + int(rng, 16)),
      100_000_001n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 32n + current,
    ];
    out.writeBigUInt64LE(BigInt.asUintN(64, pick(rng, choices)));
    return out;
  },
  truncate(rng, file) {
    return file.subarray(0, int(rng, file.length));
  },
  appendGarbage(rng, file) {
    return Buffer.concat([file, Buffer.from(Array.from({ length: 1 + int(rng, 64) }, () => int(rng, 256)))]);
  },
  shiftData(rng, file) {
    const parts = splitFile(file);
    if (parts === null || parts.data.length === 0) return MUTATIONS.appendGarbage!(rng, file);
    const at = file.length - parts.data.length + int(rng, parts.data.length);
    const cut = 1 + int(rng, 8);
    return rng() < 0.5
      ? Buffer.concat([file.subarray(0, at), file.subarray(at + cut)])
      : Buffer.concat([file.subarray(0, at), Buffer.alloc(cut, 0xab), file.subarray(at)]);
  },
  replaceNumber(rng, file) {
    const parts = splitFile(file);
    if (parts === null) return MUTATIONS.flipHeaderBytes!(rng, file);
    const numbers = [...parts.header.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
    if (numbers.length === 0) return MUTATIONS.flipHeaderBytes!(rng, file);
    const match = pick(rng, numbers);
    const header = `${parts.header.slice(0, match.index)}${pick(rng, NUMBER_TEXT)}${parts.header.slice(match.index! + match[0].length)}`;
    return buildFile(header, parts.data, rng() < 0.5);
  },
  swapOffsets(rng, file) {
    const parts = splitJson(file);
    const names = parts ? tensorNames(parts.header) : [];
    if (parts === null || names.length === 0) return MUTATIONS.flipHeaderBytes!(rng, file);
    const a = parts.header[pick(rng, names)] as Record<string, unknown>;
    const b = parts.header[pick(rng, names)] as Record<string, unknown>;
    if (a === b && Array.isArray(a.data_offsets)) a.data_offsets = [...a.data_offsets].reverse();
    else [a.data_offsets, b.data_offsets] = [b.data_offsets, a.data_offsets];
    return buildFile(JSON.stringify(parts.header), parts.data, true);
  },
  moveTensor(rng, file) {
    const parts = splitJson(file);
    const names = parts ? tensorNames(parts.header) : [];
    if (parts === null || names.length === 0) return MUTATIONS.flipHeaderBytes!(rng, file);
    const entry = parts.header[pick(rng, names)] as Record<string, unknown>;
    const delta = pick(rng, [-8, -4, -2, -1, 1, 2, 4, 8]);
    if (Array.isArray(entry.data_offsets)) entry.data_offsets = entry.data_offsets.map((o) => (typeof o === 'number' ? o + delta : o));
    return buildFile(JSON.stringify(parts.header), parts.data, true);
  },
  changeDtype(rng, file) {
    const parts = splitJson(file);
    const names = parts ? tensorNames(parts.header) : [];
    if (parts === null || names.length === 0) return MUTATIONS.flipHeaderBytes!(rng, file);
    const dtypes = [...Object.keys(SAFETENSORS_DTYPE_BYTES), 'F8_E5M2', 'U16', 'f32', '', 5, null];
    (parts.header[pick(rng, names)] as Record<string, unknown>).dtype = pick(rng, dtypes);
    return buildFile(JSON.stringify(parts.header), parts.data, true);
  },
  deleteEntry(rng, file) {
    const parts = splitJson(file);
    if (parts === null) return MUTATIONS.flipHeaderBytes!(rng, file);
    const keys = Object.keys(parts.header);
    if (keys.length > 0 && rng() < 0.5) {
      delete parts.header[pick(rng, keys)];
    } else {
      const names = tensorNames(parts.header);
      if (names.length > 0) delete (parts.header[pick(rng, names)] as Record<string, unknown>)[pick(rng, ['dtype', 'shape', 'data_offsets'])];
    }
    return buildFile(JSON.stringify(parts.header), parts.data, true);
  },
  replaceValue(rng, file) {
    const parts = splitJson(file);
    if (parts === null) return MUTATIONS.flipHeaderBytes!(rng, file);
    const keys = Object.keys(parts.header);
    const junk = rng() < 0.1 ? 'DEEP' : pick(rng, JUNK);
    const key = keys.length > 0 && rng() < 0.8 ? pick(rng, keys) : '__metadata__';
    const target = parts.header[key];
    if (typeof target === 'object' && target !== null && !Array.isArray(target) && rng() < 0.7) {
      const fields = Object.keys(target).concat(['dtype', 'shape', 'data_offsets']);
      (target as Record<string, unknown>)[pick(rng, fields)] = junk;
    } else {
      parts.header[key] = junk;
    }
    const header = JSON.stringify(parts.header).replaceAll('"DEEP"', DEEP);
    return buildFile(header, parts.data, rng() < 0.5);
  },
  replaceHeader(rng, file) {
    const parts = splitFile(file);
    const data = parts?.data ?? Buffer.alloc(0);
    return buildFile(pick(rng, ['', 'null', '[]', '"x"', '123', '{', '{}', '{"a":}', '\ufeff{}', DEEP, '{"__proto__":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}']), data, false);
  },
};

function tensorNames(header: Record<string, unknown>): string[] {
  return Object.keys(header).filter((k) => k !== '__metadata__' && typeof header[k] === 'object' && header[k] !== null);
}

/** Every invariant of a valid file, checked against the raw bytes without the reader's code. */
function checkConsistent(raw: Buffer, file: SafetensorsFile, path: string): void {
  assert.equal(file.path, path);
  assert.equal(file.fileSize, raw.length);
  assert.equal(file.dataStart, 8 + Number(raw.readBigUInt64LE(0)));
  assert.ok(file.dataStart <= raw.length);
  // The reader turns -0 into 0; compare against the JSON with the same normalization.
  const header = JSON.parse(raw.subarray(8, file.dataStart).toString('utf8'), (_, v: unknown) =>
    Object.is(v, -0) ? 0 : v) as Record<string, unknown>;
  const metadata = header.__metadata__ ?? {};
  assert.deepEqual(file.metadata, metadata);
  assert.ok(Object.values(file.metadata).every((v) => typeof v === 'string'));
  assert.deepEqual([...file.tensors.keys()].sort(), Object.keys(header).filter((k) => k !== '__metadata__').sort());
  const dataLength = raw.length - file.dataStart;
  const ranges: Array<[number, number]> = [];
  for (const [name, entry] of file.tensors) {
    const json = header[name] as { dtype: string; shape: number[]; data_offsets: number[] };
    assert.deepEqual([entry.dtype, entry.shape, [entry.start, entry.end]], [json.dtype, json.shape, json.data_offsets]);
    assert.ok(Object.hasOwn(SAFETENSORS_DTYPE_BYTES, entry.dtype));
    assert.ok(entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0));
    assert.ok(Number.isSafeInteger(entry.start) && Number.isSafeInteger(entry.end) && 0 <= entry.start && entry.start <= entry.end);
    const bytes = entry.shape.reduce((n, d) => n * BigInt(d), BigInt(SAFETENSORS_DTYPE_BYTES[entry.dtype as SafetensorsDtype]));
    assert.equal(BigInt(entry.end - entry.start), bytes);
    assert.deepEqual(readTensorBytes(file, name), new Uint8Array(raw.subarray(file.dataStart + entry.start, file.dataStart + entry.end)));
    ranges.push([entry.start, entry.end]);
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (const [start, end] of ranges) {
    assert.equal(start, covered);
    covered = end;
  }
  assert.equal(covered, dataLength);
}

test(`fuzz: ${CASES} mutated files each parse consistently or fail with an error naming the file`, { timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'basin-safetensors-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const bases = baseFiles(dir);
  const names = Object.keys(MUTATIONS);
  let parsed = 0;
  const errorKinds = new Map<string, number>();
  for (let i = 0; i < CASES; i++) {
    const seed = (Math.imul(BASE_SEED, 0x9e3779b1) + i) >>> 0; // disjoint cases for different base seeds
    const rng = mulberry32(seed);
    const applied: string[] = [];
    let file = pick(rng, bases);
    for (let n = rng() < 0.75 ? 1 : 2 + int(rng, 2); n > 0; n--) {
      const name = pick(rng, names);
      applied.push(name);
      file = MUTATIONS[name]!(rng, file);
    }
    const path = join(dir, `case-${i}.safetensors`);
    writeFileSync(path, file);
    try {
      let result: SafetensorsFile | undefined;
      try {
        result = readSafetensorsHeader(path);
      } catch (error) {
        assert.ok(error instanceof Error, `threw a non-Error: ${String(error)}`);
        assert.equal(error.constructor, Error, `threw ${error.constructor.name}: ${error.message}`);
        assert.ok(error.message.startsWith(`${path}: `), `message does not name the file: ${error.message}`);
        const kind = error.message.slice(path.length + 2).replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 40);
        errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
      }
      if (result !== undefined) {
        checkConsistent(file, result, path);
        parsed++;
      }
    } catch (failure) {
      throw new Error(
        `fuzz case ${i} failed (BASIN_FUZZ_SEED=${BASE_SEED}, case seed ${seed}, mutations ${applied.join(' + ')}): ` +
          (failure as Error).message,
      );
    } finally {
      rmSync(path);
    }
  }
  const failed = CASES - parsed;
  t.diagnostic(`seed ${BASE_SEED}: ${parsed} parsed, ${failed} rejected, ${errorKinds.size} kinds of error`);
  for (const [kind, count] of [...errorKinds].sort((a, b) => b[1] - a[1])) t.diagnostic(`${String(count).padStart(5)}  ${kind}`);
  // The mutations must reach both outcomes and most of the validation rules, or the fuzz tests little.
  assert.ok(parsed >= 20, `only ${parsed} mutated files parsed`);
  assert.ok(failed >= CASES / 2, `only ${failed} mutated files were rejected`);
  assert.ok(errorKinds.size >= 15, `only ${errorKinds.size} kinds of error were reached`);
});

/** Valid files to mutate: written by basin's writer and by hand (unpadded, out of order). */
function baseFiles(dir: string): Buffer[] {
  const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
  const write = (name: string, tensors: Parameters<typeof writeSafetensors>[1], metadata?: Record<string, string>) => {
    const path = join(dir, name);
    writeSafetensors(path, tensors, metadata);
    return readFileSync(path);
  };
  return [
    write('mixed.safetensors', [
      { name: 'embed.weight', dtype: 'BF16', shape: [4, 3], bytes: bytes(24) },
      { name: 'norm', dtype: 'F32', shape: [3], bytes: bytes(12) },
      { name: 'step', dtype: 'I64', shape: [], bytes: bytes(8) },
      { name: 'mask', dtype: 'BOOL', shape: [5], bytes: bytes(5) },
      { name: 'none', dtype: 'F16', shape: [0, 7], bytes: bytes(0) },
      { name: 'codes', dtype: 'I8', shape: [2, 2], bytes: bytes(4) },
    ], { format: 'pt', note: 'fuzz base' }),
    write('single.safetensors', [{ name: 'w', dtype: 'F64', shape: [2], bytes: bytes(16) }]),
    write('empty.safetensors', []),
    buildFile(
      '{"b":{"dtype":"U8","shape":[3],"data_offsets":[4,7]},"a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]},"z":{"dtype":"I32","shape":[0],"data_offsets":[7,7]},"__metadata__":{}}',
      bytes(7),
      false,
    ),
  ];
}
