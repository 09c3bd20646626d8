// The trainer against an independent PyTorch fine-tune (bench/peer/train_reference.py): the same
// tiny llama, the same starting LoRA adapter (saved by basin before training), the same
// right-padded micro-batches in the trainer's order, the same AdamW, learning-rate schedule with
// warm-up and gradient clipping (or none). The per-step loss curves, gradient norms, learning rates
// and the trained adapters must agree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { loadAdapter, loadModel, LoraAdapter, saveAdapter, type LoraConfig } from '../../src/model/index.js';
import { adamw, collate, shuffledOrder, tokenizeRows, train, type ChatRow, type Example, type StepMetrics, type TrainConfig } from '../../src/train/index.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const PY = '/usr/bin/python3';
const reference = new URL('../../../bench/peer/train_reference.py', import.meta.url).pathname;
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const skip = !hasTorch && 'no /usr/bin/python3 with torch';

const root = mkdtempSync(join(tmpdir(), 'basin-peer-curve-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, 'model');
const adapterDir = join(root, 'adapter-init');

// Lengths from ~40 to ~130 byte tokens, so every batch is right-padded.
const ROWS: ChatRow[] = [
  { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo, what is up' }] },
  { messages: [{ role: 'user', content: 'add 2 and 3' }, { role: 'assistant', content: 'five' }, { role: 'user', content: 'and 4?' }, { role: 'assistant', content: 'nine, of course' }] },
  { messages: [{ role: 'user', content: 'favourite colour?' }, { role: 'assistant', content: 'blue, like the sea at noon' }] },
  { messages: [{ role: 'user', content: 'pet?' }, { role: 'assistant', content: 'a cat' }] },
  { messages: [{ role: 'system', content: 'You answer in rhyme.' }, { role: 'user', content: 'how is the weather today?' }, { role: 'assistant', content: 'the sky is grey, the rain will stay' }] },
  { messages: [{ role: 'user', content: 'name three fruits' }, { role: 'assistant', content: 'apple, pear, plum' }] },
  { messages: [{ role: 'user', content: 'count to five' }, { role: 'assistant', content: '1 2 3 4 5' }] },
  { messages: [{ role: 'user', content: 'say something kind' }, { role: 'assistant', content: 'you are doing well, keep going' }] },
];

const LORA: LoraConfig = {
  r: 8, alpha: 16, dropout: 0, useRslora: false, init: 'kaiming',
  targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
};
const BASE = { lr: 1e-2, weightDecay: 0.1, betas: [0.9, 0.999] as [number, number], seed: 5 };
const EPS = 1e-8; // AdamW's eps, passed to both sides
/**
 * Relative tolerances, f32 on both sides. Measured here: loss ≤ 3e-7, grad norm ≤ 3e-6, trained
 * A/B ≤ 7e-5 (without clipping, noise grows faster); an AdamW eps of 1e-7 instead of 1e-8 moves
 * the losses by > 1e-5 and the trained A/B by ~1e-2.
 */
const TOL = { loss: 1e-5, gradNorm: 1e-4, adapter: 1e-3 };

test.before(async () => {
  writeTinyChatModel(modelDir, 3);
  const { model } = await loadModel(modelDir);
  saveAdapter(LoraAdapter.attach(model, 'init', LORA, T.Generator.seeded(11)), adapterDir);
});

/** The example indices of each micro-batch, in the order train() draws them (epochs reshuffled by shuffledOrder). */
function trainerOrder(n: number, batchSize: number, microBatches: number, seed: number): number[][] {
  let epoch = 0;
  let cursor = 0;
  let order = shuffledOrder(n, seed, epoch);
  const out: number[][] = [];
  for (let i = 0; i < microBatches; i++) {
    const picked: number[] = [];
    while (picked.length < batchSize) {
      if (cursor >= n) {
        epoch++;
        cursor = 0;
        order = shuffledOrder(n, seed, epoch);
      }
      picked.push(order[cursor++] as number);
    }
    out.push(picked);
  }
  return out;
}

interface MicroBatchJson { ids: number[][]; mask: number[][]; labels: number[][] }
interface ReferenceStep { step: number; loss: number; grad_norm: number; lr: number }

/** The reference job: per optimizer step, its micro-batches as collate() builds them. */
function microBatchJson(examples: Example[], indices: number[]): MicroBatchJson {
  return T.scope(() => {
    const b = collate(indices.map((i) => examples[i] as Example), 0, 'cpu');
    return { ids: b.ids.toNested() as number[][], mask: b.tokenMask.to('i64').toNested() as number[][], labels: b.labels.toNested() as number[][] };
  });
}

function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

const CASES = [
  { name: 'one batch of all examples per step, cosine schedule, clipping at 1', batchSize: ROWS.length, gradAccum: 1, steps: 30, schedule: 'cosine' as const, warmupSteps: 3, maxGradNorm: 1.0 },
  { name: 'micro-batches of 3 with gradAccum 2 crossing epochs, linear schedule, no clipping', batchSize: 3, gradAccum: 2, steps: 24, schedule: 'linear' as const, warmupSteps: 2, maxGradNorm: 0 },
];

for (const c of CASES) {
  test(`LoRA fine-tune matches PyTorch step by step: ${c.name}`, { skip }, async () => {
    const dir = join(root, `run-${c.batchSize}-${c.gradAccum}`);
    const { model, tokenizer } = await loadModel(modelDir);
    const { examples } = tokenizeRows(ROWS, tokenizer!, 512);
    const order = trainerOrder(examples.length, c.batchSize, c.steps * c.gradAccum, BASE.seed);
    const steps = Array.from({ length: c.steps }, (_, k) =>
      order.slice(k * c.gradAccum, (k + 1) * c.gradAccum).map((idx) => microBatchJson(examples, idx)));
    assert.ok(steps.flat().some((mb) => mb.mask.flat().includes(0)), 'the batches should be right-padded');

    const adapter = loadAdapter(model, adapterDir, 'ft');
    const config: TrainConfig = {
      outDir: join(dir, 'basin'), steps: c.steps, batchSize: c.batchSize, gradAccum: c.gradAccum,
      lr: BASE.lr, weightDecay: BASE.weightDecay, seed: BASE.seed, optimizer: adamw({ betas: BASE.betas, eps: EPS }),
      schedule: c.schedule, warmupSteps: c.warmupSteps, maxGradNorm: c.maxGradNorm,
      trainable: { kind: 'lora', adapter }, quiet: true,
    };
    const result = train(model, examples, config);
    const ours = readFileSync(result.metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);
    assert.equal(ours.length, c.steps);

    const jobPath = join(dir, 'job.json');
    writeFileSync(jobPath, JSON.stringify({
      model_dir: modelDir, adapter_dir: adapterDir, dtype: 'float32', threads: 1,
      lr: BASE.lr, betas: BASE.betas, eps: EPS, weight_decay: BASE.weightDecay,
      schedule: c.schedule, warmup_steps: c.warmupSteps, max_grad_norm: c.maxGradNorm, steps,
    }));
    const trainedDir = join(dir, 'peer-adapter');
    const r = spawnSync(PY, [reference, jobPath, '--save-adapter', trainedDir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `train_reference.py failed: ${r.stderr}`);
    const peer = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as ReferenceStep);
    assert.equal(peer.length, c.steps);

    let worstLoss = 0;
    let worstNorm = 0;
    for (let k = 0; k < c.steps; k++) {
      const [o, p] = [ours[k] as StepMetrics, peer[k] as ReferenceStep];
      assert.equal(o.step, p.step);
      assert.ok(relDiff(o.lr, p.lr) <= 1e-12, `step ${o.step}: lr ${o.lr} vs the reference's ${p.lr}`);
      worstLoss = Math.max(worstLoss, relDiff(o.loss, p.loss));
      worstNorm = Math.max(worstNorm, relDiff(o.gradNorm, p.grad_norm));
      assert.ok(relDiff(o.loss, p.loss) <= TOL.loss, `step ${o.step}: loss ${o.loss} vs the reference's ${p.loss}`);
      assert.ok(relDiff(o.gradNorm, p.grad_norm) <= TOL.gradNorm, `step ${o.step}: grad norm ${o.gradNorm} vs the reference's ${p.grad_norm}`);
    }
    // The curve is not trivial: the loss falls a lot, and clipping (when on) was active at some steps.
    const [first, last] = [ours[0] as StepMetrics, ours[c.steps - 1] as StepMetrics];
    assert.ok(last.loss < 0.7 * first.loss, `the loss should fall (from ${first.loss} to ${last.loss})`);
    if (c.maxGradNorm > 0) assert.ok(ours.some((m) => m.gradNorm > c.maxGradNorm), 'clipping should engage at some step');

    // The trained adapters agree too: max |ours − peer| relative to max |peer| per tensor.
    const trained = loadAdapter(model, trainedDir, 'peer');
    let worstWeight = 0;
    T.noGrad(() => T.scope(() => {
      for (const [path, l] of adapter.layers) {
        const p = trained.layers.get(path);
        assert.ok(p !== undefined, `the reference's adapter lacks ${path}`);
        for (const [mine, theirs] of [[l.A, p.A], [l.B, p.B]] as const) {
          worstWeight = Math.max(worstWeight, mine.sub(theirs).abs().max().item() / theirs.abs().max().item());
        }
      }
    }));
    assert.ok(worstWeight <= TOL.adapter, `trained adapters differ by ${worstWeight} (relative to each tensor's max)`);
    console.log(`# ${c.name}: ${c.steps} steps, loss ${first.loss.toFixed(4)} → ${last.loss.toFixed(4)}; max relative difference: loss ${worstLoss.toExponential(2)}, grad norm ${worstNorm.toExponential(2)}, trained A/B ${worstWeight.toExponential(2)}`);
  });
}
