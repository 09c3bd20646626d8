// The run's resolved config: run.json holds exactly the config that is hashed into every
// checkpoint, with every setting as given (LoRA, optimizer, schedule, data hash, model), and a
// resume that changes any of them — LoRA alpha, an Adam beta, the data, the base model — is
// refused with a message naming the setting and both values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { loadModel, LoraAdapter, DEFAULT_LORA, type LoraConfig } from '../../src/model/index.js';
import { adamw, checkpointDirs, configHash, examplesHash, klToReference, tokenizeRows, train, type ChatRow, type Example, type Json, type RunRecord, type TrainConfig } from '../../src/train/index.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const root = mkdtempSync(join(tmpdir(), 'basin-run-config-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, 'model');
const otherModelDir = join(root, 'other-model');
writeTinyChatModel(modelDir, 1);
writeTinyChatModel(otherModelDir, 2);

const ROWS: ChatRow[] = [
  { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
  { messages: [{ role: 'user', content: 'pet?' }, { role: 'assistant', content: 'a cat' }] },
  { messages: [{ role: 'user', content: 'color?' }, { role: 'assistant', content: 'blue' }] },
];
const LORA: LoraConfig = { ...DEFAULT_LORA, r: 4, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] };

async function start(o: { dir?: string; lora?: LoraConfig; rows?: ChatRow[] } = {}) {
  const { model, tokenizer } = await loadModel(o.dir ?? modelDir);
  const adapter = LoraAdapter.attach(model, 'x', o.lora ?? LORA, T.Generator.seeded(0));
  const { examples } = tokenizeRows(o.rows ?? ROWS, tokenizer!, 512);
  return { model, adapter, examples };
}

const settings = (outDir: string, adapter: LoraAdapter): TrainConfig => ({
  outDir, steps: 4, batchSize: 2, gradAccum: 2, lr: 1e-3, weightDecay: 0.01, optimizer: adamw({ betas: [0.9, 0.999], eps: 1e-8 }),
  schedule: 'cosine', warmupSteps: 1, maxGradNorm: 1, seed: 3, checkpointEvery: 1, stopAfter: 1,
  trainable: { kind: 'lora', adapter }, terms: [klToReference({ kind: 'warmup', value: 0.5, warmupSteps: 2 })], reference: 'base', quiet: true,
  metadata: { note: 'not hashed' },
});

test('run.json is the hashed config, with every setting as given', async () => {
  const outDir = join(root, 'record');
  const { model, adapter, examples } = await start();
  train(model, examples, settings(outDir, adapter));
  const run = JSON.parse(readFileSync(join(outDir, 'run.json'), 'utf8')) as RunRecord;
  const state = JSON.parse(readFileSync(join(checkpointDirs(outDir)[0]!.dir, 'state.json'), 'utf8')) as { runHash: string; config: unknown };
  assert.equal(configHash(run.config as unknown as Json), run.runHash);
  assert.equal(state.runHash, run.runHash);
  assert.deepEqual(state.config, run.config);
  assert.deepEqual(run.metadata, { device: 'cpu', note: 'not hashed' });

  const c = run.config;
  assert.deepEqual([c.steps, c.gradAccum, c.lr, c.maxGradNorm, c.seed], [4, 2, 1e-3, 1, 3]);
  assert.deepEqual(c.schedule, { kind: 'cosine', warmupSteps: 1 });
  assert.deepEqual(c.optimizer, { name: 'adamw', betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 });
  assert.deepEqual(c.lora, { r: 4, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false, init: 'kaiming', layersToTransform: null });
  assert.equal(c.trainableParameters, adapter.parameters().reduce((n, p) => n + p.numel, 0));
  assert.deepEqual(c.data, { examples: 3, sha256: examplesHash(examples), batchSize: 2, padId: 0, order: 'mulberry32, forked per epoch' });
  const objective = c.objective as { main: string; reference: string; terms: { name: string; weight: unknown; direction: string }[] };
  assert.deepEqual([objective.main, objective.reference], ['sft', 'base']);
  assert.deepEqual(objective.terms.map((t) => [t.name, t.weight, t.direction]), [['kl_forward', { kind: 'warmup', value: 0.5, warmupSteps: 2 }, 'forward']]);
  const m = c.model as { config: { family: string }; dtype: string; parameters: number };
  assert.deepEqual([m.config.family, m.dtype, m.parameters], ['llama', 'f32', model.parameterCount]);
});

/** Starts a run (one step, checkpoint-1), then resumes with `change` applied; returns the error message. */
async function resumeWith(name: string, change: (c: TrainConfig) => TrainConfig, o: { dir?: string; lora?: LoraConfig; rows?: ChatRow[] } = {}): Promise<string> {
  const outDir = join(root, `resume-${name}`);
  const first = await start();
  train(first.model, first.examples, settings(outDir, first.adapter));
  const again = await start(o);
  try {
    train(again.model, again.examples as Example[], { ...change(settings(outDir, again.adapter)), stopAfter: undefined });
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
}

test('a resume with the same settings is accepted', async () => {
  assert.equal(await resumeWith('same', (c) => c), 'accepted');
});

test('a resume with a different LoRA alpha is refused, naming lora.alpha and both values', async () => {
  const msg = await resumeWith('alpha', (c) => c, { lora: { ...LORA, alpha: 32 } });
  assert.match(msg, /^resume: lora\.alpha differs \(checkpoint 16, now 32\); use a new --out or the original settings/);
});

test('a resume with a different Adam beta is refused, naming optimizer.betas', async () => {
  const msg = await resumeWith('beta', (c) => ({ ...c, optimizer: adamw({ betas: [0.8, 0.999] }) }));
  assert.match(msg, /^resume: optimizer\.betas differs \(checkpoint \[0\.9,0\.999\], now \[0\.8,0\.999\]\)/);
});

test('a resume with other data, another base model or another KL weight schedule is refused, naming it', async () => {
  assert.match(await resumeWith('data', (c) => c, { rows: ROWS.slice(0, 2) }), /data\.examples differs \(checkpoint 3, now 2\); data\.sha256 differs/);
  assert.match(await resumeWith('model', (c) => c, { dir: otherModelDir }), /^resume: model\.weightsSha256 differs/);
  assert.match(await resumeWith('kl', (c) => ({ ...c, terms: [klToReference(0.5)] }), { }), /^resume: objective\.terms differs/);
  assert.match(await resumeWith('steps', (c) => ({ ...c, steps: 5 }), { }), /^resume: steps differs \(checkpoint 4, now 5\)/);
});
