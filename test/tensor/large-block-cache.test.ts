// The CPU allocator keeps freed blocks of 32 MiB or more for reuse (native/basin.cc, "Large-block
// cache"). These tests check that reuse happens, that it never shows in values, and that the
// limit holds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { totalmem } from 'node:os';
import * as T from '../../src/tensor/index.js';

const MIB = 2 ** 18; // f32 elements in 1 MiB
const BLOCK = 32 * MIB; // the smallest block the cache keeps

/** Runs fn with the cache emptied first and the limit set to `limit` bytes, restoring it after. */
function withCache(limit: number, fn: () => void): void {
  const before = T.largeBlockCache.stats().limitBytes;
  T.largeBlockCache.setLimit(0);
  T.largeBlockCache.setLimit(limit);
  try {
    fn();
  } finally {
    T.largeBlockCache.setLimit(before);
  }
}

test('a freed large block serves the next allocation of its size, and what it held never shows', () => {
  withCache(64 * 2 ** 20, () => {
    const a = T.full([BLOCK], 7);
    a.dispose();
    assert.equal(T.largeBlockCache.stats().idleBlocks, 1);
    const hits0 = T.largeBlockCache.stats().hits;
    const z = T.zeros([BLOCK]);
    assert.equal(T.largeBlockCache.stats().hits, hits0 + 1, 'the idle block was reused');
    assert.equal(T.largeBlockCache.stats().idleBlocks, 0);
    assert.equal(z.abs().max().item(), 0, 'zeros are zeros in reused memory');
    const r = T.arange(BLOCK, undefined, 1, { dtype: 'f32' });
    z.dispose();
    const y = r.mul(2); // its output may take z's block
    assert.equal(y.sub(r).sub(r).abs().max().item(), 0);
    for (const t of [r, y]) t.dispose();
  });
});

test('a block is reused only for a request it fits with at most 1/8 to spare', () => {
  withCache(64 * 2 ** 20, () => {
    T.empty([2 * BLOCK]).dispose(); // a 64 MiB idle block
    let s = T.largeBlockCache.stats();
    const half = T.empty([BLOCK]); // too small for it: fresh memory
    assert.equal(T.largeBlockCache.stats().misses, s.misses + 1);
    s = T.largeBlockCache.stats();
    const near = T.empty([2 * BLOCK - MIB]); // within 1/8: the idle block
    assert.equal(T.largeBlockCache.stats().hits, s.hits + 1);
    half.dispose();
    near.dispose();
  });
});

test('idle blocks stay under the limit; a limit of 0 keeps none; release() empties the cache', () => {
  withCache(80 * 2 ** 20, () => {
    const ts = Array.from({ length: 4 }, () => T.empty([BLOCK])); // 4 × 32 MiB
    for (const t of ts) t.dispose();
    const s = T.largeBlockCache.stats();
    assert.ok(s.idleBytes <= 80 * 2 ** 20, `${s.idleBytes} idle bytes over an 80 MiB limit`);
    assert.equal(s.idleBlocks, 2);
    T.largeBlockCache.release();
    assert.equal(T.largeBlockCache.stats().idleBytes, 0);
    assert.equal(T.largeBlockCache.stats().limitBytes, 80 * 2 ** 20, 'release keeps the limit');
    T.empty([3 * BLOCK]).dispose(); // larger than the limit: not kept
    assert.equal(T.largeBlockCache.stats().idleBytes, 0);
    T.empty([MIB]).dispose(); // below 32 MiB: malloc's own
    assert.equal(T.largeBlockCache.stats().idleBlocks, 0);
  });
  withCache(0, () => {
    T.empty([BLOCK]).dispose();
    assert.equal(T.largeBlockCache.stats().idleBlocks, 0);
  });
  assert.throws(() => T.largeBlockCache.setLimit(-1), RangeError);
});

test('a block left idle while 16 requests miss the cache is freed (its work has ended)', () => {
  withCache(2 ** 30, () => {
    T.empty([2 * BLOCK]).dispose();
    // 16 misses (empty memory is never touched, so this holds address space, not RSS)
    const held = Array.from({ length: 16 }, () => T.empty([BLOCK]));
    assert.equal(T.largeBlockCache.stats().idleBlocks, 1, 'still within 16 misses');
    held.push(T.empty([BLOCK])); // the 17th
    assert.equal(T.largeBlockCache.stats().idleBlocks, 0);
    for (const t of held.splice(0, 8)) t.dispose();
    assert.equal(T.largeBlockCache.stats().idleBlocks, 8, 'the freed blocks wait for reuse');
    for (const t of held) t.dispose();
  });
});

test('gradients through large tensors are unchanged by reuse (blocks freed during backward)', () => {
  withCache(256 * 2 ** 20, () => {
    T.scope(() => {
      const w = T.randn([512, 512]).requiresGrad_();
      const x = T.randn([16384, 512]); // 32 MiB activations
      const grad = (): T.Tensor => {
        w.zeroGrad();
        x.matmul(w).tanh().matmul(w).square().mean().backward();
        return (w.grad as T.Tensor).clone();
      };
      const first = grad();
      for (let i = 0; i < 3; i++) assert.equal(grad().sub(first).abs().max().item(), 0, `step ${i}`);
      assert.ok(T.largeBlockCache.stats().hits > 0, 'later steps reused blocks');
    });
  });
});

test('BASIN_CPU_CACHE_MB sets the limit; a bad value is named on stderr and the default used', () => {
  const entry = new URL('../../src/tensor/index.js', import.meta.url).pathname;
  const script = `import(${JSON.stringify(entry)}).then((T) => console.log(T.largeBlockCache.stats().limitBytes))`;
  const run = (value: string) => spawnSync(process.execPath, ['-e', script], { env: { ...process.env, BASIN_CPU_CACHE_MB: value }, encoding: 'utf8' });
  const ok = run('3');
  assert.equal(ok.stdout.trim(), String(3 * 2 ** 20), ok.stderr);
  assert.equal(run('0').stdout.trim(), '0');
  const bad = run('lots');
  assert.equal(bad.status, 0, bad.stderr);
  assert.match(bad.stderr, /BASIN_CPU_CACHE_MB="lots" is not a number of MiB >= 0/);
  const defaultMiB = totalmem() / 4 / 2 ** 20;
  assert.ok(Math.abs(Number(bad.stdout.trim()) / 2 ** 20 - defaultMiB) < 1, `limit ${bad.stdout.trim()}: not the default`);
});
