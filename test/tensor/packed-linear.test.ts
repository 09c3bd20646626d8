// PackedLinear: the XNNPACK-packed weight gives the same products as T.linear, follows in-place
// updates of its weight and bias, and declines what it cannot do (gradients, other dtypes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';

const skip = !T.PackedLinear.available() && 'this libtorch has no XNNPACK prepacked ops';

function maxDiff(a: T.Tensor, b: T.Tensor): number {
  return T.scope(() => a.sub(b).abs().max().item());
}

test('packed products equal T.linear (f32, ≤ 2e-5) for 1-D, 2-D and 3-D inputs, with and without bias, and a transposed-view weight', { skip }, () => {
  T.noGrad(() => T.scope(() => {
    const g = T.Generator.seeded(3);
    const w = T.randn([48, 40], { generator: g }).div(Math.sqrt(40));
    const wView = T.randn([40, 48], { generator: g }).div(Math.sqrt(40)).transpose(0, 1); // [48, 40], input-major storage
    const b = T.randn([48], { generator: g });
    for (const [weight, bias] of [[w, b], [w, undefined], [wView, b]] as const) {
      const packed = new T.PackedLinear(weight, bias);
      for (const shape of [[40], [5, 40], [2, 3, 40]]) {
        const x = T.randn(shape, { generator: g });
        const y = packed.run(x);
        assert.ok(y !== undefined, `run declined a [${shape}] f32 input`);
        assert.deepEqual(y.shape, [...shape.slice(0, -1), 48]);
        const d = maxDiff(y, T.linear(x, weight, bias));
        assert.ok(d <= 2e-5, `[${shape}] input: packed differs from linear by ${d}`);
      }
      packed.dispose();
    }
  }));
});

test('an in-place update of the weight or the bias is seen by the next run (the pack is rebuilt)', { skip }, () => {
  T.noGrad(() => T.scope(() => {
    const g = T.Generator.seeded(4);
    const w = T.randn([16, 8], { generator: g });
    const b = T.randn([16], { generator: g });
    const x = T.randn([3, 8], { generator: g });
    const packed = new T.PackedLinear(w, b);
    const before = packed.run(x) as T.Tensor;
    w.narrow(0, 0, 4).mul_(2); // through a view: views share the version counter
    const afterW = packed.run(x) as T.Tensor;
    assert.ok(maxDiff(afterW, before) > 1e-3, 'the weight update should change the output');
    assert.ok(maxDiff(afterW, T.linear(x, w, b)) <= 2e-5, 'the output follows the updated weight');
    b.add_(T.ones([16]));
    assert.ok(maxDiff(packed.run(x) as T.Tensor, T.linear(x, w, b)) <= 2e-5, 'the output follows the updated bias');
    packed.dispose();
  }));
});

test('run declines when a gradient would be recorded, and for non-f32 inputs; bad weights and use after dispose throw', { skip }, () => {
  T.scope(() => {
    const w = T.randn([6, 4]).requiresGrad_();
    const packed = new T.PackedLinear(w);
    assert.equal(packed.run(T.randn([2, 4])), undefined, 'weight needs a gradient');
    assert.equal(packed.run(T.randn([2, 4]).requiresGrad_()), undefined, 'input needs a gradient');
    assert.equal(packed.run(T.randn([2, 4], { dtype: 'f64' })), undefined, 'f64 input');
    assert.equal(packed.run(T.randn([2, 5])), undefined, 'wrong in-features');
    T.noGrad(() => assert.ok(packed.run(T.randn([2, 4])) !== undefined, 'under noGrad the weight needs no gradient'));
    packed.dispose();
    packed.dispose(); // twice is fine
    assert.throws(() => packed.run(T.randn([2, 4])), /after dispose/);
    assert.throws(() => new T.PackedLinear(T.randn([6])), /2-D f32 CPU tensor/);
    assert.throws(() => new T.PackedLinear(T.randn([6, 4], { dtype: 'f64' })), /2-D f32 CPU tensor/);
  });
});
