// The model-family registry: each built-in family is picked from its config.json and declares
// the parts and weight names the transformer builds from; an unregistered model_type is an error
// that lists the registered families; a family registered from outside works end to end (config,
// weights, forward, save and load) without a change to the transformer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { LLAMA_WEIGHTS, llama } from '../../src/model/families/llama.js';
import {
  blockModules, familyFor, familyNames, loadModel, parseHfConfig, randomModel, registerFamily, saveModel, toHfConfigJson, weightSpecs,
  type ModelFamily,
} from '../../src/model/index.js';

const SHAPE = { vocab_size: 40, num_hidden_layers: 2, num_attention_heads: 4 };
const CONFIGS = {
  llama: { model_type: 'llama', ...SHAPE, hidden_size: 16, intermediate_size: 24, num_key_value_heads: 2 },
  qwen2: { model_type: 'qwen2', ...SHAPE, hidden_size: 16, intermediate_size: 24, num_key_value_heads: 2 },
  gpt2: { model_type: 'gpt2', vocab_size: 40, n_embd: 16, n_layer: 2, n_head: 4, n_positions: 32, bos_token_id: 0, eos_token_id: 0 },
};

test('each built-in family is picked from its config.json and declares its parts', () => {
  const want = {
    llama: { norm: 'rmsnorm', positions: 'rope', mlp: 'gated-silu', conv1d: false, block: 'model.layers.1', qkv: false },
    qwen2: { norm: 'rmsnorm', positions: 'rope', mlp: 'gated-silu', conv1d: false, block: 'model.layers.1', qkv: false },
    gpt2: { norm: 'layernorm', positions: 'learned', mlp: 'gelu', conv1d: true, block: 'transformer.h.1', qkv: true },
  };
  for (const [name, raw] of Object.entries(CONFIGS)) {
    const config = parseHfConfig(raw);
    const f = familyFor(config);
    const w = want[name as keyof typeof want];
    assert.equal(f.name, name);
    assert.deepEqual([f.norm, f.positions, f.mlp, f.weights.conv1d], [w.norm, w.positions, w.mlp, w.conv1d], name);
    const m = blockModules(f, 1);
    assert.ok(m.o.startsWith(`${w.block}.`), `${name}: ${m.o}`);
    assert.equal(m.qkv !== undefined, w.qkv, `${name}: fused qkv`);
    assert.equal(m.gate !== undefined, f.mlp === 'gated-silu', `${name}: gate exactly when the MLP is gated`);
    // The model holds exactly the weights the family declares, with the declared shapes.
    const model = randomModel(config, 1);
    assert.equal(model.family, f);
    const specs = weightSpecs(f, config);
    assert.deepEqual([...model.params.keys()].sort(), specs.map((s) => s.name).sort());
    for (const s of specs) assert.deepEqual(model.params.get(s.name)!.shape, s.shape, s.name);
  }
  assert.deepEqual(familyNames().slice(0, 3), ['llama', 'qwen2', 'gpt2']);
});

test('biases and tied embeddings follow what each family reads from config.json', () => {
  const biasNames = (raw: Record<string, unknown>) => weightSpecs(familyFor(parseHfConfig(raw)), parseHfConfig(raw)).filter((s) => s.name.endsWith('.bias')).map((s) => s.name.replace(/\.\d+\./, '.L.'));
  assert.deepEqual(new Set(biasNames(CONFIGS.llama)), new Set());
  assert.deepEqual(new Set(biasNames({ ...CONFIGS.llama, attention_bias: true })), new Set(['model.layers.L.self_attn.q_proj.bias', 'model.layers.L.self_attn.k_proj.bias', 'model.layers.L.self_attn.v_proj.bias', 'model.layers.L.self_attn.o_proj.bias']));
  assert.deepEqual(new Set(biasNames(CONFIGS.qwen2)), new Set(['model.layers.L.self_attn.q_proj.bias', 'model.layers.L.self_attn.k_proj.bias', 'model.layers.L.self_attn.v_proj.bias']));
  assert.deepEqual(new Set(biasNames(CONFIGS.gpt2)), new Set(['ln_1', 'attn.c_attn', 'attn.c_proj', 'ln_2', 'mlp.c_fc', 'mlp.c_proj'].map((m) => `transformer.h.L.${m}.bias`).concat('transformer.ln_f.bias')));
  assert.equal(parseHfConfig(CONFIGS.gpt2).tiedEmbeddings, true);
  assert.equal(parseHfConfig(CONFIGS.llama).tiedEmbeddings, false);
  assert.ok(weightSpecs(llama, parseHfConfig(CONFIGS.llama)).some((s) => s.name === 'lm_head.weight'));
  assert.ok(!weightSpecs(familyFor('gpt2'), parseHfConfig(CONFIGS.gpt2)).some((s) => s.name === 'lm_head.weight'));
});

test('an unregistered model_type is an error that lists the registered families', () => {
  const message = /model_type "mistral" is not a registered model family; registered: llama, qwen2, gpt2 \(add one with registerFamily/;
  assert.throws(() => parseHfConfig({ ...CONFIGS.llama, model_type: 'mistral' }), message);
  assert.throws(() => familyFor({ family: 'mistral' }), message);
  assert.throws(() => randomModel({ ...parseHfConfig(CONFIGS.llama), family: 'mistral' }, 1), message);
});

test('a family registered from outside is read, built, run, saved and loaded like a built-in one', async () => {
  // Llama's parts under other weight names: a renamed prefix and block list.
  const renamed: ModelFamily = {
    ...llama,
    name: 'renamed-llama',
    architecture: 'RenamedLlamaForCausalLM',
    weights: { ...LLAMA_WEIGHTS, prefix: 'backbone.', blocks: 'blocks' },
    readConfig: (r) => ({ ...llama.readConfig(r), family: 'renamed-llama' }),
  };
  registerFamily(renamed);
  assert.ok(familyNames().includes('renamed-llama'));
  assert.throws(() => familyFor('mistral'), /registered: llama, qwen2, gpt2, renamed-llama/);

  const config = parseHfConfig({ ...CONFIGS.llama, model_type: 'renamed-llama' });
  assert.equal(familyFor(config), renamed);
  assert.equal(toHfConfigJson(config).model_type, 'renamed-llama');
  const model = randomModel(config, 7, { std: 0.3 });
  assert.ok(model.params.has('backbone.blocks.1.self_attn.q_proj.weight'));
  const reference = randomModel(parseHfConfig(CONFIGS.llama), 7, { std: 0.3 });
  const ids = T.tensor([[1, 2, 3, 4]], { dtype: 'i64' });
  // Same draws in the same order: the renamed model is the llama model, weight for weight.
  const [a, b] = T.noGrad(() => [model.forward(ids), reference.forward(ids)]);
  assert.equal(a!.sub(b!).abs().max().item(), 0);

  const dir = mkdtempSync(join(tmpdir(), 'basin-family-'));
  try {
    saveModel(model, dir);
    const { model: again } = await loadModel(dir);
    assert.equal(again.family, renamed);
    assert.equal(T.noGrad(() => again.forward(ids).sub(a!).abs().max().item()), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
