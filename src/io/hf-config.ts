/**
 * Hugging Face `config.json` ⇄ one normalized `ModelConfig`.
 *
 * basin implements a single decoder-only transformer; Llama, Qwen2 and GPT-2 differ only in the
 * fields below (norm, MLP, biases, positions). This module reads the three families' configs,
 * checks them for consistency, and writes them back so that a model basin saves is a Hugging Face
 * folder that transformers (and basin) load again.
 *
 * Defaults for absent optional keys are the transformers class defaults (LlamaConfig, Qwen2Config,
 * GPT2Config). Keys that decide weight shapes are required, so a truncated file fails here rather
 * than as a shape mismatch later.
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

export type ModelFamily = 'llama' | 'qwen2' | 'gpt2';
export const SUPPORTED_FAMILIES: readonly ModelFamily[] = ['llama', 'qwen2', 'gpt2'];

/**
 * RoPE frequency scaling. `none`: plain RoPE. `linear`: every inverse frequency divided by
 * `factor`. `llama3`: Llama 3.1's band-wise scaling (see `ropeInverseFrequencies`).
 */
export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      /** Context length the model was pre-trained with before scaling (`original_max_position_embeddings`). */
      originalMaxPositions: number;
    };
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

export type PositionalEncoding =
  | { kind: 'rope'; theta: number; scaling: RopeScaling }
  /** Learned absolute position embeddings, `wpe` [maxPositions, dModel] (GPT-2). */
  | { kind: 'learned' };

/** `silu` for gated MLPs; `gelu_new` = tanh-approximated GELU (GPT-2); `gelu` = exact erf GELU. */
export type Activation = 'silu' | 'gelu_new' | 'gelu';

export interface ModelConfig {
  family: ModelFamily;
  vocabSize: number;
  /** Residual stream width, d_model. */
  dModel: number;
  nLayers: number;
  /** Query heads. */
  nHeads: number;
  /** Key/value heads (grouped-query attention); divides nHeads. */
  nKvHeads: number;
  /** Per-head width; q is [nHeads*headDim], k and v are [nKvHeads*headDim]. */
  headDim: number;
  /** MLP hidden width (`intermediate_size`, GPT-2 `n_inner`). */
  dMlp: number;
  /** Longest sequence the config declares (`max_position_embeddings`, GPT-2 `n_positions`). */
  maxPositions: number;
  normType: 'rmsnorm' | 'layernorm';
  normEps: number;
  /** `gated-silu`: down(silu(gate(x)) * up(x)); `gelu-mlp`: proj(gelu(fc(x))). */
  mlpType: 'gated-silu' | 'gelu-mlp';
  activation: Activation;
  /** Biases on the q, k and v projections. */
  attnBias: boolean;
  /** Bias on the attention output projection. */
  attnOutBias: boolean;
  /** Biases on the MLP projections. */
  mlpBias: boolean;
  positional: PositionalEncoding;
  /** Unembedding shares the token-embedding matrix. */
  tiedEmbeddings: boolean;
  bosTokenId: number | null;
  /** All end-of-sequence ids (config.json may give one id or a list). */
  eosTokenIds: number[];
  /** Checkpoint dtype as written (`bfloat16`, `float32`, ...), or null when the file does not say. */
  torchDtype: string | null;
}

type Json = Record<string, unknown>;

/** Reads and validates `<folder>/config.json`. */
export async function readHfConfig(folder: string): Promise<ModelConfig> {
  const path = join(folder, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read model config (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseHfConfig(raw, path);
}

/** Writes `toHfConfigJson(config)` to `<folder>/config.json` atomically, creating the folder. */
export function writeHfConfig(folder: string, config: ModelConfig): void {
  mkdirSync(folder, { recursive: true });
  writeFileAtomic(join(folder, 'config.json'), JSON.stringify(toHfConfigJson(config), null, 2) + '\n');
}

/**
 * Parses a config.json object. `source` names the file in error messages.
 * Throws on an unsupported model_type, a missing required key, or an inconsistent config.
 */
export function parseHfConfig(raw: unknown, source = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object at the top level`);
  }
  const reader = new ConfigReader(raw as Json, source);
  const modelType = reader.get('model_type');
  if (modelType === undefined) {
    throw new Error(`${source}: missing "model_type"; supported: ${SUPPORTED_FAMILIES.join(', ')}`);
  }
  let config: ModelConfig;
  if (modelType === 'llama' || modelType === 'qwen2') {
    config = parseRopeFamily(reader, modelType);
  } else if (modelType === 'gpt2') {
    config = parseGpt2(reader);
  } else {
    throw new Error(
      `${source}: model_type ${JSON.stringify(modelType)} is not supported; supported: ${SUPPORTED_FAMILIES.join(', ')}`,
    );
  }
  checkTokenIds(config, source);
  return config;
}

function parseRopeFamily(r: ConfigReader, family: 'llama' | 'qwen2'): ModelConfig {
  r.require(['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads']);
  const vocabSize = r.positiveInt('vocab_size');
  const dModel = r.positiveInt('hidden_size');
  const nHeads = r.positiveInt('num_attention_heads');
  const nKvHeads = r.has('num_key_value_heads') ? r.positiveInt('num_key_value_heads') : nHeads;
  if (nHeads % nKvHeads !== 0) {
    throw r.error(`num_key_value_heads (${nKvHeads}) must divide num_attention_heads (${nHeads})`);
  }
  let headDim: number;
  if (r.has('head_dim')) {
    headDim = r.positiveInt('head_dim');
  } else {
    if (dModel % nHeads !== 0) {
      throw r.error(
        `hidden_size (${dModel}) must be divisible by num_attention_heads (${nHeads}) when head_dim is not given`,
      );
    }
    headDim = dModel / nHeads;
  }
  if (headDim % 2 !== 0) throw r.error(`head dimension (${headDim}) must be even for rotary embeddings`);

  const activation = r.optionalString('hidden_act') ?? 'silu';
  if (activation !== 'silu') {
    throw r.error(`hidden_act ${JSON.stringify(activation)} is not supported for ${family}; supported: silu`);
  }
  if (family === 'qwen2' && r.optionalBool('use_sliding_window') === true) {
    throw r.error('use_sliding_window true is not supported (basin implements full attention); set it to false');
  }
  const attentionBias = family === 'llama' ? (r.optionalBool('attention_bias') ?? false) : true;
  return {
    family,
    vocabSize,
    dModel,
    nLayers: r.positiveInt('num_hidden_layers'),
    nHeads,
    nKvHeads,
    headDim,
    dMlp: r.positiveInt('intermediate_size'),
    maxPositions: r.has('max_position_embeddings')
      ? r.positiveInt('max_position_embeddings')
      : family === 'llama'
        ? 2048
        : 32768,
    normType: 'rmsnorm',
    normEps: r.has('rms_norm_eps') ? r.positiveNumber('rms_norm_eps') : 1e-6,
    mlpType: 'gated-silu',
    activation: 'silu',
    // Llama's attention_bias covers q, k, v and o; Qwen2 has biases on q, k, v only.
    attnBias: attentionBias,
    attnOutBias: family === 'llama' ? attentionBias : false,
    mlpBias: family === 'llama' ? (r.optionalBool('mlp_bias') ?? false) : false,
    positional: parseRope(r),
    tiedEmbeddings: r.optionalBool('tie_word_embeddings') ?? false,
    bosTokenId: r.optionalTokenId('bos_token_id'),
    eosTokenIds: r.tokenIdList('eos_token_id'),
    torchDtype: r.dtype(),
  };
}

/**
 * RoPE settings from either layout:
 *  - transformers ≤ 4.x: top-level `rope_theta` plus optional `rope_scaling` {rope_type|type, factor, ...};
 *  - transformers ≥ 5: `rope_parameters` {rope_type, rope_theta, factor, ...}, whose values win.
 */
function parseRope(r: ConfigReader): PositionalEncoding {
  const params = r.optionalObject('rope_parameters');
  const scaling = params ?? r.optionalObject('rope_scaling');
  const where = params ? 'rope_parameters' : 'rope_scaling';
  const thetaRaw = params?.rope_theta ?? r.get('rope_theta') ?? 10000;
  if (typeof thetaRaw !== 'number' || !(thetaRaw > 0)) {
    throw r.error(`rope_theta (${JSON.stringify(thetaRaw)}) must be a positive number`);
  }
  if (!scaling) return { kind: 'rope', theta: thetaRaw, scaling: { type: 'none' } };

  const ropeType = scaling.rope_type ?? scaling.type ?? 'default';
  const num = (key: string): number => {
    const value = scaling[key];
    if (value === undefined) throw r.error(`${where}.${key} is required for rope_type "${String(ropeType)}"`);
    if (typeof value !== 'number' || !(value > 0)) {
      throw r.error(`${where}.${key} (${JSON.stringify(value)}) must be a positive number`);
    }
    return value;
  };
  switch (ropeType) {
    case 'default':
      return { kind: 'rope', theta: thetaRaw, scaling: { type: 'none' } };
    case 'linear':
      return { kind: 'rope', theta: thetaRaw, scaling: { type: 'linear', factor: num('factor') } };
    case 'llama3': {
      const lowFreqFactor = num('low_freq_factor');
      const highFreqFactor = num('high_freq_factor');
      if (highFreqFactor <= lowFreqFactor) {
        throw r.error(
          `${where}.high_freq_factor (${highFreqFactor}) must be greater than low_freq_factor (${lowFreqFactor})`,
        );
      }
      const originalMaxPositions = num('original_max_position_embeddings');
      if (!Number.isInteger(originalMaxPositions)) {
        throw r.error(`${where}.original_max_position_embeddings (${originalMaxPositions}) must be an integer`);
      }
      return {
        kind: 'rope',
        theta: thetaRaw,
        scaling: { type: 'llama3', factor: num('factor'), lowFreqFactor, highFreqFactor, originalMaxPositions },
      };
    }
    default:
      throw r.error(
        `${where} rope_type ${JSON.stringify(ropeType)} is not supported; supported: ${SUPPORTED_ROPE_TYPES.join(', ')}`,
      );
  }
}

function parseGpt2(r: ConfigReader): ModelConfig {
  r.require(['vocab_size', 'n_embd', 'n_layer', 'n_head', 'n_positions']);
  const dModel = r.positiveInt('n_embd');
  const nHeads = r.positiveInt('n_head');
  if (dModel % nHeads !== 0) throw r.error(`n_embd (${dModel}) must be divisible by n_head (${nHeads})`);
  const activationName = r.optionalString('activation_function') ?? 'gelu_new';
  // gelu_pytorch_tanh is the same tanh approximation as gelu_new.
  const activation: Activation | undefined =
    activationName === 'gelu_new' || activationName === 'gelu_pytorch_tanh'
      ? 'gelu_new'
      : activationName === 'gelu'
        ? 'gelu'
        : undefined;
  if (!activation) {
    throw r.error(
      `activation_function ${JSON.stringify(activationName)} is not supported; supported: gelu_new, gelu_pytorch_tanh, gelu`,
    );
  }
  if (r.optionalBool('scale_attn_weights') === false) {
    throw r.error('scale_attn_weights false is not supported (basin scales attention by 1/sqrt(head_dim))');
  }
  if (r.optionalBool('scale_attn_by_inverse_layer_idx') === true) {
    throw r.error('scale_attn_by_inverse_layer_idx true is not supported; set it to false');
  }
  const nInner = r.get('n_inner');
  return {
    family: 'gpt2',
    vocabSize: r.positiveInt('vocab_size'),
    dModel,
    nLayers: r.positiveInt('n_layer'),
    nHeads,
    nKvHeads: nHeads,
    headDim: dModel / nHeads,
    dMlp: nInner === undefined || nInner === null ? 4 * dModel : r.positiveInt('n_inner'),
    maxPositions: r.positiveInt('n_positions'),
    normType: 'layernorm',
    normEps: r.has('layer_norm_epsilon') ? r.positiveNumber('layer_norm_epsilon') : 1e-5,
    mlpType: 'gelu-mlp',
    activation,
    attnBias: true,
    attnOutBias: true,
    mlpBias: true,
    positional: { kind: 'learned' },
    tiedEmbeddings: r.optionalBool('tie_word_embeddings') ?? true,
    // GPT2Config defaults both to 50256 (<|endoftext|>); an explicit null stays null.
    bosTokenId: r.get('bos_token_id') === undefined ? 50256 : r.optionalTokenId('bos_token_id'),
    eosTokenIds: r.get('eos_token_id') === undefined ? [50256] : r.tokenIdList('eos_token_id'),
    torchDtype: r.dtype(),
  };
}

function checkTokenIds(config: ModelConfig, source: string): void {
  const ids: [string, number][] = [
    ...(config.bosTokenId === null ? [] : [['bos_token_id', config.bosTokenId] as [string, number]]),
    ...config.eosTokenIds.map((id) => ['eos_token_id', id] as [string, number]),
  ];
  for (const [key, id] of ids) {
    if (id >= config.vocabSize) {
      throw new Error(`${source}: ${key} (${id}) must be below vocab_size (${config.vocabSize})`);
    }
  }
}

/**
 * Inverse RoPE frequencies, one per rotated pair: [headDim / 2], as transformers computes them
 * (`_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
 * `_compute_llama3_parameters`), but in float64; transformers computes in float32, so a float32
 * copy of these values can differ from its buffer by rounding (≤ a few float32 ulps).
 *
 *   inv_freq[i] = theta^(-2i / headDim)
 *   linear:  inv_freq[i] / factor
 *   llama3:  with wavelen = 2π / inv_freq[i], low = L / lowFreqFactor, high = L / highFreqFactor
 *            (L = originalMaxPositions):
 *            wavelen < high  → unchanged
 *            wavelen > low   → inv_freq / factor
 *            otherwise       → (1 − s) · inv_freq / factor + s · inv_freq, s = (L / wavelen − lowFreqFactor) / (highFreqFactor − lowFreqFactor)
 */
export function ropeInverseFrequencies(config: ModelConfig): Float64Array {
  if (config.positional.kind !== 'rope') {
    throw new Error(`ropeInverseFrequencies: ${config.family} uses learned positions, not RoPE`);
  }
  const { theta, scaling } = config.positional;
  const dim = config.headDim;
  const invFreq = new Float64Array(dim / 2);
  for (let i = 0; i < invFreq.length; i++) invFreq[i] = 1 / Math.pow(theta, (2 * i) / dim);
  if (scaling.type === 'linear') {
    for (let i = 0; i < invFreq.length; i++) invFreq[i]! /= scaling.factor;
  } else if (scaling.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
    const lowFreqWavelen = originalMaxPositions / lowFreqFactor;
    const highFreqWavelen = originalMaxPositions / highFreqFactor;
    for (let i = 0; i < invFreq.length; i++) {
      const f = invFreq[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highFreqWavelen) continue;
      if (wavelen > lowFreqWavelen) {
        invFreq[i] = f / factor;
      } else {
        const smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        invFreq[i] = ((1 - smooth) * f) / factor + smooth * f;
      }
    }
  }
  return invFreq;
}

const ARCHITECTURES: Record<ModelFamily, string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  gpt2: 'GPT2LMHeadModel',
};

/**
 * The config.json object for `config` (serialize with JSON.stringify). Uses the classic
 * `rope_theta` + `rope_scaling` layout, which transformers 4.x and 5.x both read.
 * Throws when the config holds a combination its family's config.json cannot express
 * (e.g. Qwen2 without q/k/v biases).
 */
export function toHfConfigJson(config: ModelConfig): Record<string, unknown> {
  const fail = (what: string): never => {
    throw new Error(`toHfConfigJson: a ${config.family} config.json cannot express ${what}`);
  };
  const expect = (what: string, ok: boolean): void => {
    if (!ok) fail(what);
  };
  const eos =
    config.eosTokenIds.length === 0 ? null : config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : [...config.eosTokenIds];
  const common = {
    vocab_size: config.vocabSize,
    bos_token_id: config.bosTokenId,
    eos_token_id: eos,
    tie_word_embeddings: config.tiedEmbeddings,
    ...(config.torchDtype === null ? {} : { torch_dtype: config.torchDtype }),
  };

  if (config.family === 'gpt2') {
    expect('rotary positions', config.positional.kind === 'learned');
    expect('RMSNorm', config.normType === 'layernorm');
    expect('a gated MLP', config.mlpType === 'gelu-mlp' && config.activation !== 'silu');
    expect('bias-free projections', config.attnBias && config.attnOutBias && config.mlpBias);
    expect('grouped-query attention', config.nKvHeads === config.nHeads);
    expect(`head_dim ${config.headDim} ≠ n_embd / n_head`, config.headDim * config.nHeads === config.dModel);
    return {
      architectures: [ARCHITECTURES.gpt2],
      model_type: 'gpt2',
      n_embd: config.dModel,
      n_layer: config.nLayers,
      n_head: config.nHeads,
      n_inner: config.dMlp === 4 * config.dModel ? null : config.dMlp,
      n_positions: config.maxPositions,
      n_ctx: config.maxPositions,
      activation_function: config.activation,
      layer_norm_epsilon: config.normEps,
      ...common,
    };
  }

  const positional = config.positional;
  if (positional.kind !== 'rope') return fail('learned positions');
  expect('LayerNorm', config.normType === 'rmsnorm');
  expect('a non-gated MLP', config.mlpType === 'gated-silu' && config.activation === 'silu');
  if (config.family === 'qwen2') {
    expect('these biases (Qwen2 has q/k/v biases only)', config.attnBias && !config.attnOutBias && !config.mlpBias);
  } else {
    expect('different q/k/v and output biases (attention_bias covers both)', config.attnBias === config.attnOutBias);
  }
  const scaling = positional.scaling;
  const ropeScaling =
    scaling.type === 'none'
      ? null
      : scaling.type === 'linear'
        ? { rope_type: 'linear', factor: scaling.factor }
        : {
            rope_type: 'llama3',
            factor: scaling.factor,
            low_freq_factor: scaling.lowFreqFactor,
            high_freq_factor: scaling.highFreqFactor,
            original_max_position_embeddings: scaling.originalMaxPositions,
          };
  return {
    architectures: [ARCHITECTURES[config.family]],
    model_type: config.family,
    hidden_size: config.dModel,
    intermediate_size: config.dMlp,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.maxPositions,
    hidden_act: 'silu',
    rms_norm_eps: config.normEps,
    rope_theta: positional.theta,
    rope_scaling: ropeScaling,
    ...(config.family === 'llama'
      ? { attention_bias: config.attnBias, mlp_bias: config.mlpBias }
      : { use_sliding_window: false }),
    ...common,
  };
}

/** Typed access to a config object; every error names the file and the key. */
class ConfigReader {
  constructor(
    private readonly raw: Json,
    private readonly source: string,
  ) {}

  error(message: string): Error {
    return new Error(`${this.source}: ${message}`);
  }

  get(key: string): unknown {
    return this.raw[key];
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  require(keys: string[]): void {
    const missing = keys.filter((k) => !this.has(k));
    if (missing.length > 0) {
      const family = String(this.raw.model_type);
      throw this.error(
        `missing required key${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${k}"`).join(', ')} ` +
          `(${family} configs need ${keys.join(', ')})`,
      );
    }
  }

  positiveInt(key: string): number {
    const value = this.raw[key];
    if (value === undefined || value === null) throw this.error(`missing required key "${key}"`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw this.error(`${key} (${JSON.stringify(value)}) must be a positive integer`);
    }
    return value;
  }

  positiveNumber(key: string): number {
    const value = this.raw[key];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw this.error(`${key} (${JSON.stringify(value)}) must be a positive number`);
    }
    return value;
  }

  optionalBool(key: string): boolean | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw this.error(`${key} (${JSON.stringify(value)}) must be true or false`);
    return value;
  }

  optionalString(key: string): string | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw this.error(`${key} (${JSON.stringify(value)}) must be a string`);
    return value;
  }

  optionalObject(key: string): Json | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw this.error(`${key} (${JSON.stringify(value)}) must be an object`);
    }
    return value as Json;
  }

  optionalTokenId(key: string): number | null {
    const value = this.raw[key];
    if (value === undefined || value === null) return null;
    return this.tokenId(key, value);
  }

  /** An id, a list of ids, or null/absent (→ []). */
  tokenIdList(key: string): number[] {
    const value = this.raw[key];
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value.map((v) => this.tokenId(key, v));
    return [this.tokenId(key, value)];
  }

  /** `torch_dtype` (transformers 4) or `dtype` (transformers 5). */
  dtype(): string | null {
    return this.optionalString('torch_dtype') ?? this.optionalString('dtype') ?? null;
  }

  private tokenId(key: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw this.error(`${key} (${JSON.stringify(value)}) must be a non-negative integer token id`);
    }
    return value;
  }
}
