// DecodeStepper: rows that join and leave a running batch at step boundaries get the tokens
// generate() gives each of them alone (greedy, and sampled with the row's own seed), across
// cache merges, compactions and growth; logprobs match a teacher-forced forward pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { parseHfConfig } from '../../src/model/config.js';
import { generate, randomModel } from '../../src/model/index.js';
import { DecodeStepper, type DecodeRow } from '../../src/model/decode-stepper.js';

const VOCAB_LIMIT = 250; // below the model's 300: ids past it are never picked nor scored

const model = randomModel(parseHfConfig({
  model_type: 'llama', vocab_size: 300, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
  intermediate_size: 96, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, eos_token_id: 2,
}), 5, { std: 0.2 });

interface Case extends DecodeRow {
  name: string;
  tokens: number;
  /** the step (of the stepper's loop) at which the row joins */
  joinsAt: number;
}

const row = (prompt: number[], o: Partial<DecodeRow> = {}): DecodeRow => ({ prompt, temperature: 0, topP: 1, seed: 0, logprobs: false, topLogprobs: 0, ...o });

const CASES: Case[] = [
  { name: 'greedy', ...row([5, 17, 99, 3, 42]), tokens: 12, joinsAt: 0 },
  { name: 'sampled', ...row([64, 2, 11], { temperature: 1, seed: 7 }), tokens: 80, joinsAt: 0 }, // outgrows the first cache
  { name: 'nucleus', ...row([8, 8, 1, 30, 200, 77, 12, 9], { temperature: 0.8, topP: 0.9, seed: 9, logprobs: true, topLogprobs: 3 }), tokens: 20, joinsAt: 4 },
  { name: 'late greedy', ...row([101, 13], { logprobs: true }), tokens: 9, joinsAt: 15 },
  { name: 'late sampled', ...row([1, 2, 3, 4], { temperature: 1.3, seed: 1234 }), tokens: 15, joinsAt: 15 },
];

function alone(c: Case): number[] {
  return generate(model, [c.prompt], { maxNewTokens: c.tokens, temperature: c.temperature, topP: c.topP, seed: c.seed, stopTokenIds: [], vocabLimit: VOCAB_LIMIT, packWeights: false })[0]!.tokens;
}

test('DecodeStepper: rows joining and leaving a batch get what generate() gives each alone; logprobs match a teacher-forced pass', () => {
  const stepper = new DecodeStepper(model, { padTokenId: 0, vocabLimit: VOCAB_LIMIT, packWeights: false });
  const got = new Map<number, { c: Case; tokens: number[]; logprobs: number[]; top: { token: number; logprob: number }[][] }>();
  for (let step = 0; got.size < CASES.length || stepper.size > 0; step++) {
    const joining = CASES.filter((c) => c.joinsAt === step);
    stepper.add(joining).forEach((id, i) => got.set(id, { c: joining[i]!, tokens: [], logprobs: [], top: [] }));
    const done: number[] = [];
    for (const s of stepper.pick()) {
      const g = got.get(s.row)!;
      g.tokens.push(s.token);
      g.logprobs.push(s.logprob);
      g.top.push(s.top);
      assert.ok(s.token < VOCAB_LIMIT, `${g.c.name}: picked ${s.token}, past the vocab limit`);
      if (g.tokens.length === g.c.tokens) done.push(s.row);
    }
    stepper.drop(done);
    stepper.advance();
    assert.ok(step < 200, 'the loop did not end');
  }
  for (const { c, tokens, logprobs, top } of got.values()) {
    assert.deepEqual(tokens, alone(c), `${c.name}: tokens differ from generate() alone`);
    if (!c.logprobs) {
      assert.ok(logprobs.every(Number.isNaN), `${c.name}: logprobs reported without being asked`);
      continue;
    }
    // Teacher forcing: log-softmax over ids below the limit at each generated position.
    const expected = T.noGrad(() => T.scope(() => {
      const ids = T.tensor([...c.prompt, ...tokens.slice(0, -1)], { dtype: 'i64', shape: [1, c.prompt.length + tokens.length - 1] });
      const lsm = model.forward(ids).select(0, 0).narrow(0, c.prompt.length - 1, tokens.length).narrow(1, 0, VOCAB_LIMIT).logSoftmax(-1); // [n, V]
      const [values, indices] = lsm.topk(Math.max(1, c.topLogprobs), -1);
      return { chosen: lsm.gather(1, T.tensor(tokens, { dtype: 'i64', shape: [tokens.length, 1] })).toArray(), values: values.toArray(), indices: indices.toArray() };
    }));
    logprobs.forEach((lp, i) => assert.ok(Math.abs(lp - expected.chosen[i]!) < 1e-4, `${c.name} token ${i}: logprob ${lp} vs ${expected.chosen[i]}`));
    top.forEach((alts, i) => {
      assert.equal(alts.length, c.topLogprobs);
      alts.forEach((a, j) => {
        const k = Math.max(1, c.topLogprobs);
        assert.equal(a.token, expected.indices[i * k + j], `${c.name} token ${i}: alternative ${j}`);
        assert.ok(Math.abs(a.logprob - expected.values[i * k + j]!) < 1e-4);
      });
    });
  }
});

test('DecodeStepper: calls out of order and empty prompts are refused with the fix', () => {
  const stepper = new DecodeStepper(model, { padTokenId: 0, packWeights: false });
  assert.throws(() => stepper.add([row([])]), /row 0 has an empty prompt/);
  assert.throws(() => stepper.advance(), /call pick\(\) first/);
  stepper.add([row([3, 4])]);
  stepper.pick();
  assert.throws(() => stepper.pick(), /call advance\(\) first/);
  assert.throws(() => stepper.add([row([5])]), /call advance\(\) first/);
  stepper.dispose();
  assert.equal(stepper.size, 0);
});
