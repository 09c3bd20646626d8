// Decoder-only transformers from Hugging Face checkpoints, with hook points and generation.

export { Transformer, type ForwardOptions } from './transformer.js';
export { parseHfConfig, readHfConfig, writeHfConfig, toHfConfigJson } from './config.js';
export {
  registerFamily, familyFor, familyNames, blockModules, topModules, weightSpecs,
  type ModelFamily, type WeightLayout, type BlockLayout, type NormKind, type PositionsKind, type MlpKind, type WeightSpec,
} from './families/registry.js';
export { Linear, type LinearAdapter } from './linear.js';
export { KVCache } from './kv-cache.js';
export {
  hook, hookName, hookNames, hookLayer, matchesPattern, BLOCK_HOOKS,
  type Hook, type HookFn, type HookContext, type BlockHook, type BlockHookAlias, type BlockPoint, type TopHook,
} from './hooks.js';
export { runWithCache, lastTokenIndex, ActivationCache, type CacheOptions, type RunWithCache, type PositionSelector } from './activation-cache.js';
export { steer, patchFrom, ablateDirection, type SteerPositions } from './ready-hooks.js';
export { generate, type GenerateOptions, type Generation } from './generate.js';
export { loadModel, saveModel, type LoadedModel, type LoadOptions } from './load.js';
export { LoraAdapter, LoraLayer, DEFAULT_LORA, isTargeted, layerIndexOf, type LoraConfig } from './lora.js';
export { saveAdapter, loadAdapter, readPeftConfig, peftConfigJson } from './lora-io.js';
export { initialWeights, randomModel, type InitOptions } from './init.js';
export { renderPrompt, stopTokenIds, type ChatPrompt } from './chat-prompt.js';
export { padBatch } from './padding.js';
