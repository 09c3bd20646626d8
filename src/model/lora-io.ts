// PEFT's on-disk LoRA format: adapter_config.json + adapter_model.safetensors with keys
// base_model.model.<module path>.lora_A.weight [r, in] and .lora_B.weight [out, r].

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../io/files.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors-tensors.js';
import { withPrefix } from './families/registry.js';
import { LoraAdapter, type LoraConfig } from './lora.js';
import type { Transformer } from './transformer.js';

const PREFIX = 'base_model.model.';

/** The adapter_config.json PEFT writes for this adapter. */
export function peftConfigJson(adapter: LoraAdapter): Record<string, unknown> {
  const c = adapter.config;
  const suffixes = [...new Set([...adapter.layers.keys()].map((p) => p.slice(p.lastIndexOf('.') + 1)))].sort();
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: c.baseModelNameOrPath ?? null,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    // As configured (PEFT saves what it was given); 'all-linear' as the names it resolved to.
    target_modules: c.targetModules === 'all-linear' ? suffixes : c.targetModules,
    bias: 'none',
    use_rslora: c.useRslora,
    use_dora: false,
    fan_in_fan_out: adapter.model.family.weights.conv1d,
    layers_to_transform: c.layersToTransform ?? null,
    layers_pattern: null,
    init_lora_weights: c.init === 'gaussian' ? 'gaussian' : true,
    modules_to_save: null,
    rank_pattern: {},
    alpha_pattern: {},
    inference_mode: true,
    revision: null,
  };
}

/** Writes adapter_config.json and adapter_model.safetensors (atomically) into dir. */
export function saveAdapter(adapter: LoraAdapter, dir: string, metadata: Record<string, string> = {}): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, T.Tensor>();
  for (const [path, l] of adapter.layers) {
    tensors.set(`${PREFIX}${path}.lora_A.weight`, l.A);
    tensors.set(`${PREFIX}${path}.lora_B.weight`, l.B);
  }
  saveSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt', ...metadata });
  writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(peftConfigJson(adapter), null, 2)}\n`);
}

/** Parses and checks adapter_config.json into a LoraConfig. */
export function readPeftConfig(dir: string): LoraConfig {
  const path = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(path)) throw new Error(`${dir}: no ${ADAPTER_CONFIG_FILE}; a PEFT LoRA adapter folder has ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE}`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const fail = (msg: string) => new Error(`${path}: ${msg}`);
  if (raw.peft_type !== 'LORA') throw fail(`peft_type is ${JSON.stringify(raw.peft_type)}; basin reads LORA adapters`);
  if (raw.use_dora === true) throw fail('use_dora is true; DoRA adapters are not supported');
  if (raw.bias !== undefined && raw.bias !== 'none') throw fail(`bias is ${JSON.stringify(raw.bias)}; only "none" is supported`);
  if (raw.modules_to_save != null && !(Array.isArray(raw.modules_to_save) && raw.modules_to_save.length === 0)) throw fail('modules_to_save is set; full-module copies are not supported');
  for (const k of ['rank_pattern', 'alpha_pattern']) {
    if (raw[k] != null && Object.keys(raw[k] as object).length > 0) throw fail(`${k} is set; per-module ranks are not supported`);
  }
  const r = raw.r;
  const alpha = raw.lora_alpha ?? 8;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) throw fail(`r must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== 'number') throw fail(`lora_alpha must be a number, got ${JSON.stringify(alpha)}`);
  const targets = raw.target_modules;
  if (!(typeof targets === 'string' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string')))) throw fail('target_modules must be a string or a list of strings');
  const layers = raw.layers_to_transform;
  return {
    r,
    alpha,
    dropout: typeof raw.lora_dropout === 'number' ? raw.lora_dropout : 0,
    targetModules: targets as string | string[],
    ...(layers == null ? {} : { layersToTransform: typeof layers === 'number' ? [layers] : (layers as number[]) }),
    useRslora: raw.use_rslora === true,
    init: raw.init_lora_weights === 'gaussian' ? 'gaussian' : 'kaiming',
    ...(typeof raw.base_model_name_or_path === 'string' ? { baseModelNameOrPath: raw.base_model_name_or_path } : {}),
  };
}

/** Loads a PEFT LoRA adapter folder onto `model` under `name` (enabled, frozen). */
export function loadAdapter(model: Transformer, dir: string, name = 'default'): LoraAdapter {
  const config = readPeftConfig(dir);
  const file = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_WEIGHTS_FILE} (basin reads safetensors adapters; convert adapter_model.bin first)`);
  const { tensors } = loadSafetensors(file);
  const byPath = new Map<string, { A?: T.Tensor; B?: T.Tensor }>();
  for (const [key, t] of tensors) {
    // base_model.model.<path>.lora_A[.<adapter name>].weight
    const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(key);
    if (m === null) {
      for (const x of tensors.values()) x.dispose();
      throw new Error(`${file}: unexpected key '${key}'; LoRA keys look like base_model.model.<module>.lora_A.weight`);
    }
    const entry = byPath.get(m[1] as string) ?? {};
    entry[m[2] as 'A' | 'B'] = t;
    byPath.set(m[1] as string, entry);
  }
  const weights = new Map<string, { A: T.Tensor; B: T.Tensor }>();
  for (const [path, { A, B }] of byPath) {
    if (A === undefined || B === undefined) throw new Error(`${file}: ${path} has lora_${A === undefined ? 'A' : 'B'} missing`);
    weights.set(withPrefix(model.family, path), { A, B });
  }
  const adapter = LoraAdapter.fromWeights(model, name, config, weights);
  for (const t of tensors.values()) t.dispose();
  adapter.setTrainable(false);
  return adapter;
}
