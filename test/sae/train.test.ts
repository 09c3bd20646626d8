// SAE training (src/sae/train.ts) and `basin sae train`: a topk SAE trained on synthetic sparse
// data with a known dictionary (16-d, 32 unit-norm atoms, 3 per sample) recovers it; a run
// interrupted and resumed is bit-identical to an uninterrupted one — weights, dead-latent
// counters, batchtopk's moving threshold, metrics, saved files — with a dead-latent window short
// enough that the dead mask (and the aux-k loss) is live across the resume, and so is one on the
// tiny chat model's activations (ActivationStore with its disk cache, resumed across a pass);
// the command writes the SAELens folder and metrics.json, and refuses bad flags before it loads
// the model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { CHECKPOINT_EXTRA_STATE_FILE, HF_CONFIG_FILE, SAE_CONFIG_FILE, SAE_EVAL_FILE, SAE_SUBDIR, SAE_SPARSITY_FILE, SAE_WEIGHTS_FILE, SAFETENSORS_WEIGHTS_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../../src/io/files.js';
import type { BatchSource, StepMetrics } from '../../src/train/loop.js';
import { checkpointDirs } from '../../src/train/checkpoint.js';
import { createRng, type Rng } from '../../src/util/rng.js';
import type { SaeArchitectureName, SaeConfig } from '../../src/sae/config.js';
import { readSae } from '../../src/sae/files.js';
import { ActivationStore } from '../../src/sae/activation-store.js';
import { loadModel } from '../../src/model/index.js';
import type { Tokenizer } from '../../src/io/tokenizer.js';
import { readChatJsonl } from '../../src/train/data.js';
import { activationBatchSource, trainSae, type TrainSaeResult, type TrainSaeSpec } from '../../src/sae/train.js';
import { saeTrain } from '../../src/cli/commands/sae.js';
import { UsageError } from '../../src/cli/command.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const root = mkdtempSync(join(tmpdir(), 'basin-sae-train-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const modelDir = join(root, 'model');
writeTinyChatModel(modelDir, 3);
const dataPath = join(root, 'chat.jsonl');
writeFileSync(dataPath, Array.from({ length: 12 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `question ${i}?` }, { role: 'assistant', content: `answer ${i * 7}, fine` }] })).join('\n'));

/** `n` unit-norm directions in R^d, Gaussian before normalising. */
function dictionary(n: number, d: number, rng: Rng): number[][] {
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: d }, () => Math.sqrt(-2 * Math.log(rng.next() || 1e-12)) * Math.cos(2 * Math.PI * rng.next()));
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

/**
 * Batches [tokens, d] of sparse non-negative combinations of `active` distinct atoms (coefficients
 * in [0.5, 1.5)); batch b is a function of (seed, b) alone, so seek is exact.
 */
function sparseSource(atoms: number[][], tokens: number, active: number, seed: number): BatchSource<T.Tensor> {
  const d = (atoms[0] as number[]).length;
  let batch = 0;
  return {
    next() {
      const rng = createRng(seed).fork(`batch-${batch++}`);
      const flat = new Array<number>(tokens * d).fill(0);
      for (let t = 0; t < tokens; t++) {
        const used = new Set<number>();
        while (used.size < active) used.add(rng.int(atoms.length));
        for (const i of used) {
          const c = 0.5 + rng.next();
          (atoms[i] as number[]).forEach((v, j) => (flat[t * d + j] = (flat[t * d + j] as number) + c * v));
        }
      }
      return T.tensor(flat).reshape(tokens, d); // [tokens, d]
    },
    tokens: (x) => x.size(0),
    position: () => ({ batch }),
    seek: (p) => void (batch = p.batch ?? 0),
    describe: () => ({ kind: 'synthetic sparse', atoms: atoms.length, d, tokens, active, seed }),
  };
}

function saeConfig(architecture: SaeArchitectureName, dIn: number, dSae: number, k: number | null): SaeConfig {
  return {
    architecture, dIn, dSae, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null, k,
    rescaleActsByDecoderNorm: architecture === 'topk' || architecture === 'batchtopk', hookName: null, modelName: null, dtype: 'f32', extra: {},
  };
}

test('a topk SAE trained on sparse combinations of 32 known directions recovers them (mean best cosine ≥ 0.9)', () => {
  const atoms = dictionary(32, 16, createRng(7));
  const r = trainSae({
    config: saeConfig('topk', 16, 64, 3), data: sparseSource(atoms, 256, 3, 11), outDir: join(root, 'dictionary'),
    steps: 300, lr: 0.01, seed: 1, evalBatches: 2, quiet: true,
  });
  const rows = (r.sae.weights.W_dec.toNested() as number[][]).map((w) => w.map((x) => x / (Math.hypot(...w) || 1))); // [d_sae, d_in], unit rows
  const best = atoms.map((a) => Math.max(...rows.map((w) => w.reduce((s, x, j) => s + x * (a[j] as number), 0))));
  const mean = best.reduce((s, c) => s + c, 0) / best.length;
  assert.ok(mean >= 0.9, `mean over the true directions of the best cosine with a decoder row: ${mean.toFixed(4)} (each: ${best.map((c) => c.toFixed(2)).join(' ')})`);
  assert.ok(r.evaluation !== null && r.evaluation.l0 === 3 && r.evaluation.explainedVariance > 0.8, `evaluation: ${JSON.stringify({ l0: r.evaluation?.l0, ev: r.evaluation?.explainedVariance })}`);
  // the step metrics carry the SAE's stats; the folder holds the SAELens files and metrics.json
  const last = JSON.parse(readFileSync(r.train.metricsPath, 'utf8').trim().split('\n').at(-1) as string) as StepMetrics;
  assert.deepEqual(Object.keys(last.parts), ['mse', 'aux']);
  assert.equal(last.stats?.l0, 3);
  for (const f of [SAE_CONFIG_FILE, SAE_WEIGHTS_FILE, SAE_SPARSITY_FILE]) assert.ok(existsSync(join(r.saeDir as string, f)), f);
  const saved = readSae(r.saeDir as string);
  assert.equal(saved.config.architecture, 'topk');
  assert.equal(JSON.parse(readFileSync(r.evalPath as string, 'utf8')).l0, 3);
});

/** Everything a run leaves that must match bit for bit. */
function outcome(r: TrainSaeResult, outDir: string) {
  const w = r.sae.weights;
  const drop = ({ tokensPerSecond: _t, elapsedSeconds: _e, ...rest }: StepMetrics) => rest;
  return {
    weights: Object.fromEntries(Object.entries(w).map(([name, t]) => [name, (t as T.Tensor).toArray()])),
    stepsSinceFired: r.stepsSinceFired,
    metrics: readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => drop(JSON.parse(l) as StepMetrics)),
    evaluation: readFileSync(join(outDir, SAE_EVAL_FILE), 'utf8'),
    saved: readFileSync(join(outDir, SAE_SUBDIR, SAE_WEIGHTS_FILE)).toString('base64'),
  };
}

for (const [arch, k] of [['topk', 2], ['batchtopk', 1.5]] as const) {
  test(`${arch}: 12 steps straight equal 6 + interruption (checkpoint at 4) + resumed, bit for bit, dead-latent counters${arch === 'batchtopk' ? ' and threshold' : ''} included`, () => {
    const atoms = dictionary(6, 8, createRng(3));
    const spec = (outDir: string): TrainSaeSpec => ({
      config: saeConfig(arch, 8, 32, k), data: sparseSource(atoms, 16, 2, 5), outDir, steps: 12, lr: 0.02, seed: 4,
      deadFeatureWindow: 2, checkpointEvery: 4, evalBatches: 2, quiet: true,
    });
    const straightDir = join(root, `${arch}-straight`);
    const straight = trainSae(spec(straightDir));
    const resumedDir = join(root, `${arch}-resumed`);
    const first = trainSae({ ...spec(resumedDir), stopAfter: 6 });
    assert.equal(first.train.steps, 6);
    assert.equal(first.evaluation, null);
    assert.deepEqual(checkpointDirs(resumedDir).map((c) => c.step), [4]);
    const resumed = trainSae(spec(resumedDir));
    assert.equal(resumed.train.resumedFrom, 4);
    assert.deepEqual(outcome(resumed, resumedDir), outcome(straight, straightDir));

    // The saved state mattered: latents were dead at the checkpoint, so the aux-k loss was live after it.
    const metrics = outcome(straight, straightDir).metrics;
    assert.ok((metrics[3]?.stats?.deadLatents ?? 0) > 0, `dead latents at step 4: ${metrics[3]?.stats?.deadLatents}`);
    assert.ok(metrics.slice(4).some((m) => (m.parts.aux ?? 0) > 0), 'the aux-k loss after step 4');
    if (arch === 'batchtopk') {
      assert.ok(straight.sae.weights.threshold !== undefined && (straight.sae.weights.threshold.toArray()[0] ?? 0) > 0, 'a threshold was learnt');
      assert.equal(readSae(straight.saeDir as string).config.architecture, 'jumprelu');
    }
  });
}

test('on an ActivationStore (disk cache on), a run resumed across a pass boundary equals a straight one, expected_average_only_in factor included', async () => {
  const { model, tokenizer } = await loadModel(modelDir);
  const rows = readChatJsonl(dataPath);
  const run = (outDir: string, stopAfter?: number) => {
    const store = new ActivationStore(model, tokenizer as Tokenizer, { data: rows, hook: 'blocks.1.hook_resid_post', trainBatchTokens: 40, storeBatchPrompts: 4, nBatchesInBuffer: 4, seed: 3, cache: { dir: join(root, 'activation-cache'), modelId: 'tiny' } });
    const data = activationBatchSource(store, { rows: 'chat.jsonl' });
    const config = { ...saeConfig('topk', 32, 64, 3), normalizeActivations: 'expected_average_only_in' as const };
    try {
      return trainSae({ config, data, outDir, steps: 12, lr: 0.01, seed: 2, deadFeatureWindow: 3, checkpointEvery: 5, evalBatches: 2, normEstimateBatches: 3, quiet: true, ...(stopAfter !== undefined ? { stopAfter } : {}) });
    } finally {
      data.close();
    }
  };
  const straight = run(join(root, 'store-straight'));
  assert.equal(run(join(root, 'store-resumed'), 7).train.steps, 7);
  const resumed = run(join(root, 'store-resumed'));
  assert.equal(resumed.train.resumedFrom, 5);
  assert.ok((straight.sae.config.normScalingFactor ?? 0) > 0);
  assert.equal(resumed.sae.config.normScalingFactor, straight.sae.config.normScalingFactor);
  assert.deepEqual(outcome(resumed, join(root, 'store-resumed')), outcome(straight, join(root, 'store-straight')));
});

test('a checkpoint without the extra state is refused on resume, naming the checkpoint', () => {
  const atoms = dictionary(6, 8, createRng(3));
  const outDir = join(root, 'no-extra-state');
  const spec: TrainSaeSpec = { config: saeConfig('topk', 8, 32, 2), data: sparseSource(atoms, 16, 2, 5), outDir, steps: 6, seed: 4, checkpointEvery: 2, quiet: true };
  trainSae({ ...spec, stopAfter: 2 });
  rmSync(join(outDir, 'checkpoint-2', CHECKPOINT_EXTRA_STATE_FILE));
  assert.throws(() => trainSae(spec), /checkpoint-2: the checkpoint has no extra state/);
});

// ---- basin sae train ----------------------------------------------------------------------

test('basin sae train on the tiny chat model writes OUT/sae (SAELens folder, batchtopk saved as jumprelu) and metrics.json', () => {
  const out = join(root, 'cli-run');
  const main = new URL('../../src/cli/main.js', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [main, 'sae', 'train', '--model', modelDir, '--hook', 'blocks.1.hook_resid_post', '--arch', 'batchtopk', '--k', '3', '--d-sae', '64',
    '--data', dataPath, '--out', out, '--steps', '6', '--batch-tokens', '32', '--eval-batches', '2', '--json'], { encoding: 'utf8', env: { ...process.env, BASIN_THREADS: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 7, 'six steps and a summary');
  assert.deepEqual(Object.keys(lines[0]?.stats as object), ['l0', 'deadLatents']);
  const summary = lines[6] as { done: boolean; steps: number; sae: string; evaluation: { tokens: number; l0: number } };
  assert.equal(summary.done, true);
  assert.equal(summary.steps, 6);
  assert.equal(summary.evaluation.tokens, 64);
  for (const f of [SAE_CONFIG_FILE, SAE_WEIGHTS_FILE, SAE_SPARSITY_FILE]) assert.ok(existsSync(join(out, SAE_SUBDIR, f)), f);
  const saved = readSae(join(out, SAE_SUBDIR));
  assert.deepEqual([saved.config.architecture, saved.config.dIn, saved.config.dSae, saved.config.hookName], ['jumprelu', 32, 64, 'blocks.1.hook_resid_post']);
  const metrics = JSON.parse(readFileSync(join(out, SAE_EVAL_FILE), 'utf8')) as { l0: number; explainedVariance: number; steps: number };
  assert.equal(metrics.steps, 6);
  assert.ok(Number.isFinite(metrics.l0) && Number.isFinite(metrics.explainedVariance));
});

test('bad flags are usage errors before the model is loaded (its weights here are not even a safetensors file)', async () => {
  const hollow = join(root, 'hollow');
  mkdirSync(hollow);
  for (const f of [HF_CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE]) copyFileSync(join(modelDir, f), join(hollow, f));
  writeFileSync(join(hollow, SAFETENSORS_WEIGHTS_FILE), 'not weights');
  const out = join(root, 'refused');
  const run = (...flags: string[]) => saeTrain.run(['--model', hollow, '--data', dataPath, '--out', out, '--json', ...flags]);
  const cases: [string[], RegExp][] = [
    [['--hook', 'blocks.7.hook_resid_post', '--arch', 'standard'], /--hook blocks\.7\.hook_resid_post: not a hook point of this 2-layer model/],
    [['--hook', 'blocks.1.hook_resid_post', '--arch', 'topk'], /--arch topk needs --k/],
    [['--hook', 'blocks.1.hook_resid_post', '--arch', 'standard', '--steps', '0'], /--steps must be an integer in 1\.\./],
    [['--hook', 'blocks.1.hook_resid_post', '--arch', 'gated'], /--arch gated: use standard, topk, batchtopk, jumprelu/],
    [['--hook', 'blocks.1.hook_resid_post', '--arch', 'topk', '--k', '65', '--d-sae', '64'], /--k 65: more than the SAE's 64 latents/],
    [['--hook', 'blocks.1.hook_resid_post', '--arch', 'topk', '--k', '4', '--l1', '2'], /--l1 is for standard SAEs, not topk/],
  ];
  for (const [flags, message] of cases) await assert.rejects(run(...flags), (e) => e instanceof UsageError && message.test(e.message), flags.join(' '));
  // With good flags the same folder fails at loading: the checks above came first.
  await assert.rejects(run('--hook', 'blocks.1.hook_resid_post', '--arch', 'standard'), (e) => !(e instanceof UsageError));
  assert.ok(!existsSync(join(out, 'run.json')));
});
