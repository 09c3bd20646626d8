// GPT-2 (GPT2LMHeadModel): LayerNorm, learned absolute positions, a GELU MLP, one fused q/k/v
// projection (c_attn), biases everywhere, tied embeddings by default, and Conv1D linear
// weights stored [in, out] on disk (PEFT's fan_in_fan_out).

import type { Activation } from '../../io/hf-config.js';
import type { ModelFamily } from './registry.js';

export const gpt2: ModelFamily = {
  name: 'gpt2',
  architecture: 'GPT2LMHeadModel',
  norm: 'layernorm',
  positions: 'learned',
  mlp: 'gelu',
  weights: {
    prefix: 'transformer.',
    prefixOptional: true,
    embed: 'wte',
    positions: 'wpe',
    blocks: 'h',
    block: {
      ln1: 'ln_1',
      ln2: 'ln_2',
      attention: { qkv: 'attn.c_attn', o: 'attn.c_proj' },
      mlp: { up: 'mlp.c_fc', down: 'mlp.c_proj' },
    },
    finalNorm: 'ln_f',
    conv1d: true,
    ignored: [/\.attn\.(masked_)?bias$/],
  },
  readConfig(r) {
    r.require(['vocab_size', 'n_embd', 'n_layer', 'n_head', 'n_positions']);
    const dModel = r.positiveInt('n_embd');
    const nHeads = r.positiveInt('n_head');
    if (dModel % nHeads !== 0) throw r.error(`n_embd (${dModel}) must be divisible by n_head (${nHeads})`);
    const activationName = r.optionalString('activation_function') ?? 'gelu_new';
    // gelu_pytorch_tanh is the same tanh approximation as gelu_new.
    const activation: Activation | undefined =
      activationName === 'gelu_new' || activationName === 'gelu_pytorch_tanh' ? 'gelu_new' : activationName === 'gelu' ? 'gelu' : undefined;
    if (!activation) {
      throw r.error(`activation_function ${JSON.stringify(activationName)} is not supported; supported: gelu_new, gelu_pytorch_tanh, gelu`);
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
      normEps: r.has('layer_norm_epsilon') ? r.positiveNumber('layer_norm_epsilon') : 1e-5,
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
  },
  configJson(config) {
    const fail = (what: string): never => {
      throw new Error(`toHfConfigJson: a gpt2 config.json cannot express ${what}`);
    };
    if (config.positional.kind !== 'learned') fail('rotary positions');
    if (config.activation === 'silu') fail('the silu activation');
    if (!(config.attnBias && config.attnOutBias && config.mlpBias)) fail('bias-free projections');
    if (config.nKvHeads !== config.nHeads) fail('grouped-query attention');
    if (config.headDim * config.nHeads !== config.dModel) fail(`head_dim ${config.headDim} ≠ n_embd / n_head`);
    return {
      n_embd: config.dModel,
      n_layer: config.nLayers,
      n_head: config.nHeads,
      n_inner: config.dMlp === 4 * config.dModel ? null : config.dMlp,
      n_positions: config.maxPositions,
      n_ctx: config.maxPositions,
      activation_function: config.activation,
      layer_norm_epsilon: config.normEps,
    };
  },
};
