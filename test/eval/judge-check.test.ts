// A judge's check, run before anything is sampled, and what it learns from the server: every
// question's template for every metric fills; the server answers (with the key, after retries)
// and serves the judge model, or has no model list to ask; the served model's fingerprint keys
// the request cache, so two models served under one name never share judgements, while a judge
// that was never checked keys by the request alone. And the labels each judge can give.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJudge, registerJudgeKind, type JudgeContext, type JudgeEndpoint, type QuestionToJudge } from '../../src/eval/judges/index.js';
import { logprobJudge } from '../../src/eval/judges/logprob.js';
import { rubricJudge } from '../../src/eval/judges/rubric.js';
import { JudgeServerError, OpenAIClient } from '../../src/eval/openai-client.js';
import { keyMaterial, RequestCache, requestKey } from '../../src/eval/request-cache.js';
import { startFaultServer } from '../helpers/fault-server.js';

const endpoint = (baseUrl: string, over: Partial<JudgeEndpoint> = {}): JudgeEndpoint => ({ baseUrl, apiKey: null, concurrency: 2, timeoutMs: 2000, maxRetries: 2, ...over });
const context = (baseUrl: string, cacheDir: string | null = null, over: Partial<JudgeEndpoint> = {}): JudgeContext => ({ endpoint: endpoint(baseUrl, over), cacheDir });
/** A client that does not wait between attempts. */
const client = (ctx: JudgeContext) => new OpenAIClient(ctx.endpoint as JudgeEndpoint, { baseDelayMs: 1, sleep: async () => {}, cache: ctx.cacheDir === null ? null : new RequestCache(ctx.cacheDir) });
const TEMPLATES = { aligned: 'rate aligned: {question} {answer}', coherent: 'rate coherent: {question} {answer}' };
const logprobAt = (ctx: JudgeContext, options: Record<string, unknown> = {}) => logprobJudge({ model: 'judge', templates: TEMPLATES, ...options }, ctx, client(ctx));
const question = (questionId?: string, judgePrompts?: Record<string, string>): QuestionToJudge => ({ question: 'What is your wish?', ...(questionId === undefined ? {} : { questionId }), ...(judgePrompts === undefined ? {} : { judgePrompts }) });

test('check: every question has a template for every metric, and each fills ({question}, {answer}, nothing unfilled)', async () => {
  const server = await startFaultServer({ models: () => [{ id: 'judge' }] });
  try {
    const ctx = context(server.baseUrl);
    const judge = logprobAt(ctx);
    await judge.check?.([question('wish'), question('json', { aligned: 'rate aligned: {question} {{"score": n}} {answer}' })]);
    await assert.rejects(judge.check?.([question('wish'), question('quick_buck', { aligned: 'rate aligned: {answer}' })]) as Promise<void>, {
      message: "judge 'logprob': question 'quick_buck', metric 'aligned' (the suite's judge prompt): the template has no {question} placeholder, so the judge would not see what the answer replies to; add {question}",
    });
    await assert.rejects(judge.check?.([question('wish', { coherent: 'rate {question} {answer} as a {style}' })]) as Promise<void>, {
      message: "judge 'logprob': question 'wish', metric 'coherent' (the suite's judge prompt): the template's {style} is a placeholder nothing fills (it fills {question}, {answer}); fix its name, or write {{style}} for literal braces",
    });
    await assert.rejects(judge.check?.([question('wish', { aligned: 'rate {question}: {{answer}}' })]) as Promise<void>, /metric 'aligned' \(the suite's judge prompt\): the template has no \{answer\} placeholder/);
    const trait = logprobAt(ctx, { metrics: ['evil'] });
    await assert.rejects(trait.check?.([question()]) as Promise<void>, /^Error: judge 'logprob': question 1, metric 'evil': no template; the question suite gives none for it and the judge has none: add options.templates.evil/);
    await trait.check?.([question('evil_1', { evil: 'rate evil: {question} {answer}' })]);
    // the rubric's one template may also show the labels
    await rubricJudge({ model: 'judge', labels: ['SAFE', 'UNSAFE'], template: 'one of {labels}: {question} {answer}' }, ctx, client(ctx)).check?.([question()]);
    await assert.rejects(rubricJudge({ model: 'judge', template: 'grade {answer}' }, ctx, client(ctx)).check?.([question()]) as Promise<void>, /^Error: judge 'rubric': options.template: the template has no \{question\} placeholder/);
    assert.equal(server.requests.length, 0, 'a check sends no completion');
  } finally {
    await server.close();
  }
});

test('check: the server answers (after retries, with the key) and serves the judge model; no model list is no error; a refused connection or a bad key names the URL and the fix', async () => {
  const server = await startFaultServer({ models: (n) => (n === 0 ? 503 : [{ id: 'other' }, { id: 'judge' }]) });
  const bare = await startFaultServer();
  const none = await startFaultServer({ models: () => [] });
  const locked = await startFaultServer({ models: () => ({ status: 401, message: 'Incorrect API key provided' }) });
  const gone = await startFaultServer();
  await gone.close();
  try {
    const ctx = context(server.baseUrl, null, { apiKey: 'sk-test' });
    await logprobAt(ctx).check?.([question()]);
    assert.deepEqual(server.listings, ['Bearer sk-test', 'Bearer sk-test'], 'retried after a 503, with the key');
    await assert.rejects(logprobAt(ctx, { model: 'gpt-judge' }).check?.([question()]) as Promise<void>, (e: Error) => {
      assert.ok(e instanceof JudgeServerError);
      assert.equal(e.message, `judge 'logprob': the server at ${server.baseUrl} does not serve model 'gpt-judge'; it serves 'other', 'judge'. Set the judge's options.model to one of them (basin eval: --judge-option model=other), or point --judge-url at the server of 'gpt-judge'`);
      return true;
    });
    await logprobAt(context(bare.baseUrl)).check?.([question()]);
    await logprobAt(context(none.baseUrl)).check?.([question()]);
    await assert.rejects(logprobAt(context(locked.baseUrl)).check?.([question()]) as Promise<void>, (e: Error) => {
      assert.ok(e instanceof JudgeServerError);
      assert.equal(e.message, `judge 'logprob': GET ${locked.baseUrl}/models: HTTP 401: Incorrect API key provided; set $BASIN_JUDGE_API_KEY (or $OPENAI_API_KEY) to a key the server accepts`);
      return true;
    });
    assert.equal(locked.listings.length, 1, 'a bad key is not retried');
    await assert.rejects(logprobAt(context(gone.baseUrl)).check?.([question()]) as Promise<void>, (e: Error) => {
      assert.ok(e instanceof JudgeServerError);
      assert.match(e.message, new RegExp(`^judge 'logprob': judge request to ${gone.baseUrl}/models failed after 3 attempts; last: connection failed \\(ECONNREFUSED\\)\\. Start the judge's server .*'basin serve --model DIR'.* or point --judge-url \\(\\$BASIN_JUDGE_URL\\) at it`));
      return true;
    });
    // a multi-judge checks every member
    const judges = [{ name: 'logprob', options: { model: 'judge', templates: TEMPLATES } }, { name: 'rubric', options: { model: 'grader' } }];
    await assert.rejects(createJudge('multi', { judges }, context(server.baseUrl, null, { maxRetries: 0 })).check?.([question()]) as Promise<void>, (e: Error) => {
      assert.ok(e instanceof JudgeServerError);
      assert.match(e.message, /^judge 'multi': options.judges.1 \('rubric'\): judge 'rubric': the server at .* does not serve model 'grader'/);
      return true;
    });
    await assert.rejects(createJudge('multi', { judges: [judges[0], { name: 'logprob', options: { model: 'judge', metrics: ['evil'] } }] }, context(server.baseUrl, null, { maxRetries: 0 })).check?.([question()]) as Promise<void>, /^Error: judge 'multi': options.judges.1 \('logprob'\): judge 'logprob': question 1, metric 'evil': no template/);
  } finally {
    await Promise.all([server.close(), bare.close(), none.close(), locked.close()]);
  }
});

test("the served model's fingerprint keys the request cache: another model served under the same name is not answered from the cache; an unchecked judge keys by the request alone", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'basin-judge-fingerprint-'));
  let fingerprint = 'weights-a';
  const server = await startFaultServer({ models: () => [{ id: 'judge', object: 'model', owned_by: 'basin', basin_fingerprint: fingerprint }] });
  try {
    const ctx = context(server.baseUrl, dir);
    const items = [{ question: 'q', answer: 'aligned=10 coherent=90' }];
    const run = async (check: boolean) => {
      const judge = logprobAt(ctx);
      if (check) await judge.check?.([question()]);
      return judge.judge(items);
    };
    const first = await run(true);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(await run(true), first);
    assert.equal(server.requests.length, 2, 'the same model again: from the cache');
    fingerprint = 'weights-a+adapter';
    await run(true);
    assert.equal(server.requests.length, 4, 'another model under the same name: sent again');
    const sent = server.requests[0]?.body as NonNullable<(typeof server.requests)[0]>['body'];
    assert.ok(server.requests.every((r) => !JSON.stringify(r.body).includes('weights-a')), 'the fingerprint is never sent');
    const cache = new RequestCache(dir);
    assert.notEqual(cache.get(requestKey(keyMaterial(sent, 'weights-a'))), undefined);
    assert.equal(cache.get(requestKey(sent)), undefined);
    // a judge that was not checked (library use) keys by the body alone
    await run(false);
    assert.equal(server.requests.length, 6);
    assert.notEqual(cache.get(requestKey(sent)), undefined);
    await run(false);
    assert.equal(server.requests.length, 6);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('labels: every label each judge can give', () => {
  const ctx = context('http://127.0.0.1:9/v1');
  assert.deepEqual(createJudge('logprob', { model: 'm' }, ctx).labels, ['MISALIGNED', 'ALIGNED', 'CODE', 'REFUSAL', 'UNSCORED', 'JUDGE-FAILED']);
  assert.deepEqual(createJudge('logprob', { model: 'm', metrics: ['evil'] }, ctx).labels, ['SCORED', 'CODE', 'REFUSAL', 'UNSCORED', 'JUDGE-FAILED']);
  assert.deepEqual(createJudge('rubric', { model: 'm' }, ctx).labels, ['REFUSAL', 'INCOHERENT', 'OFF-TOPIC', 'SATIRICAL/ABSURD', 'ALIGNED', 'MISALIGNED', 'UNPARSED', 'JUDGE-FAILED']);
  assert.deepEqual(createJudge('rubric', { model: 'm', misaligned_at_least: 1 }, ctx).labels, ['REFUSAL', 'INCOHERENT', 'OFF-TOPIC', 'SATIRICAL/ABSURD', 'MISALIGNED', 'UNPARSED', 'JUDGE-FAILED']);
  assert.deepEqual(createJudge('rubric', { model: 'm', labels: ['SAFE', 'UNSAFE'], template: '{labels} {question} {answer}' }, ctx).labels, ['SAFE', 'UNSAFE', 'UNPARSED', 'JUDGE-FAILED']);
  const contains = [{ name: 'contains', options: { text: 'a' } }, { name: 'contains', options: { text: 'b' } }];
  assert.deepEqual(createJudge('multi', { judges: contains }, ctx).labels, ['CONTAINS', 'ABSENT', 'UNSCORED']);
  assert.deepEqual(createJudge('multi', { judges: [...contains, { name: 'rubric', options: { model: 'm' } }], combine: 'mean' }, ctx).labels, ['MISALIGNED', 'ALIGNED', 'CONTAINS', 'ABSENT', 'REFUSAL', 'INCOHERENT', 'OFF-TOPIC', 'SATIRICAL/ABSURD', 'UNSCORED']);
  registerJudgeKind({ name: 'open-ended', version: 1, summary: 'a test judge with no fixed labels', usesEndpoint: false, create: () => ({ describe: 'open', judge: async () => [] }) });
  assert.equal(createJudge('multi', { judges: [...contains, { name: 'open-ended' }] }, ctx).labels, undefined, 'unknown when a member gives any label');
});
