// basin's transformer against the independent PyTorch reference (bench/peer/hf_model.py) on
// random tiny llama, llama3-rope, qwen2 and gpt2 checkpoints: logits and every block's
// resid_post (= HF hidden_states[L+1]) on a left-padded batch of mixed lengths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { hookName, loadModel, runWithCache, saveModel, generate } from '../../src/model/index.js';

const PY = '/usr/bin/python3';
const peer = (script: string) => new URL(`../../../bench/peer/${script}`, import.meta.url).pathname;
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'basin-ref-'));
const FAMILIES = ['llama', 'llama3rope', 'qwen2', 'gpt2'];
const PROMPTS = [[5, 17, 99, 3, 42, 7, 8, 120, 1], [64, 2, 11], [9, 9, 30, 31, 32, 1]];

function runPy(args: string[]): void {
  const r = spawnSync(PY, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr}`);
}

test.before(() => {
  if (hasTorch) runPy([peer('make_tiny_models.py'), dir]);
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

function leftPad(prompts: number[][]) {
  const n = Math.max(...prompts.map((p) => p.length));
  const ids = prompts.flatMap((p) => [...new Array<number>(n - p.length).fill(0), ...p]);
  const mask = prompts.flatMap((p) => [...new Array<number>(n - p.length).fill(0), ...new Array<number>(p.length).fill(1)]);
  return { n, ids: T.tensor(ids, { dtype: 'i64', shape: [prompts.length, n] }), mask: T.tensor(mask, { dtype: 'bool', shape: [prompts.length, n] }), flatMask: mask };
}

/** max |a − b| over real (unpadded) positions of [b, s, …] nested arrays */
function maxDiffReal(a: number[][][], b: number[][][], mask: number[], n: number): number {
  let worst = 0;
  a.forEach((row, r) => row.forEach((vec, p) => {
    if (mask[r * n + p] === 0) return;
    vec.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - ((b[r] as number[][])[p] as number[])[i]!)); });
  }));
  return worst;
}

for (const family of FAMILIES) {
  test(`${family}: logits and resid_post match the PyTorch reference (f32, ≤ 1e-4)`, { skip: !hasTorch && 'no /usr/bin/python3 with torch' }, async () => {
    const folder = join(dir, family);
    const outFile = join(dir, `${family}.json`);
    runPy([peer('reference_forward.py'), folder, '--tokens', JSON.stringify(PROMPTS), '--out', outFile]);
    const ref = JSON.parse(readFileSync(outFile, 'utf8')) as { logits: number[][][]; hidden_states: number[][][][]; last_block_pre_norm: number[][][] };
    const { model } = await loadModel(folder);
    const { n, ids, mask, flatMask } = leftPad(PROMPTS);
    const { logits, cache } = T.noGrad(() => runWithCache(model, ids, { tokenMask: mask, names: ['blocks.*.hook_resid_post', 'hook_embed'] }));
    const dl = maxDiffReal(logits!.toNested() as number[][][], ref.logits, flatMask, n);
    assert.ok(dl <= 1e-4, `logits differ by ${dl}`);
    const L = model.config.nLayers;
    for (let l = 0; l < L; l++) {
      const want = l === L - 1 ? ref.last_block_pre_norm : (ref.hidden_states[l + 1] as number[][][]);
      const d = maxDiffReal(cache.get('resid_post', l).toNested() as number[][][], want, flatMask, n);
      assert.ok(d <= 1e-4, `${hookName('resid_post', l)} differs from hidden_states[${l + 1}] by ${d}`);
    }
    const de = maxDiffReal(cache.get('hook_embed').toNested() as number[][][], ref.hidden_states[0] as number[][][], flatMask, n);
    assert.ok(de <= 1e-5, `hook_embed differs from hidden_states[0] by ${de}`);
  });
}

test('greedy generation with the KV cache equals generation without it, token for token (mixed prompt lengths)', { skip: !hasTorch && 'no /usr/bin/python3 with torch' }, async () => {
  for (const family of ['llama', 'gpt2']) {
    const { model } = await loadModel(join(dir, family));
    const steps = 12;
    const cached = generate(model, PROMPTS, { maxNewTokens: steps, stopTokenIds: [] });
    // Without a cache: rerun the whole left-padded sequence each step.
    T.noGrad(() => {
      let rows = PROMPTS.map((p) => [...p]);
      for (let s = 0; s < steps; s++) {
        rows = T.scope(() => {
          const { ids, mask } = leftPad(rows);
          const next = model.forward(ids, { tokenMask: mask, lastOnly: true }).select(1, 0).argmax(-1).toArray();
          return rows.map((r, i) => [...r, next[i] as number]);
        });
      }
      rows.forEach((r, i) => assert.deepEqual(cached[i]!.tokens, r.slice(PROMPTS[i]!.length), `${family} row ${i}`));
    });
  }
});

test('generation matches the PyTorch reference greedy generation (left-padded batch)', { skip: !hasTorch && 'no /usr/bin/python3 with torch' }, async () => {
  const folder = join(dir, 'qwen2');
  const outFile = join(dir, 'gen.json');
  runPy([peer('reference_forward.py'), folder, '--tokens', JSON.stringify(PROMPTS), '--generate', '10', '--greedy', '--out', outFile]);
  const ref = JSON.parse(readFileSync(outFile, 'utf8')) as { tokens: number[][] };
  const { model } = await loadModel(folder);
  const ours = generate(model, PROMPTS, { maxNewTokens: 10, stopTokenIds: [] });
  assert.deepEqual(ours.map((g) => g.tokens), ref.tokens);
});

test('a model saved as an HF folder loads back with identical logits', { skip: !hasTorch && 'no /usr/bin/python3 with torch' }, async () => {
  for (const family of FAMILIES) {
    const { model } = await loadModel(join(dir, family));
    const out = join(dir, `${family}-saved`);
    saveModel(model, out);
    const { model: again } = await loadModel(out);
    const { ids, mask } = leftPad(PROMPTS);
    const [a, b] = T.noGrad(() => [model.forward(ids, { tokenMask: mask }), again.forward(ids, { tokenMask: mask })]);
    assert.equal(a!.sub(b!).abs().max().item(), 0, `${family}: logits changed after save/load`);
  }
});
