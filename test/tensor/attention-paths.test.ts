// Which way scaledDotProductAttention computes, and that every way gives the same attention.
// The values against the PyTorch reference are in peer-ops.test.ts; here: the dispatcher picks
// the path it should (so those reference cases do exercise it), and the paths agree with the
// composed one on shapes the reference cases do not cover.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';

function maxDiff(a: T.Tensor, b: T.Tensor): number {
  return T.scope(() => a.sub(b).abs().max().item());
}

test('causal attention over 128+ queries without gradients runs in blocks of queries, and agrees with the composed path', () => {
  T.scope(() => {
    // [b, h, n, d] with n not a multiple of the block rows; keys from a wider cache (a view)
    const q = T.randn([2, 3, 203, 16]);
    const cacheK = T.randn([2, 3, 260, 16]);
    const cacheV = T.randn([2, 3, 260, 16]);
    for (const keys of [203, 240]) {
      const [k, v] = [cacheK.narrow(2, 0, keys), cacheV.narrow(2, 0, keys)];
      assert.equal(T.attentionPath(q, k, v, { causal: true }), 'causalBlocks');
      const got = T.scaledDotProductAttention(q, k, v, { causal: true });
      assert.deepEqual(got.shape, [2, 3, 203, 16]);
      const want = T.attentionComposed(q, k, v, { causal: true });
      assert.ok(maxDiff(got, want) < 1e-5, `${keys} keys: differs from the composed path by ${maxDiff(got, want)}`);
    }
  });
});

test('the blocks path is not taken where it does not apply', () => {
  T.scope(() => {
    const q = T.randn([1, 2, 160, 8]);
    const k = T.randn([1, 2, 160, 8]);
    assert.notEqual(T.attentionPath(q, k, k, {}), 'causalBlocks', 'not causal');
    assert.notEqual(T.attentionPath(q, k, k, { causal: true, mask: T.zeros([160, 160]) }), 'causalBlocks', 'with a mask');
    const short = q.narrow(2, 0, 64);
    assert.notEqual(T.attentionPath(short, short, short, { causal: true }), 'causalBlocks', 'too few queries');
    assert.equal(T.attentionPath(q.narrow(2, 159, 1), k, k, { causal: true }), 'singleQuery');
    const qg = q.clone().requiresGrad_();
    assert.notEqual(T.attentionPath(qg, k, k, { causal: true }), 'causalBlocks', 'a gradient to record');
    assert.equal(T.noGrad(() => T.attentionPath(qg, k, k, { causal: true })), 'causalBlocks', 'under noGrad');
  });
});

test('causal attention with a gradient to record still differentiates (the full path)', () => {
  T.scope(() => {
    const q = T.randn([1, 2, 130, 8]).requiresGrad_();
    const k = T.randn([1, 2, 130, 8]).requiresGrad_();
    const v = T.randn([1, 2, 130, 8]).requiresGrad_();
    T.scaledDotProductAttention(q, k, v, { causal: true }).square().sum().backward();
    const got = [q, k, v].map((t) => (t.grad as T.Tensor).clone());
    for (const t of [q, k, v]) t.zeroGrad();
    T.attentionComposed(q, k, v, { causal: true }).square().sum().backward();
    got.forEach((g, i) => assert.ok(maxDiff(g, [q, k, v][i]?.grad as T.Tensor) < 1e-4, `gradient ${'qkv'[i]}`));
  });
});

test('withKernelThreads sets libtorch\'s kernel threads for the call and restores them, also on throw', () => {
  const before = T.getNumThreads();
  assert.equal(T.withKernelThreads(1, () => T.getNumThreads()), 1);
  assert.equal(T.getNumThreads(), before);
  assert.throws(() => T.withKernelThreads(1, () => { throw new Error('inside'); }), /inside/);
  assert.equal(T.getNumThreads(), before);
  // the same results on one thread (element-wise exactly; a sum may add in another order)
  T.scope(() => {
    const x = T.randn([64, 1024]);
    assert.equal(maxDiff(T.withKernelThreads(1, () => x.exp()), x.exp()), 0);
    assert.ok(maxDiff(T.withKernelThreads(1, () => x.sum(1)), x.sum(1)) < 1e-3);
  });
  assert.throws(() => T.withKernelThreads(0, () => 0), RangeError);
  assert.throws(() => T.withKernelThreads(1.5, () => 0), RangeError);
});
