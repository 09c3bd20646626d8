// Hook points: names and shapes, run-with-cache at chosen positions, scoped hooks (removed even
// when the call throws), steering at prompt/response/last positions, patching, ablation, and
// hooks that stay active during generation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { parseHfConfig } from '../../src/model/config.js';
import { randomModel, hook, hookNames, runWithCache, steer, patchFrom, ablateDirection, generate, matchesPattern } from '../../src/model/index.js';

const config = parseHfConfig({
  model_type: 'llama', vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
  intermediate_size: 32, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, eos_token_id: 1,
});
const model = randomModel(config, 3, { std: 0.3 });
const ids = T.keep(T.tensor([[5, 6, 7, 8, 9], [0, 0, 11, 12, 13]], { dtype: 'i64' }));
const mask = T.keep(T.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], { dtype: 'bool' }));

test('every hook point fires once per forward with its documented shape', () => {
  const seen = new Map<string, number[]>();
  T.noGrad(() => model.forward(ids, { tokenMask: mask, hooks: [hook('*', (x, ctx) => { seen.set(ctx.name, x.shape); })] }));
  // '*' matches only top-level names; use both globs to see everything.
  T.noGrad(() => model.forward(ids, { tokenMask: mask, hooks: [hook('blocks.*.*', (x, ctx) => { seen.set(ctx.name, x.shape); }), hook('blocks.*.*.*', (x, ctx) => { seen.set(ctx.name, x.shape); }), hook('ln_final.*', (x, ctx) => { seen.set(ctx.name, x.shape); })] }));
  assert.deepEqual([...seen.keys()].sort(), hookNames(2).sort());
  assert.deepEqual(seen.get('hook_embed'), [2, 5, 16]);
  assert.deepEqual(seen.get('blocks.1.attn.hook_q'), [2, 4, 5, 4]);
  assert.deepEqual(seen.get('blocks.1.attn.hook_k'), [2, 2, 5, 4]);
  assert.deepEqual(seen.get('blocks.0.attn.hook_pattern'), [2, 4, 5, 5]);
  assert.deepEqual(seen.get('blocks.0.mlp.hook_post'), [2, 5, 32]);
  assert.deepEqual(seen.get('ln_final.hook_normalized'), [2, 5, 16]);
  assert.ok(matchesPattern('blocks.*.hook_resid_post', 'blocks.1.hook_resid_post') && !matchesPattern('blocks.*.hook_resid_post', 'blocks.1.attn.hook_q'));
});

test('an unknown hook pattern is an error, not a silent no-op', () => {
  assert.throws(() => model.forward(ids, { hooks: [hook('blocks.*.hook_resid_psot', () => {})] }), /matches no hook point/);
});

test('run with cache keeps only the selected activations, at all, last or chosen positions', () => {
  const all = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: ['blocks.*.hook_resid_post'] }));
  assert.deepEqual(all.cache.names, ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']);
  const last = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: ['blocks.1.hook_resid_post'], at: 'last' }));
  const some = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: ['blocks.1.hook_resid_post'], at: [1, 4] }));
  const full = all.cache.get('blocks.1.hook_resid_post')!;
  assert.deepEqual(last.cache.get('blocks.1.hook_resid_post')!.shape, [2, 16]);
  assert.deepEqual(last.cache.get('blocks.1.hook_resid_post')!.toNested(), full.select(1, 4).toNested());
  assert.deepEqual(some.cache.get('blocks.1.hook_resid_post')!.toNested(), T.stack([full.select(1, 1), full.select(1, 4)], 1).toNested());
  assert.equal(full.requiresGrad, false);
});

test('withHooks removes its hooks when the call ends, including when it throws', () => {
  const base = T.noGrad(() => model.forward(ids, { tokenMask: mask }));
  const bump = hook('blocks.0.hook_resid_post', (x) => x.add(1));
  const hooked = model.withHooks([bump], () => T.noGrad(() => model.forward(ids, { tokenMask: mask })));
  assert.ok(hooked.sub(base).abs().max().item() > 1e-3);
  assert.throws(() => model.withHooks([bump], () => { throw new Error('inside'); }), /inside/);
  const after = T.noGrad(() => model.forward(ids, { tokenMask: mask }));
  assert.equal(after.sub(base).abs().max().item(), 0, 'no hook left behind');
});

test('steering adds coef·v at exactly the chosen positions', () => {
  const v = T.keep(T.randn([16], { generator: T.Generator.seeded(1) }));
  const read = (where: 'all' | 'prompt' | 'response' | 'last') => {
    let delta: number[][] = [];
    const response = T.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]], { dtype: 'bool' });
    T.noGrad(() => model.forward(ids, {
      tokenMask: mask, responseMask: response,
      hooks: [hook('blocks.0.hook_resid_pre', (x, ctx) => {
        const y = steer(v, 2, where)(x, ctx) as T.Tensor;
        delta = y.sub(x).norm(2, -1).toNested() as number[][];
        return y;
      })],
    }));
    return delta.map((row) => row.map((d) => (d > 1e-4 ? 1 : 0)));
  };
  assert.deepEqual(read('all'), [[1, 1, 1, 1, 1], [1, 1, 1, 1, 1]]);
  assert.deepEqual(read('response'), [[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]]);
  assert.deepEqual(read('prompt'), [[1, 1, 1, 0, 0], [0, 0, 1, 1, 0]]);
  assert.deepEqual(read('last'), [[0, 0, 1, 0, 0], [0, 0, 0, 1, 0]]);
});

test('patching from another run reproduces that run downstream; ablation leaves no component along v', () => {
  const other = T.keep(T.tensor([[21, 22, 23, 24, 25], [0, 0, 31, 32, 33]], { dtype: 'i64' }));
  const src = T.noGrad(() => runWithCache(model, other, { tokenMask: mask, names: ['blocks.0.hook_resid_post'] }));
  const patched = T.noGrad(() => model.forward(ids, { tokenMask: mask, hooks: [hook('blocks.0.hook_resid_post', patchFrom(src.cache))] }));
  const diff = patched.sub(src.logits!).abs().mul(mask.unsqueeze(2).to('f32')).max().item();
  assert.ok(diff < 1e-5, `patched logits differ from the source run by ${diff}`);
  const v = T.randn([16], { generator: T.Generator.seeded(2) });
  let along = NaN;
  T.noGrad(() => model.forward(ids, { hooks: [hook('blocks.1.hook_resid_mid', (x, ctx) => { const y = ablateDirection(v)(x, ctx) as T.Tensor; along = y.matmul(v).abs().max().item(); return y; })] }));
  assert.ok(along < 1e-4, `component along v after ablation: ${along}`);
});

test('hooks stay active during generation (decode steps are response positions)', () => {
  let decodeCalls = 0;
  const plain = generate(model, [[5, 6, 7]], { maxNewTokens: 6, stopTokenIds: [] });
  const pushed = generate(model, [[5, 6, 7]], {
    maxNewTokens: 6, stopTokenIds: [],
    hooks: [hook('blocks.0.hook_resid_post', (x, ctx) => { if (ctx.decoding) decodeCalls++; return x.add(T.full([16], 5)); })],
  });
  assert.equal(decodeCalls, 5, 'one hook call per decode step');
  assert.notDeepEqual(pushed[0]!.tokens, plain[0]!.tokens);
});
