import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type SafetensorsDtype,
  type TensorToWrite,
  SAFETENSORS_DTYPE_BYTES,
  readSafetensorsHeader,
  readTensorBytes,
  readTensorBytesInto,
  writeSafetensors,
} from '../../src/io/safetensors.js';
import { SAFETENSORS_INDEX_FILE, SAFETENSORS_WEIGHTS_FILE } from '../../src/io/files.js';
import {
  openCheckpoint,
  readShardIndex,
  writeShardedCheckpoint,
} from '../../src/io/safetensors-checkpoint.js';

const DTYPES = Object.keys(SAFETENSORS_DTYPE_BYTES) as SafetensorsDtype[];

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'basin-safetensors-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Deterministic pseudo-random bytes (a linear congruential generator). */
function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function tensor(name: string, dtype: SafetensorsDtype, shape: number[], seed = name.length): TensorToWrite {
  return { name, dtype, shape, bytes: patternBytes(numel(shape) * SAFETENSORS_DTYPE_BYTES[dtype], seed) };
}

/** A file from a header string written by hand: [u64 LE length][header][data]. */
function handBuiltFile(header: string | Uint8Array, data: Uint8Array, lengthPrefix?: bigint): Buffer {
  const headerBytes = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(header);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthPrefix ?? BigInt(headerBytes.length));
  return Buffer.concat([prefix, headerBytes, data]);
}

test('round trip of every dtype, including 0-d and empty tensors', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'all.safetensors');
  const shapes = [[], [3], [2, 0, 4], [2, 3], [0]];
  const tensors = DTYPES.flatMap((dtype, d) =>
    shapes.map((shape, s) => tensor(`${dtype.toLowerCase()}.${s}`, dtype, shape, d * 10 + s)),
  );
  tensors.push(tensor(`long ünicode name ✓ ${'x'.repeat(300)}`, 'F32', [2]), tensor('0', 'U8', [1]), tensor('', 'I8', [2]));
  writeSafetensors(path, tensors);
  const file = readSafetensorsHeader(path);
  assert.equal(file.path, path);
  assert.deepEqual(file.metadata, {});
  assert.equal(file.fileSize, readFileSync(path).length);
  assert.equal(file.tensors.size, tensors.length);
  for (const { name, dtype, shape, bytes } of tensors) {
    const entry = file.tensors.get(name);
    assert.ok(entry, name);
    assert.equal(entry.dtype, dtype);
    assert.deepEqual(entry.shape, shape);
    assert.equal(entry.end - entry.start, bytes.length);
    assert.deepEqual(readTensorBytes(file, name), bytes);
  }
});

test('writer output equals a header written by hand: order, padding, metadata first', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'exact.safetensors');
  writeSafetensors(
    path,
    [
      { name: 'a', dtype: 'U8', shape: [3], bytes: Uint8Array.of(7, 8, 9) },
      { name: 'b', dtype: 'I16', shape: [2], bytes: Uint8Array.of(1, 0, 2, 0) },
    ],
    { k: 'v' },
  );
  // I16 (2-byte elements) before U8 (1-byte): the reference orders by alignment, then name.
  const json = '{"__metadata__":{"k":"v"},"b":{"dtype":"I16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[3],"data_offsets":[4,7]}}';
  assert.equal(json.length, 131); // padded with 5 spaces to 136, so the data starts at 144
  const expected = handBuiltFile(`${json}     `, Uint8Array.of(1, 0, 2, 0, 7, 8, 9));
  assert.deepEqual(readFileSync(path), expected);
  assert.deepEqual(readdirSync(dir), ['exact.safetensors']); // no temp file left behind
});

test('header is padded so data starts at a multiple of 8, and every tensor is aligned to its element size', (t) => {
  const dir = tempDir(t);
  // Names sort opposite to element sizes, so sorting by name alone would misalign.
  const tensors = [
    tensor('a_bool', 'BOOL', [3]),
    tensor('b_u8', 'U8', [5]),
    tensor('c_i16', 'I16', [3]),
    tensor('d_bf16', 'BF16', [1]),
    tensor('e_f32', 'F32', [3]),
    tensor('f_i64', 'I64', [1]),
    tensor('g_f64', 'F64', [2]),
  ];
  for (let nameLength = 1; nameLength <= 9; nameLength++) {
    const path = join(dir, `aligned-${nameLength}.safetensors`);
    writeSafetensors(path, tensors, { note: 'x'.repeat(nameLength) });
    const file = readSafetensorsHeader(path);
    assert.equal(file.dataStart % 8, 0);
    const raw = readFileSync(path);
    assert.match(raw.subarray(8, file.dataStart).toString('utf8'), /^\{"__metadata__":.*\} *$/);
    for (const [name, entry] of file.tensors) {
      assert.equal((file.dataStart + entry.start) % SAFETENSORS_DTYPE_BYTES[entry.dtype], 0, name);
    }
    const byPosition = [...file.tensors].sort(([, a], [, b]) => a.start - b.start).map(([name]) => name);
    assert.deepEqual(byPosition, ['f_i64', 'g_f64', 'e_f32', 'c_i16', 'd_bf16', 'a_bool', 'b_u8']);
  }
});

test('metadata round trips (unicode, integer-like keys) and is {} when absent', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'meta.safetensors');
  const metadata = { format: 'pt', '0': 'zero', 'ключ': 'значение ✓', quote: 'a "b" \\ c\n' };
  writeSafetensors(path, [tensor('w', 'F32', [2])], metadata);
  const file = readSafetensorsHeader(path);
  assert.deepEqual(file.metadata, metadata);
  assert.match(readFileSync(path).subarray(8, 24).toString('utf8'), /^\{"__metadata__"/);

  const hand = join(dir, 'null-meta.safetensors');
  writeFileSync(hand, handBuiltFile('{"__metadata__":null,"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', Uint8Array.of(5)));
  assert.deepEqual(readSafetensorsHeader(hand).metadata, {});
});

test('reads a file built by hand: unpadded header, entries out of order, extra fields ignored', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'hand.safetensors');
  const header =
    '{"second":{"dtype":"F32","shape":[2],"data_offsets":[3,11],"extra":true},' +
    '"first":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},"__metadata__":{"who":"test"}}';
  const data = Buffer.alloc(11);
  data.writeInt8(-1, 0);
  data.writeInt8(2, 1);
  data.writeInt8(-3, 2);
  data.writeFloatLE(1.5, 3);
  data.writeFloatLE(-0.25, 7);
  writeFileSync(path, handBuiltFile(header, data));

  const file = readSafetensorsHeader(path);
  assert.equal(file.dataStart, 8 + Buffer.byteLength(header));
  assert.deepEqual(file.metadata, { who: 'test' });
  assert.deepEqual([...file.tensors.keys()], ['second', 'first']);
  assert.deepEqual(file.tensors.get('first'), { dtype: 'I8', shape: [3], start: 0, end: 3 });
  assert.deepEqual([...new Int8Array(readTensorBytes(file, 'first').buffer)], [-1, 2, -3]);
  assert.deepEqual([...new Float32Array(readTensorBytes(file, 'second').buffer)], [1.5, -0.25]);
});

test('readTensorBytesInto fills a view into a larger buffer and checks its length', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'into.safetensors');
  const w = tensor('w', 'F32', [2, 3]);
  writeSafetensors(path, [w, tensor('b', 'F32', [3])]);
  const file = readSafetensorsHeader(path);

  const arena = new Uint8Array(100).fill(0xee);
  readTensorBytesInto(file, 'w', arena.subarray(10, 34));
  assert.deepEqual(arena.subarray(10, 34), w.bytes);
  assert.ok(arena.subarray(0, 10).every((b) => b === 0xee) && arena.subarray(34).every((b) => b === 0xee));

  assert.throws(
    () => readTensorBytesInto(file, 'w', new Uint8Array(23)),
    (e: Error) => e.message === `${path}: tensor "w" (F32 [2, 3]) is 24 bytes, but the destination holds 23`,
  );
  assert.throws(() => readTensorBytes(file, 'nope'), (e: Error) =>
    e.message === `${path}: no tensor named "nope"; the file has 2 tensors: "b", "w"`);

  writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('xx')]));
  assert.throws(() => readTensorBytes(file, 'w'), /file size changed from \d+ to \d+ bytes since its header was read/);
});

test('reads only the header: a 3 GiB sparse file (too big to read whole) opens at once', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sparse.safetensors');
  const dataBytes = 3 * 2 ** 30;
  const header = Buffer.from(`{"big":{"dtype":"U8","shape":[${dataBytes}],"data_offsets":[0,${dataBytes}]}}`);
  const fd = openSync(path, 'w');
  writeSync(fd, handBuiltFile(header, new Uint8Array(0)));
  ftruncateSync(fd, 8 + header.length + dataBytes);
  closeSync(fd);
  assert.throws(() => readFileSync(path), /RangeError|ERR_FS_FILE_TOO_LARGE|greater than/i);
  const file = readSafetensorsHeader(path);
  assert.deepEqual(file.tensors.get('big'), { dtype: 'U8', shape: [dataBytes], start: 0, end: dataBytes });
});

test('a file written by PyTorch (bench/peer/write_safetensors.py) reads with the expected bytes', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('/usr/bin/python3 with torch is not available');
    return;
  }
  const dir = tempDir(t);
  const path = join(dir, 'torch.safetensors');
  const run = spawnSync('/usr/bin/python3', [peerScript('write_safetensors.py'), path], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);

  const file = readSafetensorsHeader(path);
  assert.deepEqual(file.metadata, { format: 'pt', writer: 'bench/peer/write_safetensors.py' });
  const read = (name: string, dtype: SafetensorsDtype, shape: number[]) => {
    assert.equal(file.tensors.get(name)?.dtype, dtype, name);
    assert.deepEqual(file.tensors.get(name)?.shape, shape, name);
    return readTensorBytes(file, name).buffer as ArrayBuffer;
  };
  const arange = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

  assert.deepEqual([...new Float32Array(read('f32', 'F32', [2, 3]))], arange(6, (i) => (i - 2.5) * 0.5));
  assert.deepEqual([...new Float64Array(read('f64', 'F64', [5]))], arange(5, (i) => i / 4));
  const quarterSteps = arange(8, (i) => (i - 4) * 0.25);
  assert.deepEqual([...new Uint16Array(read('f16', 'F16', [8]))].map(float16ToNumber), quarterSteps);
  // bf16 is the upper half of float32, exactly, for values that fit in 8 significant bits.
  const float32HighHalves = [...new Uint16Array(new Float32Array(quarterSteps).buffer)].filter((_, i) => i % 2 === 1);
  assert.deepEqual([...new Uint16Array(read('bf16', 'BF16', [8]))], float32HighHalves);
  assert.deepEqual([...new BigInt64Array(read('i64', 'I64', [4]))], [0n, -(2n ** 40n), -2n * 2n ** 40n, -3n * 2n ** 40n]);
  assert.deepEqual([...new Int32Array(read('i32', 'I32', [3, 2]))], arange(6, (i) => 0 - i * 1000));
  assert.deepEqual([...new Int16Array(read('i16', 'I16', [4]))], arange(4, (i) => i - 300));
  assert.deepEqual([...new Int8Array(read('i8', 'I8', [8]))], arange(8, (i) => i - 4));
  assert.deepEqual([...new Uint8Array(read('u8', 'U8', [6]))], arange(6, (i) => 250 + i));
  assert.deepEqual([...new Uint8Array(read('bool', 'BOOL', [5]))], [1, 0, 1, 0, 1]);
  assert.deepEqual([...new Float32Array(read('scalar', 'F32', []))], [3.5]);
  assert.equal(read('empty', 'F32', [0, 3]).byteLength, 0);
});

/** IEEE 754 half precision bits -> number (independent of the code under test). */
function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** bench/peer/<name>, found by walking up from this test file (works from src and dist). */
function peerScript(name: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'bench', 'peer', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`bench/peer/${name} not found above ${fileURLToPath(import.meta.url)}`);
}

const f32 = (offsets: string, shape = '[2]') => `{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}`;

/** [what is wrong, file bytes, the message expected after "<path>: "]. */
const MALFORMED: Array<[string, Buffer, RegExp]> = [
  ['empty file', Buffer.alloc(0), /^file is 0 bytes, shorter than the 8-byte length prefix/],
  ['5-byte file', Buffer.alloc(5), /^file is 5 bytes, shorter than the 8-byte length prefix/],
  ['header over 100 MB', handBuiltFile('{}', Buffer.alloc(0), 200_000_000n), /^header length 200000000 exceeds the 100000000-byte limit/],
  ['u64 max length', handBuiltFile('{}', Buffer.alloc(0), 2n ** 64n - 1n), /^header length 18446744073709551615 exceeds/],
  ['length past end', handBuiltFile('{}', Buffer.alloc(0), 3n), /^header length 3 runs past the end of the 10-byte file/],
  ['not UTF-8', handBuiltFile(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d), Buffer.alloc(0)), /^header is not valid UTF-8/],
  ['not JSON', handBuiltFile('{"a":', Buffer.alloc(0)), /^header is not valid JSON \(/],
  ['zero-length header', handBuiltFile('', Buffer.alloc(0)), /^header is not valid JSON/],
  ['JSON array', handBuiltFile('[1,2]', Buffer.alloc(0)), /^header must be a JSON object mapping tensor names .*, got \[1, 2\]$/],
  ['JSON string', handBuiltFile('"x"', Buffer.alloc(0)), /^header must be a JSON object .*, got "x"$/],
  ['metadata array', handBuiltFile('{"__metadata__":[]}', Buffer.alloc(0)), /^__metadata__ must be an object of string values, got \[\]$/],
  ['metadata number', handBuiltFile('{"__metadata__":{"a":"b","n":1}}', Buffer.alloc(0)), /^__metadata__\."n" must be a string, got 1$/],
  ['entry not object', handBuiltFile('{"x":5}', Buffer.alloc(0)), /^tensor "x": entry must be an object \{dtype, shape, data_offsets\}, got 5$/],
  ['entry missing fields', handBuiltFile('{"x":{"dtype":"F32"}}', Buffer.alloc(0)), /^tensor "x": .*; missing shape, data_offsets$/],
  ['unknown dtype', handBuiltFile('{"x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', Buffer.alloc(1)), /^tensor "x": unknown dtype "F8_E4M3"; supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL$/],
  ['dtype not a string', handBuiltFile('{"x":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4)), /^tensor "x": unknown dtype 4;/],
  ['negative dim', handBuiltFile(`{"x":${f32('[0,4]', '[-1]')}}`, Buffer.alloc(4)), /^tensor "x": shape must be an array of non-negative integers, got \[-1\]$/],
  ['fractional dim', handBuiltFile(`{"x":${f32('[0,4]', '[1.5]')}}`, Buffer.alloc(4)), /^tensor "x": shape must be .*, got \[1\.5\]$/],
  ['string dim', handBuiltFile(`{"x":${f32('[0,4]', '["1"]')}}`, Buffer.alloc(4)), /^tensor "x": shape must be .*, got \["1"\]$/],
  ['infinite dim', handBuiltFile(`{"x":${f32('[0,4]', '[1e400]')}}`, Buffer.alloc(4)), /^tensor "x": shape must be .*, got \[Infinity\]$/],
  ['unsafe dim', handBuiltFile(`{"x":${f32('[0,4]', '[9007199254740993]')}}`, Buffer.alloc(4)), /^tensor "x": shape must be/],
  ['shape not array', handBuiltFile(`{"x":${f32('[0,4]', '"1"')}}`, Buffer.alloc(4)), /^tensor "x": shape must be .*, got "1"$/],
  ['deeply nested shape', handBuiltFile(`{"x":${f32('[0,4]', '['.repeat(100_000) + ']'.repeat(100_000))}}`, Buffer.alloc(4)), /^tensor "x": shape must be .*, got \[…\]$/],
  ['offsets reversed', handBuiltFile(`{"x":${f32('[8,0]')}}`, Buffer.alloc(8)), /^tensor "x": data_offsets must be \[begin, end\] with integers 0 <= begin <= end, got \[8, 0\]$/],
  ['one offset', handBuiltFile(`{"x":${f32('[8]')}}`, Buffer.alloc(8)), /^tensor "x": data_offsets must be .*, got \[8\]$/],
  ['negative offset', handBuiltFile(`{"x":${f32('[-8,0]')}}`, Buffer.alloc(8)), /^tensor "x": data_offsets must be .*, got \[-8, 0\]$/],
  ['NaN-like offset', handBuiltFile(`{"x":${f32('[0,null]')}}`, Buffer.alloc(8)), /^tensor "x": data_offsets must be .*, got \[0, null\]$/],
  ['wrong byte length', handBuiltFile(`{"x":${f32('[0,4]')}}`, Buffer.alloc(4)), /^tensor "x": data_offsets \[0, 4\] span 4 bytes, but F32 with shape \[2\] needs 8$/],
  ['huge numel', handBuiltFile('{"x":{"dtype":"U8","shape":[9007199254740991,9007199254740991],"data_offsets":[0,0]}}', Buffer.alloc(0)), /^tensor "x": data_offsets \[0, 0\] span 0 bytes, but U8 .* needs 81129638414606663681390495662081$/],
  ['overlap', handBuiltFile(`{"a":${f32('[0,8]')},"b":${f32('[4,12]')}}`, Buffer.alloc(12)), /^tensor "b" at data bytes \[4, 12\) overlaps tensor "a", which ends at 8$/],
  ['empty tensor inside another', handBuiltFile(`{"a":${f32('[0,8]')},"e":${f32('[4,4]', '[0]')}}`, Buffer.alloc(8)), /^tensor "e" at data bytes \[4, 4\) overlaps tensor "a"/],
  ['hole between', handBuiltFile(`{"a":${f32('[0,8]')},"b":${f32('[12,20]')}}`, Buffer.alloc(20)), /^data bytes \[8, 12\) after tensor "a" belong to no tensor; tensors must be stored back to back$/],
  ['hole at start', handBuiltFile(`{"a":${f32('[4,12]')}}`, Buffer.alloc(12)), /^data bytes \[0, 4\) at the start of the data belong to no tensor/],
  ['duplicate key', handBuiltFile(`{"a":${f32('[0,8]')},"a":${f32('[8,16]')}}`, Buffer.alloc(16)), /^data bytes \[0, 8\) at the start of the data belong to no tensor/],
  ['truncated data', handBuiltFile(`{"a":${f32('[0,8]')}}`, Buffer.alloc(5)), /^tensor "a" ends at data byte 8, but the data section has only 5 bytes; the file is truncated$/],
  ['trailing garbage', handBuiltFile(`{"a":${f32('[0,8]')}}`, Buffer.alloc(11)), /^3 bytes after the last tensor belong to no tensor \(data section is 11 bytes, tensors end at 8\); the file has trailing garbage$/],
  ['data but no tensors', handBuiltFile('{}', Buffer.alloc(2)), /^2 bytes after the last tensor belong to no tensor/],
];

test('malformed files: one clear error each, naming the file', (t) => {
  const dir = tempDir(t);
  for (const [what, bytes, expected] of MALFORMED) {
    const path = join(dir, `${what.replaceAll(' ', '-')}.safetensors`);
    writeFileSync(path, bytes);
    assert.throws(
      () => readSafetensorsHeader(path),
      (e: Error) => {
        assert.equal(e.constructor, Error, what);
        assert.ok(e.message.startsWith(`${path}: `), `${what}: ${e.message}`);
        assert.match(e.message.slice(path.length + 2), expected, what);
        return true;
      },
      what,
    );
  }
  // The same header with exactly the right data is valid, so the cases above fail for their stated reason.
  const valid = join(dir, 'valid.safetensors');
  writeFileSync(valid, handBuiltFile(`{"a":${f32('[0,8]')},"b":${f32('[8,16]')},"e":${f32('[8,8]', '[0]')}}`, Buffer.alloc(16)));
  assert.equal(readSafetensorsHeader(valid).tensors.size, 3);
  const noTensors = join(dir, 'no-tensors.safetensors');
  writeFileSync(noTensors, handBuiltFile('{}', Buffer.alloc(0)));
  assert.equal(readSafetensorsHeader(noTensors).tensors.size, 0);
  assert.throws(() => readSafetensorsHeader(dir), (e: Error) => e.message === `${dir}: not a regular file; expected a .safetensors file`);
});

test('writer rejects what readers would reject, before creating the file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'bad.safetensors');
  const cases: Array<[TensorToWrite[], Record<string, string> | undefined, RegExp]> = [
    [[tensor('w', 'F32', [2]), tensor('w', 'F32', [2])], undefined, /: tensor "w" is given twice; tensor names must be unique$/],
    [[tensor('__metadata__', 'F32', [2])], undefined, /: tensor name "__metadata__" is not allowed/],
    [[{ name: 'w', dtype: 'F8' as SafetensorsDtype, shape: [1], bytes: new Uint8Array(1) }], undefined, /: tensor "w": unknown dtype "F8"; supported: F64/],
    [[{ name: 'w', dtype: 'F32', shape: [2, -1], bytes: new Uint8Array(0) }], undefined, /: tensor "w": shape must be an array of non-negative integers, got \[2, -1\]$/],
    [[{ name: 'w', dtype: 'F32', shape: [2, 3], bytes: new Uint8Array(23) }], undefined, /: tensor "w": F32 with shape \[2, 3\] needs 24 bytes, got 23$/],
    [[tensor('w', 'F32', [2])], { n: 1 as unknown as string }, /: metadata "n" must be a string, got 1$/],
  ];
  for (const [tensors, metadata, expected] of cases) {
    assert.throws(() => writeSafetensors(path, tensors, metadata), (e: Error) => e.message.startsWith(path) && expected.test(e.message));
    assert.deepEqual(readdirSync(dir), []);
  }
});

test('sharded checkpoint: shards, index, openCheckpoint, and stale files from earlier writes removed', (t) => {
  const dir = join(tempDir(t), 'ckpt');
  // 5 tensors of 24, 24, 40, 8, 24 bytes with a 48-byte limit -> shards [a, b], [c, d], [e].
  const tensors = [
    tensor('layer.0.a', 'F32', [2, 3], 1),
    tensor('layer.0.b', 'F32', [6], 2),
    tensor('layer.1.c', 'F64', [5], 3),
    tensor('layer.1.d', 'U8', [8], 4),
    tensor('layer.2.e', 'BF16', [3, 4], 5),
  ];
  const written = writeShardedCheckpoint(dir, tensors, 48, { format: 'pt' });
  const shards = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
  assert.deepEqual(written, [...shards, SAFETENSORS_INDEX_FILE]);
  assert.deepEqual(readdirSync(dir).sort(), [...shards, SAFETENSORS_INDEX_FILE].sort());

  const indexJson: unknown = JSON.parse(readFileSync(join(dir, SAFETENSORS_INDEX_FILE), 'utf8'));
  assert.deepEqual(indexJson, {
    metadata: { total_size: 120 },
    weight_map: {
      'layer.0.a': shards[0],
      'layer.0.b': shards[0],
      'layer.1.c': shards[1],
      'layer.1.d': shards[1],
      'layer.2.e': shards[2],
    },
  });
  const index = readShardIndex(dir);
  assert.deepEqual(index.metadata, { total_size: 120 });
  assert.equal(index.weightMap.get('layer.1.d'), shards[1]);

  const checkpoint = openCheckpoint(dir);
  assert.deepEqual([...checkpoint.keys()].sort(), tensors.map((x) => x.name));
  for (const { name, dtype, shape, bytes } of tensors) {
    const { file, entry } = checkpoint.get(name)!;
    assert.equal(file.path, join(dir, index.weightMap.get(name)!));
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.deepEqual({ dtype: entry.dtype, shape: entry.shape }, { dtype, shape });
    assert.deepEqual(readTensorBytes(file, name), bytes);
  }
  assert.equal(checkpoint.get('layer.0.a')!.file, checkpoint.get('layer.0.b')!.file); // each shard opened once

  // Two shards now: the third shard and the old index must not survive.
  writeShardedCheckpoint(dir, tensors, 72);
  assert.deepEqual(readdirSync(dir).sort(), ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', SAFETENSORS_INDEX_FILE].sort());
  assert.equal(openCheckpoint(dir).size, 5);

  // Under the limit: one model.safetensors and nothing else.
  writeFileSync(join(dir, 'config.json'), '{}');
  assert.deepEqual(writeShardedCheckpoint(dir, tensors, 1000), [SAFETENSORS_WEIGHTS_FILE]);
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', SAFETENSORS_WEIGHTS_FILE]);
  const single = openCheckpoint(dir);
  assert.deepEqual(readTensorBytes(single.get('layer.2.e')!.file, 'layer.2.e'), tensors[4]!.bytes);

  // A tensor bigger than the limit gets a shard of its own.
  assert.deepEqual(writeShardedCheckpoint(dir, tensors, 10).length, 6);
  assert.ok(!existsSync(join(dir, SAFETENSORS_WEIGHTS_FILE)));
});

test('sharded checkpoint errors: missing files, escaping shard names, names missing from a shard', (t) => {
  const dir = tempDir(t);
  assert.throws(
    () => openCheckpoint(dir),
    (e: Error) => e.message === `${dir}: no safetensors checkpoint found; looked for model.safetensors and model.safetensors.index.json`,
  );

  const indexPath = join(dir, SAFETENSORS_INDEX_FILE);
  const writeIndex = (weightMap: unknown) => writeFileSync(indexPath, JSON.stringify({ metadata: {}, weight_map: weightMap }));
  for (const shard of ['../outside.safetensors', '/etc/passwd', 'sub/../../x.safetensors', 'C:\\x.safetensors', '..\\x', '']) {
    writeIndex({ w: shard });
    assert.throws(() => readShardIndex(dir), (e: Error) =>
      e.message === `${indexPath}: weight_map["w"] = ${JSON.stringify(shard)} points outside the checkpoint folder; shard files must be relative names without ".."`);
  }
  writeIndex({ w: 3 });
  assert.throws(() => readShardIndex(dir), /: weight_map\["w"\] must be a shard file name, got 3$/);
  writeFileSync(indexPath, '{"weight_map": [');
  assert.throws(() => readShardIndex(dir), (e: Error) => e.message.startsWith(`${indexPath}: not valid JSON`));
  writeFileSync(indexPath, '{"metadata": {}}');
  assert.throws(() => readShardIndex(dir), /: expected an object \{"metadata": \{\.\.\.\}, "weight_map"/);

  mkdirSync(join(dir, 'sub'));
  writeSafetensors(join(dir, 'sub', 'shard.safetensors'), [tensor('w', 'F32', [2])]);
  writeIndex({ w: 'sub/shard.safetensors', v: 'sub/shard.safetensors' });
  assert.throws(() => openCheckpoint(dir), (e: Error) =>
    e.message === `${indexPath}: weight_map puts "v" in sub/shard.safetensors, but that file has no such tensor`);
  writeIndex({ w: 'sub/shard.safetensors' });
  assert.equal(openCheckpoint(dir).get('w')!.entry.dtype, 'F32');
});
