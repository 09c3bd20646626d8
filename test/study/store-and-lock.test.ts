// The store and the output lock under the failures a review found: an artifact folder left
// without its record, a store copied half-way, stale and empty locks (and several processes
// finding the same stale lock at once), data changed between planning and running, values a
// key cannot hold.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactStore } from '../../src/study/store.js';
import { lockOutputFolder } from '../../src/study/output-lock.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { Plan } from '../../src/study/task.js';
import { LocalExecutor } from '../../src/study/local-executor.js';
import { registerProducer } from '../../src/study/producers/registry.js';
import { writeValue } from '../../src/study/producers/value.js';

const root = mkdtempSync(join(tmpdir(), 'basin-store-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const WORKER = join(fileURLToPath(new URL('.', import.meta.url)), 'study-worker.js');

registerProducer<{ n: number }>({
  name: 'reads-data',
  version: 1,
  summary: 'test producer: counts the lines of its data',
  run(task, io) {
    writeValue(io.dir, { lines: task.settings.n });
  },
});

const record = (key: string) => ({ key, id: 't', producer: 'reads-data', producerVersion: 1, model: null, parents: {}, data: {}, settings: {}, seconds: 0 });

test('a folder without task.json is moved aside and rebuilt; a half-copied artifact is not taken as done', async () => {
  const store = new ArtifactStore(join(root, 's1'));
  const key = 'reads-data-0123456789abcdef0123';
  mkdirSync(store.path(key));
  writeFileSync(join(store.path(key), 'value.json'), 'partial');
  assert.equal(store.has(key), false);
  const { built } = await store.produce(key, async (dir) => {
    writeValue(dir, { ok: true });
    return record(key);
  });
  assert.equal(built, true);
  assert.equal(store.has(key), true);
  assert.equal(readdirSync(store.root).filter((n) => n.startsWith('.broken-')).length, 1, 'the broken folder is kept aside, not deleted');
  rmSync(join(store.path(key), 'value.json'));
  assert.equal(store.has(key), false, 'a recorded file that is missing makes the artifact incomplete');
  writeFileSync(join(store.path(key), 'value.json'), '{"ok":false, "longer": 1}');
  assert.equal(store.has(key), false, 'a recorded file of another size makes the artifact incomplete');
});

test('temp folders are tagged with the host; a read-only store creates nothing', () => {
  const dir = join(root, 's2');
  mkdirSync(dir);
  const mine = `.tmp-k.${hostname().replace(/[^A-Za-z0-9-]/g, '_')}.999999999.ab`;
  const other = '.tmp-k.some-other-host.999999999.ab';
  for (const n of [mine, other]) mkdirSync(join(dir, n));
  new ArtifactStore(dir);
  assert.deepEqual(readdirSync(dir).sort(), [other], "a dead process's temp folder on this host is removed; another host's is left alone");
  const ro = new ArtifactStore(join(root, 'never-made'), { readOnly: true });
  assert.equal(ro.has('x'), false);
  assert.ok(!existsSync(join(root, 'never-made')));
  writeFileSync(join(root, 'a-file'), '');
  assert.throws(() => new ArtifactStore(join(root, 'a-file')), /must be a folder, and this is a file/);
});

test('an empty or dead lock is taken over; a live one is refused naming the flag', () => {
  const dir = join(root, 'out');
  mkdirSync(dir);
  writeFileSync(join(dir, '.basin-lock'), '');
  const release = lockOutputFolder(dir);
  assert.throws(() => lockOutputFolder(dir, '--report'), new RegExp(`another basin process \\(pid ${process.pid}\\) is writing this output folder; wait for it to finish, or give another --report`));
  release();
  writeFileSync(join(dir, '.basin-lock'), `999999999 ${hostname()}\n`);
  lockOutputFolder(dir)();
  writeFileSync(join(dir, '.basin-lock'), '4242 another-host\n');
  assert.throws(() => lockOutputFolder(dir), /basin process 4242 on host another-host is writing this output folder; .*delete .*\.basin-lock if that process is gone/);
});

test('several processes finding the same stale lock: exactly one of them writes the folder', async () => {
  const out = join(root, 'contended');
  mkdirSync(out);
  writeFileSync(join(out, '.basin-lock'), `999999999 ${hostname()}\n`);
  const runs = Array.from({ length: 4 }, (_, i) => new Promise<{ code: number | null; err: string }>((resolve) => {
    // The winner holds the lock for ~8 s, so on a loaded machine a process that starts late
    // still finds it held (one that started after the winner finished could rightly write).
    const child = spawn(process.execPath, [WORKER, out, join(root, `store-${i}`), '2', '4000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, err }));
  }));
  const results = await Promise.all(runs);
  assert.equal(results.filter((r) => r.code === 0).length, 1, results.map((r) => r.err).join('\n'));
  for (const r of results.filter((x) => x.code !== 0)) assert.match(r.err, /another basin process \(pid \d+\) is writing this output folder/);
  assert.ok(!existsSync(join(out, '.basin-lock')), 'the winner released the lock');
});

test('a data file changed after planning fails the task instead of storing under the old hash', async () => {
  const data = join(root, 'rows.txt');
  writeFileSync(data, 'one\n');
  const plan = new Plan();
  plan.add({ id: 'count', producer: 'reads-data', data: { input: data }, settings: { n: 1 } });
  writeFileSync(data, 'one\ntwo\n');
  const store = new ArtifactStore(join(root, 's3'));
  await assert.rejects(new LocalExecutor().run(plan, { store, statusFile: null, label: 't', quiet: true }), /input data .*rows\.txt changed since the study was planned/);
});

test('canonical JSON refuses what it cannot hash exactly', () => {
  assert.throws(() => canonicalJson({ m: new Map([[1, 2]]) }), /a Map cannot be hashed/);
  assert.throws(() => canonicalJson([1, undefined]), /undefined in a list/);
  assert.throws(() => canonicalJson({ x: Number.POSITIVE_INFINITY }), /Infinity cannot be hashed/);
  assert.equal(canonicalJson({ b: undefined, a: null }), '{"a":null}');
});
