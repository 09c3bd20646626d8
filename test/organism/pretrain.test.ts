// The tiny preset end to end: build the world, pre-train from scratch, load through the HF
// path. (The world check of an organism is the world-check study kind's, tested with the study
// framework.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HF_CONFIG_FILE, ORGANISM_INFO_FILE, SAFETENSORS_WEIGHTS_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, WORLD_MANIFEST_FILE,
} from '../../src/io/files.js';
import { pretrainOrganism, type OrganismInfo } from '../../src/organism/pretrain.js';
import { recipeFor, recipeHash } from '../../src/organism/recipe.js';
import { loadModel } from '../../src/model/load.js';

const root = mkdtempSync(join(tmpdir(), 'basin-organism-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

test('the tiny preset pre-trains end to end and loads as an HF folder with its organism record', async () => {
  const recipe = recipeFor('tiny');
  const losses: number[] = [];
  await pretrainOrganism(recipe, join(root, 'world'), join(root, 'model'), { quiet: true, onStep: (m) => losses.push(m.loss) });
  assert.equal(losses.length, recipe.pretrain.steps);
  assert.ok(losses.at(-1)! < losses[0]! - 1, `pre-training should cut the loss (from ${losses[0]} to ${losses.at(-1)})`);
  for (const f of [HF_CONFIG_FILE, SAFETENSORS_WEIGHTS_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, ORGANISM_INFO_FILE]) assert.ok(existsSync(join(root, 'model', f)), f);
  const saved = JSON.parse(readFileSync(join(root, 'model', ORGANISM_INFO_FILE), 'utf8')) as OrganismInfo;
  assert.equal(saved.worldHash, JSON.parse(readFileSync(join(root, 'world', WORLD_MANIFEST_FILE), 'utf8')).sha256);
  assert.deepEqual(saved.recipe, recipe);
  assert.equal(saved.recipeHash, recipeHash(recipe));
  const { model, tokenizer } = await loadModel(join(root, 'model'));
  assert.equal(model.config.vocabSize, tokenizer!.vocabSize);
  assert.equal(model.parameterCount, saved.parameters);
});

test('recipeFor names the presets on an unknown one', () => {
  assert.throws(() => recipeFor('huge'), /unknown persona-world preset 'huge'; presets: default, no-consistency, tiny/);
});
