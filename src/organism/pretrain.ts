// Pre-training the persona-world organism: a small llama-style model trained from scratch on
// the world's corpus by basin's own trainer, saved as a Hugging Face model folder with an
// organism.json record (recipe, recipe hash, and the content hash of the world it learned).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { ORGANISM_INFO_FILE } from '../io/files.js';
import { Tokenizer } from '../io/tokenizer.js';
import { randomModel } from '../model/init.js';
import { saveModel } from '../model/load.js';
import { readChatJsonl, tokenizeRows } from '../train/data.js';
import { train } from '../train/trainer.js';
import type { StepMetrics } from '../train/loop.js';
import { WORLD_CORPUS_FILE, WORLD_TOKENIZER_DIR } from '../world/build-world.js';
import { ensureOrganismWorld, organismConfig, recipeHash, type OrganismRecipe } from './recipe.js';

/** The record written beside the model as organism.json. */
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

/** Pre-trains the organism on the world in worldDir (built first if missing) and writes an HF folder to outDir. */
export async function pretrainOrganism(recipe: OrganismRecipe, worldDir: string, outDir: string, o: { quiet?: boolean; onStep?: (m: StepMetrics) => void } = {}): Promise<OrganismInfo> {
  const manifest = ensureOrganismWorld(recipe, worldDir);
  const tokenizerDir = join(worldDir, WORLD_TOKENIZER_DIR);
  const tokenizer = await Tokenizer.fromFolder(tokenizerDir);
  const config = organismConfig(recipe, tokenizer);
  const p = recipe.pretrain;
  const model = randomModel(config, p.seed);
  const { examples } = tokenizeRows(readChatJsonl(join(worldDir, WORLD_CORPUS_FILE)), tokenizer, p.maxLength);
  const t0 = performance.now();
  mkdirSync(outDir, { recursive: true });
  const runDir = join(outDir, 'pretrain-run');
  const result = train(model, examples, {
    outDir: runDir, steps: p.steps, batchSize: p.batchSize, lr: p.lr, warmupSteps: p.warmupSteps, schedule: p.schedule,
    weightDecay: p.weightDecay, maxGradNorm: p.maxGradNorm, seed: p.seed, checkpointEvery: Math.max(100, Math.floor(p.steps / 10)),
    trainable: { kind: 'full' }, padId: tokenizer.padTokenId ?? 0, groupByLength: true, quiet: o.quiet ?? false,
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
  writeFileAtomic(join(outDir, ORGANISM_INFO_FILE), `${JSON.stringify(info, null, 1)}\n`);
  return info;
}
