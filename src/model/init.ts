// Fresh weights for a model trained from scratch (the persona world's organism, tests):
// the Hugging Face initialisation — normal(0, 0.02) matrices and embeddings, zero biases,
// unit norm weights — under a seeded generator, for every weight the config's family declares.
// Random draws happen on the CPU (then move), so a seed gives the same model on every device.

import * as T from '../tensor/index.js';
import type { ModelConfig } from '../io/hf-config.js';
import { familyFor, weightSpecs } from './families/registry.js';
import { Transformer } from './transformer.js';

export interface InitOptions {
  /** standard deviation of the normal weights (default 0.02) */
  std?: number;
  dtype?: T.DType;
  device?: T.Device;
}

export function initialWeights(config: ModelConfig, generator: T.Generator, o: InitOptions = {}): Map<string, T.Tensor> {
  const { std = 0.02, dtype = 'f32', device = 'cpu' } = o;
  const w = new Map<string, T.Tensor>();
  for (const { name, shape, init } of weightSpecs(familyFor(config), config)) {
    w.set(name, init === 'normal' ? T.randn(shape, { generator, device }).mul(std).to(dtype)
      : init === 'zeros' ? T.zeros(shape, { dtype, device }) : T.ones(shape, { dtype, device }));
  }
  return w;
}

/** A freshly initialised model. */
export function randomModel(config: ModelConfig, seed: number, o: InitOptions = {}): Transformer {
  return new Transformer(config, initialWeights(config, T.Generator.seeded(seed), o));
}
