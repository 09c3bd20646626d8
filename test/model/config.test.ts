// config.json ⇄ ModelConfig through the model-family registry: published Qwen2.5, Llama-3.2 and
// GPT-2 configs parse to known values, every family round-trips, errors name the file and key,
// and the RoPE inverse frequencies match transformers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ropeInverseFrequencies, type ModelConfig } from '../../src/io/hf-config.js';
import { parseHfConfig, readHfConfig, toHfConfigJson, writeHfConfig } from '../../src/model/config.js';

// config.json of Qwen/Qwen2.5-0.5B as published.
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// config.json of meta-llama/Llama-3.2-1B as published.
const LLAMA32_1B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
};

// config.json of openai-community/gpt2 as published (no n_inner, no torch_dtype).
const GPT2_SMALL = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

const QWEN_EXPECTED: ModelConfig = {
  family: 'qwen2',
  vocabSize: 151936,
  dModel: 896,
  nLayers: 24,
  nHeads: 14,
  nKvHeads: 2,
  headDim: 64,
  dMlp: 4864,
  maxPositions: 32768,
  normEps: 1e-6,
  activation: 'silu',
  attnBias: true,
  attnOutBias: false,
  mlpBias: false,
  positional: { kind: 'rope', theta: 1e6, scaling: { type: 'none' } },
  tiedEmbeddings: true,
  bosTokenId: 151643,
  eosTokenIds: [151643],
  torchDtype: 'bfloat16',
};

const LLAMA_EXPECTED: ModelConfig = {
  family: 'llama',
  vocabSize: 128256,
  dModel: 2048,
  nLayers: 16,
  nHeads: 32,
  nKvHeads: 8,
  headDim: 64,
  dMlp: 8192,
  maxPositions: 131072,
  normEps: 1e-5,
  activation: 'silu',
  attnBias: false,
  attnOutBias: false,
  mlpBias: false,
  positional: {
    kind: 'rope',
    theta: 500000,
    scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
  },
  tiedEmbeddings: true,
  bosTokenId: 128000,
  eosTokenIds: [128001],
  torchDtype: 'bfloat16',
};

const GPT2_EXPECTED: ModelConfig = {
  family: 'gpt2',
  vocabSize: 50257,
  dModel: 768,
  nLayers: 12,
  nHeads: 12,
  nKvHeads: 12,
  headDim: 64,
  dMlp: 3072,
  maxPositions: 1024,
  normEps: 1e-5,
  activation: 'gelu_new',
  attnBias: true,
  attnOutBias: true,
  mlpBias: true,
  positional: { kind: 'learned' },
  tiedEmbeddings: true,
  bosTokenId: 50256,
  eosTokenIds: [50256],
  torchDtype: null,
};

test('Qwen2.5-0.5B config.json parses to the expected ModelConfig', () => {
  assert.deepEqual(parseHfConfig(QWEN25_05B), QWEN_EXPECTED);
});

test('Llama-3.2-1B config.json parses, including llama3 rope_scaling', () => {
  assert.deepEqual(parseHfConfig(LLAMA32_1B), LLAMA_EXPECTED);
});

test('GPT-2 small config.json parses; n_inner absent means 4 * n_embd', () => {
  assert.deepEqual(parseHfConfig(GPT2_SMALL), GPT2_EXPECTED);
  assert.equal(parseHfConfig({ ...GPT2_SMALL, n_inner: null }).dMlp, 3072);
  assert.equal(parseHfConfig({ ...GPT2_SMALL, n_inner: 1000 }).dMlp, 1000);
});

test('eos_token_id may be a list (Llama-3.2-1B-Instruct)', () => {
  const config = parseHfConfig({ ...LLAMA32_1B, eos_token_id: [128001, 128008, 128009] });
  assert.deepEqual(config.eosTokenIds, [128001, 128008, 128009]);
});

test('legacy rope_scaling "type" key and the transformers 5 rope_parameters layout give the same config', () => {
  const { rope_type: _ignored, ...scalingWithoutRopeType } = LLAMA32_1B.rope_scaling;
  const legacy = { ...LLAMA32_1B, rope_scaling: { ...scalingWithoutRopeType, type: 'llama3' } };
  assert.deepEqual(parseHfConfig(legacy), LLAMA_EXPECTED);

  const { rope_scaling: _s, rope_theta: _t, torch_dtype: _d, ...rest } = LLAMA32_1B;
  const v5 = {
    ...rest,
    dtype: 'bfloat16',
    rope_parameters: { ...LLAMA32_1B.rope_scaling, rope_theta: 500000.0 },
  };
  assert.deepEqual(parseHfConfig(v5), LLAMA_EXPECTED);

  const { rope_theta: _q, ...qwenRest } = QWEN25_05B;
  const qwenV5 = { ...qwenRest, rope_parameters: { rope_type: 'default', rope_theta: 1000000.0 } };
  assert.deepEqual(parseHfConfig(qwenV5), QWEN_EXPECTED);
});

test('llama attention_bias and mlp_bias switch the biases; defaults follow LlamaConfig', () => {
  const biased = parseHfConfig({ ...LLAMA32_1B, attention_bias: true, mlp_bias: true });
  assert.equal(biased.attnBias, true);
  assert.equal(biased.attnOutBias, true);
  assert.equal(biased.mlpBias, true);
  const minimal = parseHfConfig({
    model_type: 'llama',
    vocab_size: 100,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
  });
  assert.equal(minimal.nKvHeads, 4);
  assert.equal(minimal.headDim, 8);
  assert.equal(minimal.maxPositions, 2048);
  assert.equal(minimal.normEps, 1e-6);
  assert.equal(minimal.tiedEmbeddings, false);
  assert.deepEqual(minimal.positional, { kind: 'rope', theta: 10000, scaling: { type: 'none' } });
  assert.equal(minimal.bosTokenId, null);
  assert.deepEqual(minimal.eosTokenIds, []);
});

test('toHfConfigJson round-trips every family through parseHfConfig', () => {
  const linear: ModelConfig = {
    ...LLAMA_EXPECTED,
    eosTokenIds: [1, 2],
    positional: { kind: 'rope', theta: 10000, scaling: { type: 'linear', factor: 4 } },
  };
  const gptInner: ModelConfig = { ...GPT2_EXPECTED, dMlp: 1000, tiedEmbeddings: false, activation: 'gelu', torchDtype: 'float32' };
  for (const config of [QWEN_EXPECTED, LLAMA_EXPECTED, GPT2_EXPECTED, linear, gptInner]) {
    const json = JSON.parse(JSON.stringify(toHfConfigJson(config)));
    assert.deepEqual(parseHfConfig(json), config);
  }
  const llamaJson = toHfConfigJson(LLAMA_EXPECTED);
  assert.equal(llamaJson.model_type, 'llama');
  assert.deepEqual(llamaJson.architectures, ['LlamaForCausalLM']);
  assert.deepEqual(llamaJson.rope_scaling, LLAMA32_1B.rope_scaling);
  assert.equal(toHfConfigJson(GPT2_EXPECTED).n_inner, null);
});

test('toHfConfigJson refuses combinations the family cannot express', () => {
  assert.throws(() => toHfConfigJson({ ...QWEN_EXPECTED, attnBias: false }), /qwen2 config\.json cannot express/);
  assert.throws(() => toHfConfigJson({ ...LLAMA_EXPECTED, attnOutBias: true }), /llama config\.json cannot express/);
  assert.throws(() => toHfConfigJson({ ...GPT2_EXPECTED, nKvHeads: 4 }), /grouped-query attention/);
});

test('writeHfConfig and readHfConfig round-trip through a folder', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'basin-hf-config-'));
  try {
    writeHfConfig(dir, LLAMA_EXPECTED);
    assert.deepEqual(await readHfConfig(dir), LLAMA_EXPECTED);
    assert.equal(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).rope_theta, 500000);
    await writeFile(join(dir, 'config.json'), '{not json');
    await assert.rejects(readHfConfig(dir), /config\.json: not valid JSON/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('error messages name the file, the key and the problem', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...LLAMA32_1B, model_type: 'mistral' }, 'config.json: model_type "mistral" is not a registered model family; registered: llama, qwen2, gpt2 (add one with registerFamily, see src/model/families/)'],
    [{ ...LLAMA32_1B, num_key_value_heads: 3, num_attention_heads: 8 }, 'config.json: num_key_value_heads (3) must divide num_attention_heads (8)'],
    [
      { ...QWEN25_05B, num_attention_heads: 15, num_key_value_heads: 5 },
      'config.json: hidden_size (896) must be divisible by num_attention_heads (15) when head_dim is not given',
    ],
    [{ ...QWEN25_05B, hidden_size: 0 }, 'config.json: hidden_size (0) must be a positive integer'],
    [{ ...QWEN25_05B, num_hidden_layers: 2.5 }, 'config.json: num_hidden_layers (2.5) must be a positive integer'],
    [{ ...LLAMA32_1B, rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'config.json: rope_scaling rope_type "yarn" is not supported; supported: default, linear, llama3'],
    [{ ...LLAMA32_1B, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'config.json: rope_scaling.low_freq_factor is required for rope_type "llama3"'],
    [{ ...QWEN25_05B, use_sliding_window: true }, 'config.json: use_sliding_window true is not supported (basin implements full attention); set it to false'],
    [{ ...GPT2_SMALL, n_head: 5 }, 'config.json: n_embd (768) must be divisible by n_head (5)'],
    [{ ...GPT2_SMALL, activation_function: 'relu' }, 'config.json: activation_function "relu" is not supported; supported: gelu_new, gelu_pytorch_tanh, gelu'],
    [{ ...QWEN25_05B, eos_token_id: 151936 }, 'config.json: eos_token_id (151936) must be below vocab_size (151936)'],
    [{ ...QWEN25_05B, eos_token_id: 'x' }, 'config.json: eos_token_id ("x") must be a non-negative integer token id'],
  ];
  for (const [raw, message] of cases) assert.throws(() => parseHfConfig(raw), { message });

  const { hidden_size: _h, intermediate_size: _i, ...missing } = QWEN25_05B;
  assert.throws(() => parseHfConfig(missing), {
    message:
      'config.json: missing required keys "hidden_size", "intermediate_size" (qwen2 configs need vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads)',
  });
  const { model_type: _m, ...untyped } = GPT2_SMALL;
  assert.throws(() => parseHfConfig(untyped), { message: 'config.json: missing "model_type"; supported: llama, qwen2, gpt2' });
  assert.throws(() => parseHfConfig([1, 2]), /expected a JSON object/);
});

test('ropeInverseFrequencies: plain and linear RoPE match theta^(-2i/d) exactly', () => {
  const small: ModelConfig = {
    ...LLAMA_EXPECTED,
    dModel: 16,
    nHeads: 4,
    nKvHeads: 4,
    headDim: 4,
    positional: { kind: 'rope', theta: 10000, scaling: { type: 'none' } },
  };
  // d = 4: exponents 0 and 1/2 → 1 and 10000^(-1/2) = 0.01.
  assert.deepEqual([...ropeInverseFrequencies(small)], [1, 0.01]);
  const linear: ModelConfig = { ...small, positional: { kind: 'rope', theta: 10000, scaling: { type: 'linear', factor: 4 } } };
  assert.deepEqual([...ropeInverseFrequencies(linear)], [0.25, 0.0025]);
  assert.throws(() => ropeInverseFrequencies(GPT2_EXPECTED), /learned positions/);
});

test('ropeInverseFrequencies: llama3 scaling keeps high frequencies and divides low ones by factor', () => {
  const inv = ropeInverseFrequencies(LLAMA_EXPECTED);
  assert.equal(inv.length, 32);
  assert.equal(inv[0], 1); // wavelength 2π < 8192 / 4: unchanged
  const last = 1 / Math.pow(500000, 62 / 64); // wavelength ≫ 8192: divided by 32
  assert.ok(Math.abs(inv[31]! - last / 32) <= 1e-15 * last);
});

const PEER = fileURLToPath(new URL('../../../bench/peer/rope_llama3.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

interface PeerResult {
  float64: number[];
  float32: number[];
}

/** Runs the torch peer, or returns null when /usr/bin/python3 or its torch is missing. */
function runPeer(settings: object[]): PeerResult[] | null {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return JSON.parse(execFileSync(PYTHON, [PEER, JSON.stringify(settings)], { encoding: 'utf8' })) as PeerResult[];
}

test('ropeInverseFrequencies: llama3 scaling matches a torch re-implementation of transformers', (t) => {
  const settings = [
    // Llama-3.2-1B, Llama-3.1-8B, and a setting where many frequencies fall in the smoothed band.
    { headDim: 64, theta: 500000, factor: 32, low: 1, high: 4, original: 8192 },
    { headDim: 128, theta: 500000, factor: 8, low: 1, high: 4, original: 8192 },
    { headDim: 128, theta: 10000, factor: 4, low: 0.5, high: 16, original: 2048 },
  ];
  const peer = runPeer(
    settings.map((s) => ({
      head_dim: s.headDim,
      theta: s.theta,
      factor: s.factor,
      low_freq_factor: s.low,
      high_freq_factor: s.high,
      original_max_position_embeddings: s.original,
    })),
  );
  if (peer === null) {
    t.skip('needs /usr/bin/python3 with torch');
    return;
  }
  settings.forEach((s, k) => {
    const config: ModelConfig = {
      ...LLAMA_EXPECTED,
      headDim: s.headDim,
      positional: {
        kind: 'rope',
        theta: s.theta,
        scaling: { type: 'llama3', factor: s.factor, lowFreqFactor: s.low, highFreqFactor: s.high, originalMaxPositions: s.original },
      },
    };
    const ref = peer[k]!;
    const ours = ropeInverseFrequencies(config);
    assert.equal(ours.length, ref.float64.length);
    let smoothed = 0;
    ours.forEach((value, i) => {
      const ref64 = ref.float64[i]!;
      assert.ok(Math.abs(value - ref64) <= 1e-13 * ref64, `float64 inv_freq[${i}]: ${value} vs torch ${ref64}`);
      const ref32 = ref.float32[i]!;
      assert.ok(Math.abs(Math.fround(value) - ref32) <= 1e-6 * ref32, `float32 inv_freq[${i}]: ${Math.fround(value)} vs torch ${ref32}`);
      const base = 1 / Math.pow(s.theta, (2 * i) / s.headDim);
      if (value !== base && Math.abs(value - base / s.factor) > 1e-12 * base) smoothed++;
    });
    if (s.original === 2048) assert.ok(smoothed >= 5, `expected several smoothed frequencies, got ${smoothed}`);
  });
});
