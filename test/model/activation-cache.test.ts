// hookName builds TransformerLens's names; the ActivationCache is indexed like TransformerLens's
// (get('resid_post', L), full names, stack over layers) and lives as long as the scope it was made
// in; forward({ stopAtLayer }) returns the full run's resid_post of that block without running
// later blocks, and runWithCache stops there by itself when no later hook and no logits are needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { ActivationCache, hook, hookName, hookNames, parseHfConfig, randomModel, runWithCache, type Linear } from '../../src/model/index.js';

const config = parseHfConfig({
  model_type: 'llama', vocab_size: 50, hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2,
  intermediate_size: 32, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
});
const model = randomModel(config, 5, { std: 0.3 });
const ids = T.keep(T.tensor([[5, 6, 7, 8, 9], [0, 0, 11, 12, 13]], { dtype: 'i64' }));
const mask = T.keep(T.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], { dtype: 'bool' }));

test('hookName gives TransformerLens names from full or short point names', () => {
  assert.equal(hookName('resid_post', 3), 'blocks.3.hook_resid_post');
  assert.equal(hookName('hook_resid_pre', 0), 'blocks.0.hook_resid_pre');
  assert.equal(hookName('attn.hook_q', 2), 'blocks.2.attn.hook_q');
  assert.equal(hookName('q', 2), 'blocks.2.attn.hook_q');
  assert.equal(hookName('pattern', 1), 'blocks.1.attn.hook_pattern');
  assert.equal(hookName('post', 4), 'blocks.4.mlp.hook_post');
  assert.equal(hookName('mlp.hook_post', 4), 'blocks.4.mlp.hook_post');
  assert.equal(hookName('resid_post', '*'), 'blocks.*.hook_resid_post');
  assert.equal(hookName('embed'), 'hook_embed');
  assert.equal(hookName('hook_embed'), 'hook_embed');
  assert.equal(hookName('normalized'), 'ln_final.hook_normalized');
  assert.equal(hookName('ln_final.hook_normalized'), 'ln_final.hook_normalized');
  // Every name a model has is one hookName builds (and the forward fires: see hooks.test.ts).
  assert.equal(hookNames(3).length, 2 + 3 * 10);
  assert.throws(() => (hookName as (p: string, l?: number) => string)('resid_post'), /needs a layer, e.g. hookName\('resid_post', 0\) → blocks\.0\.hook_resid_post/);
  assert.throws(() => (hookName as (p: string, l?: number) => string)('embed', 2), /hook_embed is not inside a block/);
  assert.throws(() => hookName('resid_post', -1), /must be a block index/);
  assert.throws(() => (hookName as (p: string, l?: number) => string)('resid_psot', 1), /unknown hook point 'resid_psot'; block points: hook_resid_pre/);
});

test('ActivationCache: get by short name and layer or by full name, has, names, stack', () => {
  const { logits, cache } = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: [hookName('resid_post', '*'), 'hook_embed'] }));
  assert.deepEqual(logits!.shape, [2, 5, 50]);
  assert.deepEqual(cache.names, ['hook_embed', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_post']);
  assert.equal(cache.get('resid_post', 1), cache.get('blocks.1.hook_resid_post'));
  assert.equal(cache.get('embed'), cache.get('hook_embed'));
  assert.ok(cache.has('resid_post', 2) && cache.has('blocks.2.hook_resid_post') && cache.has('embed'));
  assert.ok(!cache.has('resid_mid', 0) && !cache.has('normalized'));
  assert.throws(() => cache.get('resid_mid', 0), /ActivationCache has no blocks\.0\.hook_resid_mid; it holds hook_embed, blocks\.0\.hook_resid_post.*record it with runWithCache/);

  const all = cache.stack('resid_post'); // [layers, b, s, d]
  assert.deepEqual(all.shape, [3, 2, 5, 16]);
  for (let l = 0; l < 3; l++) assert.deepEqual(all.select(0, l).toNested(), cache.get('resid_post', l).toNested());
  const some = cache.stack('hook_resid_post', [2, 0]);
  assert.deepEqual(some.toNested(), [cache.get('resid_post', 2).toNested(), cache.get('resid_post', 0).toNested()]);
  assert.throws(() => cache.stack('mlp_out'), /holds no blocks\.\*\.hook_mlp_out/);
  // the last block's resid_post, normalized and unembedded, is the logits
  const fromCache = T.noGrad(() => model.forward(ids, { tokenMask: mask, hooks: [hook('blocks.2.hook_resid_post', () => cache.get('resid_post', 2))] }));
  assert.equal(fromCache.sub(logits!).abs().max().item(), 0);
});

test('ActivationCache lifetime follows the scopes: freed with the scope it was made in, unless kept', () => {
  const names = [hookName('resid_post', 0)];
  let inner: T.Tensor | undefined;
  T.noGrad(() => T.scope(() => {
    inner = runWithCache(model, ids, { tokenMask: mask, names }).cache.get('resid_post', 0);
  }));
  assert.ok(inner!.disposed, 'made inside a scope, freed when it ends');
  const kept = T.noGrad(() => T.scope(() => runWithCache(model, ids, { tokenMask: mask, names }).cache.keep()));
  assert.ok(!kept.get('resid_post', 0).disposed, 'kept: outlives the scope');
  const held = kept.get('resid_post', 0);
  kept.dispose();
  assert.ok(held.disposed && kept.names.length === 0, 'dispose() frees every activation');
  const manual = new ActivationCache();
  manual.set('hook_embed', T.zeros([1, 2, 16]));
  assert.deepEqual(manual.get('embed').shape, [1, 2, 16]);
});

test('forward({ stopAtLayer: L }) returns the full run\'s resid_post of block L and never runs later blocks', () => {
  const { cache } = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: [hookName('resid_post', '*')] }));
  const fired: string[] = [];
  const spy = hook('*', (_x, ctx) => { fired.push(ctx.name); });
  const later = ['blocks.2.*', 'blocks.2.*.*', 'ln_final.*'].map((p) => hook(p, (_x, ctx) => { fired.push(ctx.name); }));
  for (const L of [0, 1]) {
    fired.length = 0;
    const out = T.noGrad(() => model.forward(ids, { tokenMask: mask, stopAtLayer: L, hooks: [spy, ...later] })); // [b, s, d]
    assert.deepEqual(out.shape, [2, 5, 16]);
    assert.equal(out.sub(cache.get('resid_post', L)).abs().max().item(), 0, `stopAtLayer ${L}`);
    assert.deepEqual(fired, ['hook_embed'], `no hook on block 2 or ln_final fires (stopAtLayer ${L})`);
  }
  // without hooks too (each block freed as it ends)
  const plain = T.noGrad(() => model.forward(ids, { tokenMask: mask, stopAtLayer: 1 }));
  assert.equal(plain.sub(cache.get('resid_post', 1)).abs().max().item(), 0);
  assert.throws(() => model.forward(ids, { stopAtLayer: 3 }), /stopAtLayer 3 is not a block of this 3-layer model; use 0\.\.2/);
});

/** Counts forward calls of the given linear layers while fn runs. */
function countCalls(layers: Linear[], fn: () => void): number {
  let calls = 0;
  const originals = layers.map((l) => l.forward);
  layers.forEach((l, i) => { l.forward = (x) => { calls++; return originals[i]!.call(l, x); }; });
  try {
    fn();
  } finally {
    layers.forEach((l, i) => { l.forward = originals[i]!; });
  }
  return calls;
}

test('runWithCache with skipLogits stops after the deepest block a hook needs', () => {
  const full = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: [hookName('resid_post', '*')] })).cache;
  const lastBlock = model.blocks[2]!;
  const afterBlock1 = [lastBlock.o, lastBlock.down, model.lmHead];
  let early: ActivationCache | undefined;
  const calls = countCalls(afterBlock1, () => {
    early = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: [hookName('resid_post', 1), hookName('q', 0)], skipLogits: true })).cache;
  });
  assert.equal(calls, 0, 'block 2 and the LM head never ran');
  assert.equal(early!.get('resid_post', 1).sub(full.get('resid_post', 1)).abs().max().item(), 0);
  assert.deepEqual(early!.names, ['blocks.0.attn.hook_q', 'blocks.1.hook_resid_post']);

  // A hook passed along on a later block, or a persistent one, still fires: the forward goes that far.
  let fired = 0;
  const r = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: [hookName('resid_post', 0)], skipLogits: true, hooks: [hook(hookName('mlp_out', 2), () => { fired++; })] }));
  assert.equal(fired, 1);
  assert.equal(r.logits, null);
  fired = 0;
  model.withHooks([hook('ln_final.hook_normalized', () => { fired++; })], () => T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: [hookName('resid_post', 0)], skipLogits: true })));
  assert.equal(fired, 1);
  // Logits wanted: the whole forward runs.
  assert.ok(countCalls(afterBlock1, () => T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: [hookName('resid_post', 0)] }))) > 0);
});
