// A model knows its device and dtype: loadModel(dir, { dtype, device }) puts every weight there,
// and what the model layer creates (masks, positions, the KV cache, padding) follows the model.
// The convention behind it — every tensor factory call in the model layer, the persona
// extractors and eval/sampling names its device — is checked on the source itself.
// (Only the CPU exists here; a GPU run exercises the same code paths with device 'cuda'.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { generate, loadModel, padBatch } from '../../src/model/index.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const dir = mkdtempSync(join(tmpdir(), 'basin-device-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
writeTinyChatModel(dir, 3);

test('loadModel: the checkpoint in f32 by default, or in the dtype asked for, on the cpu', async () => {
  const { model } = await loadModel(dir);
  assert.equal(model.dtype, 'f32');
  assert.equal(model.device, 'cpu');
  const { model: half } = await loadModel(dir, { dtype: 'bf16', device: 'cpu' });
  assert.equal(half.dtype, 'bf16');
  assert.equal(half.device, 'cpu');
  for (const [name, t] of half.params) {
    assert.equal(t.dtype, 'bf16', name);
    assert.equal(t.device, 'cpu', name);
  }
  const { ids, mask } = padBatch([[5, 6, 7], [8, 9]], 0, 'left', half.device);
  const [a, b] = T.noGrad(() => [model.forward(ids, { tokenMask: mask }), half.forward(ids, { tokenMask: mask })]);
  assert.equal(b!.dtype, 'bf16');
  assert.equal(b!.device, half.device);
  // bf16 rounds the weights and activations: close to the f32 run, not equal to it.
  const gap = b!.to('f32').sub(a!).abs().max().item();
  assert.ok(gap > 0 && gap < 0.05 * a!.abs().max().item(), `bf16 vs f32 logits differ by ${gap}`);
  const out = generate(half, [[5, 6, 7]], { maxNewTokens: 3, stopTokenIds: [] });
  assert.equal(out[0]!.tokens.length, 3);
});

// Tensor factories whose calls must say where the tensor goes.
const FACTORIES = /\bT\.(tensor|zeros|ones|full|empty|arange|eye|rand|randn|randint)\(/g;
const src = new URL('../../../src/', import.meta.url).pathname;
const FILES = [
  ...readdirSync(join(src, 'model')).filter((f) => f.endsWith('.ts')).map((f) => join('model', f)),
  ...readdirSync(join(src, 'model', 'families')).map((f) => join('model', 'families', f)),
  'persona/vectors.ts', 'persona/activations.ts', 'persona/geometry.ts', 'eval/sampling.ts',
  ...readdirSync(join(src, 'train')).filter((f) => f.endsWith('.ts')).map((f) => join('train', f)),
  ...readdirSync(join(src, 'study'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join('study', f)),
];

/** The text of a call from its opening parenthesis to the matching closing one. */
function callText(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(open, i + 1);
  }
  return text.slice(open);
}

test('every tensor factory call in the model layer, the persona extractors and sampling names its device', () => {
  const missing: string[] = [];
  let calls = 0;
  for (const file of FILES) {
    const text = readFileSync(join(src, file), 'utf8');
    for (const m of text.matchAll(FACTORIES)) {
      calls++;
      const call = callText(text, (m.index as number) + m[0].length - 1);
      if (!/\bdevice\b/.test(call)) missing.push(`${file}:${text.slice(0, m.index).split('\n').length}: ${m[0]}${call.slice(1, 60)}`);
    }
  }
  assert.ok(calls > 20, `the scan found only ${calls} factory calls; is it reading the sources?`);
  assert.deepEqual(missing, [], 'pass { device: model.device } (or the device of the tensor worked on)');
});
