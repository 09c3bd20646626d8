// The study framework without a model (spec validation is spec.test.ts's): the store's atomic
// publish under a race between processes, resume after SIGKILL, one writer per output folder,
// and keys that never see paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockOutputFolder } from '../../src/study/output-lock.js';
import { taskKey } from '../../src/study/keys.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import '../../src/study/kinds/index.js';
import '../../src/study/producers/index.js';

const root = mkdtempSync(join(tmpdir(), 'basin-framework-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const WORKER = join(fileURLToPath(new URL('.', import.meta.url)), 'study-worker.js');

interface WorkerResult { ran: number; cached: number; computed: string[]; results: number[] }

function worker(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<WorkerResult> } {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const done = new Promise<WorkerResult>((resolve, reject) => child.on('close', (code, signal) => {
    if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').at(-1) as string) as WorkerResult);
    else reject(Object.assign(new Error(`worker exited ${code ?? signal}: ${stderr}`), { signal }));
  }));
  return { child, done };
}

test('keys: canonical JSON ignores key order, keys change with any input and never see paths', () => {
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
  const base = { producer: 'sample', version: 1, model: 'f'.repeat(32), parents: { adapters: ['fine-tune-1'] }, data: {}, settings: { seed: 1, temperature: 1 } };
  const k = taskKey(base);
  assert.match(k, /^sample-[0-9a-f]{20}$/);
  assert.equal(taskKey({ ...base, settings: { temperature: 1, seed: 1 } }), k);
  for (const changed of [{ ...base, version: 2 }, { ...base, model: 'e'.repeat(32) }, { ...base, parents: { adapters: ['fine-tune-2'] } }, { ...base, settings: { seed: 2, temperature: 1 } }]) assert.notEqual(taskKey(changed), k);
  assert.throws(() => canonicalJson({ lr: Number.NaN }), /NaN cannot be hashed/);
});

test('two processes producing the same tasks at once both succeed and leave one artifact each', async () => {
  const store = join(root, 'race-store');
  const [a, b] = [worker([join(root, 'race-a'), store, '3', '400', 'a']), worker([join(root, 'race-b'), store, '3', '400', 'b'])];
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.deepEqual(ra.results, [0, 1, 4]);
  assert.deepEqual(rb.results, [0, 1, 4]);
  assert.ok(ra.computed.length + rb.computed.length > 3, `both processes computed some task at the same time (a: ${ra.computed}, b: ${rb.computed})`);
  const entries = readdirSync(store);
  assert.equal(entries.filter((n) => n.startsWith('sleepy-')).length, 3, `one artifact per task: ${entries}`);
  assert.deepEqual(entries.filter((n) => n.startsWith('.tmp-')), [], 'the losers removed their copies');
});

test('moving --out recomputes nothing: the store is found by key', async () => {
  const store = join(root, 'move-store');
  const first = await worker([join(root, 'move-1'), store, '2', '10']).done;
  assert.equal(first.ran, 2);
  const second = await worker([join(root, 'elsewhere', 'move-2'), store, '2', '10']).done;
  assert.equal(second.ran, 0);
  assert.equal(second.cached, 2);
  assert.ok(existsSync(join(root, 'elsewhere', 'move-2', 'report.html')));
});

test('a study killed with SIGKILL resumes: only unfinished tasks run again', async () => {
  const store = join(root, 'kill-store');
  const out = join(root, 'kill-out');
  const n = 8;
  const w = worker([out, store, String(n), '250']);
  const statusFile = join(out, 'status.json');
  const doneCount = () => {
    try {
      return (JSON.parse(readFileSync(statusFile, 'utf8')) as { tasks: { state: string }[] }).tasks.filter((t) => t.state === 'done').length;
    } catch {
      return 0;
    }
  };
  while (doneCount() < 3) await new Promise((r) => setTimeout(r, 20));
  w.child.kill('SIGKILL');
  await assert.rejects(w.done, (e: { signal?: string }) => e.signal === 'SIGKILL');
  const finished = readdirSync(store).filter((x) => x.startsWith('sleepy-')).length;
  assert.ok(finished >= 3 && finished < n, `${finished} tasks finished before the kill`);
  const again = await worker([out, store, String(n), '250']).done;
  assert.equal(again.cached, finished, 'finished tasks are found');
  assert.equal(again.ran, n - finished, 'only the unfinished ones run');
  assert.deepEqual(again.results, Array.from({ length: n }, (_, i) => i * i));
  assert.deepEqual(readdirSync(store).filter((x) => x.startsWith('.tmp-')), [], "the killed process's temp folder is removed");
});

test('one writer per output folder; a lock left by a dead process is taken over', () => {
  const dir = join(root, 'locked');
  mkdirSync(dir, { recursive: true });
  const release = lockOutputFolder(dir);
  assert.throws(() => lockOutputFolder(dir), new RegExp(`another basin process \\(pid ${process.pid}\\) is writing this output folder`));
  release();
  lockOutputFolder(dir)();
});

test('Ctrl-C (SIGINT) mid-run: exit 130, the running task is recorded as interrupted, the lock is released', async () => {
  const out = join(root, 'int-out');
  const w = worker([out, join(root, 'int-store'), '6', '300']);
  const statusFile = join(out, 'status.json');
  const running = () => {
    try {
      return (JSON.parse(readFileSync(statusFile, 'utf8')) as { tasks: { state: string }[] }).tasks.some((t) => t.state === 'running');
    } catch {
      return false;
    }
  };
  while (!running()) await new Promise((r) => setTimeout(r, 20));
  w.child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => w.child.on('exit', (c) => resolve(c)));
  await w.done.catch(() => undefined);
  assert.equal(code, 130);
  const states = (JSON.parse(readFileSync(statusFile, 'utf8')) as { tasks: { state: string }[] }).tasks.map((t) => t.state);
  assert.ok(states.includes('interrupted'), states.join(' '));
  assert.ok(!states.includes('running'));
  assert.ok(!existsSync(join(out, '.basin-lock')), 'the lock was released');
});
