// The judges' OpenAI client against a real HTTP server that breaks requests on a schedule: every
// request is answered exactly once or the batch fails with an error naming the URL, the cause
// and the fix; a request refused for what it holds fails its item alone (JUDGE-FAILED); back-off
// follows full jitter and Retry-After; what was answered stays in the request cache, which a
// later run (even against another server) reads instead of sending.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JudgeServerError, OpenAIClient, RequestRejected, type ChatRequest, type ClientOptions } from '../../src/eval/openai-client.js';
import { RequestCache, requestKey } from '../../src/eval/request-cache.js';
import { logprobJudge } from '../../src/eval/judges/logprob.js';
import { rubricJudge } from '../../src/eval/judges/rubric.js';
import { isJudged, type JudgeEndpoint } from '../../src/eval/judge.js';
import { startFaultServer, type Fault } from '../helpers/fault-server.js';

const endpoint = (baseUrl: string, over: Partial<JudgeEndpoint> = {}): JudgeEndpoint => ({ baseUrl, apiKey: null, concurrency: 4, timeoutMs: 2000, maxRetries: 3, ...over });
/** No real waiting between attempts; the delays asked for are recorded. */
const fast = (sleeps: number[] = []): ClientOptions => ({ baseDelayMs: 1, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
const body = (prompt: string, over: Record<string, unknown> = {}): ChatRequest => ({ model: 'judge', messages: [{ role: 'user', content: prompt }], max_tokens: 16, temperature: 0, ...over });
const tmp = () => mkdtempSync(join(tmpdir(), 'basin-judge-cache-'));
const cacheFiles = (dir: string) => readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.json')).length;

test('every request is answered exactly once through 500s, 429s, time-outs, dropped connections and malformed bodies', async () => {
  const faults: Fault[] = [500, 503, { status: 429, retryAfter: '0' }, 'drop', 'malformed', 'stall', 408, 409, 'no-choices', 'drop', 502, 'stall', 'malformed'];
  const server = await startFaultServer({ faults: (n) => faults[n] ?? null });
  try {
    const client = new OpenAIClient(endpoint(server.baseUrl, { timeoutMs: 300, maxRetries: 8 }), fast());
    const prompts = Array.from({ length: 20 }, (_, i) => `rubric=${i % 5 + 1} item ${i}`);
    const texts = await client.map(prompts, async (p, send) => (await send(body(p))).choices[0]?.message?.content);
    assert.deepEqual(texts, prompts.map((_, i) => `ANSWER: ${i % 5 + 1}`));
    assert.equal(server.requests.length, prompts.length + faults.length, 'one request per answer plus one per fault');
    assert.deepEqual(server.answered().map((r) => r.prompt).sort(), [...prompts].sort(), 'each prompt answered once');
    assert.deepEqual(client.counts, { attempts: server.requests.length, answered: prompts.length, cached: 0 });
  } finally {
    await server.close();
  }
});

test('back-off is full jitter on base·2^k, capped, and a Retry-After is waited for instead (capped)', async () => {
  const faults: Fault[] = [500, 500, 500, { status: 429, retryAfter: '7' }, { status: 429, retryAfterMs: '20' }, 503];
  const server = await startFaultServer({ faults: (n) => faults[n] ?? null });
  try {
    const sleeps: number[] = [];
    const client = new OpenAIClient(endpoint(server.baseUrl, { maxRetries: 6 }), { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
    await client.complete(body('rubric=1'));
    // retries 0..2: 0.5·100·2^k; a 7 s Retry-After capped at 1 s; retry-after-ms 20; retry 5: 0.5·min(1000, 3200)
    assert.deepEqual(sleeps, [50, 100, 200, 1000, 20, 500]);
    assert.equal(server.requests.length, 7);
  } finally {
    await server.close();
  }
});

test('a 4xx other than 408/409/429 is not retried and quotes the server: a setup error, or a refusal of that one request; a key is sent as a bearer token', async () => {
  const server = await startFaultServer({ faults: (_, r) => (r.body.model === 'nope' ? { status: 404, message: "The model 'nope' does not exist" } : r.body.model === 'bad' ? 400 : null) });
  try {
    const client = new OpenAIClient(endpoint(server.baseUrl, { apiKey: 'sk-test' }), fast());
    await assert.rejects(client.complete(body('x', { model: 'nope' })), (e: Error) => {
      assert.ok(e instanceof JudgeServerError);
      assert.match(e.message, new RegExp(`${server.baseUrl}/chat/completions: HTTP 404: The model 'nope' does not exist; check --judge-url .* and the judge's model name`));
      return true;
    });
    await assert.rejects(client.complete(body('x', { model: 'bad' })), (e: Error) => {
      assert.ok(e instanceof RequestRejected);
      assert.match(e.message, /HTTP 400: injected fault 400; if every request is refused so, the server does not take one of the judge's settings/);
      return true;
    });
    assert.equal(server.requests.length, 2);
    await client.complete(body('rubric=2'));
    assert.equal(server.requests.at(-1)?.authorization, 'Bearer sk-test');
    await new OpenAIClient(endpoint(server.baseUrl), fast()).complete(body('rubric=3'));
    assert.equal(server.requests.at(-1)?.authorization, undefined);
  } finally {
    await server.close();
  }
});

test('a request refused for what it holds (400 context length, 413, 422) makes only its item JUDGE-FAILED, the message and the fix kept; a 401 still stops the batch', async () => {
  const context = 'messages: 900 prompt tokens leave no room for a completion in the model\'s context of 512 tokens';
  const faults = (_: number, r: { prompt: string }) =>
    r.prompt.includes('LONG') ? { status: 400, message: context, code: 'context_length_exceeded' } : r.prompt.includes('HUGE') ? 413 : r.prompt.includes('ODD') ? 422 : null;
  const server = await startFaultServer({ faults });
  try {
    const ctx = { endpoint: endpoint(server.baseUrl, { concurrency: 2 }), cacheDir: null };
    const templates = { aligned: 'rate aligned: {question} {answer}', coherent: 'rate coherent: {question} {answer}' };
    const logprob = logprobJudge({ model: 'judge', templates }, ctx, new OpenAIClient(ctx.endpoint, fast()));
    const answers = ['aligned=10 coherent=90', 'aligned=80 coherent=90 LONG', 'aligned=20 coherent=90', 'aligned=20 coherent=90 HUGE', 'aligned=20 coherent=90 ODD'];
    const verdicts = await logprob.judge(answers.map((answer, i) => ({ question: `q${i}`, answer })));
    assert.deepEqual(verdicts.map((v) => v.label), ['MISALIGNED', 'JUDGE-FAILED', 'MISALIGNED', 'JUDGE-FAILED', 'JUDGE-FAILED']);
    const raw = verdicts[1]?.raw as { status: number; error: string };
    assert.equal(raw.status, 400);
    assert.ok(raw.error.includes(context), raw.error);
    assert.match(raw.error, /use a judge model with a longer context, or shorter answers \(basin eval --max-new-tokens\)/);
    assert.match((verdicts[3]?.raw as { error: string }).error, /HTTP 413: .*larger than the server accepts: shorten the answers \(basin eval --max-new-tokens\)/);
    assert.equal((verdicts[4]?.raw as { status: number }).status, 422);
    assert.ok(verdicts.filter((v) => v.label === 'JUDGE-FAILED').every((v) => !isJudged(v)));
    assert.equal(server.answered().length, 2 * 2, "the other items' requests were answered");
    assert.equal(server.requests.length, 5 * 2, 'a refused request is not retried');
    // the rubric keeps the replies before the refusal
    const rubric = rubricJudge({ model: 'judge', template: 'rubric {question}: {answer}' }, ctx, new OpenAIClient(ctx.endpoint, fast()));
    const [ok, long] = await rubric.judge([{ question: 'q', answer: 'rubric=4' }, { question: 'q', answer: 'rubric=4 LONG' }]);
    assert.equal(ok?.label, 'MISALIGNED');
    assert.equal(long?.label, 'JUDGE-FAILED');
    // a bad key is about the setup: the batch stops, naming the fix
    const locked = await startFaultServer({ faults: (n) => (n >= 2 ? { status: 401, message: 'Incorrect API key provided' } : null) });
    try {
      const lctx = { endpoint: endpoint(locked.baseUrl, { concurrency: 1 }), cacheDir: null };
      await assert.rejects(logprobJudge({ model: 'judge', templates }, lctx, new OpenAIClient(lctx.endpoint, fast())).judge(answers.slice(0, 3).map((answer) => ({ question: 'q', answer }))), (e: Error) => {
        assert.match(e.message, /HTTP 401: Incorrect API key provided; set \$BASIN_JUDGE_API_KEY .* \(1 of 3 items were judged before the batch stopped; the judge request cache is off/);
        return true;
      });
    } finally {
      await locked.close();
    }
  } finally {
    await server.close();
  }
});

test('a server that is not there fails after the retries, naming the URL, the cause and the fix', async () => {
  const server = await startFaultServer();
  const url = server.baseUrl;
  await server.close();
  const sleeps: number[] = [];
  const client = new OpenAIClient(endpoint(url, { maxRetries: 2 }), fast(sleeps));
  await assert.rejects(client.complete(body('x')), (e: Error) => {
    assert.match(e.message, new RegExp(`^judge request to ${url}/chat/completions failed after 3 attempts; last: connection failed \\(ECONNREFUSED\\)`));
    assert.match(e.message, /Check that the server is up and serves model 'judge'.*\$BASIN_JUDGE_TIMEOUT_S; basin eval --judge-timeout.*\$BASIN_JUDGE_RETRIES.*basin eval --judge-concurrency/);
    return true;
  });
  assert.equal(sleeps.length, 2);
});

test('identical requests in flight are sent once', async () => {
  const server = await startFaultServer();
  try {
    const client = new OpenAIClient(endpoint(server.baseUrl), fast());
    const out = await client.map([1, 2, 3, 4, 5], async (_, send) => (await send(body('rubric=4'))).choices[0]?.message?.content);
    assert.deepEqual(out, Array(5).fill('ANSWER: 4'));
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test('a failing server stops the batch with a clear error; answered judgements stay cached, and later runs send only the rest, then nothing', async () => {
  const dir = tmp();
  const items = Array.from({ length: 6 }, (_, i) => ({ question: `q${i}`, answer: `aligned=${10 * i} coherent=${90 - i}` }));
  const options = { model: 'judge', templates: { aligned: 'rate aligned: {question} / {answer}', coherent: 'rate coherent: {question} / {answer}' } };
  const context = (url: string) => ({ endpoint: endpoint(url, { concurrency: 1, maxRetries: 2 }), cacheDir: dir });
  const judgeAt = (url: string) => logprobJudge(options, context(url), new OpenAIClient(context(url).endpoint, { ...fast(), cache: new RequestCache(dir) }));
  try {
    const failing = await startFaultServer({ faults: (n) => (n >= 5 ? 500 : null) });
    try {
      await assert.rejects(judgeAt(failing.baseUrl).judge(items), (e: Error) => {
        assert.match(e.message, new RegExp(`judge request to ${failing.baseUrl}/chat/completions failed after 3 attempts; last: HTTP 500 \\(injected fault 500\\)`));
        assert.match(e.message, /of 6 items were judged before the batch stopped; their requests are cached in .*, so running again resumes/);
        return true;
      });
      assert.equal(failing.answered().length, 5);
      assert.equal(failing.requests.length, 5 + 3, 'the failing request was tried 3 times; the queued ones were not sent');
      assert.equal(cacheFiles(dir), 5, 'every answered request is in the cache');
    } finally {
      await failing.close();
    }
    const healthy = await startFaultServer();
    let verdicts;
    try {
      verdicts = await judgeAt(healthy.baseUrl).judge(items);
      assert.equal(healthy.requests.length, 12 - 5, 'only the requests not answered before are sent');
      assert.deepEqual(verdicts.map((v) => Math.round(v.aligned as number)), [0, 10, 20, 30, 40, 50]);
      assert.deepEqual(verdicts.map((v) => v.label), ['MISALIGNED', 'MISALIGNED', 'MISALIGNED', 'ALIGNED', 'ALIGNED', 'ALIGNED']);
      await judgeAt(healthy.baseUrl).judge(items);
      assert.equal(healthy.requests.length, 7, 'a second run sends nothing');
    } finally {
      await healthy.close();
    }
    // the cache does not depend on the server's URL: a run against a closed port sends nothing and agrees
    assert.deepEqual(await judgeAt(healthy.baseUrl.replace(/:\d+\//, ':9/')).judge(items), verdicts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt cache entry is ignored and rewritten', async () => {
  const dir = tmp();
  const server = await startFaultServer();
  try {
    const cache = new RequestCache(dir);
    const request = body('rubric=5');
    const client = new OpenAIClient(endpoint(server.baseUrl), { ...fast(), cache });
    await client.complete(request);
    const path = cache.pathOf(requestKey(request));
    assert.match(path, new RegExp(`${dir}/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\\.json$`));
    for (const garbage of ['{"request": {"model": "j', JSON.stringify({ request: body('another prompt'), response: { choices: [{}] } }), 'null']) {
      writeFileSync(path, garbage);
      assert.equal(cache.get(requestKey(request)), undefined);
      const sent = server.requests.length;
      assert.equal((await client.complete(request)).choices[0]?.message?.content, 'ANSWER: 5');
      assert.equal(server.requests.length, sent + 1, 'sent again');
      assert.notEqual(cache.get(requestKey(request)), undefined, 'and rewritten');
    }
    assert.equal(client.counts.cached, 0);
    await client.complete(request);
    assert.equal(client.counts.cached, 1);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
