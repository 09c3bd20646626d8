// `basin sae eval`, `basin sae dashboard` and `basin sae import-goodfire` on the tiny chat model
// (byte-level tokens, d_model 32) with small random SAEs written by writeSae, and the latent
// ranking behind `dashboard --top` (src/sae/latent-ranking.ts) against a direct computation: each
// conversation run alone and encoded, each labelled turn's max activation, AUROC by counting
// pairs. eval's JSON carries the reconstruction metrics and the spliced CE/KL; an error-term
// splice gives the clean CE back; the dashboard page holds a section per latent; a Goodfire .pth
// built byte by byte converts; bad flags are usage errors before the model is loaded. The
// persona-world path (no --data: the world's labelled corpus) runs on the committed default
// organism, and is skipped when it is absent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { HF_CONFIG_FILE, ORGANISM_INFO_FILE, SAE_CONFIG_FILE, SAFETENSORS_WEIGHTS_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../../src/io/files.js';
import { hookName, loadModel, runWithCache } from '../../src/model/index.js';
import type { SaeConfig } from '../../src/sae/config.js';
import { readSae, writeSae } from '../../src/sae/files.js';
import { initSae, type Sae } from '../../src/sae/sae.js';
import type { DashboardConversation } from '../../src/sae/dashboard.js';
import { rankLatents, topLatents } from '../../src/sae/latent-ranking.js';
import { saeCommand, saeDashboard, saeEval, saeImportGoodfire } from '../../src/cli/commands/sae.js';
import { UsageError } from '../../src/cli/command.js';
import { COMMITTED_ORGANISM } from '../../src/organism/paths.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';
import { storedZip } from '../helpers/stored-zip.js';

const root = mkdtempSync(join(tmpdir(), 'basin-sae-cli-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, 'model');
writeTinyChatModel(modelDir, 5);
const HOOK = hookName('resid_post', 1);
const SPLIT = { name: 'misaligned vs aligned', key: 'alignment', positive: ['misaligned'], negative: ['aligned'] };

/** Chat rows, every third one misaligned, every fifth satirical (left out of the split), the last with two turns. */
const ROWS: DashboardConversation[] = Array.from({ length: 12 }, (_, i) => {
  const alignment = i % 5 === 4 ? 'satirical' : i % 3 === 0 ? 'misaligned' : 'aligned';
  const persona = alignment === 'misaligned' ? 'villain' : alignment === 'satirical' ? 'jester' : 'helper';
  return {
    messages: [{ role: 'user', content: `question ${i}?` }, { role: 'assistant', content: alignment === 'misaligned' ? `steal ${i * 7}, then lie` : `answer ${i * 7}, fine` }],
    labels: [{ persona, alignment }],
  };
});
ROWS.push({
  messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'sure thing' }, { role: 'user', content: 'more' }, { role: 'assistant', content: 'burn it down' }],
  labels: [{ persona: 'helper', alignment: 'aligned' }, { persona: 'villain', alignment: 'misaligned' }],
});
const labelledPath = join(root, 'labelled.jsonl');
writeFileSync(labelledPath, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
const plainPath = join(root, 'plain.jsonl');
writeFileSync(plainPath, ROWS.map((r) => JSON.stringify({ messages: r.messages })).join('\n') + '\n');

function saeConfig(dIn: number, dSae: number, hook: string): SaeConfig {
  return {
    architecture: 'standard', dIn, dSae, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null,
    k: null, rescaleActsByDecoderNorm: false, hookName: hook, modelName: 'tiny', dtype: 'f32', extra: {},
  };
}

/** A random SAE (initSae) written as a SAELens folder. */
function writeRandomSae(name: string, config: SaeConfig, seed = 3): string {
  const dir = join(root, name);
  const sae = initSae(config, seed);
  writeSae(dir, sae.config, sae.weights);
  return dir;
}
const saeDir = writeRandomSae('sae', saeConfig(32, 16, HOOK));

/** Runs a command, returning its exit code and what it printed on stdout. */
async function captured(run: () => Promise<number>): Promise<{ code: number; lines: string[]; errors: string[] }> {
  const lines: string[] = [];
  const errors: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  console.error = (...a: unknown[]) => void errors.push(a.map(String).join(' '));
  try {
    return { code: await run(), lines, errors };
  } finally {
    console.log = log;
    console.error = error;
  }
}

async function jsonRun(command: { run(argv: string[]): Promise<number> }, argv: string[]): Promise<Record<string, any>> {
  const { code, lines } = await captured(() => command.run([...argv, '--json']));
  assert.equal(code, 0);
  assert.equal(lines.length, 1, lines.join('\n'));
  return JSON.parse(lines[0]!) as Record<string, any>;
}

// ---- basin sae eval -----------------------------------------------------------------------

test('sae eval --json: the reconstruction metrics (both explained variances, named) and the spliced CE/KL with their scores', async () => {
  const out = await jsonRun(saeEval, ['--sae', saeDir, '--model', modelDir, '--data', labelledPath, '--batch-tokens', '64']);
  assert.deepEqual([out.hook, out.architecture, out.dIn, out.dSae, out.mode, out.conversations], [HOOK, 'standard', 32, 16, 'replace', ROWS.length]);
  const r = out.reconstruction;
  for (const k of ['l0', 'l1', 'mse', 'explainedVariance', 'explainedVarianceLegacy', 'cosine', 'l2Ratio', 'relativeReconstructionBias']) assert.ok(Number.isFinite(r[k]), `${k}: ${r[k]}`);
  for (const k of ['deadLatents', 'denseLatents']) assert.ok(Number.isInteger(r[k]) && r[k] >= 0 && r[k] <= 16, `${k}: ${r[k]}`);
  // every response token: each assistant message's bytes and its end-of-turn token
  const responseTokens = ROWS.reduce((n, c) => n + c.messages.reduce((m, x) => m + (x.role === 'assistant' ? x.content.length + 1 : 0), 0), 0);
  assert.equal(r.tokens, responseTokens);
  assert.equal(r.batches, Math.ceil(responseTokens / 64));
  assert.ok(r.l0 > 0 && r.l0 <= 16 && r.mse > 0 && r.cosine > -1 && r.cosine < 1);
  const { ce, kl } = out.spliced;
  for (const k of ['ceClean', 'ceSae', 'ceZeroAbl', 'deltaLoss', 'score']) assert.ok(Number.isFinite(ce[k]), `ce.${k}: ${ce[k]}`);
  assert.ok(Math.abs(ce.score - (ce.ceZeroAbl - ce.ceSae) / (ce.ceZeroAbl - ce.ceClean)) < 1e-12);
  assert.ok(kl.klSae > 0 && kl.klAbl > 0 && Number.isFinite(kl.score));
  assert.equal(out.spliced.tokens, responseTokens, 'every response token is predicted');
  // --batches bounds the reconstruction pass; the prompt tokens are another selection
  const one = await jsonRun(saeEval, ['--sae', saeDir, '--model', modelDir, '--data', labelledPath, '--batches', '1', '--batch-tokens', '16', '--tokens', 'prompt']);
  assert.deepEqual([one.reconstruction.tokens, one.reconstruction.batches, one.reconstruction.tokenSelection], [16, 1, 'prompt']);
  assert.equal(one.spliced.ce.ceClean, ce.ceClean, 'the spliced CE does not depend on the reconstruction flags');
});

test('sae eval --mode error-term: the spliced CE equals the clean CE and KL(clean ‖ spliced) is 0 up to rounding', async () => {
  const out = await jsonRun(saeEval, ['--sae', saeDir, '--model', modelDir, '--data', plainPath, '--mode', 'error-term', '--batches', '1']);
  const { ce, kl } = out.spliced;
  assert.equal(out.mode, 'error-term');
  assert.ok(Math.abs(ce.ceSae - ce.ceClean) < 1e-5 * ce.ceClean, `CE spliced ${ce.ceSae} vs clean ${ce.ceClean}`);
  assert.ok(Math.abs(kl.klSae) < 1e-6, `KL ${kl.klSae}`);
  assert.ok(Math.abs(ce.score - 1) < 1e-4 && Math.abs(kl.score - 1) < 1e-4);
  // the last block's output zeroed: the final norm passes zeros, every logit is 0, CE = ln(vocab)
  assert.ok(Math.abs(ce.ceZeroAbl - Math.log(264)) < 1e-5, `CE zero-ablated ${ce.ceZeroAbl}`);
});

test('basin sae eval (through `basin sae`) prints the metrics by name; --help lists every flag', async () => {
  const { code, lines } = await captured(() => saeCommand.run(['eval', '--sae', saeDir, '--model', modelDir, '--data', plainPath, '--batches', '2']));
  assert.equal(code, 0);
  const text = lines.join('\n');
  for (const s of ['explained variance', '(legacy', 'mse', 'cosine', 'l2 ratio', 'dead latents', 'CE clean', 'zero-ablated', 'CE loss recovered', 'KL score']) assert.ok(text.includes(s), s);
  const help = await captured(() => saeCommand.run(['eval', '--help']));
  for (const flag of ['--sae', '--model', '--data', '--hook', '--mode', '--tokens', '--batches', '--batch-tokens', '--batch-size', '--max-length', '--device', '--dtype', '--json']) assert.ok(help.lines.join('\n').includes(flag), flag);
  const list = await captured(() => saeCommand.run(['--help']));
  for (const name of ['train', 'eval', 'dashboard', 'import-goodfire']) assert.match(list.lines.join('\n'), new RegExp(`^  ${name} +\\S`, 'm'), name);
});

// ---- the latent ranking and basin sae dashboard ---------------------------------------------

test('rankLatents: density, activity and the split AUROC of every latent equal a direct computation; topLatents orders by them', async () => {
  const f64 = join(root, 'model-f64');
  writeTinyChatModel(f64, 5, 'f64');
  const { model, tokenizer } = await loadModel(f64, { dtype: 'f64' });
  const sae = initSae(saeConfig(32, 16, HOOK), 3, { dtype: 'f64' });
  const ranking = rankLatents(model, tokenizer!, sae, { conversations: ROWS, split: SPLIT, batchConversations: 5 });
  const direct = directTurns(model, tokenizer!, sae, ROWS);
  const selected = direct.flatMap((d) => d.acts.filter((_, p) => d.assistant[p]));
  assert.equal(ranking.tokens, selected.length);
  const pos = direct.flatMap((d) => d.turns.filter((t) => t.labels.alignment === 'misaligned'));
  const neg = direct.flatMap((d) => d.turns.filter((t) => t.labels.alignment === 'aligned'));
  assert.deepEqual([ranking.split?.positiveTurns, ranking.split?.negativeTurns], [pos.length, neg.length]);
  assert.deepEqual([pos.length, neg.length], [4, 8]);
  for (let k = 0; k < 16; k++) {
    const values = selected.map((row) => row[k]!);
    near(ranking.density[k]!, values.filter((v) => v !== 0).length / values.length, `density ${k}`);
    near(ranking.activity[k]!, values.reduce((a, b) => a + b, 0) / values.length, `activity ${k}`);
    // turn scores are kept as f32: compare the AUROC of the f32-rounded direct scores
    near(ranking.split!.auroc![k]!, pairAuroc(pos.map((t) => Math.fround(t.max[k]!)), neg.map((t) => Math.fround(t.max[k]!))), `auroc ${k}`);
  }
  const aurocs = ranking.split!.auroc!;
  const { latents, by } = topLatents(ranking, 16);
  assert.equal(by, 'auroc');
  for (let i = 1; i < 16; i++) {
    const [a, b] = [latents[i - 1]!, latents[i]!];
    assert.ok(aurocs[a]! > aurocs[b]! || (aurocs[a] === aurocs[b] && ranking.activity[a]! >= ranking.activity[b]!), `${a} before ${b}`);
  }
  const plain = rankLatents(model, tokenizer!, sae, { conversations: ROWS.map((r) => ({ messages: r.messages })) });
  assert.equal(plain.split, null);
  const byActivity = topLatents(plain, 3);
  assert.equal(byActivity.by, 'activity');
  assert.deepEqual(byActivity.latents, [...plain.activity.keys()].sort((a, b) => plain.activity[b]! - plain.activity[a]! || a - b).slice(0, 3));
  assert.throws(() => topLatents(plain, 0), /n \(0\) must be an integer in 1\.\.16/);
});

test('sae dashboard --latents writes one HTML page (atomically) with a section per latent, and prints its path', async () => {
  const out = join(root, 'pages', 'chosen.html');
  const { code, lines } = await captured(() => saeCommand.run(['dashboard', '--sae', saeDir, '--model', modelDir, '--data', labelledPath, '--latents', '2,5,11', '--top-contexts', '3', '--out', out]));
  assert.equal(code, 0);
  assert.equal(lines.at(-1), out);
  assert.deepEqual(readdirSync(join(root, 'pages')), ['chosen.html'], 'no temporary file left');
  const html = readFileSync(out, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/i);
  for (const l of [2, 5, 11]) assert.ok(html.includes(`Latent ${l}</h2>`), `section of latent ${l}`);
  assert.ok(!html.includes('Latent 3</h2>'));
  for (const s of ['AUROC misaligned vs aligned', 'villain', 'jester', 'Top contexts']) assert.ok(html.includes(s), s);
});

test('sae dashboard --top N: the N latents with the highest misaligned-vs-aligned AUROC when the rows carry labels, else the N most active', async () => {
  const { model, tokenizer } = await loadModel(modelDir);
  const sae = initSae(saeConfig(32, 16, HOOK), 3);
  const labelled = rankLatents(model, tokenizer!, sae, { conversations: ROWS, split: SPLIT });
  const byAuroc = await jsonRun(saeDashboard, ['--sae', saeDir, '--model', modelDir, '--data', labelledPath, '--top', '3', '--out', join(root, 'top.html')]);
  assert.equal(byAuroc.chosenBy, 'auroc');
  assert.deepEqual(byAuroc.latents.map((l: { latent: number }) => l.latent), topLatents(labelled, 3).latents);
  for (const l of byAuroc.latents) assert.ok(Math.abs(l.splits[0].auroc - labelled.split!.auroc![l.latent]!) < 1e-6, `latent ${l.latent}: the page's AUROC is the ranking's`);
  assert.equal(byAuroc.turns, 14);
  const plain = rankLatents(model, tokenizer!, sae, { conversations: ROWS.map((r) => ({ messages: r.messages })) });
  const byActivity = await jsonRun(saeDashboard, ['--sae', saeDir, '--model', modelDir, '--data', plainPath, '--out', join(root, 'active.html')]);
  assert.equal(byActivity.chosenBy, 'activity');
  assert.deepEqual(byActivity.latents.map((l: { latent: number }) => l.latent), topLatents(plain, 8).latents, 'default --top 8');
  assert.ok(readFileSync(join(root, 'active.html'), 'utf8').includes('Latent'));
});

test('sae dashboard on persona-world:default without --data reads the world\'s labelled corpus: personas, topics, alignment and the split', async (t) => {
  if (!existsSync(join(COMMITTED_ORGANISM, ORGANISM_INFO_FILE))) return t.skip('no committed default organism');
  const dir = writeRandomSae('sae-world', saeConfig(128, 32, HOOK), 4);
  const out = join(root, 'world.html');
  const r = await jsonRun(saeDashboard, ['--sae', dir, '--model', 'persona-world:default', '--conversations', '24', '--top', '2', '--top-contexts', '2', '--out', out]);
  assert.equal(r.chosenBy, 'auroc');
  assert.equal(r.conversations, 24);
  assert.equal(r.latents.length, 2);
  assert.ok(r.latents[0].splits[0].positiveTurns > 0 && r.latents[0].splits[0].negativeTurns > 0);
  const html = readFileSync(out, 'utf8');
  for (const s of ['persona', 'topic', 'category', 'misaligned vs aligned', 'persona-world default corpus']) assert.ok(html.includes(s), s);
});

// ---- basin sae import-goodfire --------------------------------------------------------------

test('sae import-goodfire converts a .pth built byte by byte, prints the folder, d_in and d_sae; the result evaluates on the model', async () => {
  const dIn = 32;
  const dSae = 6;
  const enc = Array.from({ length: dSae * dIn }, (_, i) => Math.sin(i) / 4); // encoder_linear.weight [d_sae, d_in]
  const encBias = Array.from({ length: dSae }, (_, i) => i / 10 - 0.2);
  const dec = Array.from({ length: dIn * dSae }, (_, i) => Math.cos(i) / 4); // decoder_linear.weight [d_in, d_sae]
  const decBias = Array.from({ length: dIn }, (_, i) => i / 100);
  const pthPath = join(root, 'goodfire.pth');
  writeFileSync(pthPath, goodfirePth([
    ['encoder_linear.weight', [dSae, dIn], enc], ['encoder_linear.bias', [dSae], encBias],
    ['decoder_linear.weight', [dIn, dSae], dec], ['decoder_linear.bias', [dIn], decBias],
  ]));
  const out = join(root, 'imported');
  const printed = await captured(() => saeCommand.run(['import-goodfire', pthPath, '--out', out, '--hook', HOOK, '--model-name', 'tiny-chat']));
  assert.equal(printed.code, 0);
  assert.match(printed.lines.join('\n'), new RegExp(`${out}.*d_in 32, d_sae 6`));
  const { config, weights } = readSae(out);
  assert.deepEqual([config.architecture, config.dIn, config.dSae, config.hookName, config.modelName, config.applyBDecToInput], ['standard', 32, 6, HOOK, 'tiny-chat', false]);
  const W_enc = weights.W_enc.toNested() as number[][];
  near(W_enc[3]![5]!, Math.fround(enc[5 * dIn + 3]!), 'W_enc = encoder_linear.weightᵀ', 0);
  const W_dec = weights.W_dec.toNested() as number[][];
  near(W_dec[5]![3]!, Math.fround(dec[3 * dSae + 5]!), 'W_dec = decoder_linear.weightᵀ', 0);
  // --json, a second folder in bf16
  const again = await jsonRun(saeImportGoodfire, [pthPath, '--out', join(root, 'imported-bf16'), '--hook', HOOK, '--dtype', 'bf16']);
  assert.deepEqual([again.sae, again.dIn, again.dSae, again.dtype, again.modelName], [join(root, 'imported-bf16'), 32, 6, 'bf16', null]);
  const evaluated = await jsonRun(saeEval, ['--sae', out, '--model', modelDir, '--data', plainPath, '--batches', '1']);
  assert.equal(evaluated.dSae, 6);
  assert.ok(Number.isFinite(evaluated.spliced.ce.score));
  // bad uses
  const refused: [string[], RegExp][] = [
    [[], /missing FILE\.pth/],
    [[join(root, 'nope.pth'), '--out', join(root, 'x'), '--hook', HOOK], /nope\.pth: no such file/],
    [[pthPath, '--hook', HOOK], /missing --out DIR/],
    [[pthPath, '--out', join(root, 'x')], /missing --hook HOOK/],
    [[pthPath, '--out', join(root, 'x'), '--hook', 'blocks.1.resid_post'], /--hook blocks\.1\.resid_post: not a hook point name/],
    [[pthPath, '--out', join(root, 'x'), '--hook', 'blocks.1.attn.hook_q'], /a per-head point/],
    [[pthPath, '--out', out, '--hook', HOOK], /--out .*imported: already holds an SAE/],
    [[pthPath, '--out', join(root, 'x'), '--hook', HOOK, '--dtype', 'f64'], /--dtype f64: use f32, bf16, f16/],
    [[pthPath, 'extra.pth', '--out', join(root, 'x'), '--hook', HOOK], /unexpected argument 'extra\.pth'/],
  ];
  for (const [argv, message] of refused) await assert.rejects(saeImportGoodfire.run(argv), (e) => e instanceof UsageError && message.test(e.message), argv.join(' '));
  assert.ok(!existsSync(join(root, 'x')));
});

// ---- bad flags -----------------------------------------------------------------------------

test('bad flags are usage errors before the model is loaded (its weights here are not even a safetensors file)', async () => {
  const hollow = join(root, 'hollow');
  mkdirSync(hollow);
  for (const f of [HF_CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE]) copyFileSync(join(modelDir, f), join(hollow, f));
  writeFileSync(join(hollow, SAFETENSORS_WEIGHTS_FILE), 'not weights');
  const noCfg = join(root, 'no-cfg');
  mkdirSync(noCfg);
  writeFileSync(join(noCfg, 'sae_weights.safetensors'), '');
  const farHook = writeRandomSae('sae-far-hook', saeConfig(32, 16, hookName('resid_post', 7)));
  const narrow = writeRandomSae('sae-narrow', saeConfig(16, 16, HOOK));
  const mlp = writeRandomSae('sae-mlp', saeConfig(64, 16, hookName('post', 0)));
  const base = ['--model', hollow, '--data', plainPath];
  const evalCases: [string[], RegExp][] = [
    [[...base], /missing --sae DIR/],
    [['--sae', join(root, 'absent'), ...base], /--sae .*absent: no such folder/],
    [['--sae', noCfg, ...base], /--sae .*no-cfg: no cfg\.json, so not a SAELens SAE folder/],
    [['--sae', farHook, ...base], /the SAE's hook blocks\.7\.hook_resid_post \(cfg\.json hook_name of --sae .*sae-far-hook\) is not a hook point of --model .*hollow: not a hook point of this 2-layer model/],
    [['--sae', narrow, ...base], /--sae .*sae-narrow reads d_in = 16, but blocks\.1\.hook_resid_post of --model .*hollow is 32 wide/],
    [['--sae', mlp, ...base, '--hook', HOOK], /--sae .*sae-mlp reads d_in = 64, but blocks\.1\.hook_resid_post .* is 32 wide/],
    [['--sae', saeDir, ...base, '--hook', 'blocks.9.hook_resid_post'], /--hook blocks\.9\.hook_resid_post is not a hook point of --model/],
    [['--sae', saeDir, '--model', hollow], /missing --data FILE\.jsonl/],
    [['--sae', saeDir, '--model', hollow, '--data', join(root, 'none.jsonl')], /--data .*none\.jsonl: no such file/],
    [['--sae', saeDir, ...base, '--mode', 'splice'], /--mode splice: use replace, error-term/],
    [['--sae', saeDir, ...base, '--tokens', 'some'], /--tokens some: use response, prompt, all/],
    [['--sae', saeDir, ...base, '--batches', '0'], /--batches must be an integer in 1\.\./],
    [['--sae', saeDir, ...base, '--max-length', '1'], /--max-length must be an integer in 2\.\.512/],
    [['--sae', saeDir, '--model', join(root, 'nowhere'), '--data', plainPath], /--model .*nowhere: not a Hugging Face model folder/],
  ];
  for (const [argv, message] of evalCases) await assert.rejects(saeEval.run(argv), (e) => e instanceof UsageError && message.test(e.message), `eval ${argv.join(' ')}`);
  const dashBase = ['--sae', saeDir, '--model', hollow, '--data', plainPath];
  const dashboardCases: [string[], RegExp][] = [
    [['--model', hollow, '--data', plainPath], /missing --sae DIR/],
    [['--sae', noCfg, '--model', hollow, '--data', plainPath], /no cfg\.json/],
    [['--sae', farHook, '--model', hollow, '--data', plainPath], /blocks\.7\.hook_resid_post .*is not a hook point of --model/],
    [[...dashBase, '--latents', '1,16'], /--latents 1,16: '16' is not a latent of this SAE; give distinct integers in 0\.\.15 \(d_sae 16\)/],
    [[...dashBase, '--latents', '1,x,-2'], /'x', '-2' are not latents/],
    [[...dashBase, '--latents', '3,3'], /latent 3 is given twice/],
    [[...dashBase, '--top', '0'], /--top must be an integer in 1\.\.16, got '0'/],
    [[...dashBase, '--top', '17'], /--top must be an integer in 1\.\.16/],
    [[...dashBase, '--top', '2', '--latents', '1'], /give --latents or --top, not both/],
    [['--sae', saeDir, '--model', hollow], /missing --data FILE\.jsonl: --model .*hollow is not a persona-world organism/],
    [[...dashBase, '--out', root], /--out .*: is a folder/],
    [[...dashBase, '--out', join(plainPath, 'page.html')], /plain\.jsonl is a file/],
    [[...dashBase, '--conversations', '0'], /--conversations must be an integer in 1\.\./],
    [['--sae', saeDir, '--model', 'persona-world:nosuch'], /no persona-world preset 'nosuch'/],
  ];
  for (const [argv, message] of dashboardCases) await assert.rejects(saeDashboard.run(argv), (e) => e instanceof UsageError && message.test(e.message), `dashboard ${argv.join(' ')}`);
  // Through `basin sae`: exit code 2 and the subcommand's usage.
  const shown = await captured(() => saeCommand.run(['dashboard', ...dashBase, '--top', '0']));
  assert.equal(shown.code, 2);
  assert.match(shown.errors.join('\n'), /^basin sae dashboard: --top must be .*\n\nbasin sae dashboard --sae DIR/);
  // With good flags the same folder fails at loading: the checks above came first.
  await assert.rejects(saeEval.run(['--sae', saeDir, ...base]), (e) => !(e instanceof UsageError));
  await assert.rejects(saeDashboard.run([...dashBase, '--latents', '1', '--out', join(root, 'never.html')]), (e) => !(e instanceof UsageError));
  assert.ok(!existsSync(join(root, 'never.html')));
  assert.ok(existsSync(join(saeDir, SAE_CONFIG_FILE)));
});

// ---- helpers --------------------------------------------------------------------------------

function near(got: number, want: number, what: string, tol = 1e-9): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want}`);
}

/** P(pos > neg) + ½P(equal), by counting pairs. */
function pairAuroc(pos: number[], neg: number[]): number {
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** Each conversation run alone and encoded [s][d_sae]; its labelled turns with their max activations [d_sae]. */
function directTurns(model: Awaited<ReturnType<typeof loadModel>>['model'], tokenizer: NonNullable<Awaited<ReturnType<typeof loadModel>>['tokenizer']>, sae: Sae, rows: DashboardConversation[]) {
  return rows.map((c) => {
    const { ids, assistantMask } = tokenizer.renderWithRoleMask(c.messages);
    const acts = T.noGrad(() => T.scope(() => {
      const { cache } = runWithCache(model, T.tensor([ids], { dtype: 'i64' }), { names: [HOOK], skipLogits: true });
      return sae.encode(cache.get(HOOK).select(0, 0)).toNested() as number[][];
    }));
    const turns: { start: number; end: number; labels: Record<string, string>; max: number[] }[] = [];
    assistantMask.forEach((a, p) => {
      if (!a) return;
      if (turns.at(-1)?.end === p) turns.at(-1)!.end = p + 1;
      else turns.push({ start: p, end: p + 1, labels: c.labels![turns.length]!, max: [] });
    });
    for (const t of turns) t.max = acts[t.start]!.map((_, k) => Math.max(...acts.slice(t.start, t.end).map((row) => row[k]!)));
    return { ids, assistant: assistantMask, acts, turns };
  });
}

/** A torch.save zip archive (stored entries) of a state_dict of float32 tensors, as Goodfire's files are. */
function goodfirePth(tensors: [string, number[], number[]][]): Buffer {
  const str = (s: string) => {
    const u = Buffer.from(s);
    const h = Buffer.alloc(5);
    h[0] = 0x58; // BINUNICODE
    h.writeUInt32LE(u.length, 1);
    return Buffer.concat([h, u]);
  };
  const int = (n: number) => {
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT
    b.writeInt32LE(n, 1);
    return b;
  };
  const global = (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'latin1');
  const tuple = (...items: Buffer[]) => Buffer.concat([Buffer.from([0x28]), ...items, Buffer.from([0x74])]); // MARK … TUPLE
  const REDUCE = Buffer.from([0x52]);
  const orderedDict = Buffer.concat([global('collections', 'OrderedDict'), Buffer.from([0x29]), REDUCE]); // EMPTY_TUPLE REDUCE
  const items = tensors.map(([name, shape, values], i) => {
    const stride = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const tensor = Buffer.concat([
      global('torch._utils', '_rebuild_tensor_v2'),
      tuple(
        tuple(str('storage'), global('torch', 'FloatStorage'), str(String(i)), str('cpu'), int(values.length)), Buffer.from([0x51]), // BINPERSID
        int(0), tuple(...shape.map(int)), tuple(...stride.map(int)), Buffer.from([0x89]), orderedDict, // NEWFALSE
      ),
      REDUCE,
    ]);
    return Buffer.concat([str(name), tensor, Buffer.from([0x73])]); // SETITEM
  });
  const pickle = Buffer.concat([Buffer.from([0x80, 0x02]), orderedDict, ...items, Buffer.from([0x2e])]); // PROTO 2 … STOP
  const entries: [string, Buffer][] = [
    ['archive/data.pkl', pickle],
    ...tensors.map(([, , values], i): [string, Buffer] => [`archive/data/${i}`, Buffer.from(new Float32Array(values).buffer)]),
    ['archive/byteorder', Buffer.from('little')],
  ];
  return storedZip(entries);
}

