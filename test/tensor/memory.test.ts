// Memory: scopes free intermediates; a long loop of op chains does not grow.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as T from '../../src/tensor/index.js';

test('scope frees every intermediate and keeps what it returns', () => {
  const before = T.liveTensors();
  const kept = T.scope(() => {
    const a = T.randn([4, 4]);
    const b = a.matmul(a).relu().add(1);
    a.exp();
    return { b, list: [b.sum()] };
  });
  assert.equal(T.liveTensors(), before + 2, 'only the returned tensors survive');
  assert.deepEqual(kept.b.shape, [4, 4]);
  kept.b.dispose();
  kept.list[0]?.dispose();
  assert.equal(T.liveTensors(), before);
});

test('nested scopes hand survivors to the enclosing scope', () => {
  const before = T.liveTensors();
  T.scope(() => {
    const inner = T.scope(() => T.ones([3]).mul(2));
    assert.equal(inner.disposed, false);
    assert.equal(inner.sum().item(), 6);
  });
  assert.equal(T.liveTensors(), before, 'the inner survivor is freed by the outer scope');
});

test('a throwing scope still frees its tensors, and keep() exempts tensors', () => {
  const before = T.liveTensors();
  let param: T.Tensor | undefined;
  assert.throws(() =>
    T.scope(() => {
      param = T.keep(T.zeros([2]));
      T.ones([2]).add(1);
      throw new Error('boom');
    }),
  /boom/);
  assert.equal(T.liveTensors(), before + 1);
  assert.equal(param?.disposed, false);
  param?.dispose();
  assert.equal(T.liveTensors(), before);
});

test('a disposed tensor throws a clear error, and dispose is idempotent', () => {
  const a = T.ones([2]);
  a.dispose();
  a.dispose();
  assert.equal(a.disposed, true);
  assert.throws(() => a.exp(), /disposed/);
  // A stale id must not alias a new tensor that reuses the slot.
  const b = T.ones([2]);
  assert.throws(() => a.add(b), /disposed/);
  b.dispose();
});

test('100k iterations of an op chain inside scope keep RSS and live tensors bounded', () => {
  const x = T.keep(T.randn([16]));
  const y = T.keep(T.randn([16]));
  const live0 = T.liveTensors();
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      T.scope(() => {
        x.add(y).mul(0.5).tanh().sub(x).abs().sum();
      });
    }
  };
  run(10_000); // warm up allocators
  const rss0 = process.memoryUsage().rss;
  run(100_000);
  const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.equal(T.liveTensors(), live0, 'no handles leak');
  assert.ok(grown < 32, `RSS grew by ${grown.toFixed(1)} MiB over 100k iterations`);
  x.dispose();
  y.dispose();
});

test('tensors outside any scope are freed by garbage collection', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const live0 = T.liveTensors();
  for (let i = 0; i < 1000; i++) T.ones([8]).add(1);
  for (let i = 0; i < 10 && T.liveTensors() > live0; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(T.liveTensors() <= live0 + 10, `after GC ${T.liveTensors() - live0} tensors are still alive`);
});
