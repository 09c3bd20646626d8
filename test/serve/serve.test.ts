// basin serve over real HTTP, driven by the official `openai` client (and raw fetch for what a
// client never sends): the model list, chat and legacy completions pinned to generate() (greedy,
// and sampled with the same seed), n > 1, logprobs pinned to a teacher-forced forward pass, stop
// strings, streaming that joins to the non-streamed text, batch independence under concurrent
// requests (with a batch too small for them all, so rows join running batches), multi-turn
// chats that send the returned message back, errors in OpenAI's shape (every request-derived
// failure a 4xx: bad paths, encodings, deep nesting), HEAD/OPTIONS/CORS and path forms, auth,
// the 503 while the model loads, a failing batch, and a server that keeps answering after all of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import * as T from '../../src/tensor/index.js';
import { generate, loadModel, renderPrompt, stopTokenIds } from '../../src/model/index.js';
import { listen, startServer, type RunningServer } from '../../src/serve/server.js';
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

test('multi-turn chat with the openai client: the returned message goes back as history as is (refusal: null, content: null, empty tool_calls)', async () => {
  /** generate()'s greedy answer for a whole history rendered with the chat template. */
  const greedy = (messages: { role: string; content: string }[]) => {
    const prompt = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
    return generate(model, [prompt], { maxNewTokens: 8, temperature: 0, stopTokenIds: STOPS, vocabLimit: tokenizer.vocabSize, decode })[0]!.text!;
  };
  const messages: OpenAI.ChatCompletionMessageParam[] = user('first question');
  const first = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0 });
  const reply = first.choices[0]!.message;
  assert.equal(reply.refusal, null, 'the reply carries refusal: null, as OpenAI\'s do');
  messages.push(reply, { role: 'user', content: 'and then?' });
  const second = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0 });
  assert.equal(second.choices[0]!.message.content, greedy([{ role: 'user', content: 'first question' }, { role: 'assistant', content: reply.content! }, { role: 'user', content: 'and then?' }]));
  // every field of an OpenAI assistant message at its neutral value; content null reads as empty text
  const neutral = { role: 'assistant', content: null, refusal: null, annotations: [], audio: null, function_call: null, tool_calls: [] } as unknown as OpenAI.ChatCompletionMessageParam;
  const third = await client.chat.completions.create({ model: 'tiny', messages: [...user('hi'), neutral, ...user('again')], max_tokens: 8, temperature: 0 });
  assert.equal(third.choices[0]!.message.content, greedy([{ role: 'user', content: 'hi' }, { role: 'assistant', content: '' }, { role: 'user', content: 'again' }]));
  const bad: [object, RegExp, string][] = [
    [{ role: 'assistant', content: 'x', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }, /^messages\[0\]\.tool_calls: is not supported by basin serve; leave it out or send \[\]/, 'messages[0].tool_calls'],
    [{ role: 'assistant', content: 'x', refusal: 'no' }, /^messages\[0\]\.refusal: is not supported by basin serve; leave it out or send null/, 'messages[0].refusal'],
    [{ role: 'user', content: null }, /^messages\[0\]\.content: expected a string or a list of text parts \(null only on assistant messages\), got null$/, 'messages[0].content'],
    [{ role: 'user', content: 'x', refusal: null }, /^messages\[0\]\.refusal: is a field of assistant messages, not of user messages; leave it out/, 'messages[0].refusal'],
  ];
  for (const [m, message, param] of bad) {
    await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: [m as OpenAI.ChatCompletionMessageParam], max_tokens: 2 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError && e.status === 400, String(e));
      assert.match((e.error as { message: string }).message, message);
      assert.equal(e.param, param);
      return true;
    });
  }
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
  assert.equal(wrong.headers.get('allow'), 'POST, OPTIONS');
  assert.equal((await client.models.list()).data[0]!.id, 'tiny');
});

test('raw HTTP: request-derived failures are 400s naming the problem (bad percent-encoding, deep nesting, not UTF-8); a byte order mark is dropped', async () => {
  const post = (body: string | Buffer) => fetch(`${server.url}/v1/completions`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body) });
  const message = async (r: Response) => ((await r.json()) as { error: { message: string } }).error.message;
  const badId = await fetch(`${server.url}/v1/models/%ZZ`);
  assert.equal(badId.status, 400);
  assert.match(await message(badId), /^the model id in the URL path \('%ZZ'\) is not valid percent-encoding/);
  const deep = await post(`{"model": "tiny", "prompt": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
  assert.equal(deep.status, 400);
  assert.match(await message(deep), /nests arrays and objects more than 64 levels deep/);
  const notUtf8 = await post(Buffer.concat([Buffer.from('{"model": "tiny", "prompt": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
  assert.equal(notUtf8.status, 400);
  assert.match(await message(notUtf8), /^the request body is not valid UTF-8/);
  const ask = { model: 'tiny', prompt: 'Once upon', max_tokens: 4, temperature: 0 };
  const bom = await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(ask))]));
  assert.equal(bom.status, 200);
  assert.equal(((await bom.json()) as { choices: { text: string }[] }).choices[0]!.text, (await client.completions.create(ask)).choices[0]!.text);
});

test('HTTP forms: HEAD answers like GET without a body, OPTIONS is a CORS preflight (before auth), every answer allows any origin, trailing and doubled slashes route as the path', async () => {
  const locked = await startServer({ model, tokenizer, name: 'tiny', port: 0, apiKey: 'k' });
  servers.push(locked);
  const auth = { Authorization: 'Bearer k' };
  const get = await fetch(`${locked.url}/v1/models`, { headers: auth });
  const head = await fetch(`${locked.url}/v1/models`, { method: 'HEAD', headers: auth });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'application/json');
  assert.equal(head.headers.get('content-length'), String((await get.text()).length));
  assert.equal(await head.text(), '');
  assert.equal(head.headers.get('access-control-allow-origin'), '*');
  const preflight = await fetch(`${locked.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'POST' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('allow'), 'POST, OPTIONS');
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST, OPTIONS');
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'Authorization, Content-Type');
  assert.equal((await fetch(`${locked.url}/v1/models`, { method: 'OPTIONS' })).headers.get('allow'), 'GET, HEAD, OPTIONS');
  const denied = await fetch(`${locked.url}/v1/models`);
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('access-control-allow-origin'), '*', 'errors carry the CORS header too');
  assert.equal((await fetch(`${locked.url}/v1/chat/completions`, { method: 'HEAD', headers: auth })).status, 405);
  const body = JSON.stringify({ model: 'tiny', messages: user('hi'), max_tokens: 3, temperature: 0 });
  const want = (await client.chat.completions.create(JSON.parse(body) as OpenAI.ChatCompletionCreateParamsNonStreaming)).choices[0]!.message.content;
  for (const path of ['/v1/chat/completions/', '//v1/chat/completions', '/v1//chat/completions?x=1']) {
    const r = await fetch(`${locked.url}${path}`, { method: 'POST', headers: auth, body });
    assert.equal(r.status, 200, path);
    assert.equal(((await r.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, want, path);
  }
  const models = (await (await fetch(`${locked.url}/v1/models/`, { headers: auth })).json()) as { object: string };
  assert.equal(models.object, 'list');
  assert.equal(((await (await fetch(`${locked.url}/v1/models/tiny/`, { headers: auth })).json()) as { id: string }).id, 'tiny');
  // '//host/…' is a path here, never a protocol-relative URL: reported as sent
  const unknown = await fetch(`${locked.url}//example.com/v1/x`, { method: 'POST', headers: auth, body: '{}' });
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /^Unknown request URL: POST \/\/example\.com\/v1\/x\. /);
});

test('listen() binds first and answers 503 (model_loading, Retry-After) until serve() hands it the model', async () => {
  const early = await listen({ port: 0 });
  servers.push(early);
  const loading = await fetch(`${early.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'tiny', messages: user('hi') }) });
  assert.equal(loading.status, 503);
  assert.equal(loading.headers.get('retry-after'), '5');
  const err = ((await loading.json()) as { error: { message: string; type: string; code: string } }).error;
  assert.match(err.message, /^the model is loading; retry in a few seconds/);
  assert.deepEqual([err.type, err.code], ['server_error', 'model_loading']);
  assert.equal((await fetch(`${early.url}/v1/embeddings`)).status, 404, 'unknown routes are still 404s');
  early.serve({ model, tokenizer, name: 'tiny' });
  assert.equal((await new OpenAI({ baseURL: `${early.url}/v1`, apiKey: 'x', maxRetries: 0 }).models.list()).data[0]!.id, 'tiny');
  assert.throws(() => early.serve({ model, tokenizer, name: 'tiny' }), /already serves a model/);
});

test('auth: with an API key, a missing or wrong bearer token is a 401; the right one is served', async () => {
  const locked = await startServer({ model, tokenizer, name: 'tiny', port: 0, apiKey: 'sekret' });
  servers.push(locked);
  const as = (apiKey: string) => new OpenAI({ baseURL: `${locked.url}/v1`, apiKey, maxRetries: 0 });
  await assert.rejects(as('wrong').models.list(), (e: unknown) => e instanceof OpenAI.APIError && e.status === 401 && e.code === 'invalid_api_key');
  const bare = await fetch(`${locked.url}/v1/models`);
  assert.equal(bare.status, 401);
  assert.match(((await bare.json()) as { error: { message: string } }).error.message, /missing API key/);
  for (const [authorization, message] of [
    ['Bearer sekret extra', /^incorrect API key/],
    ['Bearer  sekret ', null],
    ['Basic c2VrcmV0', /^the Authorization header is not "Bearer <key>"/],
    ['Bearer', /^missing API key/],
  ] as const) {
    const r = await fetch(`${locked.url}/v1/models`, { headers: { Authorization: authorization } });
    if (message === null) {
      assert.equal(r.status, 200, authorization);
      continue;
    }
    assert.equal(r.status, 401, authorization);
    const err = ((await r.json()) as { error: { message: string; code: string } }).error;
    assert.match(err.message, message, authorization);
    assert.equal(err.code, 'invalid_api_key');
  }
  assert.equal((await as('sekret').models.list()).data[0]!.id, 'tiny');
  // a key no Authorization header can carry is refused when the server starts
  for (const apiKey of ['my key', 'tab\there', 'clé']) {
    await assert.rejects(startServer({ model, tokenizer, name: 'tiny', port: 0, apiKey }), /^Error: listen: the API key (contains whitespace|has characters outside printable ASCII)/);
  }
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
