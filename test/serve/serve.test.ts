// basin serve over real HTTP, driven by the official `openai` client (and raw fetch for what a
// client never sends): the model list, chat and legacy completions pinned to generate() (greedy,
// and sampled with the same seed), n > 1, logprobs pinned to a teacher-forced forward pass, stop
// strings, streaming that joins to the non-streamed text, batch independence under concurrent
// requests (with a batch too small for them all, so rows join running batches), errors in
// OpenAI's shape, auth, a failing batch, and a server that keeps answering after all of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import * as T from '../../src/tensor/index.js';
import { generate, loadModel, renderPrompt, stopTokenIds } from '../../src/model/index.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const dir = mkdtempSync(join(tmpdir(), 'basin-serve-'));
writeTinyChatModel(dir, 11);
const { model, tokenizer: loadedTokenizer } = await loadModel(dir);
const tokenizer = loadedTokenizer!;
const servers: RunningServer[] = [];
const server = await startServer({ model, tokenizer, name: 'tiny', port: 0 });
servers.push(server);
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
test.after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const STOPS = stopTokenIds(model, tokenizer);
const decode = (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
const user = (content: string) => [{ role: 'user' as const, content }];

/** What generate() gives for a chat prompt alone (the reference the server must match). */
function reference(content: string, o: { maxTokens: number; temperature: number; seed?: number; topP?: number }) {
  const prompt = renderPrompt(tokenizer, { system: null, user: content });
  const g = generate(model, [prompt], {
    maxNewTokens: o.maxTokens, temperature: o.temperature, topP: o.topP ?? 1, seed: o.seed ?? 0, stopTokenIds: STOPS,
    vocabLimit: tokenizer.vocabSize, decode,
  })[0]!;
  return { prompt, text: g.text!, tokens: g.tokens, finish: g.finishReason === 'length' ? 'length' : 'stop' };
}

test('GET /v1/models lists the one model under its name; retrieve finds it', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['tiny']);
  assert.equal((await client.models.retrieve('tiny')).id, 'tiny');
});

test('chat: greedy and seeded sampling give what generate() gives; usage counts the rendered prompt', async () => {
  for (const o of [{ temperature: 0, maxTokens: 24 }, { temperature: 1, seed: 42, maxTokens: 24 }, { temperature: 0.7, topP: 0.8, seed: 5, maxTokens: 16 }]) {
    const want = reference('hello there', o);
    const r = await client.chat.completions.create({
      model: 'tiny', messages: user('hello there'), temperature: o.temperature, max_tokens: o.maxTokens,
      ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.topP !== undefined ? { top_p: o.topP } : {}),
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0]!.message.content, want.text, JSON.stringify(o));
    assert.equal(r.choices[0]!.finish_reason, want.finish);
    assert.deepEqual(r.usage, { prompt_tokens: want.prompt.length, completion_tokens: want.tokens.length, total_tokens: want.prompt.length + want.tokens.length });
  }
});

test('chat: n choices, each reproducible by seed; choice 0 is the n=1 answer; no seed draws a random one', async () => {
  const ask = (n: number, seed?: number) => client.chat.completions.create({ model: 'tiny', messages: user('pick'), n, max_tokens: 20, ...(seed !== undefined ? { seed } : {}) });
  const a = await ask(3, 9);
  const b = await ask(3, 9);
  assert.equal(a.choices.length, 3);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
  assert.equal(new Set(a.choices.map((c) => c.message.content)).size, 3, 'the choices should differ');
  assert.equal((await ask(1, 9)).choices[0]!.message.content, a.choices[0]!.message.content);
  const unseeded = await Promise.all([ask(1), ask(1), ask(1), ask(1)]);
  assert.ok(new Set(unseeded.map((r) => r.choices[0]!.message.content)).size > 1, 'four unseeded answers were all the same');
});

test('chat logprobs: the chosen token and its alternatives under a teacher-forced pass; bytes join to the text', async () => {
  const r = await client.chat.completions.create({ model: 'tiny', messages: user('why'), max_tokens: 12, temperature: 1, seed: 3, logprobs: true, top_logprobs: 5 });
  const choice = r.choices[0]!;
  const content = choice.logprobs!.content!;
  // One byte per token in this tokenizer, besides the special tokens (which the text leaves out).
  const ids = content.map((c) => (c.bytes!.length === 1 ? c.bytes![0]! : tokenizer.tokenToId(c.token)!));
  const textBytes = content.filter((c) => c.bytes!.length === 1).map((c) => Buffer.from(c.bytes!));
  assert.equal(new TextDecoder().decode(Buffer.concat(textBytes)), choice.message.content);
  const prompt = renderPrompt(tokenizer, { system: null, user: 'why' });
  const expected = T.noGrad(() => T.scope(() => {
    const input = T.tensor([...prompt, ...ids.slice(0, -1)], { dtype: 'i64', shape: [1, prompt.length + ids.length - 1] });
    const lsm = model.forward(input).select(0, 0).narrow(0, prompt.length - 1, ids.length).narrow(1, 0, tokenizer.vocabSize).logSoftmax(-1);
    const [values, indices] = lsm.topk(5, -1);
    return { chosen: lsm.gather(1, T.tensor(ids, { dtype: 'i64', shape: [ids.length, 1] })).toArray(), values: values.toArray(), indices: indices.toArray() };
  }));
  content.forEach((c, i) => {
    assert.equal(c.token, tokenizer.decode([ids[i]!]));
    assert.ok(Math.abs(c.logprob - expected.chosen[i]!) < 1e-4, `token ${i}: ${c.logprob} vs ${expected.chosen[i]}`);
    assert.equal(c.top_logprobs.length, 5);
    c.top_logprobs.forEach((a, j) => {
      assert.equal(a.token, tokenizer.decode([expected.indices[i * 5 + j]!]));
      assert.ok(Math.abs(a.logprob - expected.values[i * 5 + j]!) < 1e-4);
    });
  });
  const plain = await client.chat.completions.create({ model: 'tiny', messages: user('why'), max_tokens: 3 });
  assert.equal(plain.choices[0]!.logprobs, null);
});

test('chat stop strings: the text ends before the first stop string, finish_reason stop', async () => {
  const full = reference('stop here', { temperature: 0, maxTokens: 40 }).text;
  const stop = [...full].slice(6, 8).join('');
  const r = await client.chat.completions.create({ model: 'tiny', messages: user('stop here'), temperature: 0, max_tokens: 40, stop: ['never-in-bytes', stop] });
  assert.equal(r.choices[0]!.message.content, full.slice(0, full.indexOf(stop)));
  assert.equal(r.choices[0]!.finish_reason, 'stop');
});

test('streaming: chunks of chat.completion.chunk whose deltas (and logprobs) join to the non-streamed answer, then usage and [DONE]', async () => {
  const body = { model: 'tiny', messages: user('stream me'), max_tokens: 48, temperature: 1, seed: 77, logprobs: true, top_logprobs: 2, n: 2 };
  const whole = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  const text = ['', ''];
  const logprobs: unknown[][] = [[], []];
  const finish: (string | null)[] = [null, null];
  let chunks = 0;
  let usage: unknown = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      chunks++;
      text[c.index] += c.delta.content ?? '';
      logprobs[c.index]!.push(...(c.logprobs?.content ?? []));
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  assert.ok(chunks > 4, `only ${chunks} chunks: the text was not streamed`);
  assert.deepEqual(text, whole.choices.map((c) => c.message.content));
  assert.deepEqual(logprobs, whole.choices.map((c) => c.logprobs!.content));
  assert.deepEqual(finish, whole.choices.map((c) => c.finish_reason));
  assert.deepEqual(usage, whole.usage);
});

test('completions: raw prompts (a string or a list), n, legacy logprobs with text_offset', async () => {
  const prompt = 'Once upon';
  const ids = tokenizer.encode(prompt);
  const g = generate(model, [ids], { maxNewTokens: 10, temperature: 0, stopTokenIds: STOPS, vocabLimit: tokenizer.vocabSize, decode })[0]!;
  const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 10, temperature: 0, logprobs: 2 });
  assert.equal(r.object, 'text_completion');
  const c = r.choices[0]!;
  assert.equal(c.text, g.text);
  assert.equal(c.logprobs!.tokens!.length, g.finishReason === 'stop_token' ? g.tokens.length - 1 : g.tokens.length);
  assert.equal(c.logprobs!.text_offset![0], prompt.length);
  c.logprobs!.top_logprobs!.forEach((alts, i) => {
    assert.equal(Object.keys(alts).length <= 2, true);
    assert.equal(Math.max(...Object.values(alts)), c.logprobs!.token_logprobs![i], 'greedy picks the most likely token');
  });
  const many = await client.completions.create({ model: 'tiny', prompt: ['a', 'bb'], n: 2, max_tokens: 5, seed: 1 });
  assert.equal(many.choices.length, 4);
  assert.deepEqual(many.choices.map((x) => x.index), [0, 1, 2, 3]);
  assert.equal(many.usage!.prompt_tokens, 3);
  const streamed = await client.completions.create({ model: 'tiny', prompt, max_tokens: 10, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of streamed) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, g.text);
});

test('concurrent requests: each gets what it gets alone (greedy and seeded), also when rows join running batches', async () => {
  const small = await startServer({ model, tokenizer, name: 'tiny', port: 0, maxBatch: 3 });
  servers.push(small);
  const asks = Array.from({ length: 8 }, (_, i) => ({
    model: 'tiny', messages: user(`question ${'?'.repeat(i)}`), max_tokens: 6 + 3 * i, seed: 100 + i, temperature: i % 3 === 0 ? 0 : 1, ...(i === 5 ? { n: 2 } : {}),
  }));
  const alone: string[][] = [];
  for (const a of asks) alone.push((await client.chat.completions.create(a)).choices.map((c) => c.message.content!));
  for (const url of [server.url, small.url]) {
    const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const together = await Promise.all(asks.map((a) => c.chat.completions.create(a)));
    assert.deepEqual(together.map((r) => r.choices.map((x) => x.message.content)), alone, url);
  }
});

test('bad requests: OpenAI-style errors naming the field (400), unknown model (404); the server keeps serving', async () => {
  const bad: [object, RegExp, string | null][] = [
    [{ temperature: 3 }, /^temperature: must be at most 2, got 3$/, 'temperature'],
    [{ n: 17 }, /^n: must be at most 16/, 'n'],
    [{ logprobs: true, top_logprobs: 21 }, /^top_logprobs: must be at most 20/, 'top_logprobs'],
    [{ top_logprobs: 2 }, /top_logprobs: needs logprobs: true/, 'top_logprobs'],
    [{ max_tokens: 100000 }, /^max_tokens: must be at most 512, the model's context length/, 'max_tokens'],
    [{ max_tokens: 500 }, /^max_tokens: 500 new tokens after \d+ prompt tokens exceed the model's context of 512 tokens; ask for at most \d+$/, 'max_tokens'],
    [{ messages: user('x'.repeat(600)) }, /^messages: 619 prompt tokens leave no room for a completion in the model's context of 512 tokens$/, 'messages'],
    [{ messages: [] }, /^messages: must have at least 1 item/, 'messages'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, /^messages\[0\]\.role: must be one of/, 'messages[0].role'],
    [{ stop: 5 }, /^stop: expected a non-empty string or a list/, 'stop'],
    [{ frequency_penalty: 0.5 }, /^frequency_penalty: is not supported by basin serve; leave it out or send 0/, 'frequency_penalty'],
    [{ max_tokenz: 3 }, /^unknown field 'max_tokenz'/, 'max_tokenz'],
  ];
  for (const [extra, message, param] of bad) {
    await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: user('hi'), max_tokens: 4, ...extra } as never), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, 400, JSON.stringify(extra));
      assert.match((e.error as { message: string }).message, message);
      assert.equal(e.param, param);
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
  }
  await assert.rejects(client.completions.create({ model: 'tiny', prompt: 'x', logprobs: 21 }), (e: unknown) => e instanceof OpenAI.APIError && e.status === 400 && e.param === 'logprobs');
  await assert.rejects(client.completions.create({ model: 'tiny', prompt: ['x', ''] }), (e: unknown) => e instanceof OpenAI.APIError && e.status === 400 && e.param === 'prompt[1]');
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: user('hi') }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.APIError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.match((e.error as { message: string }).message, /'gpt-4o' does not exist; this server serves 'tiny'/);
    return true;
  });
  // accepted and ignored: fields clients send by default, and neutral values
  const ok = await client.chat.completions.create({ model: 'tiny', messages: user('hi'), max_tokens: 2, user: 'u', frequency_penalty: 0, stream_options: null, metadata: { a: 'b' } });
  assert.equal(ok.choices.length, 1);
});

test('raw HTTP: malformed JSON (400), an oversize body (413), unknown routes (404), wrong methods (405); then it still answers', async () => {
  const post = (path: string, body: string) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  const malformed = await post('/v1/chat/completions', '{"model": "tiny", "messages": [');
  assert.equal(malformed.status, 400);
  const err = (await malformed.json()) as { error: { message: string; type: string; param: null; code: null } };
  assert.match(err.error.message, /not valid JSON/);
  assert.equal(err.error.type, 'invalid_request_error');
  const notObject = await post('/v1/completions', '[1, 2]');
  assert.equal(notObject.status, 400);
  const huge = await post('/v1/completions', JSON.stringify({ model: 'tiny', prompt: 'x'.repeat(9 << 20) }));
  assert.equal(huge.status, 413);
  assert.match(((await huge.json()) as { error: { message: string } }).error.message, /over the server's limit of 8388608 bytes/);
  const unknown = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', body: '{}' });
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /basin serve answers GET \/v1\/models/);
  const wrong = await fetch(`${server.url}/v1/chat/completions`);
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'POST');
  assert.equal((await client.models.list()).data[0]!.id, 'tiny');
});

test('auth: with an API key, a missing or wrong bearer token is a 401; the right one is served', async () => {
  const locked = await startServer({ model, tokenizer, name: 'tiny', port: 0, apiKey: 'sekret' });
  servers.push(locked);
  const as = (apiKey: string) => new OpenAI({ baseURL: `${locked.url}/v1`, apiKey, maxRetries: 0 });
  await assert.rejects(as('wrong').models.list(), (e: unknown) => e instanceof OpenAI.APIError && e.status === 401 && e.code === 'invalid_api_key');
  const bare = await fetch(`${locked.url}/v1/models`);
  assert.equal(bare.status, 401);
  assert.match(((await bare.json()) as { error: { message: string } }).error.message, /missing API key/);
  assert.equal((await as('sekret').models.list()).data[0]!.id, 'tiny');
});

test('a batch that throws fails its requests with a 500 (streamed: an error event), and the next batch is served', async () => {
  const greedy = reference('boom', { temperature: 0, maxTokens: 5 });
  assert.equal(greedy.tokens.length, 5, 'greedy must not stop at the first token (which needs no decode step)');
  const remove = model.addHooks([{ pattern: 'blocks.0.hook_resid_post', fn: (_x, ctx) => { if (ctx.decoding) throw new Error('injected fault'); } }]);
  try {
    await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: user('boom'), max_tokens: 5, temperature: 0 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError);
      assert.equal(e.status, 500);
      assert.match((e.error as { message: string }).message, /generation failed: .*injected fault/);
      return true;
    });
    const raw = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'tiny', messages: user('boom'), max_tokens: 5, temperature: 0, stream: true }) });
    assert.equal(raw.status, 200);
    const events = (await raw.text()).split('\n\n').filter(Boolean);
    assert.match(events.at(-2)!, /"message":"generation failed: .*injected fault/);
    assert.equal(events.at(-1), 'data: [DONE]');
  } finally {
    remove();
  }
  const after = await client.chat.completions.create({ model: 'tiny', messages: user('boom'), max_tokens: 5, temperature: 0 });
  assert.equal(after.choices[0]!.message.content, greedy.text);
});

test('a client that goes away mid-stream: its rows leave the batch at the next step boundaries', async () => {
  let steps = 0;
  const remove = model.addHooks([{ pattern: 'blocks.0.hook_resid_post', fn: (_x, ctx) => { if (ctx.decoding) steps++; } }]);
  try {
    const controller = new AbortController();
    const r = await fetch(`${server.url}/v1/completions`, {
      method: 'POST', signal: controller.signal,
      body: JSON.stringify({ model: 'tiny', prompt: 'go on', max_tokens: 400, temperature: 0, stream: true, stop: ['\u0000never'] }),
    });
    const reader = r.body!.getReader();
    await reader.read(); // the first chunk
    controller.abort();
    for (let i = 0; i < 200 && server.load().running > 0; i++) await new Promise((res) => setTimeout(res, 5));
    assert.deepEqual(server.load(), { queued: 0, running: 0 });
    assert.ok(steps < 200, `${steps} decode steps ran for a request whose client left after its first chunk`);
  } finally {
    remove();
  }
  assert.equal((await client.models.list()).data.length, 1);
});
