// config.json ⇄ ModelConfig through the family registry: the file's model_type picks the
// family, which reads its own keys; writing puts back the family's keys, so a model basin
// saves is a Hugging Face folder that transformers (and basin) load again.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { HF_CONFIG_FILE } from '../io/files.js';
import { checkTokenIds, commonConfigJson, configObject, ConfigReader, readConfigJson, type ModelConfig } from '../io/hf-config.js';
import { familyFor, familyNames } from './families/registry.js';

/**
 * Parses a config.json object. `source` names the file in error messages. Throws on a
 * model_type with no registered family, a missing required key, or an inconsistent config.
 */
export function parseHfConfig(raw: unknown, source = HF_CONFIG_FILE): ModelConfig {
  const r = new ConfigReader(configObject(raw, source), source);
  const modelType = r.get('model_type');
  if (modelType === undefined) throw r.error(`missing "model_type"; supported: ${familyNames().join(', ')}`);
  if (typeof modelType !== 'string') throw r.error(`model_type (${JSON.stringify(modelType)}) must be a string`);
  const config = familyFor(modelType, source).readConfig(r);
  checkTokenIds(config, source);
  return config;
}

/** Reads and validates `<folder>/config.json`. */
export async function readHfConfig(folder: string): Promise<ModelConfig> {
  const { raw, source } = await readConfigJson(folder);
  return parseHfConfig(raw, source);
}

/**
 * The config.json object for `config` (serialize with JSON.stringify). Throws when the config
 * holds a combination its family's config.json cannot express (e.g. Qwen2 without q/k/v biases).
 */
export function toHfConfigJson(config: ModelConfig): Record<string, unknown> {
  const family = familyFor(config);
  return { architectures: [family.architecture], model_type: family.name, ...family.configJson(config), ...commonConfigJson(config) };
}

/** Writes `toHfConfigJson(config)` to `<folder>/config.json` atomically, creating the folder. */
export function writeHfConfig(folder: string, config: ModelConfig): void {
  mkdirSync(folder, { recursive: true });
  writeFileAtomic(join(folder, HF_CONFIG_FILE), `${JSON.stringify(toHfConfigJson(config), null, 2)}\n`);
}
