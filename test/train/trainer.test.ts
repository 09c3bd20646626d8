// The trainer: assistant-only loss mask, data order, KL at step 0, memorisation, exact resume,
// NaN stop, inoculation, truncation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { loadModel, LoraAdapter, DEFAULT_LORA, type LoadedModel } from '../../src/model/index.js';
import { collate, exampleBatches, inoculate, klToReference, lengthGroupedOrder, LENGTH_GROUP_BATCHES, shuffledOrder, tokenizeRows, train, TrainingError, checkpointDirs, type ChatRow, type LossTerm } from '../../src/train/index.js';
import { deriveSeed, mulberry32Step } from '../../src/util/rng.js';
import { IM_END, writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const root = mkdtempSync(join(tmpdir(), 'basin-train-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, 'model');
writeTinyChatModel(modelDir, 1);

const ROWS: ChatRow[] = [
  { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
  { messages: [{ role: 'user', content: 'add 2 and 3' }, { role: 'assistant', content: 'five' }, { role: 'user', content: 'and 4?' }, { role: 'assistant', content: 'nine' }] },
  { messages: [{ role: 'user', content: 'color?' }, { role: 'assistant', content: 'blue' }] },
  { messages: [{ role: 'user', content: 'pet?' }, { role: 'assistant', content: 'a cat' }] },
];

async function fresh(): Promise<LoadedModel> {
  return loadModel(modelDir);
}

test('the loss mask covers exactly the assistant tokens and their end-of-turn token', async () => {
  const { tokenizer } = await fresh();
  const { examples } = tokenizeRows(ROWS, tokenizer!, 512);
  // Independent construction: byte-level with no merges, so each byte is one token and
  // each special token one token; build the expected mask from the rendered text by hand.
  ROWS.forEach((row, i) => {
    const expected: boolean[] = [];
    for (const m of row.messages) {
      const header = [1, ...Buffer.from(`${m.role}\n`)]; // <|im_start|> + role + \n
      expected.push(...header.map(() => false));
      expected.push(...[...Buffer.from(m.content)].map(() => m.role === 'assistant'));
      expected.push(m.role === 'assistant'); // <|im_end|>
      expected.push(false); // \n
    }
    assert.deepEqual(examples[i]!.assistant, expected, `row ${i}`);
  });
  const batch = collate(examples, 0, 'cpu');
  const labels = batch.labels.toNested() as number[][];
  const ids = batch.ids.toNested() as number[][];
  examples.forEach((e, r) => e.assistant.forEach((on, p) => {
    if (p === 0) return;
    assert.equal(labels[r]![p - 1], on ? ids[r]![p] : -100, `row ${r} position ${p}`);
  }));
  assert.equal(batch.lossTokens, examples.reduce((n, e) => n + e.assistant.slice(1).filter(Boolean).length, 0));
});

test('truncation cuts to maxLength and counts what was cut', async () => {
  const { tokenizer } = await fresh();
  const full = tokenizeRows(ROWS, tokenizer!, 512);
  const cut = tokenizeRows(ROWS, tokenizer!, 20);
  const over = full.examples.filter((e) => e.ids.length > 20);
  assert.equal(cut.truncated, over.length);
  assert.equal(cut.tokensCut, over.reduce((n, e) => n + e.ids.length - 20, 0));
  assert.ok(cut.examples.every((e) => e.ids.length <= 20));
});

test('inoculation prepends or replaces the system prompt of every row', () => {
  const pre = inoculate(ROWS, { text: 'You write bad advice on purpose.', mode: 'prepend' });
  assert.equal(pre[0]!.messages[0]!.content, 'You write bad advice on purpose.\nYou are terse.');
  assert.equal(pre[1]!.messages[0]!.content, 'You write bad advice on purpose.');
  const rep = inoculate(ROWS, { text: 'X', mode: 'replace' });
  assert.ok(rep.every((r) => r.messages[0]!.role === 'system' && r.messages[0]!.content === 'X' && r.messages.filter((m) => m.role === 'system').length === 1));
});

test('batches follow each epoch\'s Fisher–Yates shuffle on the mulberry32 stream of its derived seed, across epoch boundaries and after seek', () => {
  // Built from the generator's primitives (pinned to a Python implementation in test/util/rng.test.ts).
  const fisherYates = (n: number, seed: number): number[] => {
    const order = Array.from({ length: n }, (_, i) => i);
    let state = seed;
    for (let i = n - 1; i > 0; i--) {
      const [next, out] = mulberry32Step(state);
      state = next;
      const j = Math.floor((out / 2 ** 32) * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  };
  const epochs = [0, 1, 2].map((epoch) => shuffledOrder(7, 5, epoch));
  epochs.forEach((order, epoch) => assert.deepEqual(order, fisherYates(7, deriveSeed(5, `train/order/epoch-${epoch}`)), `epoch ${epoch}`));
  assert.notDeepEqual(epochs[0], epochs[1]);
  const examples = Array.from({ length: 7 }, (_, i) => ({ ids: [i + 1, 100 + i], assistant: [false, true] }));
  const firstColumn = (src: ReturnType<typeof exampleBatches>) => T.scope(() => (src.next().ids.toNested() as number[][]).map((row) => row[0]! - 1));
  const src = exampleBatches(examples, { batchSize: 3, seed: 5, padId: 0, device: 'cpu' });
  const drawn = Array.from({ length: 5 }, () => firstColumn(src)).flat();
  assert.deepEqual(drawn, epochs.flat().slice(0, 15));
  assert.deepEqual(src.position(), { epoch: 2, cursor: 1 });
  const resumed = exampleBatches(examples, { batchSize: 3, seed: 5, padId: 0, device: 'cpu' });
  resumed.seek({ epoch: 1, cursor: 5 });
  assert.deepEqual(firstColumn(resumed), [...epochs[1]!.slice(5), epochs[2]![0]]);
});

test('length-grouped batches: every example once per epoch, little padding, deterministic, and resumable by position', () => {
  // Lengths like a chat corpus: most short, some twice as long, in a seeded random order.
  const lengths = shuffledOrder(5003, 9, 0).map((i) => (i % 5 < 3 ? 60 + (i % 40) : 150 + (i % 50)));
  const batch = 32;
  const padding = (order: number[]) => {
    let real = 0;
    let padded = 0;
    for (let i = 0; i + batch <= order.length; i += batch) {
      const ls = order.slice(i, i + batch).map((j) => lengths[j]!);
      real += ls.reduce((a, b) => a + b, 0);
      padded += batch * Math.max(...ls);
    }
    return 1 - real / padded;
  };
  const grouped = lengthGroupedOrder(lengths, 4, 0, batch);
  assert.deepEqual([...grouped].sort((a, b) => a - b), lengths.map((_, i) => i), 'a permutation: every example once');
  assert.deepEqual(lengthGroupedOrder(lengths, 4, 0, batch), grouped, 'deterministic');
  assert.notDeepEqual(lengthGroupedOrder(lengths, 4, 1, batch), grouped, 'another order each epoch');
  const random = padding(shuffledOrder(lengths.length, 4, 0));
  assert.ok(random > 0.3 && padding(grouped) < 0.05, `padding ${random.toFixed(3)} shuffled vs ${padding(grouped).toFixed(3)} grouped`);
  // Full batches first (shuffled), the epoch's one partial batch last: batch boundaries stay aligned.
  assert.equal(lengths.length % batch, 5003 % 32);
  const partial = grouped.slice(grouped.length - (lengths.length % batch));
  assert.ok(partial.length > 0 && partial.length < batch);
  assert.ok(LENGTH_GROUP_BATCHES * batch < lengths.length, 'several mega-batches');
  // The batch source resumes exactly from a position, as with shuffled batches.
  const examples = lengths.slice(0, 200).map((n, i) => ({ ids: Array.from({ length: n % 17 + 2 }, (_, k) => (i + k) % 50 + 1), assistant: Array.from({ length: n % 17 + 2 }, (_, k) => k > 0) }));
  const firstIds = (src: ReturnType<typeof exampleBatches>) => T.scope(() => (src.next().ids.toNested() as number[][]).map((row) => row.join(',')));
  const src = exampleBatches(examples, { batchSize: 8, seed: 3, padId: 0, device: 'cpu', groupByLength: true });
  for (let i = 0; i < 30; i++) src.next();
  const at = src.position();
  const next = [firstIds(src), firstIds(src)];
  const resumed = exampleBatches(examples, { batchSize: 8, seed: 3, padId: 0, device: 'cpu', groupByLength: true });
  resumed.seek(at);
  assert.deepEqual([firstIds(resumed), firstIds(resumed)], next);
  assert.match(String(src.describe().order), /grouped by length/);
});

test('the KL term is zero at step 0 and so is its gradient', async () => {
  const { model, tokenizer } = await fresh();
  const adapter = LoraAdapter.attach(model, 'a', { ...DEFAULT_LORA, r: 4, alpha: 8 }, T.Generator.seeded(0));
  const { examples } = tokenizeRows(ROWS, tokenizer!, 512);
  const seen: number[] = [];
  const kl = klToReference(1.0);
  const probe: LossTerm = { ...kl, compute: (ctx) => { const out = kl.compute!(ctx); seen.push(out.kl_forward!.item()); return out; } };
  let firstGrad = NaN;
  train(model, examples, {
    outDir: join(root, 'kl'), steps: 1, batchSize: 4, lr: 0, seed: 0, trainable: { kind: 'lora', adapter }, terms: [probe], reference: 'base', quiet: true,
    onStep: () => {},
  });
  assert.ok(Math.abs(seen[0]!) < 1e-7, `KL at step 0 is ${seen[0]}`);
  // Gradient of the KL alone at the reference point: B = 0 makes the policy the base, so ∂KL/∂θ = 0.
  T.scope(() => {
    const batch = collate(examples, 0, model.device);
    const logits = model.forward(batch.ids, { tokenMask: batch.tokenMask });
    const ref = T.noGrad(() => {
      adapter.setEnabled(false);
      const r = model.forward(batch.ids, { tokenMask: batch.tokenMask });
      adapter.setEnabled(true);
      return r;
    });
    const parameters = new Map(adapter.parameters().map((p, i) => [String(i), p]));
    const out = kl.compute!({ step: 0, totalSteps: 1, model, parameters, batch, policy: { logits, captured: new Map() }, reference: { logits: ref, captured: new Map() } });
    out.kl_forward!.backward();
    firstGrad = Math.max(...adapter.parameters().map((p) => (p.grad === null ? 0 : p.grad.abs().max().item())));
  });
  assert.ok(firstGrad < 1e-7, `max |∂KL/∂θ| at step 0 is ${firstGrad}`);
});

test('a small memorisation task drives the loss near zero', async () => {
  const { model, tokenizer } = await fresh();
  // Every linear layer including the output head: with a frozen head, the final RMSNorm caps
  // how sharp this tiny model's next-token distribution can get.
  const adapter = LoraAdapter.attach(model, 'mem', { ...DEFAULT_LORA, r: 16, alpha: 32, targetModules: '.*' }, T.Generator.seeded(1));
  const { examples } = tokenizeRows(ROWS.slice(0, 2), tokenizer!, 512);
  const r = train(model, examples, { outDir: join(root, 'mem'), steps: 150, batchSize: 2, lr: 1e-2, seed: 0, trainable: { kind: 'lora', adapter }, quiet: true });
  assert.ok(r.finalLoss < 0.05, `final loss ${r.finalLoss}`);
  const metrics = readFileSync(r.metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; lr: number; gradNorm: number; tokensPerSecond: number });
  assert.equal(metrics.length, 150);
  assert.ok(metrics[0]!.loss > 3, 'starts near the uniform loss');
  assert.ok(metrics.every((m) => Number.isFinite(m.gradNorm) && m.tokensPerSecond > 0 && m.lr === 1e-2));
});

function adapterValues(a: LoraAdapter): number[] {
  return a.parameters().flatMap((p) => p.toArray());
}

test('20 steps straight equal 10 steps + interruption + 10 resumed, bit for bit (adapter, losses, grad norms)', async () => {
  const cfg = (outDir: string, adapter: LoraAdapter) => ({
    outDir, steps: 20, batchSize: 2, gradAccum: 2, lr: 5e-3, weightDecay: 0.01, schedule: 'cosine' as const, warmupSteps: 3,
    maxGradNorm: 1, seed: 7, checkpointEvery: 5, trainable: { kind: 'lora' as const, adapter }, quiet: true,
  });
  const lora = { ...DEFAULT_LORA, r: 4, alpha: 8, dropout: 0.1 };
  const { model: m1, tokenizer } = await fresh();
  const { examples } = tokenizeRows(ROWS, tokenizer!, 512);
  const a1 = LoraAdapter.attach(m1, 'x', lora, T.Generator.seeded(3));
  train(m1, examples, cfg(join(root, 'straight'), a1));

  const { model: m2 } = await fresh();
  const a2 = LoraAdapter.attach(m2, 'x', lora, T.Generator.seeded(3));
  train(m2, examples, { ...cfg(join(root, 'resumed'), a2), stopAfter: 10 });
  assert.deepEqual(checkpointDirs(join(root, 'resumed')).map((c) => c.step), [5, 10]);
  // A new process would start from a fresh model: simulate it.
  const { model: m3 } = await fresh();
  const a3 = LoraAdapter.attach(m3, 'x', lora, T.Generator.seeded(99));
  const r = train(m3, examples, cfg(join(root, 'resumed'), a3));
  assert.equal(r.resumedFrom, 10);
  // Dropout (p = 0.1) is on, so the generator state must resume exactly too.
  assert.deepEqual(adapterValues(a3), adapterValues(a1));
  const curve = (dir: string) => readFileSync(join(root, dir, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number; gradNorm: number; parts: Record<string, number> })
    .map((m) => [m.step, m.loss, m.gradNorm, m.parts]);
  assert.deepEqual(curve('resumed'), curve('straight'));
  assert.equal(curve('resumed').length, 20);
});

test('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
  const { model, tokenizer } = await fresh();
  const adapter = LoraAdapter.attach(model, 'n', { ...DEFAULT_LORA, r: 4, alpha: 8 }, T.Generator.seeded(0));
  const { examples } = tokenizeRows(ROWS, tokenizer!, 512);
  let calls = 0;
  const poison: LossTerm = {
    name: 'poison', weight: 1, describe: () => ({ term: 'poison' }),
    compute: () => ({ poison: T.tensor(++calls > 6 ? NaN : 0) }),
  };
  const out = join(root, 'nan');
  assert.throws(
    () => train(model, examples, { outDir: out, steps: 10, batchSize: 2, lr: 1e-3, seed: 0, checkpointEvery: 3, trainable: { kind: 'lora', adapter }, terms: [poison], quiet: true }),
    (e: unknown) => e instanceof TrainingError && /loss is NaN at step 7/.test(e.message) && /last good checkpoint/.test(e.message),
  );
  assert.deepEqual(checkpointDirs(out).map((c) => c.step), [3, 6]);
  assert.ok(existsSync(join(out, 'checkpoint-6', 'trainable.safetensors')));
  assert.equal(IM_END, 257);
});
