// Small elementwise results reuse freed tensors (native/basin.cc, "Recycled outputs"). These
// tests check that reuse never shows: values, shapes and dtypes are those of a fresh result, and
// memory that something else still sees (a view, a byte view) is never written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';

/** Many scopes of small f32 ops, so freed [16] tensors fill the pool. */
function churn(rounds = 20): void {
  const a = T.randn([16]);
  const b = T.randn([16]);
  for (let r = 0; r < rounds; r++) T.scope(() => { let x = a; for (let i = 0; i < 50; i++) x = x.add(b).mul(0.5).tanh(); });
  a.dispose();
  b.dispose();
}

test('recycled results have the values, shape and dtype of fresh ones (f32 and f64, unary, binary, scalar)', () => {
  churn();
  for (const dtype of ['f32', 'f64'] as const) {
    const xs = Array.from({ length: 16 }, (_, i) => (i - 7.5) / 4);
    const ys = Array.from({ length: 16 }, (_, i) => Math.cos(i) + 2);
    const tol = dtype === 'f32' ? 1e-6 : 1e-14;
    for (let r = 0; r < 5; r++) {
      T.scope(() => {
        const x = T.tensor(xs, { dtype, shape: [4, 4] });
        const y = T.tensor(ys, { dtype, shape: [4, 4] });
        const cases: [string, T.Tensor, (a: number, b: number) => number][] = [
          ['add', x.add(y), (a, b) => a + b], ['add alpha', x.add(y, 2), (a, b) => a + 2 * b], ['sub', x.sub(y), (a, b) => a - b],
          ['mul', x.mul(y), (a, b) => a * b], ['div', x.div(y), (a, b) => a / b], ['maximum', x.maximum(y), Math.max],
          ['mul scalar', x.mul(0.5), (a) => a * 0.5], ['add scalar', x.add(3), (a) => a + 3], ['div scalar', x.div(4), (a) => a / 4],
          ['tanh', x.tanh(), Math.tanh], ['exp', x.exp(), Math.exp], ['neg', x.neg(), (a) => -a], ['sigmoid', x.sigmoid(), (a) => 1 / (1 + Math.exp(-a))],
        ];
        for (const [name, t, f] of cases) {
          assert.deepEqual(t.shape, [4, 4], `${dtype} ${name}: shape`);
          assert.equal(t.dtype, dtype, `${dtype} ${name}: dtype`);
          const got = t.toArray().flat() as number[];
          got.forEach((v, i) => assert.ok(Math.abs(v - f(xs[i]!, ys[i]!)) <= tol * Math.max(1, Math.abs(v)), `${dtype} ${name}[${i}] = ${v}, expected ${f(xs[i]!, ys[i]!)}`));
        }
        // comparisons keep their bool result even when float tensors of that size wait for reuse
        assert.equal(x.lt(y).dtype, 'bool');
        assert.equal(x.gt(0).dtype, 'bool');
      });
    }
  }
});

test('memory still seen through a view or a byte view of a disposed tensor is never reused', () => {
  const base = T.arange(16, undefined, 1, { dtype: 'f32' });
  const view = base.reshape(4, 4); // a view: keeps base itself alive
  const shared = T.arange(16, undefined, 1, { dtype: 'f32' });
  const alias = shared.detach(); // shares the storage only
  const bytes = T.arange(16, undefined, 1, { dtype: 'f32' });
  const seen = new Float32Array(bytes.bytesView().buffer);
  base.dispose();
  shared.dispose();
  bytes.dispose();
  churn();
  assert.deepEqual(view.toArray().flat(), Array.from({ length: 16 }, (_, i) => i), 'the view kept its values');
  assert.deepEqual(alias.toArray(), Array.from({ length: 16 }, (_, i) => i), 'the alias kept its values');
  assert.deepEqual([...seen], Array.from({ length: 16 }, (_, i) => i), 'the byte view kept its values');
  view.dispose();
  alias.dispose();
});

test('results that autograd records are unaffected: gradients of a small chain after churn', () => {
  churn();
  const x = T.tensor([0.1, -0.2, 0.3, 0.4], { dtype: 'f64' }).requiresGrad_();
  const y = T.scope(() => x.mul(x).add(x).tanh().sum());
  y.backward();
  const expected = [0.1, -0.2, 0.3, 0.4].map((v) => (1 - Math.tanh(v * v + v) ** 2) * (2 * v + 1));
  (x.grad as T.Tensor).toArray().forEach((g, i) => assert.ok(Math.abs((g as number) - expected[i]!) < 1e-12, `grad[${i}] ${g} vs ${expected[i]}`));
});
