// Llama (LlamaForCausalLM): RMSNorm, RoPE, a gated SiLU MLP, separate q/k/v projections, biases
// only when config.json's attention_bias / mlp_bias say so, untied embeddings by default.
// Qwen2 shares its weight names and most of its config keys (see qwen2.ts).

import { readRope, ropeConfigJson, type ConfigReader, type ModelConfig } from '../../io/hf-config.js';
import type { ModelFamily, WeightLayout } from './registry.js';

/** Hugging Face names of the Llama-style checkpoints (Llama, Qwen2). */
export const LLAMA_WEIGHTS: WeightLayout = {
  prefix: 'model.',
  prefixOptional: false,
  embed: 'embed_tokens',
  blocks: 'layers',
  block: {
    ln1: 'input_layernorm',
    ln2: 'post_attention_layernorm',
    attention: { q: 'self_attn.q_proj', k: 'self_attn.k_proj', v: 'self_attn.v_proj', o: 'self_attn.o_proj' },
    mlp: { gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj' },
  },
  finalNorm: 'norm',
  conv1d: false,
  ignored: [/\.rotary_emb\.inv_freq$/],
};

/** The biases a Llama-style config declares. */
export type Biases = Pick<ModelConfig, 'attnBias' | 'attnOutBias' | 'mlpBias'>;

/**
 * The config.json keys Llama and Qwen2 share (shapes, heads, RoPE, RMSNorm eps, special ids).
 * `maxPositions` is the family's default for an absent max_position_embeddings.
 */
export function readLlamaStyleConfig(r: ConfigReader, family: string, biases: Biases, maxPositions: number): ModelConfig {
  r.require(['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads']);
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
      throw r.error(`hidden_size (${dModel}) must be divisible by num_attention_heads (${nHeads}) when head_dim is not given`);
    }
    headDim = dModel / nHeads;
  }
  if (headDim % 2 !== 0) throw r.error(`head dimension (${headDim}) must be even for rotary embeddings`);
  const activation = r.optionalString('hidden_act') ?? 'silu';
  if (activation !== 'silu') {
    throw r.error(`hidden_act ${JSON.stringify(activation)} is not supported for ${family}; supported: silu`);
  }
  return {
    family,
    vocabSize: r.positiveInt('vocab_size'),
    dModel,
    nLayers: r.positiveInt('num_hidden_layers'),
    nHeads,
    nKvHeads,
    headDim,
    dMlp: r.positiveInt('intermediate_size'),
    maxPositions: r.has('max_position_embeddings') ? r.positiveInt('max_position_embeddings') : maxPositions,
    normEps: r.has('rms_norm_eps') ? r.positiveNumber('rms_norm_eps') : 1e-6,
    activation: 'silu',
    ...biases,
    positional: readRope(r),
    tiedEmbeddings: r.optionalBool('tie_word_embeddings') ?? false,
    bosTokenId: r.optionalTokenId('bos_token_id'),
    eosTokenIds: r.tokenIdList('eos_token_id'),
    torchDtype: r.dtype(),
  };
}

/** The config.json keys Llama and Qwen2 share, written back. */
export function llamaStyleConfigJson(config: ModelConfig): Record<string, unknown> {
  const positional = config.positional;
  if (positional.kind !== 'rope') throw new Error(`toHfConfigJson: a ${config.family} config.json cannot express learned positions`);
  if (config.activation !== 'silu') throw new Error(`toHfConfigJson: a ${config.family} config.json cannot express the ${config.activation} activation`);
  return {
    hidden_size: config.dModel,
    intermediate_size: config.dMlp,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.maxPositions,
    hidden_act: 'silu',
    rms_norm_eps: config.normEps,
    ...ropeConfigJson(positional),
  };
}

export const llama: ModelFamily = {
  name: 'llama',
  architecture: 'LlamaForCausalLM',
  norm: 'rmsnorm',
  positions: 'rope',
  mlp: 'gated-silu',
  weights: LLAMA_WEIGHTS,
  readConfig(r) {
    // attention_bias covers q, k, v and o.
    const attentionBias = r.optionalBool('attention_bias') ?? false;
    const biases = { attnBias: attentionBias, attnOutBias: attentionBias, mlpBias: r.optionalBool('mlp_bias') ?? false };
    return readLlamaStyleConfig(r, 'llama', biases, 2048);
  },
  configJson(config) {
    if (config.attnBias !== config.attnOutBias) {
      throw new Error('toHfConfigJson: a llama config.json cannot express different q/k/v and output biases (attention_bias covers both)');
    }
    return { ...llamaStyleConfigJson(config), attention_bias: config.attnBias, mlp_bias: config.mlpBias };
  },
};
