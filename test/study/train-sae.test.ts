// The train-sae producer on the tiny chat model: a plan with a LoRA fine-tune and a train-sae
// task on top of its adapter, run by the local executor, writes a readable SAELens folder, its
// metrics.json and the run's record (no checkpoints); planning the same task again finds it
// in the store (same key, nothing runs); a changed setting, a different parent or data changes
// the key; bad settings are refused by name before anything runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';
import { Plan, modelRef, type ModelRef } from '../../src/study/task.js';
import { ArtifactStore } from '../../src/study/store.js';
import { LocalExecutor } from '../../src/study/local-executor.js';
import { TaskOutputs } from '../../src/study/executor.js';
import { producer } from '../../src/study/producers/registry.js';
import { SAE_CONFIG_FILE, SAE_EVAL_FILE, SAE_SPARSITY_FILE, SAE_SUBDIR, SAE_WEIGHTS_FILE } from '../../src/io/files.js';
import { readSae } from '../../src/sae/files.js';
import { trainSaeSettings, TRAIN_SAE_RUN_SUBDIR, type TrainSaeSettings } from '../../src/study/producers/train-sae.js';
import '../../src/study/producers/index.js';

const root = mkdtempSync(join(tmpdir(), 'basin-train-sae-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const base = join(root, 'base');
writeTinyChatModel(base, 4);
const data = join(root, 'train.jsonl');
writeFileSync(data, Array.from({ length: 16 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `question ${i}?` }, { role: 'assistant', content: `answer ${i * 3}, fine` }] })).join('\n'));
const otherData = join(root, 'other.jsonl');
writeFileSync(otherData, readFileSync(data, 'utf8').replace('answer 0,', 'answer 1,'));

const SETTINGS = trainSaeSettings({ hook: 'blocks.0.hook_resid_post', architecture: 'topk', dSae: 48, k: 4, steps: 6, batchTokens: 64, storeBatchPrompts: 4, evalBatches: 3, seed: 2 });

function studyPlan(ref: ModelRef, settings: TrainSaeSettings, train = data): Plan {
  const plan = new Plan();
  const ft = plan.add({
    id: 'lora', producer: 'fine-tune', model: ref, data: { train },
    settings: { lora: { r: 2, alpha: 4, rslora: false, targets: ['q_proj', 'v_proj'], dropout: 0 }, steps: 2, batchSize: 4, lr: 1e-2, schedule: 'constant', maxLength: 64, systemPrompt: null, seed: 1 },
  });
  plan.add({ id: 'sae', producer: 'train-sae', model: ref, parents: { adapters: [ft.id] }, data: { train }, settings });
  plan.add({ id: 'sae base', producer: 'train-sae', model: ref, data: { train, eval: train }, settings });
  return plan;
}

test('train-sae writes a readable SAE, its metrics and the run (no checkpoints); the same task again is cached; settings, parents and data change the key', async () => {
  const ref = modelRef(base);
  const store = new ArtifactStore(join(root, 'store'));
  const plan = studyPlan(ref, SETTINGS);
  const first = await new LocalExecutor().run(plan, { store, statusFile: null, label: 'test', quiet: true });
  assert.equal(first.ran, 3);
  const out = new TaskOutputs(plan, store);
  for (const id of ['sae', 'sae base']) {
    const dir = out.dir(id);
    const { config, weights } = readSae(join(dir, SAE_SUBDIR));
    assert.equal(config.architecture, 'topk');
    assert.equal(config.dIn, 32);
    assert.equal(config.dSae, 48);
    assert.equal(config.k, 4);
    assert.equal(config.hookName, 'blocks.0.hook_resid_post');
    assert.deepEqual(weights.W_dec.shape, [48, 32]);
    for (const f of [SAE_CONFIG_FILE, SAE_WEIGHTS_FILE, SAE_SPARSITY_FILE]) assert.ok(existsSync(join(dir, SAE_SUBDIR, f)), f);
    const metrics = JSON.parse(readFileSync(join(dir, SAE_EVAL_FILE), 'utf8')) as { steps: number; l0: number; explainedVariance: number; evaluatedOn: string };
    assert.equal(metrics.steps, 6);
    assert.ok(metrics.l0 > 0 && metrics.l0 <= 4, `l0 ${metrics.l0}`);
    assert.ok(Number.isFinite(metrics.explainedVariance));
    assert.equal(metrics.evaluatedOn, id === 'sae' ? 'the training stream after the last step' : 'evalData');
    assert.deepEqual(readdirSync(join(dir, TRAIN_SAE_RUN_SUBDIR)).sort(), ['metrics.jsonl', 'run.json'], 'only the run record stays: no checkpoints');
    assert.deepEqual(readdirSync(dir).sort(), [TRAIN_SAE_RUN_SUBDIR, SAE_EVAL_FILE, SAE_SUBDIR, 'task.json'].sort());
    assert.equal(readFileSync(join(dir, TRAIN_SAE_RUN_SUBDIR, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 6);
  }
  // the adapter was attached: the SAE trained on other activations
  const withAdapter = readSae(join(out.dir('sae'), SAE_SUBDIR)).weights.b_dec.toArray() as number[];
  const onBase = readSae(join(out.dir('sae base'), SAE_SUBDIR)).weights.b_dec.toArray() as number[];
  assert.notDeepEqual(withAdapter, onBase);

  const again = studyPlan(ref, SETTINGS);
  assert.deepEqual(again.tasks.map((t) => t.key), plan.tasks.map((t) => t.key), 'the same plan has the same keys');
  const second = await new LocalExecutor().run(again, { store, statusFile: null, label: 'test', quiet: true });
  assert.equal(second.ran, 0, 'every task was found in the store');

  const key = (p: Plan) => p.tasks.find((t) => t.id === 'sae')?.key;
  assert.notEqual(key(studyPlan(ref, { ...SETTINGS, k: 5 })), key(plan), 'k is in the key');
  assert.notEqual(key(studyPlan(ref, { ...SETTINGS, seed: 3 })), key(plan), 'the seed is in the key');
  assert.notEqual(key(studyPlan(ref, trainSaeSettings({ ...SETTINGS, training: { auxCoefficient: 0.5 } }))), key(plan), 'the loss settings are in the key');
  assert.notEqual(key(studyPlan(ref, SETTINGS, otherData)), key(plan), 'the data is in the key');
  const plain = new Plan();
  assert.notEqual(plain.add({ id: 'sae', producer: 'train-sae', model: ref, data: { train: data }, settings: SETTINGS }).key, key(plan), 'the adapter parent is in the key');
});

test('train-sae settings: defaults filled in and checked; a hook the model lacks fails the plan check', async () => {
  const s = trainSaeSettings({ hook: 'blocks.1.hook_resid_post', architecture: 'standard', dSae: 64, steps: 10, seed: 0 });
  assert.equal(s.k, null);
  assert.equal(s.batchTokens, 4096);
  assert.equal(s.training.l1Coefficient, 1);
  assert.throws(() => trainSaeSettings({ hook: 'h', architecture: 'topk', dSae: 8, steps: 1, seed: 0 }), /train-sae settings: a topk SAE needs k/);
  assert.throws(() => trainSaeSettings({ hook: 'h', architecture: 'topk', dSae: 8, k: 9, steps: 1, seed: 0 }), /k \(9\) is more than dSae \(8\)/);
  assert.throws(() => trainSaeSettings({ hook: 'h', architecture: 'standard', dSae: 8, k: 2, steps: 1, seed: 0 }), /k is for topk and batchtopk SAEs, not standard/);
  assert.throws(() => trainSaeSettings({ hook: 'h', architecture: 'nope' as never, dSae: 8, steps: 1, seed: 0 }), /unknown architecture 'nope'/);
  assert.throws(() => trainSaeSettings({ hook: 'h', architecture: 'standard', dSae: 8, steps: 0, seed: 0 }), /steps must be an integer ≥ 1, got 0/);
  const plan = new Plan();
  const task = plan.add({ id: 'sae', producer: 'train-sae', model: modelRef(base), data: { train: data }, settings: { ...SETTINGS, hook: 'blocks.7.hook_resid_post' } });
  await assert.rejects(producer('train-sae').check!(task, () => task), /task 'sae': hook "blocks\.7\.hook_resid_post" is not a hook point of this 2-layer model/);
});
