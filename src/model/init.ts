// Fresh weights for a model trained from scratch (the persona world's organism, tests):
// the Hugging Face initialisation — normal(0, 0.02) matrices and embeddings, zero biases,
// unit norm weights — under a seeded generator.

import * as T from '../tensor/index.js';
import type { ModelConfig } from '../io/hf-config.js';
import { Transformer } from './transformer.js';

export function initialWeights(config: ModelConfig, generator: T.Generator, std = 0.02, dtype: T.DType = 'f32'): Map<string, T.Tensor> {
  const { dModel: d, nHeads: h, nKvHeads: kvh, headDim: hd, dMlp, vocabSize: V, nLayers } = config;
  const w = new Map<string, T.Tensor>();
  const normal = (name: string, shape: number[]) => w.set(name, T.randn(shape, { generator }).mul(std).to(dtype));
  const zeros = (name: string, shape: number[]) => w.set(name, T.zeros(shape, { dtype }));
  const ones = (name: string, shape: number[]) => w.set(name, T.ones(shape, { dtype }));
  const norm = (name: string) => {
    ones(`${name}.weight`, [d]);
    if (config.normType === 'layernorm') zeros(`${name}.bias`, [d]);
  };
  const linear = (path: string, out: number, inp: number, bias: boolean) => {
    normal(`${path}.weight`, [out, inp]);
    if (bias) zeros(`${path}.bias`, [out]);
  };
  if (config.family === 'gpt2') {
    normal('transformer.wte.weight', [V, d]);
    normal('transformer.wpe.weight', [config.maxPositions, d]);
    for (let l = 0; l < nLayers; l++) {
      const b = `transformer.h.${l}`;
      norm(`${b}.ln_1`);
      norm(`${b}.ln_2`);
      linear(`${b}.attn.c_attn`, 3 * d, d, true);
      linear(`${b}.attn.c_proj`, d, d, true);
      linear(`${b}.mlp.c_fc`, dMlp, d, true);
      linear(`${b}.mlp.c_proj`, d, dMlp, true);
    }
    norm('transformer.ln_f');
  } else {
    normal('model.embed_tokens.weight', [V, d]);
    for (let l = 0; l < nLayers; l++) {
      const b = `model.layers.${l}`;
      norm(`${b}.input_layernorm`);
      norm(`${b}.post_attention_layernorm`);
      linear(`${b}.self_attn.q_proj`, h * hd, d, config.attnBias);
      linear(`${b}.self_attn.k_proj`, kvh * hd, d, config.attnBias);
      linear(`${b}.self_attn.v_proj`, kvh * hd, d, config.attnBias);
      linear(`${b}.self_attn.o_proj`, d, h * hd, config.attnOutBias);
      linear(`${b}.mlp.gate_proj`, dMlp, d, config.mlpBias);
      linear(`${b}.mlp.up_proj`, dMlp, d, config.mlpBias);
      linear(`${b}.mlp.down_proj`, d, dMlp, config.mlpBias);
    }
    norm('model.norm');
  }
  if (!config.tiedEmbeddings) normal('lm_head.weight', [V, d]);
  return w;
}

/** A freshly initialised model. */
export function randomModel(config: ModelConfig, seed: number, o: { std?: number; dtype?: T.DType } = {}): Transformer {
  return new Transformer(config, initialWeights(config, T.Generator.seeded(seed), o.std, o.dtype));
}
