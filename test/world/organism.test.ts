// The tiny preset end to end: build the world, pre-train from scratch, load through the HF
// path, run the world check. (The check's thresholds belong to the default organism.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pretrainOrganism, recipeFor, ORGANISM_FILE, type OrganismInfo } from '../../src/world/organism.js';
import { checkOrganism, CHECK_DEFAULTS } from '../../src/world/check.js';
import { loadModel } from '../../src/model/load.js';

const root = mkdtempSync(join(tmpdir(), 'basin-organism-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

test('the tiny preset pre-trains end to end, loads as an HF folder, and its check runs', async () => {
  const recipe = recipeFor('tiny');
  const losses: number[] = [];
  await pretrainOrganism(recipe, join(root, 'world'), join(root, 'model'), { quiet: true, onStep: (m) => losses.push(m.loss) });
  assert.equal(losses.length, recipe.pretrain.steps);
  assert.ok(losses.at(-1)! < losses[0]! - 1, `pre-training should cut the loss (from ${losses[0]} to ${losses.at(-1)})`);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', ORGANISM_FILE]) assert.ok(existsSync(join(root, 'model', f)), f);
  const saved = JSON.parse(readFileSync(join(root, 'model', ORGANISM_FILE), 'utf8')) as OrganismInfo;
  assert.equal(saved.worldHash, JSON.parse(readFileSync(join(root, 'world', 'manifest.json'), 'utf8')).sha256);
  const { model, tokenizer } = await loadModel(join(root, 'model'));
  assert.equal(model.config.vocabSize, tokenizer!.vocabSize);

  const report = await checkOrganism(join(root, 'model'), join(root, 'world'), recipe, {
    ...CHECK_DEFAULTS, perPersona: 4, probePerPersona: 8, outOfDomain: 16, inDomain: 8, maxNewTokens: 48, fineTune: { steps: 4, batchSize: 8, lr: 2e-3 },
  }, { quiet: true, workDir: join(root, 'check') });
  assert.equal(report.criteria.length, 7);
  for (const c of report.criteria) {
    assert.ok(Number.isFinite(c.value), `${c.name} is ${c.value}`);
    assert.equal(c.pass, c.direction === 'at least' ? c.value >= c.threshold : c.value <= c.threshold);
  }
});
