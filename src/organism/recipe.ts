// The persona-world organism's recipes: a recipe (world config + model shape + training
// settings) fully determines the organism; presets name the recipes basin ships.

import { createHash } from 'node:crypto';
import type { ModelConfig } from '../io/hf-config.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { parseHfConfig } from '../model/config.js';
import type { ScheduleKind } from '../train/schedule.js';
import { ensureWorld, type WorldManifest } from '../world/build-world.js';
import type { WorldConfigInput } from '../world/world-config.js';

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
    model: { dModel: 128, nLayers: 6, nHeads: 4, dMlp: 384, maxPositions: 512 },
    pretrain: { steps: 2400, batchSize: 32, lr: 2e-3, warmupSteps: 60, schedule: 'cosine', weightDecay: 0.01, maxGradNorm: 1, maxLength: 256, seed: 1 },
  },
  // The switch-off control: the same recipe without character consistency (no two-turn
  // conversations with unnamed speakers, canonical persona prompts only).
  'no-consistency': {
    preset: 'no-consistency',
    world: { seed: 1, characterConsistency: { enabled: false } },
    model: { dModel: 128, nLayers: 6, nHeads: 4, dMlp: 384, maxPositions: 512 },
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

/** Builds the recipe's world into dir unless a build of the same world config is already there. */
export function ensureOrganismWorld(recipe: OrganismRecipe, dir: string): WorldManifest {
  return ensureWorld(recipe.world, dir);
}
