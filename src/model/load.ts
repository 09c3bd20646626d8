// Hugging Face model folders ⇄ Transformer: config.json + safetensors (single or sharded),
// plus the tokenizer files when present.

import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { readHfConfig, writeHfConfig, type ModelConfig } from '../io/hf-config.js';
import { loadCheckpointTensors, saveSafetensors } from '../io/safetensors-tensors.js';
import { Tokenizer } from '../io/tokenizer.js';
import { Transformer, GPT2_CONV1D } from './transformer.js';

export interface LoadOptions {
  /** compute dtype for floating weights (default: f32) */
  dtype?: T.DType;
}

export interface LoadedModel {
  model: Transformer;
  /** null when the folder has no tokenizer.json */
  tokenizer: Tokenizer | null;
  dir: string;
}

// Buffers some checkpoints carry that are not parameters.
const IGNORED = [/\.rotary_emb\.inv_freq$/, /\.attn\.(masked_)?bias$/];

/** Renames and reshapes checkpoint tensors into the model's canonical HF names. */
function canonicalWeights(config: ModelConfig, raw: Map<string, T.Tensor>, dir: string): Map<string, T.Tensor> {
  const out = new Map<string, T.Tensor>();
  for (let [name, t] of raw) {
    if (IGNORED.some((re) => re.test(name))) {
      t.dispose();
      continue;
    }
    if (config.family === 'gpt2') {
      if (!name.startsWith('transformer.') && name !== 'lm_head.weight') name = `transformer.${name}`;
      if (GPT2_CONV1D.test(name)) {
        const transposed = T.keep(t.transpose(0, 1).contiguous()); // Conv1D [in, out] → [out, in]
        t.dispose();
        t = transposed;
      }
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

export async function loadModel(dir: string, o: LoadOptions = {}): Promise<LoadedModel> {
  const config = await readHfConfig(dir);
  const weights = canonicalWeights(config, loadCheckpointTensors(dir, o.dtype ?? 'f32'), dir);
  const model = new Transformer(config, weights);
  const unused = [...weights.keys()].filter((k) => !model.params.has(k));
  if (unused.length > 0) {
    for (const k of unused) weights.get(k)?.dispose();
    throw new Error(`${dir}: the checkpoint has weights a ${config.family} model does not use: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ` and ${unused.length - 5} more` : ''}`);
  }
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? await Tokenizer.fromFolder(dir) : null;
  return { model, tokenizer, dir };
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'generation_config.json'];

/**
 * Saves as an HF folder: config.json, model.safetensors (GPT-2 Conv1D weights back to
 * [in, out]), and the tokenizer files copied from `tokenizerFrom` when given.
 */
export function saveModel(model: Transformer, dir: string, o: { tokenizerFrom?: string; metadata?: Record<string, string> } = {}): void {
  mkdirSync(dir, { recursive: true });
  writeHfConfig(dir, model.config);
  const entries = function* (): Iterable<[string, T.Tensor]> {
    for (const [name, t] of model.params) {
      if (GPT2_CONV1D.test(name)) {
        const onDisk = t.transpose(0, 1).contiguous();
        yield [name, onDisk];
      } else {
        yield [name, t];
      }
    }
  };
  T.scope(() => saveSafetensors(join(dir, 'model.safetensors'), entries(), { format: 'pt', ...o.metadata }));
  if (o.tokenizerFrom !== undefined && o.tokenizerFrom !== dir) {
    for (const f of TOKENIZER_FILES) if (existsSync(join(o.tokenizerFrom, f))) copyFileSync(join(o.tokenizerFrom, f), join(dir, f));
  }
}
