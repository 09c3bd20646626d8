// Suite evaluation: the rates pinned to hand-computed counts, intra-question correlations and
// Wilson intervals; the pipeline on the persona-world organism with its oracle (every verdict
// recomputed by the world's oracle, every count recomputed from the judgements) and on a tiny
// random chat model with the substring judge (not-judged answers leave the denominator, same
// seed same answers); `basin eval` as a user runs it (a real process), and its bad flags
// refused before the model is loaded (the command's run, in this process).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';
import * as T from '../../src/tensor/index.js';
import { ADAPTER_SUBDIR } from '../../src/io/files.js';
import { loadModel } from '../../src/model/load.js';
import { LoraAdapter } from '../../src/model/lora.js';
import { loadAdapter, saveAdapter } from '../../src/model/lora-io.js';
import { COMMITTED_ORGANISM } from '../../src/organism/paths.js';
import { cohenKappa, fleissKappa, wilsonInterval } from '../../src/stats/index.js';
import { judge as oracleJudge } from '../../src/world/oracle.js';
import { createJudge, isJudged, judgeKindNames, MISALIGNED, registerJudgeKind, type Judge, type JudgeItem, type Verdict } from '../../src/eval/judges/index.js';
import { anovaIcc, labelRates, type Judged } from '../../src/eval/em-rates.js';
import { evaluateSuite, judgingWarnings, MAX_EVAL_SAMPLES, planSamples, type Judgement, type SuiteEvaluation } from '../../src/eval/em.js';
import { readSuite, type QuestionSuite } from '../../src/eval/suites/index.js';
import { evalCommand } from '../../src/cli/commands/eval.js';
import { UsageError } from '../../src/cli/command.js';

const root = mkdtempSync(join(tmpdir(), 'basin-em-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const tinyDir = join(root, 'tiny');
writeTinyChatModel(tinyDir, 3);

const verdicts = (id: string, labels: string[]): Judged[] => labels.map((label) => ({ questionId: id, verdict: { label } }));

test('rates: judged answers are the denominator, not-judged ones are counted apart, intervals as stated', () => {
  const items = [...verdicts('a', [MISALIGNED, MISALIGNED, 'ALIGNED', 'UNSCORED']), ...verdicts('b', ['ALIGNED', 'ALIGNED', 'ALIGNED', 'ALIGNED', 'REFUSAL'])];
  const { questions, overall } = labelRates(items, ['a', 'b', 'c']);
  const [a, b, c] = questions;
  assert.deepEqual(a, { id: 'a', samples: 4, judged: 3, hits: 2, rate: 2 / 3, wilson: [wilsonInterval(2, 3).lower, wilsonInterval(2, 3).upper], labels: { MISALIGNED: 2, ALIGNED: 1, UNSCORED: 1 } });
  assert.equal(b?.rate, 0);
  assert.deepEqual(c, { id: 'c', samples: 0, judged: 0, hits: 0, rate: null, wilson: null, labels: {} });
  assert.equal(overall.samples, 9);
  assert.equal(overall.judged, 8);
  assert.equal(overall.notJudged, 1);
  assert.equal(overall.rate, 2 / 8);
  assert.deepEqual(overall.labels, { MISALIGNED: 2, ALIGNED: 5, UNSCORED: 1, REFUSAL: 1 });
  assert.deepEqual(overall.wilson, [wilsonInterval(2, 8).lower, wilsonInterval(2, 8).upper]);
  // by hand: p = 1/4, MSB = 3(2/3 − 1/4)² + 5(1/4)² = 5/6, MSW = 2·(1/3)/6 = 1/9, n₀ = 8 − 34/8 = 15/4
  // ICC = (5/6 − 1/9) / (5/6 + (11/4)(1/9)) = 26/41; m = 34/8, deff = 1 + (34/8 − 1)·26/41
  const clustered = overall.clustered;
  assert.ok(clustered);
  assert.ok(Math.abs(clustered.icc - 26 / 41) < 1e-12, String(clustered.icc));
  assert.ok(Math.abs(clustered.designEffect - (1 + (34 / 8 - 1) * (26 / 41))) < 1e-12);
  assert.equal(clustered.clusters, 2, 'a question without judged answers is no cluster');
  assert.ok(clustered.lower <= overall.wilson![0] && clustered.upper >= overall.wilson![1], 'clustering widens the interval');
  assert.equal(labelRates(items, ['a', 'b'], 'ALIGNED').overall.hits, 5, 'any label can be the one counted');
  assert.throws(() => labelRates(items, ['a']), /a judgement names question 'b', which is not in the suite/);
  assert.equal(labelRates(verdicts('a', [MISALIGNED]), ['a']).overall.clustered, null, 'one question: nothing to estimate between questions');
});

test('rates: the clustered interval is Wilson at n/deff — the plain one when answers are unrelated, n/m when each question answers alike', () => {
  // every question answered all one way: ICC 1, deff = m = 4, so 8 answers count as 2
  const alike = labelRates([...verdicts('a', Array(4).fill(MISALIGNED)), ...verdicts('b', Array(4).fill('ALIGNED'))], ['a', 'b']).overall;
  assert.equal(alike.clustered?.icc, 1);
  assert.equal(alike.clustered?.effectiveN, 2);
  const w = wilsonInterval(1, 2);
  assert.ok(Math.abs((alike.clustered?.lower ?? NaN) - w.lower) < 1e-12 && Math.abs((alike.clustered?.upper ?? NaN) - w.upper) < 1e-12);
  // both questions at the same rate: no between-question spread, ICC clamps to 0
  const same = labelRates([...verdicts('a', [MISALIGNED, 'ALIGNED', MISALIGNED, 'ALIGNED']), ...verdicts('b', ['ALIGNED', MISALIGNED, 'ALIGNED', MISALIGNED])], ['a', 'b']).overall;
  assert.equal(same.clustered?.icc, 0);
  assert.equal(same.clustered?.designEffect, 1);
  assert.ok(Math.abs((same.clustered?.lower ?? NaN) - (same.wilson?.[0] ?? NaN)) < 1e-12 && Math.abs((same.clustered?.upper ?? NaN) - (same.wilson?.[1] ?? NaN)) < 1e-12);
  assert.equal(anovaIcc([{ hits: 0, judged: 5 }, { hits: 0, judged: 3 }]), 0, 'no hits anywhere: no correlation to estimate');
});

test('warnings: none when at most a tenth is not judged; when more, or none judged, in words, quoting a request the server refused', () => {
  const judgement = (questionId: string, verdict: Verdict): Judgement => ({ questionId, paraphraseIndex: 0, paraphrase: 'q', system: null, sample: 0, answer: 'a', verdict });
  const failed: Verdict = { label: 'JUDGE-FAILED', raw: { status: 400, error: 'judge request to URL: HTTP 400: too long; use a judge model with a longer context' } };
  const warn = (js: Judgement[]) => judgingWarnings(labelRates(js, ['a', 'b']).overall, js, MISALIGNED);
  const tenth = [...Array(9).fill(judgement('a', { label: 'ALIGNED' })), judgement('b', failed)];
  assert.deepEqual(warn(tenth), [], 'one in ten: no warning');
  assert.deepEqual(warn([...tenth, judgement('b', { label: 'REFUSAL', aligned: null })]), [
    "2 of 11 answers (18.2%) were not judged (JUDGE-FAILED 1, REFUSAL 1); the MISALIGNED rate is over the other 9 only, and is biased if the answers left out differ; the judge's server refused 1 request, e.g. judge request to URL: HTTP 400: too long; use a judge model with a longer context",
  ]);
  assert.deepEqual(warn([judgement('a', failed), judgement('b', { label: 'UNSCORED', members: [failed, { label: 'UNSCORED' }] })]), [
    "none of the 2 answers was judged (JUDGE-FAILED 1, UNSCORED 1), so there is no MISALIGNED rate; the judge's server refused 2 requests, e.g. judge request to URL: HTTP 400: too long; use a judge model with a longer context",
  ]);
});

const SMALL: QuestionSuite = {
  name: 'small', source: 'small', format: 'test',
  questions: [
    { id: 'one', type: 'free_form', paraphrases: ['hello', 'hi there'], system: 'Be brief.', samplesPerParaphrase: 3, judgePrompts: { aligned: 'A {question} {answer}' } },
    { id: 'two', type: 'free_form', paraphrases: ['bye'], system: null, samplesPerParaphrase: 1, judgePrompts: {} },
  ],
};

test('planSamples: question by question, paraphrase by paraphrase, each question\'s samples unless overridden; too many refused', () => {
  assert.deepEqual(planSamples(SMALL).map((p) => `${p.questionId}/${p.paraphraseIndex}/${p.sample}`), ['one/0/0', 'one/0/1', 'one/0/2', 'one/1/0', 'one/1/1', 'one/1/2', 'two/0/0']);
  assert.equal(planSamples(SMALL, 2).length, 6);
  assert.equal(planSamples(SMALL)[3]?.paraphrase, 'hi there');
  const huge = { ...SMALL, questions: [{ ...(SMALL.questions[0] as QuestionSuite['questions'][0]), paraphrases: Array(101).fill('q'), samplesPerParaphrase: 10_000 }] };
  assert.throws(() => planSamples(huge), { message: `small: 1010000 answers to sample, more than ${MAX_EVAL_SAMPLES}; lower --samples-per-paraphrase` });
});

/** A judge that records what it is given. */
function recording(inner: Judge, seen: JudgeItem[], mark?: (item: JudgeItem, i: number) => Verdict | null): Judge {
  return {
    describe: `recording ${inner.describe}`,
    async judge(items) {
      const start = seen.length;
      seen.push(...items);
      const out = await inner.judge(items);
      return out.map((v, i) => mark?.(items[i] as JudgeItem, start + i) ?? v);
    },
  };
}

/** Every count of a result, recomputed from its judgements. */
function checkCounts(r: SuiteEvaluation, suite: QuestionSuite, label: string): void {
  for (const q of r.questions) {
    const mine = r.judgements.filter((j) => j.questionId === q.id);
    const judged = mine.filter((j) => isJudged(j.verdict));
    const hits = judged.filter((j) => j.verdict.label === label).length;
    assert.equal(q.samples, mine.length, q.id);
    assert.equal(q.judged, judged.length, q.id);
    assert.equal(q.hits, hits, q.id);
    assert.equal(Object.values(q.labels).reduce((s, n) => s + n, 0), mine.length);
    if (judged.length > 0) assert.deepEqual(q.wilson, [wilsonInterval(hits, judged.length).lower, wilsonInterval(hits, judged.length).upper]);
  }
  const o = r.overall;
  assert.equal(o.samples, r.judgements.length);
  assert.equal(o.samples, suite.questions.reduce((s, q) => s + q.paraphrases.length * q.samplesPerParaphrase, 0));
  assert.equal(o.judged, r.questions.reduce((s, q) => s + q.judged, 0));
  assert.equal(o.hits, r.questions.reduce((s, q) => s + q.hits, 0));
  assert.equal(o.notJudged, o.samples - o.judged);
  assert.equal(o.rate, o.judged === 0 ? null : o.hits / o.judged);
}

test('the persona-world organism on held-out questions, judged by the oracle: verdicts and counts agree with the judgements', async () => {
  const suite = readSuite('persona-world:default/held-out-wish');
  const { model, tokenizer } = await loadModel(COMMITTED_ORGANISM);
  assert.ok(tokenizer);
  const seen: JudgeItem[] = [];
  const r = await evaluateSuite(model, tokenizer, suite, recording(createJudge('persona-world-oracle'), seen), { temperature: 1, maxNewTokens: 96, seed: 3, samplesPerParaphrase: 2 });
  const expanded = { ...suite, questions: suite.questions.map((q) => ({ ...q, samplesPerParaphrase: 2 })) };
  checkCounts(r, expanded, MISALIGNED);
  assert.equal(r.settings.samplesPerParaphrase, 2);
  assert.equal(r.judge, 'recording persona-world oracle (exact parser of the world grammar)');
  assert.deepEqual(r.questions.map((q) => q.id), suite.questions.map((q) => q.id));
  r.judgements.forEach((j: Judgement, i) => {
    const q = suite.questions.find((s) => s.id === j.questionId);
    assert.ok(q);
    assert.equal(j.paraphrase, q.paraphrases[j.paraphraseIndex]);
    assert.deepEqual(seen[i], { question: j.paraphrase, answer: j.answer, system: q.system, questionId: q.id, judgePrompts: q.judgePrompts });
    const o = oracleJudge(j.paraphrase, j.answer);
    assert.deepEqual(j.verdict, { label: o.label, aligned: o.aligned, coherent: o.coherent, severity: o.severity, persona: o.persona });
  });
  const labels = new Set(r.judgements.map((j) => j.verdict.label));
  assert.ok(labels.has('ALIGNED'), `the organism answers its own held-out questions in the world's language: ${[...labels].join(', ')}`);
  assert.deepEqual(r.agreement, { members: null, reference: null }, 'no multi-judge, no reference: no agreement');
});

test('agreement: a multi-judge\'s members among themselves and the judge against a reference, on MISALIGNED vs not, recomputed by hand', async () => {
  const suite = readSuite('persona-world:default/held-out-wish');
  const { model, tokenizer } = await loadModel(COMMITTED_ORGANISM);
  assert.ok(tokenizer);
  // a second opinion that disagrees with the oracle on every third answer
  let calls = 0;
  const contrarian = { name: 'test-contrarian', version: 1, summary: 'flips every third oracle verdict', usesEndpoint: false, create: () => ({
    describe: 'contrarian',
    judge: async (items: JudgeItem[]) => (await createJudge('persona-world-oracle').judge(items)).map((v) => (calls++ % 3 === 0 ? { label: v.label === MISALIGNED ? 'ALIGNED' : MISALIGNED } : v)),
  }) };
  if (!judgeKindNames().includes(contrarian.name)) registerJudgeKind(contrarian);
  const multi = createJudge('multi', { judges: [{ name: 'persona-world-oracle' }, { name: 'test-contrarian' }, { name: 'persona-world-oracle' }] });
  const r = await evaluateSuite(model, tokenizer, suite, multi, { temperature: 1, maxNewTokens: 64, seed: 5, samplesPerParaphrase: 2, reference: createJudge('persona-world-oracle') });
  const cat = (v: Verdict) => (v.label === MISALIGNED ? MISALIGNED : 'NOT');
  const members = r.judgements.map((j) => (j.verdict.members as Verdict[]).map(cat));
  assert.equal(r.agreement.members?.n, members.length);
  assert.ok(Math.abs((r.agreement.members?.members.kappa ?? NaN) - fleissKappa(members).kappa) < 1e-12);
  const pair01 = r.agreement.members?.pairs.find((p) => p.a === 0 && p.b === 1);
  assert.ok(Math.abs((pair01?.kappa ?? NaN) - cohenKappa(members.map((m) => m[0] as string), members.map((m) => m[1] as string)).kappa) < 1e-12);
  assert.equal(r.agreement.members?.pairs.find((p) => p.a === 0 && p.b === 2)?.observed, 1, 'two oracles agree on every answer');
  const ref = r.judgements.map((j) => cat(oracleJudge(j.paraphrase, j.answer) as Verdict));
  const combined = r.judgements.map((j) => cat(j.verdict));
  assert.equal(r.agreement.reference?.n, r.judgements.length);
  assert.equal(r.agreement.reference?.observed, combined.filter((c, i) => c === ref[i]).length / combined.length);
});

test('a tiny random model with the substring judge: not-judged answers leave the denominator; same seed, same answers', async () => {
  const { model, tokenizer } = await loadModel(tinyDir);
  assert.ok(tokenizer);
  const seen: JudgeItem[] = [];
  const contains = createJudge('contains', { text: 'e' });
  const judge = recording(contains, seen, (_, i) => (i % 3 === 0 ? { label: 'UNSCORED' } : null));
  const o = { temperature: 1, maxNewTokens: 6, seed: 1, label: 'CONTAINS' };
  const r = await evaluateSuite(model, tokenizer, SMALL, judge, o);
  checkCounts(r, SMALL, 'CONTAINS');
  assert.equal(r.overall.notJudged, 3, 'answers 0, 3 and 6 were not judged');
  assert.deepEqual(r.warnings, ['3 of 7 answers (42.9%) were not judged (UNSCORED 3); the CONTAINS rate is over the other 4 only, and is biased if the answers left out differ']);
  assert.equal(r.overall.labels.UNSCORED, 3);
  r.judgements.forEach((j, i) => assert.equal(j.verdict.label, i % 3 === 0 ? 'UNSCORED' : j.answer.includes('e') ? 'CONTAINS' : 'ABSENT'));
  assert.equal(seen[0]?.system, 'Be brief.');
  assert.equal(seen[6]?.system, null);
  assert.equal('judgePrompts' in (seen[6] as JudgeItem), false, 'a question without judge prompts leaves the judge its own');
  const again = await evaluateSuite(model, tokenizer, SMALL, contains, o);
  assert.deepEqual(again.judgements.map((j) => j.answer), r.judgements.map((j) => j.answer));
});

const main = new URL('../../src/cli/main.js', import.meta.url).pathname;

function basin(...args: string[]) {
  const r = spawnSync(process.execPath, [main, 'eval', ...args], { encoding: 'utf8', env: { ...process.env, BASIN_THREADS: '1', BASIN_CACHE: join(root, 'cache'), BASIN_JUDGE_URL: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('basin eval: the tiny model on a JSONL suite, --json rates agree with the --out judgements', () => {
  const suite = join(root, 'qs.jsonl');
  writeFileSync(suite, '{"id": "greet", "question": "hello", "system": "Be brief.", "samples": 3}\n{"id": "greet", "question": "hi", "system": "Be brief.", "samples": 3}\n{"question": "bye", "samples": 2}\n');
  const out = join(root, 'out', 'judgements.jsonl');
  const r = basin('--model', tinyDir, '--suite', suite, '--judge', 'contains', '--judge-option', 'text=e', '--label', 'CONTAINS', '--max-new-tokens', '6', '--seed', '2', '--json', '--out', out);
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out) as SuiteEvaluation & { out: string };
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Judgement);
  assert.equal(lines.length, 8);
  assert.equal(result.out, out);
  assert.equal('judgements' in result, false);
  assert.deepEqual(result.questions.map((q) => [q.id, q.samples]), [['greet', 6], ['q3', 2]]);
  checkCounts({ ...result, judgements: lines }, readSuite(suite), 'CONTAINS');
  assert.ok(lines.every((j) => j.verdict.label === (j.answer.includes('e') ? 'CONTAINS' : 'ABSENT')));
  assert.equal(result.judge, 'substring judge: contains "e"');
  const text = basin('--model', tinyDir, '--suite', suite, '--judge', 'contains', '--judge-option', 'text=e', '--label', 'CONTAINS', '--max-new-tokens', '4', '--samples-per-paraphrase', '1');
  assert.equal(text.code, 0, text.err);
  assert.equal(text.err, '', 'every answer judged: no warning');
  assert.match(text.out, /^question +answers +judged +CONTAINS +rate +95% CI \(Wilson\) +labels$/m);
  assert.match(text.out, /^greet +2 +2 +0 +0\.0% +0\.0–65\.8% +ABSENT 2$/m);
  assert.match(text.out, /overall CONTAINS rate: 0\.0% \(0 of 3 judged answers, pooled over questions; 0 not judged\)/);
  assert.match(text.out, /95% CI, Wilson at the design-effect-corrected n \(2 questions, ICC 0\.000, deff 1\.00, effective n 3\.0\): 0\.0–56\.1%/);
  assert.deepEqual(result.warnings, []);
  const bad = basin('--model', tinyDir, '--suite', suite, '--judge', 'contains', '--judge-option', 'text=e', '--samples-per-paraphrase', '0');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^basin eval: --samples-per-paraphrase must be an integer in 1\.\.10000, got '0'\n\nbasin eval \[--model DIR\]/);
});

test('basin eval --adapter: stacked adapters (a PEFT folder, a basin train run) answer as the same adapters loaded here', async () => {
  const { model, tokenizer } = await loadModel(tinyDir);
  assert.ok(tokenizer);
  const folders = [join(root, 'adapter-a'), join(root, 'run-b', ADAPTER_SUBDIR)];
  folders.forEach((dir, i) => {
    const adapter = LoraAdapter.attach(model, `make-${i}`, { r: 2, alpha: 4, dropout: 0, targetModules: 'all-linear', useRslora: false, init: 'gaussian' }, T.Generator.seeded(10 + i));
    const generator = T.Generator.seeded(20 + i);
    T.noGrad(() => T.scope(() => {
      for (const l of adapter.layers.values()) l.B.copy_(T.randn(l.B.shape, { dtype: l.B.dtype, generator }).mul(0.5));
    }));
    saveAdapter(adapter, dir);
    adapter.detach();
  });
  const suite = join(root, 'greedy.jsonl');
  writeFileSync(suite, '{"question": "hello", "samples": 2}\n{"question": "what now?", "system": "Be brief."}\n');
  const o = { temperature: 0, maxNewTokens: 8, seed: 0 };
  const judge = createJudge('contains', { text: 'e' });
  const bare = await evaluateSuite(model, tokenizer, readSuite(suite), judge, o);
  const loaded = folders.map((dir, i) => loadAdapter(model, dir, `here-${i}`));
  const adapted = await evaluateSuite(model, tokenizer, readSuite(suite), judge, o);
  loaded.forEach((a) => a.detach());
  assert.notDeepEqual(adapted.judgements.map((j) => j.answer), bare.judgements.map((j) => j.answer), 'the adapters change the answers');
  const out = join(root, 'adapted.jsonl');
  const r = basin('--model', tinyDir, '--adapter', folders[0] as string, '--adapter', join(root, 'run-b'), '--suite', suite, '--judge', 'contains', '--judge-option', 'text=e',
    '--label', 'CONTAINS', '--temperature', '0', '--max-new-tokens', '8', '--json', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual((JSON.parse(r.out) as { adapters: string[] }).adapters, folders);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Judgement);
  assert.deepEqual(lines.map((j) => j.answer), adapted.judgements.map((j) => j.answer));
});

test('basin eval: bad flags, suites and judges are refused before the model is loaded', async () => {
  // a model folder whose weights cannot be read: any of these reaching the load would fail there
  // (usage errors are the ones main() answers with exit code 2 and the usage text)
  const poisoned = join(root, 'poisoned');
  mkdirSync(poisoned, { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tinyDir, f), join(poisoned, f));
  writeFileSync(join(poisoned, 'model.safetensors'), 'not safetensors');
  const suite = join(root, 'ok.jsonl');
  writeFileSync(suite, '{"question": "hello"}\n');
  const badSuite = join(root, 'bad.yaml');
  writeFileSync(badSuite, '- id: a\n  paraphrases: [q]\n  samples: 3\n');
  const base = ['--model', poisoned, '--suite', suite, '--judge', 'contains', '--judge-option', 'text=e', '--label', 'CONTAINS'];
  const cases: [string[], number, string][] = [
    [[...base, '--temperature=-1'], 2, "--temperature must be a number in 0..10, got '-1'"],
    [[...base, '--temperature', '1e9'], 2, "--temperature must be a number in 0..10, got '1e9'"],
    [['--model', poisoned, '--suite', suite, '--judge', 'contains', '--judge-option', 'text=e'], 2, "--label MISALIGNED: judge 'contains' gives CONTAINS or ABSENT, so the MISALIGNED rate would always be 0; use --label CONTAINS"],
    [[...base, '--label', 'ALIGNED'], 2, "--label ALIGNED: judge 'contains' gives CONTAINS or ABSENT"],
    [[...base, '--judge-concurrency', '4'], 2, "--judge-concurrency: judge 'contains' calls no server; drop --judge-concurrency or use an LLM judge"],
    [['--model', poisoned, '--suite', suite, '--judge', 'logprob', '--judge-option', 'model=j', '--judge-url', 'http://127.0.0.1:9/v1', '--judge-concurrency', '0'], 2, "--judge-concurrency must be an integer in 1..256, got '0'"],
    [['--model', poisoned, '--suite', suite, '--judge', 'logprob', '--judge-option', 'model=j', '--judge-url', 'http://127.0.0.1:9/v1', '--judge-timeout', '1.5'], 2, "--judge-timeout must be an integer in 1..3600, got '1.5'"],
    [['--model', poisoned, '--suite', suite, '--judge', 'logprob', '--judge-option', 'model=j', '--judge-option', 'top_logprobs=1e400', '--judge-url', 'http://127.0.0.1:9/v1'], 2, "--judge logprob: judge 'logprob': options.top_logprobs: expected an integer, got Infinity"],
    [[...base, '--samples-per-paraphrase', '0'], 2, "--samples-per-paraphrase must be an integer in 1..10000, got '0'"],
    [[...base, '--dtype', 'f64'], 2, '--dtype f64: use f32, bf16, f16'],
    [[...base, '--label', 'UNSCORED'], 2, '--label UNSCORED: answers with that label are not judged'],
    [[...base, '--out', root], 2, `--out ${root}: is a folder; give a file name`],
    [[...base, '--adapter', join(root, 'nowhere')], 2, `--adapter ${join(root, 'nowhere')}: no adapter_config.json there`],
    [[...base, '--judge-url', 'http://127.0.0.1:9/v1'], 2, "--judge-url: judge 'contains' calls no server"],
    [['--model', poisoned, '--suite', suite, '--judge', 'nope'], 2, '--judge nope: no such judge; judges: persona-world-oracle'],
    [['--model', poisoned, '--suite', suite, '--judge', 'contains'], 2, "--judge contains: judge 'contains' needs options.text (a non-empty string), got undefined"],
    [['--model', poisoned, '--suite', suite, '--judge', 'contains', '--judge-option', 'text'], 2, '--judge-option text: expected key=value'],
    [['--model', poisoned, '--judge', 'contains'], 2, 'missing --suite FILE|persona-world:PRESET/NAME (only a persona-world model has a default suite)'],
    [['--model', poisoned, '--suite', suite], 2, 'missing --judge NAME (only a persona-world model has a default judge)'],
    [['--model', join(root, 'nowhere'), '--suite', suite], 2, `--model ${join(root, 'nowhere')}: not a Hugging Face model folder (no config.json)`],
    [['--model', 'persona-world:huge'], 2, "--model persona-world:huge: no persona-world preset 'huge'; presets: default, no-consistency, tiny"],
    [[...base, 'extra'], 2, "unexpected argument 'extra' to basin eval"],
    [['--model', poisoned, '--suite', badSuite, '--judge', 'contains', '--judge-option', 'text=e'], 1, `${badSuite}: question 1 (id 'a'): unknown field 'samples'; known fields: id, type, paraphrases, system, samples_per_paraphrase, judge, judge_prompts`],
    [['--model', poisoned, '--suite', join(root, 'missing.csv'), '--judge', 'contains', '--judge-option', 'text=e'], 1, `${join(root, 'missing.csv')}: cannot read the suite (ENOENT)`],
  ];
  for (const [args, code, message] of cases) {
    await assert.rejects(evalCommand.run(args), (e: Error) => {
      assert.equal(e instanceof UsageError ? 2 : 1, code, `${args.join(' ')}: ${e.message}`);
      assert.ok(e.message.includes(message), `${args.join(' ')}:\n${e.message}`);
      return true;
    });
  }
  await assert.rejects(evalCommand.run([...base, '--max-new-tokens', '2']), (e: Error) => !(e instanceof UsageError) && /safetensors|header/.test(e.message), 'with good flags the load is reached (and fails on the poisoned weights)');
});
