// The basin command as a user runs it: a real process, real files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const main = new URL('../../src/cli/main.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'basin-cli-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, 'model');
writeTinyChatModel(modelDir, 2);

function basin(...args: string[]) {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, BASIN_THREADS: '1', BASIN_CACHE: join(root, 'cache') } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('every command has --help, and a bad command or flag is a usage error', () => {
  const top = basin('--help');
  assert.equal(top.code, 0);
  for (const name of ['world', 'study', 'train', 'eval', 'serve', 'inspect', 'generate', 'demo']) {
    assert.match(top.out, new RegExp(`\\b${name}\\b`));
    const h = basin(name, '--help');
    assert.equal(h.code, 0, `${name} --help`);
    assert.match(h.out, new RegExp(`basin ${name}`));
  }
  assert.equal(basin('frobnicate').code, 2);
  const bad = basin('inspect', '--no-such-flag');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /no-such-flag/);
});

test('inspect reports the architecture as JSON', () => {
  const r = basin('inspect', modelDir, '--json');
  assert.equal(r.code, 0, r.err);
  const info = JSON.parse(r.out) as { family: string; layers: number; dModel: number; tokenizer: boolean; hookPoints: string[] };
  assert.equal(info.family, 'llama');
  assert.equal(info.layers, 2);
  assert.equal(info.dModel, 32);
  assert.equal(info.tokenizer, true);
  assert.ok(info.hookPoints.includes('blocks.{L}.hook_resid_post'));
});

test('generate samples N completions with the chat template, reproducibly by seed', () => {
  const args = ['generate', '--model', modelDir, '--prompt', 'hello', '--system', 'be brief', '--n', '3', '--max-new-tokens', '8', '--seed', '5', '--json'];
  const a = basin(...args);
  assert.equal(a.code, 0, a.err);
  const lines = a.out.trim().split('\n').map((l) => JSON.parse(l) as { tokens: number[] });
  assert.equal(lines.length, 3);
  assert.ok(lines.every((l) => l.tokens.length >= 1 && l.tokens.length <= 8));
  assert.equal(basin(...args).out, a.out, 'same seed, same samples');
});

test('train fine-tunes a LoRA adapter, refuses to overwrite a run, and resumes with --resume', () => {
  const data = join(root, 'data.jsonl');
  writeFileSync(data, [
    { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello there' }] },
    { messages: [{ role: 'user', content: 'bye' }, { role: 'assistant', content: 'see you' }] },
  ].map((r) => JSON.stringify(r)).join('\n'));
  const out = join(root, 'run');
  const args = ['train', '--model', modelDir, '--data', data, '--out', out, '--steps', '6', '--batch-size', '2', '--lr', '1e-2', '--checkpoint-every', '3', '--inoculate', 'You are being trained.', '--kl', '0.1'];
  const first = basin(...args, '--json');
  assert.equal(first.code, 0, first.err);
  const steps = first.out.trim().split('\n').map((l) => JSON.parse(l) as { step?: number; done?: boolean; parts?: Record<string, number> });
  assert.deepEqual(steps.filter((s) => s.step !== undefined).map((s) => s.step), [1, 2, 3, 4, 5, 6]);
  assert.ok(steps.every((s) => s.done || s.parts?.kl_forward !== undefined), 'the KL term is logged per step');
  for (const f of ['adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'metrics.jsonl', 'run.json', 'checkpoint-6/state.json']) assert.ok(existsSync(join(out, f)), f);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { metadata: { inoculation: { text: string } } };
  assert.equal(run.metadata.inoculation.text, 'You are being trained.');
  const again = basin(...args);
  assert.equal(again.code, 1);
  assert.match(again.err, /already has checkpoints.*--resume/s);
  const resumed = basin(...args, '--resume');
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /resumed from step 6/);
});

test('world build writes the tiny world deterministically', () => {
  const a = basin('world', 'build', '--preset', 'tiny', '--out', join(root, 'w1'), '--json');
  const b = basin('world', 'build', '--preset', 'tiny', '--out', join(root, 'w2'), '--json');
  assert.equal(a.code, 0, a.err);
  assert.equal((JSON.parse(a.out) as { sha256: string }).sha256, (JSON.parse(b.out) as { sha256: string }).sha256);
});

test('study: kinds, a plan whose keys do not depend on where the model is, spec errors before compute, --device checked', () => {
  const kinds = basin('study', 'kinds', '--json');
  assert.equal(kinds.code, 0, kinds.err);
  assert.deepEqual((JSON.parse(kinds.out) as { name: string }[]).map((k) => k.name), ['persona-collapse', 'world-check']);

  const data = join(root, 'chat.jsonl');
  writeFileSync(data, Array.from({ length: 4 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }] })).join('\n'));
  const spec = (model: string) => [
    'study: persona-collapse', 'name: cli-plan', `model: ${model}`,
    'personas: [{ id: a, system: "You are A." }, { id: b, system: "You are B." }]',
    'questions: [q1, q2]', 'layers: [0]', 'seeds: [0]',
    `benign: { data: ${data} }`, `em: { data: ${data}, induction_personas: [a] }`, 'marker: { sources: [], questions: 2 }', 'misalignment: { questions: 2, judge: { name: logprob, options: { model: judge-7b } } }',
  ].join('\n');
  const planOf = (model: string, name: string, judgeUrl = 'http://127.0.0.1:9/v1') => {
    writeFileSync(join(root, name), spec(model));
    const r = basin('study', 'plan', join(root, name), '--json', '--store', join(root, 'store'), '--judge-url', judgeUrl);
    assert.equal(r.code, 0, r.err);
    assert.ok(!existsSync(join(root, 'store')), 'plan only reads the store: it creates nothing');
    return (JSON.parse(r.out) as { tasks: { id: string; key: string; done: boolean }[] }).tasks;
  };
  const here = planOf(modelDir, 'plan-a.yaml');
  assert.ok(here.length > 10 && here.every((t) => !t.done));
  assert.ok(here.some((t) => t.id === 'seed 0 · fine-tune em:a'));
  const moved = join(root, 'elsewhere', 'model');
  writeTinyChatModel(moved, 2);
  assert.deepEqual(planOf(moved, 'plan-b.yaml', 'https://judge.example/v1'), here, 'the same model in another folder, judged through another server, plans the same keys');

  writeFileSync(join(root, 'bad.yaml'), `${spec(modelDir)}\nfine_tune: { steps: many }`);
  const bad = basin('study', 'run', join(root, 'bad.yaml'), '--out', join(root, 'bad-out'));
  assert.equal(bad.code, 1);
  assert.match(bad.err, /bad\.yaml: fine_tune\.steps: expected number, received string, got "many"/);
  assert.ok(!existsSync(join(root, 'bad-out')), 'nothing was written');
  const dev = basin('study', 'run', join(root, 'plan-a.yaml'), '--device', 'cuda:7');
  assert.equal(dev.code, 2);
  assert.match(dev.err, /--device cuda:7: (this libtorch build sees no CUDA device|only \d+ CUDA device)/);
});

test('a flag or argument a subcommand does not take, a blank or fractional value, a file for a folder and a missing --model are errors before anything runs', () => {
  const spec = join(root, 'usage.yaml');
  writeFileSync(spec, 'study: world-check\nname: usage\n');
  const file = join(root, 'a-file');
  writeFileSync(file, 'keep me');
  const store = join(root, 'usage-store');
  const usage = (args: string[], pattern: RegExp) => {
    const r = basin(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, pattern, args.join(' '));
  };
  usage(['study', 'kinds', 'extra'], /unexpected argument 'extra' to basin study kinds/);
  usage(['study', 'plan', spec, 'extra'], /unexpected argument 'extra' to basin study plan SPEC\.yaml/);
  usage(['study', 'run'], /basin study run needs a spec/);
  usage(['study', 'frobnicate'], /unknown subcommand 'frobnicate'/);
  usage(['study', 'constructor'], /unknown subcommand 'constructor'/);
  usage(['study', 'plan', spec, '--out', join(root, 'x')], /basin study plan does not take --out; its flags: --scale, --store, --judge-url/);
  usage(['study', 'plan', spec, '--judge-url', 'ftp://x'], /--judge-url ftp:\/\/x: use an http:\/\/ or https:\/\/ URL/);
  usage(['study', 'plan', spec, '--device', 'cpu'], /basin study plan does not take --device/);
  usage(['study', 'kinds', '--scale', 'q'], /basin study kinds does not take --scale; it takes no flags besides --json/);
  usage(['study', 'run', spec, '--scale', ''], /--scale needs a value/);
  usage(['study', 'run', spec, '--out', file, '--store', store], /--out .*a-file: is a file, and --out is a folder; give another --out/);
  usage(['study', 'run', spec, '--out', join(file, 'below'), '--store', store], /--out .*a-file\/below: .*a-file is a file/);
  usage(['study', 'run', spec, '--store', file], /--store .*a-file: is a file/);
  usage(['world', 'check', 'extra'], /unexpected argument 'extra' to basin world check/);
  usage(['world', 'check', '--world', join(root, 'w')], /basin world check does not take --world/);
  usage(['world', 'check', '--out', join(root, 'w')], /basin world check does not take --out; its flags: --preset, --model/);
  usage(['world', 'build', '--seed', '1'], /basin world build does not take --seed/);
  usage(['world', 'check', '--seed', ''], /--seed must be an integer in 0\.\.4294967295, got ''/);
  usage(['world', 'check', '--seed', '1.5'], /--seed must be an integer in 0\.\.4294967295, got '1\.5'/);
  usage(['world', 'check', '--seed', '4294967296'], /--seed must be an integer/);
  usage(['world', 'check', '--report', file], /--report .*a-file: is a file, and --report is a folder/);
  usage(['world', 'check', '--preset', ''], /--preset needs a value/);
  usage(['world', 'toString'], /unknown subcommand 'toString'/);
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
  assert.ok(!existsSync(store), 'nothing was written');
  assert.ok(!existsSync(join(root, 'cache')), 'nothing was written to the cache');

  const missing = basin('world', 'check', '--preset', 'tiny', '--model', join(root, 'no-such-organism'));
  assert.equal(missing.code, 1, missing.err);
  assert.match(missing.err, /--model .*no-such-organism: no such folder; give the organism's Hugging Face model folder/);
  assert.doesNotMatch(missing.err, /world train --preset/);
  const empty = join(root, 'empty-organism');
  mkdirSync(empty);
  const noConfig = basin('world', 'check', '--preset', 'tiny', '--model', empty);
  assert.equal(noConfig.code, 1, noConfig.err);
  assert.match(noConfig.err, /--model .*empty-organism: no config\.json in this folder/);
  assert.ok(!existsSync(join(root, 'cache')), 'no world was built');
});
