/**
 * Hugging Face `config.json`: the normalized `ModelConfig` every family's config parses into, a
 * reader that names the file and the key in every error, and what the RoPE families share (the
 * `rope_theta`/`rope_scaling` layouts and the inverse frequencies).
 *
 * Which keys a family reads, with which defaults, is declared by the family itself
 * (`src/model/families/`, one file each); `src/model/config.ts` reads and writes config.json
 * through that registry. Keys that decide weight shapes are required, so a truncated file
 * fails when it is read rather than as a shape mismatch later.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HF_CONFIG_FILE } from './files.js';

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

/**
 * What a model's config.json says, normalized across families. Structure that a family fixes
 * (norm kind, MLP kind, weight names) is declared by the family (src/model/families/), not here.
 */
export interface ModelConfig {
  /** config.json `model_type`: the registered model family that reads this config */
  family: string;
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
  normEps: number;
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

/** Reads `<folder>/config.json` as a JSON object; `source` (the path) names it in errors. */
export async function readConfigJson(folder: string): Promise<{ raw: Json; source: string }> {
  const source = join(folder, HF_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    throw new Error(`${source}: cannot read model config (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  return { raw: configObject(raw, source), source };
}

/** `raw` as a config object, or an error naming `source`. */
export function configObject(raw: unknown, source: string): Json {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object at the top level`);
  }
  return raw as Json;
}

/**
 * RoPE settings from either layout:
 *  - transformers ≤ 4.x: top-level `rope_theta` plus optional `rope_scaling` {rope_type|type, factor, ...};
 *  - transformers ≥ 5: `rope_parameters` {rope_type, rope_theta, factor, ...}, whose values win.
 */
export function readRope(r: ConfigReader): PositionalEncoding {
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

/** The classic `rope_theta` + `rope_scaling` keys for RoPE positions (transformers 4.x and 5.x read them). */
export function ropeConfigJson(positional: Extract<PositionalEncoding, { kind: 'rope' }>): Json {
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
  return { rope_theta: positional.theta, rope_scaling: ropeScaling };
}

/** The config.json keys every family writes the same way (vocabulary, special ids, tying, dtype). */
export function commonConfigJson(config: ModelConfig): Json {
  const eos =
    config.eosTokenIds.length === 0 ? null : config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : [...config.eosTokenIds];
  return {
    vocab_size: config.vocabSize,
    bos_token_id: config.bosTokenId,
    eos_token_id: eos,
    tie_word_embeddings: config.tiedEmbeddings,
    ...(config.torchDtype === null ? {} : { torch_dtype: config.torchDtype }),
  };
}

/** Checks that the bos and eos ids are inside the vocabulary. */
export function checkTokenIds(config: ModelConfig, source: string): void {
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

/** Typed access to a config object; every error names the file and the key. */
export class ConfigReader {
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
