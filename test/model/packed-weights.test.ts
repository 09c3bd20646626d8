// Packed weights (Transformer.packWeights) change speed, not results: the same logits and greedy
// tokens as the plain model, with LoRA adapters too, after in-place merges, and under autograd
// (where the packed product declines and gradients flow as before).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { parseHfConfig } from '../../src/model/config.js';
import { generate, LoraAdapter, randomModel, type Transformer } from '../../src/model/index.js';

const skip = !T.PackedLinear.available() && 'this libtorch has no XNNPACK prepacked ops';

function model(family: 'llama' | 'gpt2', seed: number): Transformer {
  const config = parseHfConfig(family === 'llama'
    ? {
      model_type: 'llama', vocab_size: 300, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
      intermediate_size: 96, max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, eos_token_id: 2,
    }
    : { model_type: 'gpt2', vocab_size: 300, n_embd: 48, n_layer: 2, n_head: 4, n_positions: 256, bos_token_id: 1, eos_token_id: 2 });
  return randomModel(config, seed, { std: 0.2 });
}

const ids = () => T.tensor([[5, 17, 99, 3, 42], [64, 2, 11, 9, 9]], { dtype: 'i64' });
const logits = (m: Transformer) => T.noGrad(() => T.keep(m.forward(ids())));
const maxDiff = (a: T.Tensor, b: T.Tensor) => T.scope(() => a.sub(b).abs().max().item());

test('packWeights: the same logits (≤ 2e-5) for llama and gpt2; packedBytes counts the copy; unpackWeights frees it', { skip }, () => {
  for (const family of ['llama', 'gpt2'] as const) {
    const m = model(family, 1);
    const plain = logits(m);
    assert.equal(m.packedBytes, 0);
    const bytes = m.packWeights();
    assert.ok(bytes > 0 && bytes === m.packableBytes && bytes === m.packedBytes, `${family}: packed ${bytes}, packable ${m.packableBytes}`);
    assert.equal(m.packWeights(), bytes, 'packing again is a no-op');
    const packed = logits(m);
    assert.ok(maxDiff(packed, plain) <= 2e-5, `${family}: packed logits differ by ${maxDiff(packed, plain)}`);
    // XNNPACK sums in another order than BLAS: bit-identical logits would mean the packed path never ran
    assert.ok(maxDiff(packed, plain) > 0, `${family}: the packed weights were not used`);
    m.unpackWeights();
    assert.equal(m.packedBytes, 0);
    assert.equal(maxDiff(logits(m), plain), 0, `${family}: unpacked is the plain model exactly`);
  }
});

test('generate: greedy tokens are the same with and without packing, for prompts of mixed lengths', { skip }, () => {
  const m = model('llama', 2);
  const prompts = [[5, 17, 99], [64, 2, 11, 9, 9, 30, 31], [7]];
  const plain = generate(m, prompts, { maxNewTokens: 12, stopTokenIds: [], packWeights: false });
  assert.equal(m.packedBytes, 0, 'packWeights: false leaves the model unpacked');
  const packed = generate(m, prompts, { maxNewTokens: 12, stopTokenIds: [], packWeights: true });
  assert.ok(m.packedBytes > 0, 'packWeights: true packs');
  assert.deepEqual(packed.map((g) => g.tokens), plain.map((g) => g.tokens));
});

test('with packed weights, LoRA adapters still add their deltas, and merge() (in place) is seen by the next forward', { skip }, () => {
  const m = model('llama', 3);
  const adapter = LoraAdapter.attach(m, 'a', { r: 4, alpha: 8, dropout: 0, targetModules: 'all-linear', useRslora: false, init: 'gaussian' }, T.Generator.seeded(9));
  T.noGrad(() => T.scope(() => { for (const l of adapter.layers.values()) l.B.copy_(T.randn(l.B.shape, { generator: T.Generator.seeded(5) }).mul(0.1)); }));
  const plain = logits(m);
  m.packWeights();
  const packed = logits(m);
  assert.ok(maxDiff(packed, plain) <= 2e-5, `adapters on a packed model: logits differ by ${maxDiff(packed, plain)}`);
  adapter.merge();
  const merged = logits(m);
  m.unpackWeights();
  const mergedPlain = logits(m);
  assert.ok(maxDiff(merged, mergedPlain) <= 2e-5, `after merge(): packed differs from plain by ${maxDiff(merged, mergedPlain)}`);
  assert.ok(maxDiff(merged, plain) <= 2e-5, 'merging keeps the outputs');
  adapter.unmerge();
  adapter.setEnabled(false);
  m.packWeights();
  assert.ok(maxDiff(logits(m), plain) > 1e-3, 'disabled after unmerge(): the base model again, which differs from the adapted one');
});

test('under autograd a packed model gives the same loss and gradients (LoRA and full-weight)', { skip }, () => {
  const lossOf = (m: Transformer) => T.crossEntropy(m.forward(ids()).reshape(-1, 300), T.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { dtype: 'i64' }));
  const m = model('llama', 4);
  const adapter = LoraAdapter.attach(m, 'a', { r: 2, alpha: 4, dropout: 0, targetModules: 'all-linear', useRslora: false, init: 'gaussian' }, T.Generator.seeded(1));
  const gradsOf = () => T.scope(() => {
    for (const p of adapter.parameters()) p.zeroGrad();
    const down = m.blocks[0]!.down.weight;
    down.requiresGrad_(true);
    down.zeroGrad();
    const loss = lossOf(m);
    loss.backward();
    const out = { loss: loss.item(), lora: adapter.parameters().map((p) => T.keep(p.grad!.clone())), down: T.keep(down.grad!.clone()) };
    down.requiresGrad_(false);
    return out;
  });
  const plain = gradsOf();
  m.packWeights();
  const packed = gradsOf();
  assert.ok(Math.abs(packed.loss - plain.loss) <= 1e-5, `loss ${packed.loss} vs ${plain.loss}`);
  for (let i = 0; i < plain.lora.length; i++) assert.ok(maxDiff(packed.lora[i]!, plain.lora[i]!) <= 1e-5, `LoRA gradient ${i} differs`);
  assert.ok(maxDiff(packed.down, plain.down) <= 1e-5, 'full-weight gradient differs');
  assert.ok(T.scope(() => plain.down.abs().max().item()) > 0, 'the full-weight gradient is not zero (else this test could not fail)');
});
