import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicFileWriter, writeFileAtomic } from '../../src/io/atomic-write.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'basin-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('writeFileAtomic writes strings, buffers and chunk streams, replacing the old file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'out.txt');
  writeFileAtomic(path, 'héllo\n');
  assert.equal(readFileSync(path, 'utf8'), 'héllo\n');
  writeFileAtomic(path, Uint8Array.of(1, 2, 3));
  assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  function* chunks() {
    yield Uint8Array.of(4);
    yield new Uint8Array(0);
    yield Uint8Array.of(5, 6);
  }
  writeFileAtomic(path, chunks());
  assert.deepEqual([...readFileSync(path)], [4, 5, 6]);
  assert.deepEqual(readdirSync(dir), ['out.txt']);
});

test('a stream that fails midway leaves the old file untouched and no temp file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'keep.txt');
  writeFileSync(path, 'old');
  function* failing() {
    yield Buffer.from('new, partial');
    throw new Error('producer failed');
  }
  assert.throws(() => writeFileAtomic(path, failing()), /^Error: producer failed$/);
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['keep.txt']);
});

test('AtomicFileWriter: nothing visible before commit; abort discards; use after commit is an error', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'stream.bin');
  const writer = new AtomicFileWriter(path);
  writer.write('ab');
  writer.write(Uint8Array.of(0x63));
  assert.ok(!existsSync(path));
  assert.ok(existsSync(writer.tempPath) && writer.tempPath.startsWith(join(dir, '.stream.bin.')));
  writer.commit();
  assert.equal(readFileSync(path, 'utf8'), 'abc');
  assert.throws(() => writer.write('d'), (e: Error) =>
    e.message === `${path}: cannot write: the atomic write was already committed or aborted`);

  const aborted = new AtomicFileWriter(path);
  aborted.write('zzz');
  aborted.abort();
  aborted.abort();
  assert.equal(readFileSync(path, 'utf8'), 'abc');
  assert.deepEqual(readdirSync(dir), ['stream.bin']);
});

test('a missing directory is reported by the operating system error, naming the temp path', (t) => {
  const dir = tempDir(t);
  assert.throws(() => writeFileAtomic(join(dir, 'no', 'such', 'dir.txt'), 'x'), /ENOENT.*dir\.txt/);
});
