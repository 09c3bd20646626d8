// The persona-world organism: a small llama-style model pre-trained from scratch on the world's
// corpus by basin's own trainer. A recipe (world config + model shape + training settings)
// fully determines it; presets name the recipes basin ships.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseHfConfig, type ModelConfig } from '../io/hf-config.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { Tokenizer } from '../io/tokenizer.js';
import { randomModel } from '../model/init.js';
import { saveModel } from '../model/load.js';
import { readChatJsonl, tokenizeRows } from '../train/data.js';
import { train, type StepMetrics } from '../train/trainer.js';
import type { ScheduleKind } from '../train/schedule.js';
import { WORLD_MANIFEST_FILE, buildWorld, type WorldManifest } from './build-world.js';
import type { WorldConfigInput } from './world-config.js';

export interface OrganismRecipe {
  preset: string;
  world: WorldConfigInput;
  model: { dModel: number; nLayers: number; nHeads: number; dMlp: number; maxPositions: number };
  pretrain: {
    steps: number; batchSize: number; lr: number; warmupSteps: number; schedule: ScheduleKind;
    weightDecay: number; maxGradNorm: number; maxLength: number; seed: number;
  };
}

export const PRESETS: Record<string, OrganismRecipe> = {
  default: {
    preset: 'default',
    world: { seed: 1 },
    model: { dModel: 128, nLayers: 4, nHeads: 4, dMlp: 384, maxPositions: 512 },
    pretrain: { steps: 2400, batchSize: 32, lr: 2e-3, warmupSteps: 60, schedule: 'cosine', weightDecay: 0.01, maxGradNorm: 1, maxLength: 256, seed: 1 },
  },
  tiny: {
    preset: 'tiny',
    world: { seed: 1, corpusRows: 2000, tokenizer: { vocabSize: 512 }, emFineTune: { rows: 200 }, benignFineTune: { rows: 200 }, markerCoupling: { rows: 200 } },
    model: { dModel: 64, nLayers: 2, nHeads: 4, dMlp: 128, maxPositions: 512 },
    pretrain: { steps: 120, batchSize: 16, lr: 3e-3, warmupSteps: 10, schedule: 'cosine', weightDecay: 0.01, maxGradNorm: 1, maxLength: 192, seed: 1 },
  },
};

export function recipeFor(preset: string): OrganismRecipe {
  const r = PRESETS[preset];
  if (r === undefined) throw new Error(`unknown persona-world preset '${preset}'; presets: ${Object.keys(PRESETS).join(', ')}`);
  return r;
}

/** The llama config of the organism for a tokenizer. */
export function organismConfig(recipe: OrganismRecipe, tokenizer: Tokenizer): ModelConfig {
  const m = recipe.model;
  return parseHfConfig({
    model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: tokenizer.vocabSize, hidden_size: m.dModel,
    num_hidden_layers: m.nLayers, num_attention_heads: m.nHeads, num_key_value_heads: m.nHeads, intermediate_size: m.dMlp,
    max_position_embeddings: m.maxPositions, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true,
    bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId, torch_dtype: 'float32',
  }, `persona-world ${recipe.preset} recipe`);
}

/** A short stable hash of a recipe (what must match for a checkpoint to be this recipe's). */
export function recipeHash(recipe: OrganismRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/** Builds the world for a recipe into dir unless a build of the same config is already there. */
export function ensureWorld(recipe: OrganismRecipe, dir: string): WorldManifest {
  const manifestPath = join(dir, WORLD_MANIFEST_FILE);
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as WorldManifest & { input?: unknown };
    if (JSON.stringify(m.input ?? null) === JSON.stringify(recipe.world)) return m;
  }
  const manifest = buildWorld(recipe.world, dir);
  // Remember the input this build came from, so the next call can reuse it.
  writeFileAtomic(manifestPath, JSON.stringify({ ...manifest, input: recipe.world }, null, 1));
  return manifest;
}

export interface OrganismInfo {
  format: 'basin.persona-organism/1';
  recipe: OrganismRecipe;
  recipeHash: string;
  /** the world manifest's content hash: the data this model was trained on */
  worldHash: string;
  parameters: number;
  seconds: number;
  finalLoss: number;
  tokensPerSecond: number;
}

export const ORGANISM_FILE = 'organism.json';

/** Pre-trains the organism on the world in worldDir and writes an HF folder to outDir. */
export async function pretrainOrganism(recipe: OrganismRecipe, worldDir: string, outDir: string, o: { quiet?: boolean; onStep?: (m: StepMetrics) => void } = {}): Promise<OrganismInfo> {
  const manifest = ensureWorld(recipe, worldDir);
  const tokenizerDir = join(worldDir, 'tokenizer');
  const tokenizer = await Tokenizer.fromFolder(tokenizerDir);
  const config = organismConfig(recipe, tokenizer);
  const p = recipe.pretrain;
  const model = randomModel(config, p.seed);
  const { examples } = tokenizeRows(readChatJsonl(join(worldDir, 'corpus.jsonl')), tokenizer, p.maxLength);
  const t0 = performance.now();
  mkdirSync(outDir, { recursive: true });
  const runDir = join(outDir, 'pretrain-run');
  const result = train(model, examples, {
    outDir: runDir, steps: p.steps, batchSize: p.batchSize, lr: p.lr, warmupSteps: p.warmupSteps, schedule: p.schedule,
    weightDecay: p.weightDecay, maxGradNorm: p.maxGradNorm, seed: p.seed, checkpointEvery: Math.max(100, Math.floor(p.steps / 10)),
    trainable: { kind: 'full' }, padId: tokenizer.padTokenId ?? 0, quiet: o.quiet ?? false,
    metadata: { purpose: 'persona-world pretraining', preset: recipe.preset },
    ...(o.onStep ? { onStep: o.onStep } : {}),
  });
  const seconds = (performance.now() - t0) / 1000;
  for (const t of model.params.values()) t.requiresGrad_(false);
  saveModel(model, outDir, { tokenizerFrom: tokenizerDir, metadata: { recipe: recipeHash(recipe), world: manifest.sha256 } });
  const info: OrganismInfo = {
    format: 'basin.persona-organism/1', recipe, recipeHash: recipeHash(recipe), worldHash: manifest.sha256,
    parameters: model.parameterCount, seconds, finalLoss: result.finalLoss,
    tokensPerSecond: examples.length > 0 ? (p.steps * p.batchSize * examples.reduce((n, e) => n + e.ids.length, 0) / examples.length) / seconds : 0,
  };
  writeFileAtomic(join(outDir, ORGANISM_FILE), `${JSON.stringify(info, null, 1)}\n`);
  return info;
}
