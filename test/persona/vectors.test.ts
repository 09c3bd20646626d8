// Persona vectors against plain forwards of one prompt at a time: Method A is the resid_post of
// each layer at the last prompt token (batched with left padding, it must equal the unpadded
// run); Method B is the mean over response tokens of teacher-forced prompt + response, then the
// mean over responses; the persona vector is the mean over questions, read back from disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { hook, hookName, loadModel, renderPrompt, type Transformer } from '../../src/model/index.js';
import { lastTokenActivations } from '../../src/persona/activations.js';
import { extractPersonaVectors } from '../../src/persona/vectors.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const dir = mkdtempSync(join(tmpdir(), 'basin-vectors-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
writeTinyChatModel(join(dir, 'model'), 4);
const LAYERS = [0, 1];
const QUESTIONS = ['Hi?', 'What is the plan for today?'];
const PERSONAS = [{ id: 'kind', system: 'You are kind.' }, { id: 'villain', system: 'You are a villain, always.' }];

/** resid_post [s, d] of each layer for one unpadded token row */
function residuals(model: Transformer, ids: number[]): Map<number, number[][]> {
  const out = new Map<number, number[][]>();
  T.noGrad(() => T.scope(() => {
    const hooks = LAYERS.map((l) => hook(hookName('resid_post', l), (x) => { out.set(l, x.select(0, 0).toNested() as number[][]); }));
    model.forward(T.tensor([ids], { dtype: 'i64', device: model.device }), { hooks });
  }));
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

test('Method A: the batched, left-padded last-token resid_post equals each prompt run alone', async () => {
  const { model, tokenizer } = await loadModel(join(dir, 'model'));
  const prompts = QUESTIONS.map((user) => ({ system: PERSONAS[1]!.system, user }));
  const acts = lastTokenActivations(model, tokenizer!, prompts, LAYERS);
  prompts.forEach((p, q) => {
    const alone = residuals(model, renderPrompt(tokenizer!, p));
    for (const l of LAYERS) {
      const rows = alone.get(l)!;
      const d = maxDiff(acts.get(l)![q]!, rows[rows.length - 1]!);
      assert.ok(d < 1e-5, `layer ${l}, question ${q}: differs by ${d}`);
    }
  });
});

test('Method B and the persona vectors: response-token means, then means over responses and questions', async () => {
  const { model, tokenizer } = await loadModel(join(dir, 'model'));
  const responses = new Map(PERSONAS.map((p, i) => [p.id, QUESTIONS.map((_, q) => [`yes ${i}${q}`, `no, never ${q}`])]));
  const set = extractPersonaVectors(model, tokenizer!, PERSONAS, QUESTIONS, join(dir, 'vectors'), { method: 'B', layers: LAYERS, responses });
  assert.deepEqual(set.personas, ['kind', 'villain']);
  PERSONAS.forEach((p, pi) => {
    for (const l of LAYERS) {
      const perQuestion = QUESTIONS.map((user, q) => {
        const prompt = renderPrompt(tokenizer!, { system: p.system, user });
        const perResponse = responses.get(p.id)![q]!.map((text) => {
          const answer = tokenizer!.encode(text, { addSpecialTokens: false });
          const rows = residuals(model, [...prompt, ...answer]).get(l)!.slice(prompt.length);
          return rows[0]!.map((_, i) => rows.reduce((s, r) => s + r[i]!, 0) / rows.length);
        });
        return perResponse[0]!.map((_, i) => perResponse.reduce((s, r) => s + r[i]!, 0) / perResponse.length);
      });
      const want = perQuestion[0]!.map((_, i) => perQuestion.reduce((s, r) => s + r[i]!, 0) / perQuestion.length);
      const d = maxDiff(set.means.get(l)![pi]!, want);
      assert.ok(d < 1e-5, `${p.id}, layer ${l}: persona vector differs by ${d}`);
    }
  });
});
