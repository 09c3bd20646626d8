// The activation store against plain runs of the tiny chat model (byte-level tokenizer, so token
// counts follow from the text by hand): unshuffled, its rows are each conversation's own
// runWithCache activations at the selected positions (response, prompt or all); shuffled, the
// same multiset of rows in a seeded order; rows held never exceed the buffer's bound; a disk
// cache gives the same batches on a second run without running the model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { hookName, loadModel, runWithCache } from '../../src/model/index.js';
import type { ChatRow } from '../../src/train/index.js';
import { ActivationStore, type ActivationStoreOptions, type ActivationStoreProgress, type TokenSelection } from '../../src/sae/activation-store.js';
import { ACTIVATION_CACHE_RECORD_FILE } from '../../src/io/files.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const root = mkdtempSync(join(tmpdir(), 'basin-actstore-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
writeTinyChatModel(join(root, 'model'), 5, 'f64');
writeTinyChatModel(join(root, 'other'), 6, 'f64');
const { model, tokenizer } = await loadModel(join(root, 'model'), { dtype: 'f64' });
const HOOK = hookName('resid_post', 0);

const ROWS: ChatRow[] = [
  { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
  { messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'color?' }, { role: 'assistant', content: 'blue' }] },
  { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'bb' }, { role: 'user', content: 'ccc' }, { role: 'assistant', content: 'dddd' }] },
  { messages: [{ role: 'user', content: 'why?' }, { role: 'assistant', content: 'because.' }] },
  { messages: [{ role: 'user', content: 'ok' }, { role: 'assistant', content: 'fine, then' }] },
];

// ChatML with one token per byte: a message is <|im_start|> role \n content <|im_end|> \n, so
// role + content + 4 tokens; the role mask marks an assistant content and its <|im_end|>.
const ALL = ROWS.reduce((n, r) => n + r.messages.reduce((m, x) => m + x.role.length + x.content.length + 4, 0), 0);
const RESPONSE = ROWS.reduce((n, r) => n + r.messages.reduce((m, x) => m + (x.role === 'assistant' ? x.content.length + 1 : 0), 0), 0);
const COUNTS: Record<TokenSelection, number> = { all: ALL, response: RESPONSE, prompt: ALL - RESPONSE };

/** Each conversation run alone; its hook rows at the selected positions, concatenated → [rows, d]. */
function direct(tokens: TokenSelection): number[][] {
  const out: number[][] = [];
  for (const row of ROWS) {
    const { ids, assistantMask } = tokenizer!.renderWithRoleMask(row.messages);
    const acts = T.noGrad(() => T.scope(() => {
      const { cache } = runWithCache(model, T.tensor([ids], { dtype: 'i64' }), { names: [HOOK], skipLogits: true });
      return cache.get(HOOK).select(0, 0).toNested() as number[][]; // [s, d]
    }));
    assistantMask.forEach((a, p) => {
      if (tokens === 'all' || (tokens === 'response') === a) out.push(acts[p]!);
    });
  }
  return out;
}

/** Every batch of one pass as rows, with each batch's size. */
function pass(store: ActivationStore, epoch = 0): { rows: number[][]; sizes: number[] } {
  const rows: number[][] = [];
  const sizes: number[] = [];
  for (const batch of store.batches(epoch)) {
    sizes.push(batch.size(0));
    rows.push(...(batch.toNested() as number[][]));
    batch.dispose();
  }
  return { rows, sizes };
}

function maxDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length, 'row counts');
  let worst = 0;
  a.forEach((r, i) => r.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i]![j]!)))));
  return worst;
}

const lexicographic = (a: number[], b: number[]) => { for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!; return 0; };
const BASE: Omit<ActivationStoreOptions, 'tokens'> = { data: ROWS, hook: HOOK, trainBatchTokens: 16, storeBatchPrompts: 2, nBatchesInBuffer: 7 };

test('unshuffled, the rows are each conversation\'s runWithCache activations at the response, prompt or all positions', () => {
  assert.equal(COUNTS.response, 3 + 5 + 3 + 5 + 9 + 11);
  for (const tokens of ['response', 'prompt', 'all'] as const) {
    const store = new ActivationStore(model, tokenizer!, { ...BASE, tokens, shuffle: false });
    assert.equal(store.totalRows, COUNTS[tokens], `${tokens}: rows counted from the role mask`);
    assert.equal(store.dIn, 32);
    const { rows, sizes } = pass(store);
    const want = direct(tokens);
    assert.equal(want.length, COUNTS[tokens], `${tokens}: rows in the direct runs`);
    assert.ok(maxDiff(rows, want) < 1e-12, `${tokens}: differs by ${maxDiff(rows, want)}`);
    assert.ok(sizes.slice(0, -1).every((s) => s === 16) && sizes.at(-1)! <= 16 && sizes.at(-1)! > 0, `${tokens}: batch sizes ${sizes.join(', ')}`);
  }
  const mlp = new ActivationStore(model, tokenizer!, { ...BASE, hook: hookName('post', 1), shuffle: false });
  assert.equal(mlp.dIn, 64);
  for (const b of mlp.batches()) assert.deepEqual(b.shape.slice(1), [64]);
});

test('shuffled, a pass holds the same multiset of rows, in an order fixed by the seed and the epoch', () => {
  const plain = pass(new ActivationStore(model, tokenizer!, { ...BASE, tokens: 'all', shuffle: false })).rows;
  const store = new ActivationStore(model, tokenizer!, { ...BASE, tokens: 'all', seed: 7 });
  const a = pass(store).rows;
  assert.deepEqual([...a].sort(lexicographic), [...plain].sort(lexicographic));
  assert.notDeepEqual(a, plain, 'shuffling changed nothing');
  assert.deepEqual(pass(new ActivationStore(model, tokenizer!, { ...BASE, tokens: 'all', seed: 7 })).rows, a, 'same seed, same order');
  const b = pass(store, 1).rows;
  assert.notDeepEqual(b, a, 'epoch 1 repeats epoch 0');
  assert.deepEqual([...b].sort(lexicographic), [...plain].sort(lexicographic));
});

test('rows harvested and not yet handed out never exceed nBatchesInBuffer × trainBatchTokens', () => {
  let harvested = 0;
  const o = { ...BASE, tokens: 'all' as const, trainBatchTokens: 8, storeBatchPrompts: 1, nBatchesInBuffer: 8, onProgress: (p: ActivationStoreProgress) => (harvested = p.rows) };
  const store = new ActivationStore(model, tokenizer!, o);
  assert.equal(store.capacity, 64);
  let handedOut = 0;
  for (const batch of store.batches()) {
    handedOut += batch.size(0);
    batch.dispose();
    assert.equal(store.rowsHeld, harvested - handedOut, 'the store\'s count of rows held');
    assert.ok(harvested - handedOut <= 64, `${harvested - handedOut} rows held`);
  }
  assert.equal(handedOut, ALL);
  assert.equal(store.rowsHeld, 0);
  assert.ok(store.maxRowsHeld <= 64 && store.maxRowsHeld > 32, `peak ${store.maxRowsHeld} rows`);
  for (const batch of store.batches(1)) {
    batch.dispose();
    break;
  }
  assert.equal(store.rowsHeld, 0, 'leaving a pass early frees the buffer');
  assert.throws(() => new ActivationStore(model, tokenizer!, { ...o, storeBatchPrompts: 5 }), /conversations 0–4 .* have \d+ all tokens, more than the buffer has room for .*\(nBatchesInBuffer − 1\) × trainBatchTokens = 56\); lower storeBatchPrompts/);
});

test('the disk cache: a second run reads every unit back and hands out identical batches', async () => {
  const dir = join(root, 'cache');
  const runs: boolean[][] = [];
  const run = (m: typeof model, modelId: string) => {
    const fromCache: boolean[] = [];
    const store = new ActivationStore(m, tokenizer!, { ...BASE, tokens: 'response', seed: 3, cache: { dir, modelId }, onProgress: (p) => fromCache.push(p.fromCache) });
    const out = pass(store);
    runs.push(fromCache);
    return { store, out };
  };
  const first = run(model, 'model-5');
  assert.ok(existsSync(join(first.store.cacheFolder!, ACTIVATION_CACHE_RECORD_FILE)));
  assert.equal(readdirSync(first.store.cacheFolder!).filter((f) => f.endsWith('.safetensors')).length, 3);
  // Other weights under the same modelId: batches identical to the first run's prove they came from disk.
  const { model: other } = await loadModel(join(root, 'other'), { dtype: 'f64' });
  const second = run(other, 'model-5');
  assert.equal(second.store.cacheFolder, first.store.cacheFolder);
  assert.deepEqual(second.out, first.out);
  const third = run(other, 'model-6');
  assert.notEqual(third.store.cacheFolder, first.store.cacheFolder);
  assert.ok(maxDiff(third.out.rows, first.out.rows) > 1e-3, 'other weights, other activations');
  assert.deepEqual(runs, [[false, false, false], [true, true, true], [false, false, false]]);
});

test('bad settings are errors that name the fix', () => {
  const make = (o: Partial<ActivationStoreOptions>) => () => new ActivationStore(model, tokenizer!, { ...BASE, ...o });
  assert.throws(make({ hook: 'blocks.9.hook_resid_post' }), /not a hook point of this 2-layer model; name one with hookName/);
  assert.throws(make({ hook: hookName('q', 0) }), /per head .* read a \[b, s, d\] point/);
  assert.throws(make({ nBatchesInBuffer: 1 }), /nBatchesInBuffer \(1\) must be at least 2/);
  assert.throws(make({ maxLength: 12 }), /none of the 5 conversations has a response token/);
  assert.throws(make({ cache: { dir: join(root, 'c2'), modelId: '' } }), /cache.modelId is empty/);
});
