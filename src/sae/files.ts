// SAELens SAE folders ⇄ SaeConfig + SaeWeights. A folder holds cfg.json, sae_weights.safetensors
// (W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in], and threshold [d_sae]
// for jumprelu) and optionally sparsity.safetensors (tensor "sparsity": log10 feature density).
//
// cfg.json comes in two layouts; the one is chosen as SAELens chooses it, by
// metadata.sae_lens_version (or a top-level sae_lens_version): ≥ 6 is the v6 layout, older or
// absent the flat pre-6.0 one (a cfg.json with no version but a metadata object is taken as v6).
//  - v6: d_in, d_sae, dtype, device, apply_b_dec_to_input, normalize_activations,
//    reshape_activations, architecture, the architecture's extras (topk: k,
//    rescale_acts_by_decoder_norm) at the top; model_name, hook_name, hook_head_index,
//    context_size, prepend_bos, … under metadata.
//  - pre-6.0: one flat object, mapped as SAELens's handle_pre_6_0_config maps it: hook_point →
//    hook_name, hook_point_head_index → hook_head_index, activation_fn_str → activation_fn; a
//    boolean normalize_activations → "none" / "expected_average_only_in"; activation_fn "topk"
//    with activation_fn_kwargs.k → architecture topk; the metadata keys move under metadata.
// Every field basin does not model is kept in config.extra (top-level ones as they are,
// metadata ones under extra.metadata), so a read/write round trip keeps them. basin writes v6.
//
// Weights: a legacy `log_threshold` is read as threshold = exp(log_threshold). A legacy
// `scaling_factor` of all ones is dropped; any other value is folded into W_dec
// (W_dec[i] *= scaling_factor[i], exactly how pre-6 SAELens applied it before decoding) when
// cfg.json has finetuning_scaling_factor: true, and refused otherwise (as SAELens refuses it).
// hook_z SAEs (reshape_activations "hook_z") and architectures other than standard, topk and
// jumprelu are refused; so are wrong shapes, missing or unexpected tensors, and NaN/inf values,
// each with an error naming the file and the field.

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { SAE_CONFIG_FILE, SAE_SPARSITY_FILE, SAE_WEIGHTS_FILE } from '../io/files.js';
import { getEntry, readSafetensorsHeader, type SafetensorsFile } from '../io/safetensors.js';
import { describe, isPlainObject } from '../io/safetensors-format.js';
import { readTensor, saveSafetensors } from '../io/safetensors-tensors.js';
import type { ActivationNormalization, SaeArchitectureName, SaeConfig, SaeWeights } from './config.js';

/** Architectures a SAELens folder may hold (batchtopk is saved as jumprelu). */
const FILE_ARCHITECTURES = ['standard', 'topk', 'jumprelu'] as const;
const NORMALIZATIONS: readonly ActivationNormalization[] = ['none', 'expected_average_only_in', 'constant_norm_rescale', 'layer_norm'];
/** cfg.json dtype names (SAELens's DTYPE_MAP, less float64) → basin dtypes, and the name basin writes */
const CFG_DTYPES: Record<string, SaeConfig['dtype']> = {
  float32: 'f32',
  'torch.float32': 'f32',
  float16: 'f16',
  'torch.float16': 'f16',
  bfloat16: 'bf16',
  'torch.bfloat16': 'bf16',
};
const DTYPE_NAME: Record<SaeConfig['dtype'], string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };
/** keys SAELens moves under metadata when it reads a pre-6.0 cfg.json (LLM_METADATA_KEYS) */
const METADATA_KEYS = [
  'model_name', 'hook_name', 'model_class_name', 'hook_head_index', 'model_from_pretrained_kwargs', 'prepend_bos',
  'exclude_special_tokens', 'neuronpedia_id', 'context_size', 'seqpos_slice', 'dataset_path', 'sae_lens_version', 'sae_lens_training_version',
];
const PRE6_RENAMES: Record<string, string> = { hook_point: 'hook_name', hook_point_head_index: 'hook_head_index', activation_fn_str: 'activation_fn' };
/** the version basin writes into metadata.sae_lens_version when the SAE carries none ≥ 6: it tells SAELens the layout is v6 */
const V6_VERSION = '6.0.0';
/** SAELens's default k for a topk cfg.json without one (TopKSAEConfig) */
const DEFAULT_TOPK_K = 100;
const WEIGHT_NAMES = ['W_enc', 'b_enc', 'W_dec', 'b_dec', 'threshold'] as const;
/** how close to 1 a legacy scaling_factor must be to count as all ones (torch.allclose defaults) */
const ONES_RTOL = 1e-5;
const ONES_ATOL = 1e-8;

export interface ReadSaeOptions {
  /** where the weights go (default cpu) */
  device?: T.Device;
  /** the weights' dtype in memory (default: cfg.json's dtype) */
  dtype?: T.DType;
}

/** Reads a SAELens SAE folder. Errors name the file and the field. */
export function readSae(dir: string, o: ReadSaeOptions = {}): { config: SaeConfig; weights: SaeWeights } {
  const cfgPath = join(dir, SAE_CONFIG_FILE);
  const weightsPath = join(dir, SAE_WEIGHTS_FILE);
  for (const path of [cfgPath, weightsPath]) {
    if (!existsSync(path)) throw new Error(`${path}: not found; a SAELens SAE folder holds ${SAE_CONFIG_FILE} and ${SAE_WEIGHTS_FILE}`);
  }
  const { config, finetuningScalingFactor } = parseSaeConfig(cfgPath, readJson(cfgPath));
  const dtype = o.dtype ?? config.dtype;
  if (!T.DTYPES[dtype].floating) throw new Error(`readSae(${dir}): dtype ${dtype} is not a floating dtype; use f32, f16, bf16 or f64`);
  const file = readSafetensorsHeader(weightsPath);
  const names = checkWeightEntries(file, cfgPath, config);
  const weights = T.scope(() => {
    const load = (name: string) => readTensor(file, name, getEntry(file, name), dtype);
    const w: SaeWeights = { W_enc: load('W_enc'), b_enc: load('b_enc'), W_dec: load('W_dec'), b_dec: load('b_dec') };
    if (names.has('threshold')) w.threshold = load('threshold');
    if (names.has('log_threshold')) w.threshold = load('log_threshold').exp();
    if (names.has('scaling_factor')) w.W_dec = applyScalingFactor(weightsPath, cfgPath, load('scaling_factor'), w.W_dec, finetuningScalingFactor);
    checkSaeWeights(weightsPath, config, w);
    return o.device === undefined || o.device === 'cpu' ? w : mapWeights(w, (t) => t.to(o.device as T.Device));
  });
  return { config, weights: T.keep(weights) };
}

/** The folder's sparsity.safetensors (log10 feature density, [d_sae], f32), or null when it has none. */
export function readSaeSparsity(dir: string, config: SaeConfig, o: { device?: T.Device } = {}): T.Tensor | null {
  const path = join(dir, SAE_SPARSITY_FILE);
  if (!existsSync(path)) return null;
  const file = readSafetensorsHeader(path);
  const entry = file.tensors.get('sparsity');
  if (entry === undefined) throw new Error(`${path}: no tensor "sparsity"; the file has ${[...file.tensors.keys()].map((n) => JSON.stringify(n)).join(', ') || 'none'}`);
  if (entry.shape.length !== 1 || entry.shape[0] !== config.dSae) {
    throw new Error(`${path}: sparsity has shape [${entry.shape}], expected [d_sae] = [${config.dSae}]`);
  }
  if (!T.DTYPES[T.dtypeFromSafetensors(entry.dtype)].floating) throw new Error(`${path}: sparsity has dtype ${entry.dtype}; expected a floating dtype`);
  return T.keep(T.scope(() => {
    const s = readTensor(file, 'sparsity', entry, 'f32');
    checkSparsity(path, s);
    return o.device === undefined || o.device === 'cpu' ? s : s.to(o.device);
  }));
}

/**
 * Writes a SAELens folder (v6 cfg.json): sae_weights.safetensors in config.dtype, then
 * sparsity.safetensors when `sparsity` (log10 feature densities, [d_sae]) is given — an old one
 * is removed otherwise, since it would describe other weights — and cfg.json last. A config with
 * normalize_activations "expected_average_only_in" and a normScalingFactor s is saved folded
 * (W_enc·s, W_dec/s, b_dec/s, "none"), as SAELens saves it; a batchtopk SAE is saved as jumprelu
 * with its threshold, as SAELens saves it.
 */
export function writeSae(dir: string, config: SaeConfig, weights: SaeWeights, o: { sparsity?: T.Tensor } = {}): void {
  const cfgPath = join(dir, SAE_CONFIG_FILE);
  const weightsPath = join(dir, SAE_WEIGHTS_FILE);
  const sparsityPath = join(dir, SAE_SPARSITY_FILE);
  checkConfigToWrite(cfgPath, config);
  checkSaeWeights(`writing ${weightsPath}`, config, weights);
  if (o.sparsity !== undefined) {
    if (o.sparsity.shape.length !== 1 || o.sparsity.shape[0] !== config.dSae) {
      throw new Error(`writing ${sparsityPath}: sparsity has shape [${o.sparsity.shape.join(', ')}], expected [d_sae] = [${config.dSae}]`);
    }
    checkSparsity(`writing ${sparsityPath}`, o.sparsity);
  }
  const s = config.normalizeActivations === 'expected_average_only_in' ? config.normScalingFactor : null;
  if (s !== null && !(Number.isFinite(s) && s > 0)) throw new Error(`writing ${cfgPath}: config.normScalingFactor must be a positive number, got ${describe(s)}`);
  mkdirSync(dir, { recursive: true });
  T.scope(() => {
    const folded: SaeWeights = s === null ? weights : { ...weights, W_enc: weights.W_enc.mul(s), W_dec: weights.W_dec.div(s), b_dec: weights.b_dec.div(s) };
    const tensors: [string, T.Tensor][] = [];
    for (const name of WEIGHT_NAMES) {
      const t = folded[name];
      if (t !== undefined) tensors.push([name, t.to(config.dtype).to('cpu')]);
    }
    saveSafetensors(weightsPath, tensors);
    if (o.sparsity !== undefined) {
      saveSafetensors(sparsityPath, [['sparsity', o.sparsity.to('f32').to('cpu')]]);
    } else {
      rmSync(sparsityPath, { force: true });
    }
  });
  const cfg = cfgJson(config, s !== null, String(weights.W_enc.device));
  writeFileAtomic(cfgPath, `${JSON.stringify(cfg, null, 2)}\n`);
}

/**
 * Checks weights against a config: every tensor present with its shape ([d_in, d_sae] W_enc,
 * [d_sae] b_enc, [d_sae, d_in] W_dec, [d_in] b_dec; threshold [d_sae] exactly for jumprelu and
 * batchtopk), floating, on one device, and free of NaN and infinities. `where` prefixes errors.
 */
export function checkSaeWeights(where: string, config: SaeConfig, weights: SaeWeights): void {
  const { dIn, dSae } = config;
  const needsThreshold = config.architecture === 'jumprelu' || config.architecture === 'batchtopk';
  if (needsThreshold && weights.threshold === undefined) throw new Error(`${where}: threshold is missing; a ${config.architecture} SAE needs threshold [d_sae]`);
  if (!needsThreshold && weights.threshold !== undefined) {
    throw new Error(`${where}: threshold is present, but a ${config.architecture} SAE has none; use architecture jumprelu for an SAE with thresholds`);
  }
  const expected: Record<(typeof WEIGHT_NAMES)[number], number[]> = { W_enc: [dIn, dSae], b_enc: [dSae], W_dec: [dSae, dIn], b_dec: [dIn], threshold: [dSae] };
  for (const name of WEIGHT_NAMES) {
    const t = weights[name];
    if (t === undefined) {
      if (name === 'threshold') continue;
      throw new Error(`${where}: ${name} is missing`);
    }
    const want = expected[name];
    if (t.shape.join(',') !== want.join(',')) {
      throw new Error(`${where}: ${name} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}] (d_in ${dIn}, d_sae ${dSae})`);
    }
    if (!T.DTYPES[t.dtype].floating) throw new Error(`${where}: ${name} has dtype ${t.dtype}; SAE weights are floating point`);
    if (t.device !== weights.W_enc.device) throw new Error(`${where}: ${name} is on ${t.device} but W_enc is on ${weights.W_enc.device}; move them to one device`);
    const bad = nonFiniteCount(t);
    if (bad > 0) throw new Error(`${where}: ${name} holds ${bad} NaN or infinite value${bad === 1 ? '' : 's'} (of ${t.numel}); the weights are corrupt`);
  }
}

/** How many elements of `t` are NaN or ±inf (a sum of t − t first: 0 exactly when all are finite, and 10× cheaper than counting). */
export function nonFiniteCount(t: T.Tensor): number {
  return T.scope(() => (Number.isFinite(t.sub(t).sum().item()) ? 0 : t.isfinite().logicalNot().sum().item()));
}

/** cfg.json (either layout) → SaeConfig, plus the pre-6 finetuning_scaling_factor flag. */
function parseSaeConfig(path: string, raw: Record<string, unknown>): { config: SaeConfig; finetuningScalingFactor: boolean } {
  const { cfg, finetuningScalingFactor } = isV6(raw) ? { cfg: { ...raw }, finetuningScalingFactor: raw['finetuning_scaling_factor'] === true } : fromPre6(path, raw);
  const rest: Record<string, unknown> = { ...cfg };
  const take = (key: string): unknown => {
    const v = rest[key];
    delete rest[key];
    return v;
  };
  const dIn = positiveInt(path, 'd_in', take('d_in'));
  const dSae = positiveInt(path, 'd_sae', take('d_sae'));
  const dtypeName = take('dtype') ?? 'float32';
  const dtype = typeof dtypeName === 'string' ? CFG_DTYPES[dtypeName] : undefined;
  if (dtype === undefined) throw new Error(`${path}: dtype ${describe(dtypeName)} is not supported; use one of ${Object.keys(CFG_DTYPES).join(', ')}`);
  take('device');
  take('finetuning_scaling_factor');
  const applyBDecToInput = take('apply_b_dec_to_input') ?? true;
  if (typeof applyBDecToInput !== 'boolean') throw new Error(`${path}: apply_b_dec_to_input must be true or false, got ${describe(applyBDecToInput)}`);
  const normalize = take('normalize_activations') ?? 'none';
  if (!NORMALIZATIONS.includes(normalize as ActivationNormalization)) {
    throw new Error(`${path}: normalize_activations ${describe(normalize)} is not supported; use one of ${NORMALIZATIONS.join(', ')}`);
  }
  const reshape = take('reshape_activations') ?? 'none';
  if (reshape === 'hook_z') {
    throw new Error(`${path}: reshape_activations "hook_z" (an SAE on attention heads' z, reshaped per head) is not supported; basin reads SAEs on [.., d_in] activations (reshape_activations "none")`);
  }
  if (reshape !== 'none') throw new Error(`${path}: reshape_activations ${describe(reshape)} is not supported; expected "none"`);
  const architecture = take('architecture') ?? 'standard';
  if (!(FILE_ARCHITECTURES as readonly unknown[]).includes(architecture)) {
    throw new Error(
      `${path}: architecture ${describe(architecture)} is not supported; basin reads ${FILE_ARCHITECTURES.join(', ')}` +
        (architecture === 'batchtopk' ? ' (SAELens saves a trained BatchTopK SAE as jumprelu; this looks like a training checkpoint)' : ''),
    );
  }
  let k: number | null = null;
  let rescaleActsByDecoderNorm = false;
  if (architecture === 'topk') {
    k = positiveInt(path, 'k', take('k') ?? DEFAULT_TOPK_K);
    if (k > dSae) throw new Error(`${path}: k (${k}) exceeds d_sae (${dSae})`);
    const rescale = take('rescale_acts_by_decoder_norm') ?? false;
    if (typeof rescale !== 'boolean') throw new Error(`${path}: rescale_acts_by_decoder_norm must be true or false, got ${describe(rescale)}`);
    rescaleActsByDecoderNorm = rescale;
  }
  const metadata = take('metadata') ?? {};
  if (!isPlainObject(metadata)) throw new Error(`${path}: metadata must be an object, got ${describe(metadata)}`);
  const meta: Record<string, unknown> = { ...metadata };
  const nameField = (key: 'model_name' | 'hook_name'): string | null => {
    const v = meta[key] ?? null;
    delete meta[key];
    if (v !== null && typeof v !== 'string') throw new Error(`${path}: metadata.${key} must be a string or null, got ${describe(v)}`);
    return v;
  };
  const modelName = nameField('model_name');
  const hookName = nameField('hook_name');
  const extra: Record<string, unknown> = { ...rest };
  if (Object.keys(meta).length > 0) extra['metadata'] = meta;
  const config: SaeConfig = {
    architecture: architecture as SaeArchitectureName,
    dIn,
    dSae,
    applyBDecToInput,
    normalizeActivations: normalize as ActivationNormalization,
    normScalingFactor: null,
    k,
    rescaleActsByDecoderNorm,
    hookName,
    modelName,
    dtype,
    extra,
  };
  return { config, finetuningScalingFactor };
}

function isV6(raw: Record<string, unknown>): boolean {
  const metadata = raw['metadata'];
  const version = raw['sae_lens_version'] ?? (isPlainObject(metadata) ? metadata['sae_lens_version'] : undefined);
  if (typeof version === 'string' && version !== '') return majorVersion(version) >= 6;
  return isPlainObject(metadata);
}

function majorVersion(version: string): number {
  const m = /^v?(\d+)/.exec(version);
  return m === null ? 0 : Number(m[1]);
}

/** A flat pre-6.0 cfg.json in the v6 shape (SAELens's handle_pre_6_0_config). */
function fromPre6(path: string, raw: Record<string, unknown>): { cfg: Record<string, unknown>; finetuningScalingFactor: boolean } {
  const flat: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const renamed = PRE6_RENAMES[key] ?? key;
    if (!(renamed in flat) || !(key in PRE6_RENAMES)) flat[renamed] = value;
  }
  const metadata: Record<string, unknown> = isPlainObject(flat['metadata']) ? { ...flat['metadata'] } : {};
  for (const key of METADATA_KEYS) {
    if (key in flat) {
      metadata[key] = flat[key];
      delete flat[key];
    }
  }
  const normalize = flat['normalize_activations'];
  if (typeof normalize === 'boolean') flat['normalize_activations'] = normalize ? 'expected_average_only_in' : 'none';
  if (normalize === null) flat['normalize_activations'] = 'none';
  const hookName = metadata['hook_name'];
  if (!('reshape_activations' in flat)) flat['reshape_activations'] = typeof hookName === 'string' && hookName.includes('hook_z') ? 'hook_z' : 'none';
  const activation = flat['activation_fn'] ?? 'relu';
  const kwargs = flat['activation_fn_kwargs'] ?? {};
  delete flat['activation_fn'];
  delete flat['activation_fn_kwargs'];
  if (activation === 'topk') {
    const architecture = flat['architecture'] ?? 'standard';
    if (architecture !== 'standard' && architecture !== 'topk') throw new Error(`${path}: activation_fn "topk" with architecture ${describe(architecture)}; expected standard or topk`);
    if (!isPlainObject(kwargs) || !('k' in kwargs)) throw new Error(`${path}: activation_fn "topk" needs activation_fn_kwargs.k (latents kept per token)`);
    flat['architecture'] = 'topk';
    flat['k'] = kwargs['k'];
  } else if (activation !== 'relu') {
    throw new Error(`${path}: activation_fn ${describe(activation)} is not supported; basin's SAEs use relu (standard, jumprelu) or topk`);
  }
  const ft = flat['finetuning_scaling_factor'];
  delete flat['finetuning_scaling_factor'];
  return { cfg: { ...flat, metadata }, finetuningScalingFactor: ft === true };
}

/** Checks the weight file's tensor names, dtypes and shapes (from its header); returns the names. */
function checkWeightEntries(file: SafetensorsFile, cfgPath: string, config: SaeConfig): Set<string> {
  const path = file.path;
  const names = new Set(file.tensors.keys());
  const known = new Set<string>([...WEIGHT_NAMES, 'log_threshold', 'scaling_factor']);
  const unknown = [...names].filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(`${path}: unexpected tensor${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; an SAE file holds ${[...known].join(', ')}`);
  }
  for (const name of ['W_enc', 'b_enc', 'W_dec', 'b_dec']) {
    if (!names.has(name)) throw new Error(`${path}: tensor ${name} is missing (the file has ${[...names].join(', ') || 'no tensors'})`);
  }
  if (names.has('threshold') && names.has('log_threshold')) throw new Error(`${path}: both threshold and log_threshold are present; keep one`);
  const thresholds = names.has('threshold') || names.has('log_threshold');
  if (config.architecture === 'jumprelu' && !thresholds) throw new Error(`${path}: threshold is missing; ${cfgPath} says architecture jumprelu, which needs threshold [d_sae]`);
  if (config.architecture !== 'jumprelu' && thresholds) {
    throw new Error(`${path}: holds a threshold, but ${cfgPath} says architecture ${config.architecture}; a thresholded SAE is architecture jumprelu`);
  }
  const encoder = file.tensors.get('W_enc')?.shape ?? [];
  if (encoder.length === 2 && encoder[0] === config.dIn && encoder[1] !== config.dSae) {
    throw new Error(`${cfgPath}: d_sae is ${config.dSae}, but ${path}: W_enc has ${encoder[1]} latents (shape [${encoder.join(', ')}]); the config and the weights are from different SAEs`);
  }
  const expected: Record<string, number[]> = {
    W_enc: [config.dIn, config.dSae], b_enc: [config.dSae], W_dec: [config.dSae, config.dIn], b_dec: [config.dIn],
    threshold: [config.dSae], log_threshold: [config.dSae], scaling_factor: [config.dSae],
  };
  for (const [name, entry] of file.tensors) {
    const want = expected[name] as number[];
    if (entry.shape.join(',') !== want.join(',')) {
      throw new Error(`${path}: ${name} has shape [${entry.shape.join(', ')}], expected [${want.join(', ')}] (d_in ${config.dIn}, d_sae ${config.dSae} from ${cfgPath})`);
    }
    if (!T.DTYPES[T.dtypeFromSafetensors(entry.dtype)].floating) throw new Error(`${path}: ${name} has dtype ${entry.dtype}; SAE weights are floating point`);
  }
  return names;
}

/** The legacy scaling_factor: dropped when all ones, folded into W_dec when the cfg says it was used. */
function applyScalingFactor(path: string, cfgPath: string, s: T.Tensor, wDec: T.Tensor, declared: boolean): T.Tensor {
  const offOnes = s.sub(1).abs().gt(ONES_RTOL + ONES_ATOL).logicalOr(s.isnan()).sum().item();
  if (offOnes === 0) return wDec;
  if (!declared) {
    throw new Error(
      `${path}: scaling_factor is not all ones (${offOnes} values differ), but ${cfgPath} does not set finetuning_scaling_factor: true; ` +
        'it is unclear whether to apply it (SAELens refuses such a file too)',
    );
  }
  return wDec.mul(s.unsqueeze(1));
}

function checkSparsity(where: string, s: T.Tensor): void {
  const nan = T.scope(() => s.isnan().sum().item());
  if (nan > 0) throw new Error(`${where}: sparsity holds ${nan} NaN value${nan === 1 ? '' : 's'}`);
  const max = T.scope(() => s.max().item());
  if (max > 1e-6) throw new Error(`${where}: sparsity holds ${max}, above 0; it must hold log10 feature densities (≤ 0), not densities or counts`);
}

function checkConfigToWrite(path: string, c: SaeConfig): void {
  const where = `writing ${path}: config`;
  positiveInt(where, 'dIn', c.dIn);
  positiveInt(where, 'dSae', c.dSae);
  if (!['standard', 'topk', 'batchtopk', 'jumprelu'].includes(c.architecture)) throw new Error(`${where}.architecture ${describe(c.architecture)} is not a basin architecture`);
  if (c.architecture === 'topk') {
    positiveInt(where, 'k', c.k);
    if ((c.k as number) > c.dSae) throw new Error(`${where}.k (${c.k}) exceeds dSae (${c.dSae})`);
  }
  if (!(c.dtype in DTYPE_NAME)) throw new Error(`${where}.dtype ${describe(c.dtype)} is not one of ${Object.keys(DTYPE_NAME).join(', ')}`);
  if (!NORMALIZATIONS.includes(c.normalizeActivations)) throw new Error(`${where}.normalizeActivations ${describe(c.normalizeActivations)} is not one of ${NORMALIZATIONS.join(', ')}`);
  for (const key of ['hookName', 'modelName'] as const) {
    if (c[key] !== null && typeof c[key] !== 'string') throw new Error(`${where}.${key} must be a string or null, got ${describe(c[key])}`);
  }
  if (c.extra['metadata'] !== undefined && !isPlainObject(c.extra['metadata'])) throw new Error(`${where}.extra.metadata must be an object, got ${describe(c.extra['metadata'])}`);
}

/** The v6 cfg.json of a config (after any folding, so normalize_activations may read "none"). */
function cfgJson(c: SaeConfig, folded: boolean, device: string): Record<string, unknown> {
  const architecture = c.architecture === 'batchtopk' ? 'jumprelu' : c.architecture;
  const out: Record<string, unknown> = {
    d_in: c.dIn,
    d_sae: c.dSae,
    dtype: DTYPE_NAME[c.dtype],
    device,
    apply_b_dec_to_input: c.applyBDecToInput,
    normalize_activations: folded ? 'none' : c.normalizeActivations,
    reshape_activations: 'none',
    architecture,
  };
  if (architecture === 'topk') {
    out['k'] = c.k;
    out['rescale_acts_by_decoder_norm'] = c.rescaleActsByDecoderNorm;
  }
  // SAELens reads a top-level sae_lens_version first: one below 6 would make it read this v6 file as flat.
  const stale = (key: string, value: unknown) => key === 'sae_lens_version' && !(typeof value === 'string' && majorVersion(value) >= 6);
  for (const [key, value] of Object.entries(c.extra)) if (key !== 'metadata' && !(key in out) && !stale(key, value)) out[key] = value;
  const meta: Record<string, unknown> = { model_name: c.modelName, hook_name: c.hookName, ...(c.extra['metadata'] as Record<string, unknown> | undefined) };
  const version = meta['sae_lens_version'];
  if (!(typeof version === 'string' && majorVersion(version) >= 6)) meta['sae_lens_version'] = V6_VERSION;
  out['metadata'] = meta;
  return out;
}

function positiveInt(where: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new Error(`${where}: ${field} must be a positive integer, got ${describe(v)}`);
  return v;
}

function readJson(path: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(raw)) throw new Error(`${path}: must be a JSON object, got ${describe(raw)}`);
  return raw;
}

function mapWeights(w: SaeWeights, f: (t: T.Tensor) => T.Tensor): SaeWeights {
  const out: SaeWeights = { W_enc: f(w.W_enc), b_enc: f(w.b_enc), W_dec: f(w.W_dec), b_dec: f(w.b_dec) };
  if (w.threshold !== undefined) out.threshold = f(w.threshold);
  return out;
}
