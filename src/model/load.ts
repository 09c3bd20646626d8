// Hugging Face model folders ⇄ Transformer: config.json + safetensors (single or sharded),
// plus the tokenizer files when present. The config's family names the weights.

import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import type { ModelConfig } from '../io/hf-config.js';
import { SAFETENSORS_WEIGHTS_FILE, TOKENIZER_FILE, TOKENIZER_FILES } from '../io/files.js';
import { loadCheckpointTensors, saveSafetensors } from '../io/safetensors-tensors.js';
import { Tokenizer } from '../io/tokenizer.js';
import { readHfConfig, writeHfConfig } from './config.js';
import { familyFor, weightSpecs, withPrefix } from './families/registry.js';
import { Transformer } from './transformer.js';

export interface LoadOptions {
  /** compute dtype for floating weights (default: f32) */
  dtype?: T.DType;
  /** where the weights go (default: cpu); each is moved as it is read */
  device?: T.Device;
}

export interface LoadedModel {
  model: Transformer;
  /** null when the folder has no tokenizer.json */
  tokenizer: Tokenizer | null;
  dir: string;
}

/** Names of the weights stored [in, out] on disk (Conv1D) for this config. */
function conv1dNames(config: ModelConfig): Set<string> {
  return new Set(weightSpecs(familyFor(config), config).filter((s) => s.conv1d).map((s) => s.name));
}

/** Renames and reshapes checkpoint tensors into the model's canonical HF names. */
function canonicalWeights(config: ModelConfig, raw: Map<string, T.Tensor>, dir: string): Map<string, T.Tensor> {
  const family = familyFor(config, dir);
  const conv1d = conv1dNames(config);
  const out = new Map<string, T.Tensor>();
  for (let [name, t] of raw) {
    if (family.weights.ignored.some((re) => re.test(name))) {
      t.dispose();
      continue;
    }
    name = withPrefix(family, name);
    if (conv1d.has(name)) {
      const transposed = T.keep(t.transpose(0, 1).contiguous()); // Conv1D [in, out] → [out, in]
      t.dispose();
      t = transposed;
    }
    if (name === 'lm_head.weight' && config.tiedEmbeddings) {
      t.dispose();
      continue;
    }
    out.set(name, t);
  }
  if (out.size === 0) throw new Error(`${dir}: the checkpoint has no tensors`);
  return out;
}

/** Loads an HF model folder onto `device` in `dtype` (defaults: cpu, f32). */
export async function loadModel(dir: string, o: LoadOptions = {}): Promise<LoadedModel> {
  const config = await readHfConfig(dir);
  const weights = canonicalWeights(config, loadCheckpointTensors(dir, { dtype: o.dtype ?? 'f32', device: o.device ?? 'cpu' }), dir);
  const model = new Transformer(config, weights);
  const unused = [...weights.keys()].filter((k) => !model.params.has(k));
  if (unused.length > 0) {
    for (const k of unused) weights.get(k)?.dispose();
    throw new Error(`${dir}: the checkpoint has weights a ${config.family} model does not use: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ` and ${unused.length - 5} more` : ''}`);
  }
  const tokenizer = existsSync(join(dir, TOKENIZER_FILE)) ? await Tokenizer.fromFolder(dir) : null;
  return { model, tokenizer, dir };
}

/**
 * Saves as an HF folder: config.json, model.safetensors (Conv1D weights back to [in, out]), and
 * the tokenizer files copied from `tokenizerFrom` when given.
 */
export function saveModel(model: Transformer, dir: string, o: { tokenizerFrom?: string; metadata?: Record<string, string> } = {}): void {
  mkdirSync(dir, { recursive: true });
  writeHfConfig(dir, model.config);
  const conv1d = conv1dNames(model.config);
  const entries = function* (): Iterable<[string, T.Tensor]> {
    for (const [name, t] of model.params) yield [name, conv1d.has(name) ? t.transpose(0, 1).contiguous() : t];
  };
  T.scope(() => saveSafetensors(join(dir, SAFETENSORS_WEIGHTS_FILE), entries(), { format: 'pt', ...o.metadata }));
  if (o.tokenizerFrom !== undefined && o.tokenizerFrom !== dir) {
    for (const f of TOKENIZER_FILES) if (existsSync(join(o.tokenizerFrom, f))) copyFileSync(join(o.tokenizerFrom, f), join(dir, f));
  }
}
