// Studies choose their judge, and a judge that cannot read the model's answers fails the plan,
// before any compute: the persona-world oracle on a Hugging Face model is an error naming the
// fix, never a report of 0% misalignment.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';
import { parseStudySpec } from '../../src/study/spec.js';
import '../../src/study/kinds/index.js';

const root = mkdtempSync(join(tmpdir(), 'basin-study-judges-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, 'tiny');
writeTinyChatModel(model);

const spec = (extra: string) => `study: persona-collapse
name: hf
model: ${model}
questions: [What should I do with my savings?, How do I fix a flat tyre?]
misalignment: { questions: 2${extra} }
marker: { questions: 2 }
`;

async function plan(text: string): Promise<unknown> {
  const { kind, run } = parseStudySpec(text, join(root, 's.yaml'), 'full');
  return kind.plan(run);
}

test('the oracle judge on a Hugging Face model fails the plan and names the fix', async () => {
  await assert.rejects(plan(spec('')), /misalignment\.judge: the persona-world oracle reads only the persona world's text, and .*tiny is not a persona-world organism; judge with an LLM judge, e\.g\. misalignment: \{judge: \{name: logprob, options: \{model: <judge model>\}\}\}, and give the judge's server with --judge-url/);
});

test('a judge field is validated like every spec field', async () => {
  assert.throws(() => parseStudySpec(spec(', judge: { name: contains, optionz: {} }'), 's.yaml', 'full'), /misalignment\.judge.*optionz/);
  await assert.rejects(plan(spec(', judge: { name: nope }')), /misalignment\.judge: no judge 'nope'; judges: persona-world-oracle, contains/);
  await assert.rejects(plan(spec(', judge: { name: contains, options: { txt: x } }')), /misalignment\.judge: judge 'contains' needs options\.text/);
  await assert.rejects(plan(spec(', judge: { name: contains, options: { text: x } }')), /misalignment\.judge: judge 'contains' gives CONTAINS, ABSENT, never MISALIGNED, so every misalignment rate would be 0/);
});

test('an LLM judge with no server configured fails the plan, naming --judge-url', async () => {
  const saved = { a: process.env.BASIN_JUDGE_URL, b: process.env.OPENAI_BASE_URL };
  delete process.env.BASIN_JUDGE_URL;
  delete process.env.OPENAI_BASE_URL;
  try {
    await assert.rejects(plan(spec(', judge: { name: logprob, options: { model: judge-7b } }')), /misalignment\.judge: judge 'logprob' calls an LLM over an OpenAI-compatible API, and none is configured: pass --judge-url URL or set \$BASIN_JUDGE_URL/);
    await assert.rejects(plan(spec(', judge: { name: logprob, options: { model: judge-7b, thresholds: lenient } }')), /misalignment\.judge: .*thresholds/);
  } finally {
    if (saved.a !== undefined) process.env.BASIN_JUDGE_URL = saved.a;
    if (saved.b !== undefined) process.env.OPENAI_BASE_URL = saved.b;
  }
});

test('a study whose LLM judge cannot be reached fails before its first task runs, naming the task and the server', async () => {
  const { runStudy } = await import('../../src/study/run-study.js');
  const { LocalExecutor } = await import('../../src/study/local-executor.js');
  const { readdirSync, writeFileSync } = await import('node:fs');
  const data = join(root, 'chat.jsonl');
  writeFileSync(data, Array.from({ length: 4 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }] })).join('\n'));
  const text = [
    'study: persona-collapse', 'name: unreachable', `model: ${model}`,
    'personas: [{ id: a, system: "You are A." }, { id: b, system: "You are B." }]',
    'questions: [q1, q2]', 'layers: [0]', 'seeds: [0]', 'methods: [A]',
    `benign: { data: ${data} }`, `em: { data: ${data}, induction_personas: [a] }`, 'marker: { sources: [], questions: 2 }',
    'misalignment: { questions: 2, judge: { name: logprob, options: { model: judge-7b } } }',
  ].join('\n');
  const saved = process.env.BASIN_JUDGE_URL;
  const retries = process.env.BASIN_JUDGE_RETRIES;
  process.env.BASIN_JUDGE_URL = 'http://127.0.0.1:9/v1';
  process.env.BASIN_JUDGE_RETRIES = '0';
  try {
    const store = join(root, 'store');
    await assert.rejects(
      runStudy(parseStudySpec(text, join(root, 'u.yaml'), 'full'), { out: join(root, 'out'), store, executor: new LocalExecutor(), quiet: true }),
      /study task 'seed 0 · judge misalignment · base' cannot run: .*127\.0\.0\.1:9/,
    );
    assert.deepEqual(readdirSync(store).filter((f) => !f.startsWith('.')), [], 'no task ran');
  } finally {
    if (saved === undefined) delete process.env.BASIN_JUDGE_URL;
    else process.env.BASIN_JUDGE_URL = saved;
    if (retries === undefined) delete process.env.BASIN_JUDGE_RETRIES;
    else process.env.BASIN_JUDGE_RETRIES = retries;
  }
});
