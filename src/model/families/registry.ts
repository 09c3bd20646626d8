// The model-family registry: one file per architecture (llama.ts, qwen2.ts, gpt2.ts) declares
// how its config.json reads, how its Hugging Face weights are named, and which variant of each
// transformer part it uses (norm, positions, MLP); the transformer, loader, initialiser and LoRA
// I/O read the family object instead of branching on names, as SAELens registers SAE classes.
// Biases and tied embeddings are what the family's readConfig sets from config.json.
// A new family is one more file and one registerFamily call.

import type { ConfigReader, ModelConfig } from '../../io/hf-config.js';
import { llama } from './llama.js';
import { qwen2 } from './qwen2.js';
import { gpt2 } from './gpt2.js';

/** RMSNorm (x / rms(x) · w, computed in f32) or LayerNorm (with a bias). */
export type NormKind = 'rmsnorm' | 'layernorm';
/** rotary embeddings applied to q and k, or learned absolute positions added to the embedding */
export type PositionsKind = 'rope' | 'learned';
/** down(silu(gate(x)) · up(x)), or down(gelu(up(x))) */
export type MlpKind = 'gated-silu' | 'gelu';

/** Module names inside one block, relative to the block (e.g. self_attn.q_proj). */
export interface BlockLayout {
  ln1: string;
  ln2: string;
  /** separate q, k, v projections, or one fused [q; k; v] projection (GPT-2's c_attn) */
  attention: { q: string; k: string; v: string; o: string } | { qkv: string; o: string };
  /** `gate` exactly when the MLP is gated */
  mlp: { gate?: string; up: string; down: string };
}

/** Where a family's weights live in a Hugging Face checkpoint. */
export interface WeightLayout {
  /** prefix of every module path but the LM head, e.g. `model.` */
  prefix: string;
  /** checkpoints of the bare model omit the prefix (GPT2Model's `h.0.…`); loaders add it */
  prefixOptional: boolean;
  /** module names after the prefix */
  embed: string;
  /** learned position embeddings [maxPositions, d] (learned positions only) */
  positions?: string;
  /** the block list: block L is `<prefix><blocks>.L` */
  blocks: string;
  block: BlockLayout;
  finalNorm: string;
  /**
   * The blocks' linear weights are stored [in, out] on disk (GPT-2's Conv1D): transposed to
   * [out, in] on load and back on save. PEFT calls this fan_in_fan_out.
   */
  conv1d: boolean;
  /** buffers some checkpoints carry that are not parameters (dropped on load) */
  ignored: RegExp[];
}

export interface ModelFamily {
  /** config.json `model_type` */
  name: string;
  /** config.json `architectures` (the transformers class) */
  architecture: string;
  norm: NormKind;
  positions: PositionsKind;
  mlp: MlpKind;
  weights: WeightLayout;
  /** The family's config.json keys → ModelConfig (absent optional keys take the transformers class defaults). */
  readConfig(r: ConfigReader): ModelConfig;
  /** The family's own config.json keys for `config`; throws on what its config.json cannot express. */
  configJson(config: ModelConfig): Record<string, unknown>;
}

const families = new Map<string, ModelFamily>();

/** Adds a family (replacing one of the same name). */
export function registerFamily(family: ModelFamily): void {
  families.set(family.name, family);
}

/** Names of the registered families, in registration order. */
export function familyNames(): string[] {
  return [...families.keys()];
}

/**
 * The family of a config (or of a config.json `model_type`). `source` names the file in the
 * error an unregistered family raises.
 */
export function familyFor(config: Pick<ModelConfig, 'family'> | string, source = 'model config'): ModelFamily {
  const name = typeof config === 'string' ? config : config.family;
  const family = families.get(name);
  if (family === undefined) {
    throw new Error(`${source}: model_type ${JSON.stringify(name)} is not a registered model family; registered: ${familyNames().join(', ')} (add one with registerFamily, see src/model/families/)`);
  }
  return family;
}

for (const f of [llama, qwen2, gpt2]) registerFamily(f);

/** Full module paths of block l's parts (absent parts undefined). */
export interface BlockModules {
  ln1: string;
  ln2: string;
  q?: string;
  k?: string;
  v?: string;
  qkv?: string;
  o: string;
  gate?: string;
  up: string;
  down: string;
}

export function blockModules(family: ModelFamily, l: number): BlockModules {
  const w = family.weights;
  const at = (name: string) => `${w.prefix}${w.blocks}.${l}.${name}`;
  const a = w.block.attention;
  return {
    ln1: at(w.block.ln1),
    ln2: at(w.block.ln2),
    ...('qkv' in a ? { qkv: at(a.qkv) } : { q: at(a.q), k: at(a.k), v: at(a.v) }),
    o: at(a.o),
    ...(w.block.mlp.gate !== undefined ? { gate: at(w.block.mlp.gate) } : {}),
    up: at(w.block.mlp.up),
    down: at(w.block.mlp.down),
  };
}

/** Full module paths outside the blocks. */
export function topModules(family: ModelFamily): { embed: string; positions?: string; finalNorm: string; lmHead: string } {
  const w = family.weights;
  return {
    embed: `${w.prefix}${w.embed}`,
    ...(w.positions !== undefined ? { positions: `${w.prefix}${w.positions}` } : {}),
    finalNorm: `${w.prefix}${w.finalNorm}`,
    lmHead: 'lm_head',
  };
}

/** How Hugging Face initialises a weight: normal(0, std), zeros (biases), ones (norm weights). */
export type WeightInit = 'normal' | 'zeros' | 'ones';

export interface WeightSpec {
  name: string;
  /** as the model holds it: linear weights [out, in] */
  shape: number[];
  init: WeightInit;
  /** a block linear's weight stored [in, out] on disk (see WeightLayout.conv1d) */
  conv1d: boolean;
}

/** Every weight a model of this family and config has, in module order. */
export function weightSpecs(family: ModelFamily, config: ModelConfig): WeightSpec[] {
  const { dModel: d, nHeads: h, nKvHeads: kvh, headDim: hd, dMlp, vocabSize: V } = config;
  const specs: WeightSpec[] = [];
  const add = (name: string, shape: number[], init: WeightInit, conv1d = false) => specs.push({ name, shape, init, conv1d });
  const norm = (path: string) => {
    add(`${path}.weight`, [d], 'ones');
    if (family.norm === 'layernorm') add(`${path}.bias`, [d], 'zeros');
  };
  const linear = (path: string | undefined, out: number, inp: number, bias: boolean) => {
    if (path === undefined) return;
    add(`${path}.weight`, [out, inp], 'normal', family.weights.conv1d);
    if (bias) add(`${path}.bias`, [out], 'zeros');
  };
  const top = topModules(family);
  add(`${top.embed}.weight`, [V, d], 'normal');
  if (top.positions !== undefined) add(`${top.positions}.weight`, [config.maxPositions, d], 'normal');
  for (let l = 0; l < config.nLayers; l++) {
    const m = blockModules(family, l);
    norm(m.ln1);
    linear(m.qkv, (h + 2 * kvh) * hd, d, config.attnBias);
    linear(m.q, h * hd, d, config.attnBias);
    linear(m.k, kvh * hd, d, config.attnBias);
    linear(m.v, kvh * hd, d, config.attnBias);
    linear(m.o, d, h * hd, config.attnOutBias);
    norm(m.ln2);
    linear(m.gate, dMlp, d, config.mlpBias);
    linear(m.up, dMlp, d, config.mlpBias);
    linear(m.down, d, dMlp, config.mlpBias);
  }
  norm(top.finalNorm);
  if (!config.tiedEmbeddings) add(`${top.lmHead}.weight`, [V, d], 'normal');
  return specs;
}

/** A checkpoint's module path or weight name with the family's prefix added where the checkpoint omitted it. */
export function withPrefix(family: ModelFamily, name: string): string {
  const { prefix, prefixOptional } = family.weights;
  return prefixOptional && !name.startsWith(prefix) && !name.startsWith('lm_head') ? `${prefix}${name}` : name;
}
