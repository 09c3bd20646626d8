// Model fingerprints: config, tokenizer files and safetensors headers plus a few fixed windows
// of bytes — never the weights in full. A sharded checkpoint of 2 GiB (sparse files) is
// fingerprinted reading well under a megabyte; a copy elsewhere has the same fingerprint; a
// fine-tune that changes weight values (same headers) has another.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, cpSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelFingerprint, FINGERPRINT_WINDOW_BYTES } from '../../src/io/fingerprint.js';

const root = mkdtempSync(join(tmpdir(), 'basin-fingerprint-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A safetensors file of one f32 tensor [rows, cols] whose data is a sparse hole (reads as zeros). */
function sparseSafetensors(path: string, name: string, rows: number, cols: number): void {
  const bytes = rows * cols * 4;
  let header = JSON.stringify({ __metadata__: { format: 'pt' }, [name]: { dtype: 'F32', shape: [rows, cols], data_offsets: [0, bytes] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  const fd = openSync(path, 'w');
  writeSync(fd, prefix);
  writeSync(fd, header);
  ftruncateSync(fd, 8 + header.length + bytes);
  closeSync(fd);
}

function shardedModel(dir: string, side: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 16384, num_hidden_layers: 2 }));
  writeFileSync(join(dir, 'tokenizer.json'), '{"model":{"type":"BPE","vocab":{}}}');
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  shards.forEach((f, i) => sparseSafetensors(join(dir, f), `layers.${i}.weight`, side, side)); // side² f32 each
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 2 * side * side * 4 }, weight_map: { 'layers.0.weight': shards[0], 'layers.1.weight': shards[1] } }));
}

test('a 2 GiB sharded checkpoint is fingerprinted from its headers and a few windows, in bounded memory', () => {
  const dir = join(root, 'big');
  shardedModel(dir, 16384); // 1 GiB per shard
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const fp = modelFingerprint(dir);
  const grew = process.memoryUsage().rss - rss0;
  assert.match(fp.fingerprint, /^[0-9a-f]{32}$/);
  assert.deepEqual(fp.weightFiles, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  assert.ok(fp.bytesRead <= 2 * (4096 + 3 * FINGERPRINT_WINDOW_BYTES), `read ${fp.bytesRead} bytes`);
  assert.ok(grew < 64 * 2 ** 20, `RSS grew ${(grew / 2 ** 20).toFixed(1)} MiB`);
});

test('the fingerprint ignores the folder path and sees config, tokenizer and weight values', () => {
  const a = join(root, 'a');
  shardedModel(a, 512);
  const fp = modelFingerprint(a).fingerprint;
  const b = join(root, 'elsewhere', 'b');
  cpSync(a, b, { recursive: true });
  assert.equal(modelFingerprint(b).fingerprint, fp, 'a copy elsewhere has the same fingerprint');

  // A "fine-tune": same headers, one value changed where a window reads.
  const shard = join(b, 'model-00002-of-00002.safetensors');
  const f = openSync(shard, 'r+');
  const prefix = Buffer.alloc(8);
  readSync(f, prefix, 0, 8, 0);
  const dataStart = 8 + Number(prefix.readBigUInt64LE(0));
  writeSync(f, Buffer.from([1, 2, 3, 4]), 0, 4, dataStart); // a tensor's first window starts at its data
  closeSync(f);
  assert.notEqual(modelFingerprint(b).fingerprint, fp, 'changed weight values change the fingerprint');

  // A tensor changed in its middle only (e.g. some rows edited) is seen by the middle window.
  const m = join(root, 'middle');
  cpSync(a, m, { recursive: true });
  const g = openSync(join(m, 'model-00001-of-00002.safetensors'), 'r+');
  readSync(g, prefix, 0, 8, 0);
  writeSync(g, Buffer.alloc(4096, 7), 0, 4096, 8 + Number(prefix.readBigUInt64LE(0)) + (512 * 512 * 4) / 2 - 2048);
  closeSync(g);
  assert.notEqual(modelFingerprint(m).fingerprint, fp, 'a change in the middle of a tensor changes the fingerprint');

  // With both model.safetensors and an index present, the loader reads model.safetensors: so does the fingerprint.
  const both = join(root, 'both');
  cpSync(a, both, { recursive: true });
  sparseSafetensors(join(both, 'model.safetensors'), 'w', 4, 4);
  assert.deepEqual(modelFingerprint(both).weightFiles, ['model.safetensors']);

  const c = join(root, 'c');
  cpSync(a, c, { recursive: true });
  writeFileSync(join(c, 'tokenizer.json'), '{"model":{"type":"BPE","vocab":{"a":0}}}');
  assert.notEqual(modelFingerprint(c).fingerprint, fp, 'another tokenizer changes the fingerprint');
});

test('a folder without weights or config is refused with the fix', () => {
  const d = join(root, 'empty');
  mkdirSync(d, { recursive: true });
  assert.throws(() => modelFingerprint(d), /no config\.json/);
  writeFileSync(join(d, 'config.json'), '{}');
  assert.throws(() => modelFingerprint(d), /no model\.safetensors or model\.safetensors\.index\.json; .*safe_serialization=True/);
});
