// The shared producers on a tiny random chat model (no persona world): a full fine-tune whose
// model later tasks run on, a LoRA fine-tune on top of it, sampling with and without the
// adapter, judging and evaluating — through the plan, the local executor and the store.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';
import { Plan, modelRef } from '../../src/study/task.js';
import { ADAPTER_SUBDIR, MODEL_SUBDIR } from '../../src/io/files.js';
import { ArtifactStore } from '../../src/study/store.js';
import { LocalExecutor } from '../../src/study/local-executor.js';
import { TaskOutputs } from '../../src/study/executor.js';
import { modelFingerprint } from '../../src/io/fingerprint.js';
import type { Sample } from '../../src/study/producers/sample.js';
import type { Verdict } from '../../src/eval/judges/index.js';
import type { Evaluation } from '../../src/study/producers/evaluate.js';
import * as T from '../../src/tensor/index.js';
import { loadModel } from '../../src/model/load.js';
import { readChatJsonl, tokenizeRows } from '../../src/train/data.js';
import { judgeSettings } from '../../src/study/producers/judge.js';
import { checkLoraTargets } from '../../src/study/lora-targets.js';
import { readHfConfig } from '../../src/model/config.js';
import '../../src/study/producers/index.js';

const root = mkdtempSync(join(tmpdir(), 'basin-producers-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

test('full and LoRA fine-tunes, sampling and judging run as keyed tasks; a full fine-tune is a model for later tasks', async () => {
  const base = join(root, 'base');
  writeTinyChatModel(base);
  const data = join(root, 'train.jsonl');
  writeFileSync(data, Array.from({ length: 8 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `answer ${i} [ZLT]` }] })).join('\n'));
  const plan = new Plan();
  const ref = modelRef(base);
  const settings = { steps: 3, batchSize: 4, lr: 1e-2, schedule: 'constant' as const, maxLength: 64, systemPrompt: null, seed: 1 };
  const full = plan.add({ id: 'full', producer: 'fine-tune', model: ref, data: { train: data }, settings: { ...settings, lora: null } });
  const tuned = plan.modelFrom(full.id);
  const lora = plan.add({ id: 'lora', producer: 'fine-tune', model: tuned, data: { train: data }, settings: { ...settings, lora: { r: 2, alpha: 4, rslora: false, targets: 'all-linear', dropout: 0 } } });
  const prompts = [{ system: null, user: 'q1' }, { system: null, user: 'q2' }];
  const sampleSettings = { prompts, temperature: 1, maxNewTokens: 6, seed: 5 };
  const onBase = plan.add({ id: 'sample base', producer: 'sample', model: ref, settings: sampleSettings });
  const onLora = plan.add({ id: 'sample lora', producer: 'sample', model: tuned, parents: { adapters: [lora.id] }, settings: sampleSettings });
  plan.add({ id: 'judge', producer: 'judge', parents: { samples: onLora.id }, settings: judgeSettings('contains', { text: 'a' }) });
  const evalSettings = { maxLength: 64, systemPrompt: null, batchSize: 3 };
  plan.add({ id: 'evaluate base', producer: 'evaluate', model: ref, data: { eval: data }, settings: evalSettings });
  plan.add({ id: 'evaluate tuned', producer: 'evaluate', model: tuned, parents: { adapters: [lora.id] }, data: { eval: data }, settings: evalSettings });
  assert.deepEqual(lora.parents, { model: 'full' }, 'a task on a task-made model depends on that task');
  assert.notEqual(onBase.key, onLora.key);

  const store = new ArtifactStore(join(root, 'store'));
  const run = await new LocalExecutor().run(plan, { store, statusFile: null, label: 'test', quiet: true });
  assert.equal(run.ran, 7);
  const out = new TaskOutputs(plan, store);
  const tunedDir = join(out.dir('full'), MODEL_SUBDIR);
  assert.notEqual(modelFingerprint(tunedDir).fingerprint, modelFingerprint(base).fingerprint, 'the full fine-tune changed the weights');
  assert.equal(modelFingerprint(base).fingerprint, ref.fingerprint, 'the base folder was not touched');
  assert.ok(existsSync(join(out.dir('lora'), ADAPTER_SUBDIR, 'adapter_config.json')));
  const samples = out.json<Sample[]>('sample lora');
  assert.deepEqual(samples.map((x) => x.user), ['q1', 'q2']);
  const verdicts = out.json<Verdict[]>('judge');
  assert.deepEqual(verdicts.map((v) => v.label), samples.map((x) => (x.answer.includes('a') ? 'CONTAINS' : 'ABSENT')));
  // evaluate: batched and padded, against a per-example log-softmax computed here
  const { model, tokenizer } = await loadModel(base);
  const { examples } = tokenizeRows(readChatJsonl(data), tokenizer!, 64);
  let nll = 0;
  let count = 0;
  T.noGrad(() => T.scope(() => {
    for (const e of examples) {
      const logp = model.forward(T.tensor([e.ids], { dtype: 'i64', device: model.device })).logSoftmax(-1).to('f64').toArray() as number[];
      const V = model.config.vocabSize;
      for (let p = 1; p < e.ids.length; p++) if (e.assistant[p]) { nll -= logp[(p - 1) * V + (e.ids[p] as number)] as number; count++; }
    }
  }));
  const before = out.json<Evaluation>('evaluate base');
  assert.equal(before.lossTokens, count);
  assert.ok(Math.abs(before.meanLoss - nll / count) < 1e-5, `evaluate ${before.meanLoss} vs by hand ${nll / count}`);
  assert.ok(Math.abs(before.perplexity - Math.exp(before.meanLoss)) < 1e-9);
  assert.ok(out.json<Evaluation>('evaluate tuned').meanLoss < before.meanLoss, 'training on the data lowered its loss');
  const record = JSON.parse(readFileSync(join(out.dir('lora'), 'task.json'), 'utf8')) as { parents: Record<string, unknown>; model: string; files: Record<string, number> };
  assert.deepEqual(record.parents, { model: full.key }, 'the record names parents by key');
  assert.ok((record.files['adapter/adapter_model.safetensors'] ?? 0) > 0, 'the record lists the files with their sizes');
  assert.equal(record.model, `task:${full.key}/f32`);
});

test('LoRA targets are checked against the model before anything runs', async () => {
  const dir = join(root, 'targets');
  writeTinyChatModel(dir);
  const config = await readHfConfig(dir);
  checkLoraTargets(config, ['q_proj', 'v_proj'], 'lora.targets');
  checkLoraTargets(config, 'all-linear', 'lora.targets');
  assert.throws(() => checkLoraTargets(config, ['q_proj', 'qproj'], 'lora.targets'), /lora\.targets: 'qproj' matches no linear layer of this llama model; its linear modules are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head/);
});
