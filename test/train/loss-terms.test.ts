// Loss terms in SFT: a loss name used twice is an error before any step; a term sees the step,
// the model and the trainable parameters (an L2-to-anchor term moves one SGD step by exactly
// its analytic gradient); a weight schedule is applied per step and recorded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { loadModel, LoraAdapter, DEFAULT_LORA, type LoraConfig } from '../../src/model/index.js';
import { klToReference, sgd, tokenizeRows, train, type ChatRow, type LossTerm, type RunRecord, type StepMetrics } from '../../src/train/index.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const root = mkdtempSync(join(tmpdir(), 'basin-terms-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, 'model');
writeTinyChatModel(modelDir, 2, 'f64');

const ROWS: ChatRow[] = [
  { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
  { messages: [{ role: 'user', content: 'color?' }, { role: 'assistant', content: 'blue' }] },
];
const LORA: LoraConfig = { ...DEFAULT_LORA, r: 2, alpha: 4 };

async function setup(seed = 4) {
  const { model, tokenizer } = await loadModel(modelDir, { dtype: 'f64' });
  const adapter = LoraAdapter.attach(model, 'a', LORA, T.Generator.seeded(seed));
  // B = 0 at init would make A's gradient zero; start from a point where both move.
  T.noGrad(() => { for (const l of adapter.layers.values()) l.B.copy_(T.randn(l.B.shape, { dtype: 'f64', generator: T.Generator.seeded(seed + 1) }).mul(0.1)); });
  return { model, adapter, examples: tokenizeRows(ROWS, tokenizer!, 512).examples };
}

test('a loss name used twice (by two terms, or by a term and the main loss) is refused before any step', async () => {
  const { model, adapter, examples } = await setup();
  const base = { steps: 2, batchSize: 2, lr: 1e-3, seed: 0, trainable: { kind: 'lora' as const, adapter }, reference: 'base' as const, quiet: true };
  const outDir = join(root, 'dup');
  assert.throws(() => train(model, examples, { ...base, outDir, terms: [klToReference(1), klToReference(0.5)] }), /loss name 'kl_forward' is used twice: by loss term 'kl_forward' and by loss term 'kl_forward'/);
  assert.throws(() => train(model, examples, { ...base, outDir, terms: [klToReference(1, 'forward', 'sft')] }), /loss name 'sft' is used twice: by the main loss and by loss term 'sft'/);
  assert.equal(existsSync(outDir), false, 'nothing was written');
  // Two KL terms with distinct names are fine.
  train(model, examples, { ...base, outDir: join(root, 'two-kl'), terms: [klToReference(1), klToReference(0.5, 'forward', 'kl_forward_2')] });
});

test('a term returning a loss it does not declare is an error naming both', async () => {
  const { model, adapter, examples } = await setup();
  const sneaky: LossTerm = { name: 'a', losses: ['a'], compute: (ctx) => ({ a: ctx.policy.logits.mean(), b: ctx.policy.logits.mean() }), describe: () => ({}) };
  assert.throws(() => train(model, examples, { outDir: join(root, 'sneaky'), steps: 1, batchSize: 2, lr: 0, seed: 0, trainable: { kind: 'lora', adapter }, terms: [sneaky], quiet: true }),
    /loss term 'a' returned 'b', which it does not declare/);
});

test('a term sees step, model and parameters: one SGD step with λ‖θ − anchor‖² moves θ by exactly −2ηλ(θ₀ − anchor) more', async () => {
  const [eta, lambda] = [0.5, 0.3];
  const steps = 1;
  const run = async (withTerm: boolean) => {
    const { model, adapter, examples } = await setup();
    const init = new Map(adapter.parameters().map((p, i) => [i, p.toArray()]));
    const names = [...adapter.layers.keys()].flatMap((path) => [`${path}.lora_A.weight`, `${path}.lora_B.weight`]);
    const anchors = new Map(names.map((n, i) => [n, T.keep(T.tensor(init.get(i)!.map((v, j) => v - 0.1 * Math.sin(j + i)), { dtype: 'f64', shape: adapter.parameters()[i]!.shape }))]));
    const seen: { step: number; totalSteps: number; sameModel: boolean; names: string[] }[] = [];
    const l2: LossTerm = {
      name: 'l2_anchor',
      weight: lambda,
      compute: (ctx) => {
        seen.push({ step: ctx.step, totalSteps: ctx.totalSteps, sameModel: ctx.model === model, names: [...ctx.parameters.keys()] });
        let sum = T.zeros([], { dtype: 'f64', device: ctx.model.device });
        for (const [name, p] of ctx.parameters) sum = sum.add(p.sub(anchors.get(name)!).square().sum());
        return { l2_anchor: sum };
      },
      describe: () => ({ term: 'l2_to_anchor' }),
    };
    train(model, examples, {
      outDir: join(root, `l2-${withTerm}`), steps, batchSize: 2, lr: eta, seed: 0, optimizer: sgd(), trainable: { kind: 'lora', adapter }, terms: withTerm ? [l2] : [], quiet: true,
    });
    return { after: adapter.parameters().map((p) => p.toArray()), init, anchors: names.map((n) => anchors.get(n)!.toArray()), seen, names };
  };
  const plain = await run(false);
  const withL2 = await run(true);
  assert.deepEqual(withL2.seen.map((s) => [s.step, s.totalSteps, s.sameModel]), [[0, 1, true]]);
  assert.deepEqual(withL2.seen[0]!.names, withL2.names);
  let worst = 0;
  withL2.after.forEach((values, i) => values.forEach((v, j) => {
    const want = plain.after[i]![j]! - 2 * eta * lambda * (withL2.init.get(i)![j]! - withL2.anchors[i]![j]!);
    worst = Math.max(worst, Math.abs(v - want));
  }));
  assert.ok(worst <= 1e-12, `the step differs from the analytic one by ${worst}`);
});

test('a weight schedule is applied per step, recorded in the metrics and described in run.json', async () => {
  const { model, adapter, examples } = await setup();
  const unit = (name: string, weight: LossTerm['weight']): LossTerm => ({
    name, weight, compute: (ctx) => ({ [name]: T.ones([], { dtype: 'f64', device: ctx.model.device }) }), describe: () => ({ term: 'constant_one' }),
  });
  const steps = 6;
  const outDir = join(root, 'schedule');
  train(model, examples, {
    outDir, steps, batchSize: 2, lr: 1e-3, seed: 0, trainable: { kind: 'lora', adapter }, quiet: true,
    terms: [unit('warm', { kind: 'warmup', value: 2, warmupSteps: 4 }), unit('odd', { kind: 'function', label: 'step mod 2', at: (k) => k % 2 })],
  });
  const metrics = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);
  metrics.forEach((m, k) => {
    const [warm, odd] = [2 * Math.min(k, 4) / 4, k % 2];
    assert.deepEqual(m.weights, { sft: 1, warm, odd }, `step ${m.step}`);
    assert.ok(Math.abs(m.loss - (m.parts.sft! + warm + odd)) <= 1e-12, `step ${m.step}: loss ${m.loss}, sft ${m.parts.sft}`);
  });
  const run = JSON.parse(readFileSync(join(outDir, 'run.json'), 'utf8')) as RunRecord;
  const terms = (run.config.objective as { terms: { name: string; weight: Record<string, unknown> }[] }).terms;
  assert.deepEqual(terms[0]!.weight, { kind: 'warmup', value: 2, warmupSteps: 4 });
  assert.equal(terms[1]!.weight.kind, 'function');
  assert.equal(terms[1]!.weight.label, 'step mod 2');
  assert.match(String(terms[1]!.weight.valuesSha256), /^[0-9a-f]{16}$/);
});
