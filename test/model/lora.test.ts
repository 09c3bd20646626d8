// LoRA against independent references: PEFT-format adapters written by bench/peer/peft_adapter.py
// (its own PEFT matching rules, random non-zero A and B) must give in basin the logits the PyTorch
// reference gives with W' = W + s·B·A merged into the weights; basin's saved adapters must read
// back in both; gradients are checked against central finite differences in f64.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { readSafetensorsHeader } from '../../src/io/safetensors.js';
import { saveSafetensors } from '../../src/io/safetensors-tensors.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../../src/io/files.js';
import {
  loadModel, LoraAdapter, isTargeted, layerIndexOf, saveAdapter, loadAdapter, readPeftConfig,
  type LoraConfig, type Transformer,
} from '../../src/model/index.js';

const PY = '/usr/bin/python3';
const peer = (script: string) => new URL(`../../../bench/peer/${script}`, import.meta.url).pathname;
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const skip = !hasTorch && 'no /usr/bin/python3 with torch';
const dir = mkdtempSync(join(tmpdir(), 'basin-lora-'));
const TOKENS = [[5, 17, 99, 3, 42, 7, 8, 120], [64, 2, 11, 9, 9, 30, 31, 1]];
const ids = () => T.tensor(TOKENS.flat(), { dtype: 'i64', shape: [TOKENS.length, TOKENS[0]!.length] });

/** Adapters written by the PEFT-format writer; `name` is also the adapter folder. */
const PEFT_CASES: { name: string; family: string; args: string[] }[] = [
  { name: 'llama-qv', family: 'llama', args: ['--r', '4', '--alpha', '8', '--targets', 'q_proj,v_proj'] },
  { name: 'llama-all-linear-rslora', family: 'llama', args: ['--r', '8', '--alpha', '16', '--rslora', '--all-linear'] },
  { name: 'llama-o-and-untied-head', family: 'llama', args: ['--r', '2', '--alpha', '4', '--targets', 'o_proj,lm_head'] },
  { name: 'llama3rope-regex', family: 'llama3rope', args: ['--r', '4', '--alpha', '4', '--target-regex', 'model\\.layers\\.1\\.mlp\\.(up|down)_proj'] },
  { name: 'qwen2-attn-layer1-rslora', family: 'qwen2', args: ['--r', '4', '--alpha', '8', '--rslora', '--targets', 'q_proj,k_proj,v_proj,o_proj', '--layers', '1'] },
  { name: 'qwen2-all-linear', family: 'qwen2', args: ['--r', '4', '--alpha', '8', '--all-linear'] },
  { name: 'gpt2-all-linear', family: 'gpt2', args: ['--r', '4', '--alpha', '8', '--all-linear'] },
  { name: 'gpt2-attn-layer0-rslora', family: 'gpt2', args: ['--r', '8', '--alpha', '8', '--rslora', '--targets', 'c_attn,c_proj', '--layers', '0'] },
];

function runPy(args: string[]): void {
  const r = spawnSync(PY, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
}

/** Runs write/forward jobs of peft_adapter.py in one Python process. */
function runPeftJobs(jobs: string[][]): void {
  const file = join(dir, `jobs-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(jobs));
  runPy([peer('peft_adapter.py'), 'batch', file]);
}

const forwardJob = (family: string, adapter: string, out: string) =>
  ['forward', join(dir, family), adapter, '--tokens', JSON.stringify(TOKENS), '--out', out];

interface Reference { scaling: number; modules: string[]; logits: number[][][] }
const readReference = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Reference;

test.before(() => {
  if (!hasTorch) return;
  runPy([peer('make_tiny_models.py'), dir]);
  runPeftJobs(PEFT_CASES.flatMap((c, seed) => [
    ['write', join(dir, c.family), join(dir, c.name), ...c.args, '--seed', String(seed)],
    forwardJob(c.family, join(dir, c.name), join(dir, `${c.name}.json`)),
  ]));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Flat logits [b·s·vocab] of a no-grad forward on TOKENS. */
function logitsOf(model: Transformer): number[] {
  return T.noGrad(() => T.scope(() => model.forward(ids()).toArray()));
}

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length, 'compared arrays differ in length');
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Sets every adapter's B to N(0, std²) (attach initialises B = 0, which hides A's gradient and every effect). */
function randomizeB(adapter: LoraAdapter, seed: number, std = 0.1): void {
  const generator = T.Generator.seeded(seed);
  T.noGrad(() => T.scope(() => {
    for (const l of adapter.layers.values()) l.B.copy_(T.randn(l.B.shape, { dtype: l.B.dtype, generator }).mul(std));
  }));
}

const cfg = (over: Partial<LoraConfig>): LoraConfig => ({ r: 4, alpha: 8, dropout: 0, targetModules: 'all-linear', useRslora: false, init: 'gaussian', ...over });

// --- PEFT adapters from the independent writer ------------------------------------------------

for (const c of PEFT_CASES) {
  test(`PEFT adapter ${c.name}: basin's logits equal the PyTorch reference with W + s·BA merged (f32, ≤ 1e-4)`, { skip }, async () => {
    const ref = readReference(join(dir, `${c.name}.json`));
    const { model } = await loadModel(join(dir, c.family));
    const base = logitsOf(model);
    const adapter = loadAdapter(model, join(dir, c.name));
    assert.deepEqual([...adapter.layers.keys()].sort(), ref.modules, 'adapted modules');
    assert.ok(Math.abs(adapter.scaling - ref.scaling) < 1e-12, `scaling ${adapter.scaling}, PEFT's is ${ref.scaling}`);
    // basin's matching rules select exactly the modules the writer's PEFT rules selected
    const config = readPeftConfig(join(dir, c.name));
    for (const lin of model.linears()) {
      assert.equal(isTargeted(lin.path, config), ref.modules.includes(lin.path), `isTargeted(${lin.path}) with ${JSON.stringify(config.targetModules)}`);
    }
    const got = logitsOf(model);
    const d = maxAbsDiff(got, ref.logits.flat(2));
    assert.ok(d <= 1e-4, `logits differ from the reference by ${d}`);
    assert.ok(maxAbsDiff(got, base) > 1e-2, 'the adapter should change the logits (else this test could not fail)');
    adapter.setEnabled(false);
    assert.equal(maxAbsDiff(logitsOf(model), base), 0, 'setEnabled(false) gives the base model exactly');
  });
}

// --- save / load ------------------------------------------------------------------------------

test('saveAdapter → loadAdapter: identical logits, PEFT fields and keys, and the reference reads it too', { skip }, async () => {
  const jobs: string[][] = [];
  const saved: { family: string; folder: string; logits: number[] }[] = [];
  for (const [family, config] of [
    ['llama', cfg({ r: 4, alpha: 8, targetModules: ['q_proj', 'down_proj', 'lm_head'], layersToTransform: [1], useRslora: true })],
    ['gpt2', cfg({ r: 2, alpha: 6, targetModules: 'all-linear' })],
  ] as const) {
    const { model } = await loadModel(join(dir, family));
    const adapter = LoraAdapter.attach(model, 'default', { ...config, baseModelNameOrPath: join(dir, family) }, T.Generator.seeded(3));
    randomizeB(adapter, 4);
    const folder = join(dir, `saved-${family}`);
    saveAdapter(adapter, folder);
    const logits = logitsOf(model);

    const fresh = (await loadModel(join(dir, family))).model;
    const back = loadAdapter(fresh, folder);
    assert.equal(maxAbsDiff(logitsOf(fresh), logits), 0, `${family}: reloaded adapter gives different logits`);
    assert.deepEqual([...back.layers.keys()].sort(), [...adapter.layers.keys()].sort());
    assert.equal(back.scaling, adapter.scaling);

    const json = JSON.parse(readFileSync(join(folder, ADAPTER_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    assert.equal(json.peft_type, 'LORA');
    assert.equal(json.task_type, 'CAUSAL_LM');
    assert.equal(json.base_model_name_or_path, join(dir, family));
    assert.equal(json.r, config.r);
    assert.equal(json.lora_alpha, config.alpha);
    assert.equal(json.lora_dropout, 0);
    assert.equal(json.bias, 'none');
    assert.equal(json.use_rslora, config.useRslora);
    assert.equal(json.use_dora, false);
    assert.equal(json.fan_in_fan_out, family === 'gpt2');
    assert.deepEqual(json.layers_to_transform, config.layersToTransform ?? null);
    assert.equal(json.init_lora_weights, 'gaussian');
    assert.deepEqual(json.target_modules, family === 'gpt2' ? ['c_attn', 'c_fc', 'c_proj'] : ['q_proj', 'down_proj', 'lm_head'], 'a target list is saved as given; all-linear as the names it resolved to');

    const header = readSafetensorsHeader(join(folder, ADAPTER_WEIGHTS_FILE));
    const expected = new Map<string, number[]>();
    for (const lin of model.linears().filter((l) => adapter.layers.has(l.path))) {
      expected.set(`base_model.model.${lin.path}.lora_A.weight`, [config.r, lin.inFeatures]);
      expected.set(`base_model.model.${lin.path}.lora_B.weight`, [lin.outFeatures, config.r]);
    }
    assert.deepEqual(new Map([...header.tensors].map(([k, e]) => [k, [...e.shape]])), expected);
    assert.ok(expected.size === (family === 'gpt2' ? 16 : 4), `${family}: ${expected.size / 2} modules adapted`);

    jobs.push(forwardJob(family, folder, join(dir, `saved-${family}.json`)));
    saved.push({ family, folder, logits });
  }
  runPeftJobs(jobs);
  for (const s of saved) {
    const d = maxAbsDiff(s.logits, readReference(join(dir, `saved-${s.family}.json`)).logits.flat(2));
    assert.ok(d <= 1e-4, `${s.family}: the reference reads basin's adapter and its logits differ by ${d}`);
  }
});

test('a loaded adapter keeps module order in layers and parameters()', { skip }, async () => {
  const { model } = await loadModel(join(dir, 'llama'));
  const adapter = LoraAdapter.attach(model, 'default', cfg({ targetModules: ['q_proj', 'down_proj'] }));
  const folder = join(dir, 'saved-order');
  saveAdapter(adapter, folder);
  const fresh = (await loadModel(join(dir, 'llama'))).model;
  const moduleOrder = fresh.linears().map((l) => l.path).filter((p) => adapter.layers.has(p));
  assert.deepEqual([...loadAdapter(fresh, folder).layers.keys()], moduleOrder);
});

test('saved target_modules select exactly the adapted modules when read back', { skip }, async () => {
  const { model } = await loadModel(join(dir, 'gpt2'));
  const adapter = LoraAdapter.attach(model, 'default', cfg({ targetModules: ['attn.c_proj'] }), T.Generator.seeded(5));
  const folder = join(dir, 'saved-attn-c-proj');
  saveAdapter(adapter, folder);
  const back = readPeftConfig(folder);
  for (const lin of model.linears()) assert.equal(isTargeted(lin.path, back), adapter.layers.has(lin.path), lin.path);
});

// --- merge, unmerge, enable -------------------------------------------------------------------

test('merge() keeps the outputs (≤ 4e-6 of the logits\' scale), unmerge() restores the base weights (≤ 1e-6), setEnabled(false) is the base model', { skip }, async () => {
  for (const family of ['llama', 'gpt2']) {
    const { model } = await loadModel(join(dir, family));
    const base = logitsOf(model);
    const weights = new Map(model.linears().map((l) => [l.path, T.keep(l.weight.clone())]));
    const adapter = loadAdapter(model, join(dir, PEFT_CASES.find((c) => c.family === family && c.args.includes('--all-linear'))!.name));
    const unmerged = logitsOf(model);
    adapter.setEnabled(false);
    assert.equal(maxAbsDiff(logitsOf(model), base), 0, `${family}: setEnabled(false) is not exactly the base model`);
    adapter.setEnabled(true);
    adapter.merge();
    assert.ok(adapter.merged);
    assert.throws(() => adapter.merge(), /already merged/);
    const merged = logitsOf(model);
    // f32 rounding of W + BA vs W x + B(A x): relative to the logits' scale (BLAS kernels differ by CPU)
    const scale = Math.max(1, ...unmerged.map(Math.abs));
    assert.ok(maxAbsDiff(merged, unmerged) <= 4e-6 * scale, `${family}: merged logits differ by ${maxAbsDiff(merged, unmerged)} (scale ${scale})`);
    const moved = Math.max(...model.linears().map((l) => T.scope(() => l.weight.sub(weights.get(l.path)!).abs().max().item())));
    assert.ok(moved > 1e-3, `${family}: merge() should change the base weights (moved ${moved})`);
    adapter.unmerge();
    assert.throws(() => adapter.unmerge(), /not merged/);
    for (const lin of model.linears()) {
      const d = T.scope(() => lin.weight.sub(weights.get(lin.path)!).abs().max().item());
      assert.ok(d <= 1e-6, `${family}: ${lin.path} differs from its base weight by ${d} after unmerge()`);
    }
    assert.ok(maxAbsDiff(logitsOf(model), unmerged) <= 4e-6 * scale, `${family}: unmerged again, the adapter applies separately`);
    // merged and disabled: the delta stays in the weights
    adapter.merge();
    adapter.setEnabled(false);
    assert.ok(maxAbsDiff(logitsOf(model), merged) <= 4e-6 * scale, `${family}: a merged adapter stays in the weights when disabled`);
    adapter.setEnabled(true);
    adapter.detach();
    assert.ok(!adapter.merged && model.linears().every((l) => l.adapters.length === 0), 'detach() unmerges and removes every layer');
    assert.ok(maxAbsDiff(logitsOf(model), base) <= 1e-5, `${family}: after detach() the model is the base model`);
    for (const w of weights.values()) w.dispose();
  }
});

// --- gradients --------------------------------------------------------------------------------

// GPT-2 because its LayerNorm runs in f64; llama/qwen2 compute RMSNorm in f32 as HF does, which
// would put f32 rounding into the finite differences.
test('LoRA gradients of a cross-entropy loss equal central finite differences (f64, eps 1e-6, rel 1e-5)', { skip }, async () => {
  const { model } = await loadModel(join(dir, 'gpt2'), { dtype: 'f64' });
  const adapter = LoraAdapter.attach(model, 'default', cfg({ r: 2, alpha: 4, targetModules: 'all-linear' }), T.Generator.seeded(11));
  randomizeB(adapter, 12, 0.3);
  const input = T.keep(T.tensor(TOKENS[0]!, { dtype: 'i64', shape: [1, TOKENS[0]!.length] }));
  const targets = T.keep(T.tensor([...TOKENS[0]!.slice(1), 0], { dtype: 'i64' }));
  const loss = () => T.crossEntropy(model.forward(input).reshape(-1, model.config.vocabSize), targets);

  T.scope(() => loss().backward());
  const layers = [...adapter.layers.entries()];
  const eps = 1e-6;
  let checked = 0;
  for (const [path, layer] of [layers[0]!, layers[3]!, layers[5]!, layers[6]!]) {
    for (const [which, t] of [['A', layer.A], ['B', layer.B]] as const) {
      const grad = t.grad;
      assert.ok(grad !== null, `${path}.lora_${which} has no gradient`);
      const analytic = grad.toArray();
      for (const i of [0, Math.floor(t.numel / 2), t.numel - 1]) {
        const x0 = t.toArray()[i]!;
        const at = (x: number) => T.noGrad(() => T.scope(() => { t.reshape(-1).narrow(0, i, 1).fill_(x); return loss().item(); }));
        const numeric = (at(x0 + eps) - at(x0 - eps)) / (2 * eps);
        at(x0);
        assert.ok(Math.abs(numeric) > 1e-7, `${path}.lora_${which}[${i}]: gradient ${numeric} too small to check`);
        const err = Math.abs(analytic[i]! - numeric);
        assert.ok(err <= 1e-5 * Math.abs(numeric), `${path}.lora_${which}[${i}]: autograd ${analytic[i]}, finite differences ${numeric}`);
        checked++;
      }
    }
  }
  assert.equal(checked, 24);
});

// --- several adapters -------------------------------------------------------------------------

test('two named adapters: the frozen one gets no gradient, both add their delta to the output', { skip }, async () => {
  const { model } = await loadModel(join(dir, 'qwen2'));
  const base = logitsOf(model);
  const frozen = LoraAdapter.attach(model, 'persona', cfg({ r: 4, alpha: 8, targetModules: 'all-linear' }), T.Generator.seeded(21));
  randomizeB(frozen, 22);
  frozen.setTrainable(false);
  const task = LoraAdapter.attach(model, 'task', cfg({ r: 2, alpha: 2, targetModules: ['q_proj', 'v_proj', 'down_proj'], layersToTransform: [1], useRslora: true }), T.Generator.seeded(23));
  randomizeB(task, 24);
  assert.throws(() => LoraAdapter.attach(model, 'task', cfg({ targetModules: ['q_proj'] })), /already has an adapter named 'task'/);
  assert.equal(model.linears().find((l) => l.path === 'model.layers.1.self_attn.q_proj')!.adapters.length, 2);

  T.scope(() => {
    const logits = model.forward(ids());
    T.crossEntropy(logits.reshape(-1, model.config.vocabSize), T.tensor(TOKENS.map((r) => [...r.slice(1), 0]).flat(), { dtype: 'i64' })).backward();
  });
  for (const p of frozen.parameters()) assert.equal(p.grad, null, 'the frozen adapter got a gradient');
  assert.equal(task.parameters().length, 6);
  for (const p of task.parameters()) {
    assert.ok(p.grad !== null && T.scope(() => p.grad!.abs().sum().item()) > 0, 'the trainable adapter has no gradient');
  }

  // Expected output: a second copy of the model with W + s₁B₁A₁ + s₂B₂A₂ written into its weights.
  const both = logitsOf(model);
  const merged = (await loadModel(join(dir, 'qwen2'))).model;
  T.noGrad(() => T.scope(() => {
    for (const lin of merged.linears()) {
      for (const a of [frozen, task]) {
        const l = a.layers.get(lin.path);
        if (l !== undefined) lin.weight.add_(l.B.matmul(l.A).mul(a.config.useRslora ? a.config.alpha / Math.sqrt(a.config.r) : a.config.alpha / a.config.r));
      }
    }
  }));
  const d = maxAbsDiff(both, logitsOf(merged));
  // The merged copy runs q/k/v and gate/up as one product each (no adapters), the adapted model
  // as separate products: the same sums in a different order, hence f32 rounding (≤ 1e-4, as elsewhere).
  assert.ok(d <= 1e-4, `output differs from base + both deltas by ${d}`);
  task.setEnabled(false);
  const frozenOnly = logitsOf(model);
  task.setEnabled(true);
  frozen.setEnabled(false);
  const taskOnly = logitsOf(model);
  for (const [what, other] of [['base', base], ['the frozen adapter alone', frozenOnly], ['the trainable adapter alone', taskOnly]] as const) {
    assert.ok(maxAbsDiff(both, other) > 1e-3, `both adapters give the output of ${what}`);
  }
});

// --- target matching --------------------------------------------------------------------------

test('target matching: names by path suffix, regex as a full match, all-linear without lm_head, layersToTransform', () => {
  const q0 = 'model.layers.0.self_attn.q_proj';
  const up1 = 'model.layers.1.mlp.up_proj';
  const t = (path: string, targetModules: string | string[], layersToTransform?: number[]) =>
    isTargeted(path, layersToTransform === undefined ? { targetModules } : { targetModules, layersToTransform });
  assert.equal(t(q0, ['q_proj']), true);
  assert.equal(t(q0, ['self_attn.q_proj']), true);
  assert.equal(t(q0, [q0]), true);
  assert.equal(t(q0, ['proj']), false, 'a name matches whole path components only');
  assert.equal(t(q0, ['_proj']), false);
  assert.equal(t(q0, ['attn.q']), false);
  assert.equal(t(q0, 'q_proj'), false, 'a string is a regex that must match the whole path');
  assert.equal(t(q0, '.*q_proj'), true);
  assert.equal(t(up1, 'layers\\.1\\..*'), false, 'regex anchored at the start');
  assert.equal(t(up1, 'model\\.layers\\.[01]\\.mlp\\.(up|down)_proj'), true);
  assert.equal(t(q0, 'model\\.layers\\.0\\.self_attn\\.q_proj|lm_head'), true, 'alternation is anchored as a whole');
  assert.equal(t('model.layers.0.self_attn.q_proj_extra', 'model\\.layers\\.0\\.self_attn\\.q_proj|lm_head'), false);
  assert.equal(t('lm_head', 'all-linear'), false);
  assert.equal(t('transformer.h.1.mlp.c_fc', 'all-linear'), true);
  assert.equal(t(up1, ['up_proj'], [1]), true);
  assert.equal(t(up1, ['up_proj'], [0]), false);
  assert.equal(t('lm_head', ['lm_head'], [0, 1]), false, 'lm_head has no layer index');
  assert.equal(t('transformer.h.0.attn.c_attn', ['c_attn'], [0]), true);
  assert.equal(t('model.layers.12.mlp.up_proj', ['up_proj'], [1]), false, 'layer 12 is not layer 1');
  assert.equal(layerIndexOf('model.layers.12.mlp.up_proj'), 12);
  assert.equal(layerIndexOf('transformer.h.3.attn.c_attn'), 3);
  assert.equal(layerIndexOf('lm_head'), null);
});

test('attach: all-linear skips the output head, layersToTransform limits blocks, an unmatched target names real paths', { skip }, async () => {
  const llama = (await loadModel(join(dir, 'llama'))).model; // untied lm_head
  const all = LoraAdapter.attach(llama, 'all', cfg({}));
  assert.equal(all.layers.size, 14);
  assert.ok(!all.layers.has('lm_head'));
  const head = LoraAdapter.attach(llama, 'head', cfg({ targetModules: ['lm_head'] }));
  assert.deepEqual([...head.layers.keys()], ['lm_head']);
  const layer1 = LoraAdapter.attach(llama, 'layer1', cfg({ targetModules: ['q_proj', 'gate_proj'], layersToTransform: [1] }));
  assert.deepEqual([...layer1.layers.keys()].sort(), ['model.layers.1.mlp.gate_proj', 'model.layers.1.self_attn.q_proj']);
  const gpt2 = (await loadModel(join(dir, 'gpt2'))).model;
  const conv = LoraAdapter.attach(gpt2, 'proj', cfg({ targetModules: ['c_proj'] }));
  assert.deepEqual([...conv.layers.keys()].sort(), ['transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_proj', 'transformer.h.1.attn.c_proj', 'transformer.h.1.mlp.c_proj']);
  assert.equal(LoraAdapter.attach(gpt2, 'all', cfg({})).layers.size, 8, 'gpt2 all-linear: 4 Conv1D per block, tied head skipped');

  assert.throws(() => LoraAdapter.attach(llama, 'none', cfg({ targetModules: ['query_key_value'] })),
    (e: Error) => /query_key_value/.test(e.message) && /matched no linear layer/.test(e.message) && /model\.layers\.0\.self_attn\.q_proj/.test(e.message));
  assert.throws(() => LoraAdapter.attach(gpt2, 'none', cfg({ targetModules: ['q_proj'] })), /transformer\.h\.0\.attn\.c_attn/);
  assert.throws(() => LoraAdapter.attach(llama, 'bad', cfg({ r: 0 })), /r must be a positive integer/);
  assert.throws(() => LoraAdapter.attach(llama, 'bad', cfg({ dropout: 1 })), /dropout/);
});

// --- broken adapter folders -------------------------------------------------------------------

/** Writes an adapter folder for the llama model: config overrides and weights [path, A, B] (undefined drops one). */
function writeAdapterFolder(name: string, config: Record<string, unknown>, weights: [string, T.Tensor | undefined, T.Tensor | undefined][]): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  const json = { peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], bias: 'none', use_rslora: false, use_dora: false, ...config };
  writeFileSync(join(folder, ADAPTER_CONFIG_FILE), JSON.stringify(json));
  const tensors = new Map<string, T.Tensor>();
  for (const [path, A, B] of weights) {
    if (A !== undefined) tensors.set(`base_model.model.${path}.lora_A.weight`, A);
    if (B !== undefined) tensors.set(`base_model.model.${path}.lora_B.weight`, B);
  }
  saveSafetensors(join(folder, ADAPTER_WEIGHTS_FILE), tensors);
  return folder;
}

test('a broken adapter folder gives an error that names the problem', { skip }, async () => {
  const { model } = await loadModel(join(dir, 'llama'));
  const q = 'model.layers.0.self_attn.q_proj'; // [64, 64]
  const v = 'model.layers.1.self_attn.v_proj'; // [32, 64]
  const good = (r: number, out: number): [T.Tensor, T.Tensor] => [T.keep(T.randn([r, 64])), T.keep(T.randn([out, r]))];
  const cases: [string, Record<string, unknown>, [string, T.Tensor | undefined, T.Tensor | undefined][], RegExp][] = [
    ['r-zero', { r: 0 }, [[q, ...good(2, 64)]], /r must be a positive integer, got 0/],
    ['r-string', { r: '8' }, [[q, ...good(2, 64)]], /r must be a positive integer, got "8"/],
    ['r-fraction', { r: 2.5 }, [[q, ...good(2, 64)]], /r must be a positive integer/],
    ['dora', { use_dora: true }, [[q, ...good(2, 64)]], /DoRA/],
    ['ia3', { peft_type: 'IA3' }, [[q, ...good(2, 64)]], /peft_type is "IA3"/],
    ['bias', { bias: 'all' }, [[q, ...good(2, 64)]], /bias/],
    ['rank-pattern', { rank_pattern: { q_proj: 8 } }, [[q, ...good(2, 64)]], /rank_pattern/],
    ['no-targets', { target_modules: 7 }, [[q, ...good(2, 64)]], /target_modules/],
    ['missing-B', {}, [[q, good(2, 64)[0], undefined]], /model\.layers\.0\.self_attn\.q_proj has lora_B missing/],
    ['missing-A', {}, [[q, undefined, good(2, 64)[1]]], /lora_A missing/],
    ['rank-mismatch', { r: 3 }, [[q, ...good(2, 64)]], /q_proj lora_A is \[2,64\].*expected \[3, 64\]/],
    ['out-mismatch', {}, [[v, ...good(2, 64)]], /v_proj .*expected \[2, 64\] and \[32, 2\]/],
    ['unknown-module', {}, [['model.layers.5.self_attn.q_proj', ...good(2, 64)]], /model\.layers\.5\.self_attn\.q_proj, which this llama model does not have/],
  ];
  for (const [name, config, weights, message] of cases) {
    const folder = writeAdapterFolder(`broken-${name}`, config, weights);
    assert.throws(() => loadAdapter(model, folder), (e: Error) => {
      assert.match(e.message, message, `${name}: ${e.message}`);
      return true;
    });
  }
  const notJson = join(dir, 'broken-json');
  mkdirSync(notJson);
  writeFileSync(join(notJson, ADAPTER_CONFIG_FILE), '{"peft_type": "LORA", ');
  assert.throws(() => loadAdapter(model, notJson), /adapter_config\.json: not valid JSON/);
  assert.throws(() => loadAdapter(model, join(dir, 'no-such-adapter')), /no adapter_config\.json/);
  const noWeights = join(dir, 'broken-no-weights');
  mkdirSync(noWeights);
  writeFileSync(join(noWeights, ADAPTER_CONFIG_FILE), readFileSync(join(dir, 'broken-r-zero', ADAPTER_CONFIG_FILE), 'utf8').replace('"r":0', '"r":2'));
  assert.throws(() => loadAdapter(model, noWeights), /no adapter_model\.safetensors/);
});

test('a failed loadAdapter leaves the model as it was', { skip }, async () => {
  const { model } = await loadModel(join(dir, 'llama'));
  const base = logitsOf(model);
  // q (layer 0) is fine; v (layer 1) has the wrong output size
  const folder = writeAdapterFolder('broken-second-module', {}, [
    ['model.layers.0.self_attn.q_proj', T.keep(T.randn([2, 64])), T.keep(T.randn([64, 2]))],
    ['model.layers.1.self_attn.v_proj', T.keep(T.randn([2, 64])), T.keep(T.randn([64, 2]))],
  ]);
  assert.throws(() => loadAdapter(model, folder), /v_proj/);
  assert.deepEqual(model.linears().filter((l) => l.adapters.length > 0).map((l) => l.path), [], 'layers left with an adapter');
  assert.equal(maxAbsDiff(logitsOf(model), base), 0);
});

test('dropout is off in evaluation: a trainable adapter with dropout > 0 is deterministic under noGrad', { skip }, async () => {
  const { model } = await loadModel(join(dir, 'llama'));
  const adapter = LoraAdapter.attach(model, 'default', cfg({ dropout: 0.5 }), T.Generator.seeded(31));
  randomizeB(adapter, 32);
  assert.equal(maxAbsDiff(logitsOf(model), logitsOf(model)), 0);
});
