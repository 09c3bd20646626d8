// SAE files: SAELens folders (v6 and pre-6.0 cfg.json, log_threshold, scaling_factor, sparsity),
// Goodfire's torch.save'd .pth, and the restricted .pth reader underneath. Pinned to an
// independent PyTorch peer (bench/peer/sae_files.py: its own folder writer and reader, torch.save,
// and the SAE math in plain torch) where /usr/bin/python3 has torch; the hostile-file cases and
// a .pth built byte by byte here run without it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { SAE_CONFIG_FILE, SAE_SPARSITY_FILE, SAE_WEIGHTS_FILE } from '../../src/io/files.js';
import { PickleDict, type PickleValue, unpickle } from '../../src/io/pickle.js';
import { loadTorchFile } from '../../src/io/torch-file.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors-tensors.js';
import type { SaeConfig, SaeWeights } from '../../src/sae/config.js';
import { readSae, readSaeSparsity, writeSae } from '../../src/sae/files.js';
import { importGoodfireSae, readGoodfireSae } from '../../src/sae/goodfire.js';
import { type TensorEntry, decodeTensor, peerUnavailable, runPeer, tensorDifference } from '../tensor/peer-helper.js';
import { storedZip } from '../helpers/stored-zip.js';

const ROOT = mkdtempSync(join(tmpdir(), 'basin-sae-files-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));
const PEER_MISSING = peerUnavailable();

// ---- helpers ----------------------------------------------------------------------

function assertSame(actual: T.Tensor, expected: T.Tensor, what: string, exact = true): void {
  const diff = tensorDifference(actual, expected, { exact });
  assert.equal(diff, null, `${what}: ${diff}`);
}

/** Latents and reconstruction by plain tensor ops (SAELens's math), independent of src/sae/sae.ts. */
function forward(c: SaeConfig, w: SaeWeights, x: T.Tensor): { z: T.Tensor; xHat: T.Tensor } {
  const pre = (c.applyBDecToInput ? x.sub(w.b_dec) : x).matmul(w.W_enc).add(w.b_enc);
  const z = c.architecture === 'jumprelu' ? pre.relu().mul(pre.gt(w.threshold as T.Tensor).to('f32')) : pre.relu();
  return { z, xHat: z.matmul(w.W_dec).add(w.b_dec) };
}

function randomSae(architecture: SaeConfig['architecture'], dIn = 4, dSae = 8, seed = 1): { config: SaeConfig; weights: SaeWeights } {
  const g = T.Generator.seeded(seed);
  const config: SaeConfig = {
    architecture, dIn, dSae, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null,
    k: architecture === 'topk' || architecture === 'batchtopk' ? 2 : null, rescaleActsByDecoderNorm: false,
    hookName: 'blocks.0.hook_resid_post', modelName: 'tiny', dtype: 'f32', extra: {},
  };
  const weights: SaeWeights = {
    W_enc: T.randn([dIn, dSae], { generator: g }), b_enc: T.randn([dSae], { generator: g }),
    W_dec: T.randn([dSae, dIn], { generator: g }), b_dec: T.randn([dIn], { generator: g }),
  };
  if (architecture === 'jumprelu' || architecture === 'batchtopk') weights.threshold = T.rand([dSae], { generator: g });
  return { config, weights };
}

function folder(name: string): string {
  const dir = join(ROOT, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function editJson(path: string, edit: (cfg: Record<string, unknown>) => void): void {
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(path, JSON.stringify(cfg));
}

function editWeights(dir: string, edit: (tensors: Map<string, T.Tensor>) => void): void {
  const path = join(dir, SAE_WEIGHTS_FILE);
  const { tensors } = loadSafetensors(path);
  edit(tensors);
  saveSafetensors(path, tensors);
}

// ---- the PyTorch peer --------------------------------------------------------------

interface Written {
  tensors: Record<string, TensorEntry>;
  x: TensorEntry;
  latents?: TensorEntry;
  recon?: TensorEntry;
  sparsity?: TensorEntry;
}
interface ReadBack extends Written {
  cfg: Record<string, unknown>;
}

const sae = (name: string, spec: Record<string, unknown>) => ({
  command: 'write_sae', dir: join(ROOT, 'peer', name), d_in: 6, d_sae: 16, tokens: 5, dtype: 'float32',
  apply_b_dec_to_input: true, log_threshold: false, sparsity: false, k: 3, ...spec,
});
interface Pickles {
  pickles: Record<'2' | '4', string>;
  expected: unknown;
  recursive: Record<'short' | 'long', string>;
}
let peerOutputs: { std: Written; jump: Written; flat: Written; topk: Written; goodfire: Written; pth: Written; pickles: Pickles } | undefined;

/** One start of the peer writes every fixture (~2 s); later tests reuse them. */
function peer() {
  peerOutputs ??= (() => {
    const [std, jump, flat, topk, goodfire, pth, pickles] = runPeer('sae_files.py', {
      command: 'batch',
      jobs: [
        sae('v6-standard', { architecture: 'standard', layout: 'v6', seed: 11, sparsity: true }),
        sae('v6-jumprelu', { architecture: 'jumprelu', layout: 'v6', seed: 3 }),
        sae('flat-jumprelu', { architecture: 'jumprelu', layout: 'flat', seed: 6, apply_b_dec_to_input: false, log_threshold: true }),
        sae('v6-topk-bf16', { architecture: 'topk', layout: 'v6', seed: 12, dtype: 'bfloat16' }),
        { command: 'write_goodfire', path: join(ROOT, 'peer', 'goodfire.pth'), d_in: 6, d_sae: 12, tokens: 4, seed: 1 },
        { command: 'write_pth', dir: join(ROOT, 'peer') },
        { command: 'pickles' },
      ],
    }) as unknown[];
    return { std, jump, flat, topk, goodfire, pth, pickles } as NonNullable<typeof peerOutputs>;
  })();
  return peerOutputs;
}
mkdirSync(join(ROOT, 'peer'), { recursive: true });

function checkAgainstPeer(dir: string, out: Written) {
  const { config, weights } = readSae(dir);
  for (const [name, entry] of Object.entries(out.tensors)) {
    assertSame(weights[name as keyof SaeWeights] as T.Tensor, decodeTensor(entry), name, !name.startsWith('threshold'));
  }
  if (out.latents !== undefined) {
    const { z, xHat } = forward(config, weights, decodeTensor(out.x));
    assertSame(z, decodeTensor(out.latents), 'latents', false);
    assertSame(xHat, decodeTensor(out.recon as TensorEntry), 'reconstruction', false);
    assert.ok(z.gt(0).sum().item() > 0 && z.eq(0).sum().item() > 0, 'the fixture has both active and inactive latents');
  }
  return { config, weights };
}

// ---- folders written by PyTorch ----------------------------------------------------

test('a v6 standard SAE written by PyTorch loads with identical tensors; latents and reconstruction equal PyTorch\'s', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const out = peer().std;
  const dir = join(ROOT, 'peer', 'v6-standard');
  const { config } = checkAgainstPeer(dir, out);
  assert.deepEqual(
    { ...config, extra: undefined },
    {
      architecture: 'standard', dIn: 6, dSae: 16, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null,
      k: null, rescaleActsByDecoderNorm: false, hookName: 'blocks.1.hook_resid_post', modelName: 'persona-world-tiny', dtype: 'f32', extra: undefined,
    },
  );
  assert.deepEqual(config.extra, {
    decoder_init_norm: 0.1,
    metadata: {
      hook_head_index: null, prepend_bos: true, context_size: 128, dataset_path: 'persona-world/pretrain', neuronpedia_id: null,
      model_from_pretrained_kwargs: { center_writing_weights: false }, seqpos_slice: [null], exclude_special_tokens: false,
      sae_lens_version: '6.18.0', sae_lens_training_version: '6.18.0',
    },
  });
  assertSame(readSaeSparsity(dir, config) as T.Tensor, decodeTensor(out.sparsity as TensorEntry), 'sparsity');
});

test('a v6 jumprelu SAE written by PyTorch: threshold, latents and reconstruction equal PyTorch\'s', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const { config, weights } = checkAgainstPeer(join(ROOT, 'peer', 'v6-jumprelu'), peer().jump);
  assert.equal(config.architecture, 'jumprelu');
  assert.deepEqual(weights.threshold?.shape, [16]);
  assert.equal(readSaeSparsity(join(ROOT, 'peer', 'v6-jumprelu'), config), null);
});

test('a pre-6.0 flat jumprelu cfg with log_threshold: renamed fields, threshold = exp(log_threshold), no b_dec subtracted', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const { config } = checkAgainstPeer(join(ROOT, 'peer', 'flat-jumprelu'), peer().flat);
  assert.equal(config.architecture, 'jumprelu');
  assert.equal(config.applyBDecToInput, false);
  assert.equal(config.hookName, 'blocks.1.hook_resid_post');
  assert.equal(config.normalizeActivations, 'none');
  assert.deepEqual(config.extra, {
    hook_point_layer: 1, l1_coefficient: 8e-5, lr: 0.0004,
    metadata: { hook_head_index: null, context_size: 128, prepend_bos: true, dataset_path: 'persona-world/pretrain', sae_lens_training_version: '3.13.0' },
  });
});

test('a bf16 topk SAE keeps its dtype and k', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const { config, weights } = checkAgainstPeer(join(ROOT, 'peer', 'v6-topk-bf16'), peer().topk);
  assert.equal(config.dtype, 'bf16');
  assert.equal(weights.W_enc.dtype, 'bf16');
  assert.equal(config.k, 3);
  assert.equal(readSae(join(ROOT, 'peer', 'v6-topk-bf16'), { dtype: 'f32' }).weights.W_dec.dtype, 'f32');
});

test('what basin writes, PyTorch reads: identical tensors, a v6 cfg.json, the same latents and reconstruction', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const x = peer().jump.x;
  const written: Record<string, { config: SaeConfig; weights: SaeWeights; sparsity: T.Tensor }> = {};
  for (const name of ['v6-standard', 'v6-jumprelu']) {
    const { config, weights } = readSae(join(ROOT, 'peer', name));
    const sparsity = T.tensor(Array.from({ length: 16 }, (_, i) => -i / 4));
    writeSae(join(ROOT, 'basin', name), config, weights, { sparsity });
    written[name] = { config, weights, sparsity };
  }
  const back = runPeer('sae_files.py', {
    command: 'batch',
    jobs: Object.keys(written).map((name) => ({ command: 'read_sae', dir: join(ROOT, 'basin', name), x })),
  }) as ReadBack[];
  Object.values(written).forEach(({ config, weights, sparsity }, i) => {
    const got = back[i] as ReadBack;
    assert.deepEqual(Object.keys(got.tensors).sort(), config.architecture === 'jumprelu' ? ['W_dec', 'W_enc', 'b_dec', 'b_enc', 'threshold'] : ['W_dec', 'W_enc', 'b_dec', 'b_enc']);
    for (const [name, entry] of Object.entries(got.tensors)) assertSame(decodeTensor(entry), weights[name as keyof SaeWeights] as T.Tensor, name);
    assertSame(decodeTensor(got.sparsity as TensorEntry), sparsity, 'sparsity');
    const { z, xHat } = forward(config, weights, decodeTensor(x));
    assertSame(z, decodeTensor(got.latents as TensorEntry), 'latents', false);
    assertSame(xHat, decodeTensor(got.recon as TensorEntry), 'reconstruction', false);
    const meta = got.cfg['metadata'] as Record<string, unknown>;
    assert.equal(got.cfg['architecture'], config.architecture);
    assert.equal(got.cfg['d_sae'], 16);
    assert.equal(got.cfg['dtype'], 'float32');
    assert.equal(got.cfg['reshape_activations'], 'none');
    assert.equal(got.cfg['decoder_init_norm'], 0.1);
    assert.equal(meta['hook_name'], 'blocks.1.hook_resid_post');
    assert.equal(meta['sae_lens_version'], '6.18.0');
    assert.deepEqual(meta['model_from_pretrained_kwargs'], { center_writing_weights: false });
    assert.ok(!('hook_name' in got.cfg), 'v6 keeps hook_name under metadata only');
  });
});

test('a Goodfire .pth (torch.save of a state_dict) converts: W_enc = encoder_linear.weight.T, W_dec = decoder_linear.weight.T, no b_dec subtracted', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const out = peer().goodfire;
  const src = (k: string) => decodeTensor(out.tensors[k] as TensorEntry);
  const dir = join(ROOT, 'goodfire-l19');
  const made = importGoodfireSae(join(ROOT, 'peer', 'goodfire.pth'), dir, { hookName: 'blocks.19.hook_resid_post', modelName: 'meta-llama/Llama-3.1-8B-Instruct' });
  const { config, weights } = readSae(dir);
  assert.deepEqual({ ...config, extra: {} }, made);
  assert.deepEqual(config.extra, { metadata: { sae_lens_version: '6.0.0' } }, 'the file says its layout is v6');
  assert.equal(config.architecture, 'standard');
  assert.equal(config.applyBDecToInput, false);
  assert.equal(config.normalizeActivations, 'none');
  assert.equal(config.hookName, 'blocks.19.hook_resid_post');
  assert.deepEqual([config.dIn, config.dSae], [6, 12]);
  assertSame(weights.W_enc, src('encoder_linear.weight').transpose(0, 1).contiguous(), 'W_enc');
  assertSame(weights.W_dec, src('decoder_linear.weight').transpose(0, 1).contiguous(), 'W_dec');
  assertSame(weights.b_enc, src('encoder_linear.bias'), 'b_enc');
  assertSame(weights.b_dec, src('decoder_linear.bias'), 'b_dec');
  const { z, xHat } = forward(config, weights, decodeTensor(out.x));
  assertSame(z, decodeTensor(out.latents as TensorEntry), 'latents', false);
  assertSame(xHat, decodeTensor(out.recon as TensorEntry), 'reconstruction', false);
  assert.throws(() => readGoodfireSae(join(ROOT, 'peer', 'goodfire.pth'), { hookName: '' }), /goodfire\.pth: .*pass hookName/);
});

test('torch.save views and dtypes (transposed, offset, column slice, stepped, expanded, f16, bf16, scalar, empty, shared) read as torch sees them', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const expected = peer().pth.tensors;
  for (const file of ['views.pth', 'views-protocol4.pth']) {
    const got = loadTorchFile(join(ROOT, 'peer', file));
    assert.deepEqual([...got.keys()], Object.keys(expected));
    for (const [name, entry] of Object.entries(expected)) assertSame(got.get(name) as T.Tensor, decodeTensor(entry), `${file}: ${name}`);
  }
  assert.equal(loadTorchFile(join(ROOT, 'peer', 'views.pth'), { dtype: 'f32' }).get('half')?.dtype, 'f32');
});

test('torch.save files that are not a dict of float tensors are refused naming the global: os.system via __reduce__ (never run), int64 storage, a whole module', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  peer();
  const dir = join(ROOT, 'peer');
  assert.throws(() => loadTorchFile(join(dir, 'evil.pth')), /evil\.pth: evil\/data\.pkl: the pickle refers to the global 'posix\.system', which is not allowed.*nothing was executed/);
  assert.equal(existsSync(join(dir, 'ran')), false, 'the payload did not run');
  assert.throws(() => loadTorchFile(join(dir, 'long.pth')), /long\.pth: .*'torch\.LongStorage', which is not allowed/);
  assert.throws(() => loadTorchFile(join(dir, 'module.pth')), /module\.pth: .*'torch\.nn\.modules\.linear\.Linear', which is not allowed/);
  assert.throws(() => readGoodfireSae(join(dir, 'views.pth'), { hookName: 'blocks.0.hook_resid_post' }), /views\.pth: not a Goodfire SAE state_dict: missing encoder_linear\.weight.*unexpected "transposed"/);
});

/** A pickled value in the peer's JSON convention (see bench/peer/sae_files.py, command pickles). */
function plain(v: PickleValue): unknown {
  if (v instanceof PickleDict) return { __dict__: [...v.items].map(([k, x]) => [plain(k), plain(x)]), ordered: v.ordered };
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'bigint') return { int: String(v) };
  if (typeof v === 'number' && !Number.isFinite(v)) return { float: v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan' };
  return v;
}

test('the unpickler reads Python\'s own pickles of plain data at protocols 2 and 4, self-containing tuples included', (t) => {
  if (PEER_MISSING) return t.skip(PEER_MISSING);
  const { pickles, expected, recursive } = peer().pickles;
  const read = (b64: string, source: string) => unpickle(Buffer.from(b64, 'base64'), { source, globals: {} });
  for (const [protocol, b64] of Object.entries(pickles)) assert.deepEqual(plain(read(b64, `protocol ${protocol}`)), expected, `protocol ${protocol}`);
  for (const [name, b64] of Object.entries(recursive)) {
    const tuple = read(b64, name) as PickleValue[];
    assert.equal(((tuple[0] as PickleValue[])[0]), tuple, `${name}: the tuple's list holds the tuple itself`);
  }
});

// ---- no peer needed ---------------------------------------------------------------

test('a pre-6.0 flat topk cfg (activation_fn_str topk + activation_fn_kwargs.k, boolean normalize_activations) maps to v6 fields', () => {
  const dir = folder('flat-topk');
  const { config, weights } = randomSae('topk');
  writeSae(dir, config, weights);
  writeFileSync(join(dir, SAE_CONFIG_FILE), JSON.stringify({
    model_name: 'gpt2-small', hook_point: 'blocks.3.hook_resid_pre', hook_point_layer: 3, hook_point_head_index: null,
    d_in: 4, d_sae: 8, dtype: 'torch.float32', device: 'cuda', activation_fn_str: 'topk', activation_fn_kwargs: { k: 5 },
    apply_b_dec_to_input: false, normalize_activations: true, context_size: 128, finetuning_scaling_factor: false, sae_lens_version: '5.9.1',
  }));
  const read = readSae(dir).config;
  assert.equal(read.architecture, 'topk');
  assert.equal(read.k, 5);
  assert.equal(read.normalizeActivations, 'expected_average_only_in');
  assert.equal(read.hookName, 'blocks.3.hook_resid_pre');
  assert.equal(read.modelName, 'gpt2-small');
  assert.equal(read.applyBDecToInput, false);
  assert.deepEqual(read.extra, { hook_point_layer: 3, metadata: { hook_head_index: null, context_size: 128, sae_lens_version: '5.9.1' } });
  editJson(join(dir, SAE_CONFIG_FILE), (c) => { c['normalize_activations'] = false; c['activation_fn_str'] = 'relu'; c['architecture'] = 'standard'; });
  assert.equal(readSae(dir).config.normalizeActivations, 'none');
  assert.equal(readSae(dir).config.architecture, 'standard');
  editJson(join(dir, SAE_CONFIG_FILE), (c) => { c['activation_fn_str'] = 'tanh-relu'; });
  assert.throws(() => readSae(dir), /cfg\.json: activation_fn "tanh-relu" is not supported/);
});

test('a read/write round trip keeps the cfg.json fields basin does not model, and writes v6 (sae_lens_version ≥ 6)', () => {
  const dir = folder('round-trip');
  const { config, weights } = randomSae('standard');
  writeSae(dir, { ...config, extra: { lr: 3e-4, metadata: { context_size: 64, seqpos_slice: [1, null], neuronpedia_id: 'x/1' } } }, weights);
  const cfg = JSON.parse(readFileSync(join(dir, SAE_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(cfg, {
    d_in: 4, d_sae: 8, dtype: 'float32', device: 'cpu', apply_b_dec_to_input: true, normalize_activations: 'none', reshape_activations: 'none',
    architecture: 'standard', lr: 3e-4,
    metadata: { model_name: 'tiny', hook_name: 'blocks.0.hook_resid_post', context_size: 64, seqpos_slice: [1, null], neuronpedia_id: 'x/1', sae_lens_version: '6.0.0' },
  });
  const once = readSae(dir);
  writeSae(folder('round-trip-2'), once.config, once.weights);
  assert.deepEqual(JSON.parse(readFileSync(join(ROOT, 'round-trip-2', SAE_CONFIG_FILE), 'utf8')), cfg);
  // a flat cfg read and written again is v6: SAELens must not take it for flat
  editJson(join(dir, SAE_CONFIG_FILE), (c) => { Object.assign(c, c['metadata'] as object); delete c['metadata']; c['sae_lens_version'] = '4.0.0'; });
  const flat = readSae(dir);
  writeSae(dir, flat.config, flat.weights);
  const rewritten = JSON.parse(readFileSync(join(dir, SAE_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
  assert.equal((rewritten['metadata'] as Record<string, unknown>)['sae_lens_version'], '6.0.0');
  assert.ok(!('sae_lens_version' in rewritten));
  assert.equal(readSae(dir).config.hookName, 'blocks.0.hook_resid_post');
});

test('scaling_factor: all ones is dropped; other values fold into W_dec with finetuning_scaling_factor, and are refused without it', () => {
  const dir = folder('scaling');
  const { config, weights } = randomSae('standard');
  writeSae(dir, config, weights);
  editWeights(dir, (m) => m.set('scaling_factor', T.ones([8])));
  assertSame(readSae(dir).weights.W_dec, weights.W_dec, 'W_dec with an all-ones scaling_factor');
  const s = T.arange(1, 9).to('f32').div(4).add(0.1);
  editWeights(dir, (m) => m.set('scaling_factor', s));
  assert.throws(() => readSae(dir), /sae_weights\.safetensors: scaling_factor is not all ones \(8 values differ\), but .*cfg\.json does not set finetuning_scaling_factor: true/);
  editJson(join(dir, SAE_CONFIG_FILE), (c) => { c['finetuning_scaling_factor'] = true; });
  assertSame(readSae(dir).weights.W_dec, weights.W_dec.mul(s.unsqueeze(1)), 'W_dec folded', false);
});

test('writeSae folds normScalingFactor (W_enc·s, W_dec/s, b_dec/s) and saves batchtopk as jumprelu', () => {
  const dir = folder('folded');
  const { config, weights } = randomSae('standard');
  writeSae(dir, { ...config, normalizeActivations: 'expected_average_only_in', normScalingFactor: 2 }, weights);
  const read = readSae(dir);
  assert.equal(read.config.normalizeActivations, 'none');
  assertSame(read.weights.W_enc, weights.W_enc.mul(2), 'W_enc');
  assertSame(read.weights.W_dec, weights.W_dec.div(2), 'W_dec');
  assertSame(read.weights.b_dec, weights.b_dec.div(2), 'b_dec');
  writeSae(dir, { ...config, normalizeActivations: 'expected_average_only_in' }, weights);
  assert.equal(readSae(dir).config.normalizeActivations, 'expected_average_only_in');
  const bt = randomSae('batchtopk');
  writeSae(dir, bt.config, bt.weights);
  const saved = readSae(dir);
  assert.equal(saved.config.architecture, 'jumprelu');
  assertSame(saved.weights.threshold as T.Tensor, bt.weights.threshold as T.Tensor, 'threshold');
  assert.throws(() => writeSae(dir, bt.config, { ...bt.weights, threshold: undefined }), /writing .*sae_weights\.safetensors: threshold is missing; a batchtopk SAE needs threshold/);
  writeSae(dir, { ...config, dtype: 'bf16' }, weights);
  assert.equal(readSae(dir).weights.W_enc.dtype, 'bf16');
  assert.equal(readSae(dir).config.dtype, 'bf16');
});

test('sparsity.safetensors is written and read back; writing without one removes a stale file; bad values are refused', () => {
  const dir = folder('sparsity');
  const { config, weights } = randomSae('standard');
  const sparsity = T.tensor([-1, -2, -3, -4, -0.5, -6, -7, -8]);
  writeSae(dir, config, weights, { sparsity });
  assertSame(readSaeSparsity(dir, config) as T.Tensor, sparsity, 'sparsity');
  writeSae(dir, config, weights);
  assert.equal(existsSync(join(dir, SAE_SPARSITY_FILE)), false);
  assert.throws(() => writeSae(dir, config, weights, { sparsity: T.rand([8]) }), /sparsity\.safetensors: sparsity holds .*above 0; it must hold log10 feature densities/);
  assert.throws(() => writeSae(dir, config, weights, { sparsity: T.zeros([7]).sub(1) }), /sparsity\.safetensors: sparsity has shape \[7\], expected \[d_sae\] = \[8\]/);
});

test('hostile SAE folders: each error names the file and the field', () => {
  const { config, weights } = randomSae('jumprelu');
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['wrong shape', (d) => editWeights(d, (m) => m.set('b_dec', T.zeros([5]))), /sae_weights\.safetensors: b_dec has shape \[5\], expected \[4\]/],
    ['d_sae mismatch', (d) => editJson(join(d, SAE_CONFIG_FILE), (c) => { c['d_sae'] = 7; }), /cfg\.json: d_sae is 7, but .*sae_weights\.safetensors: W_enc has 8 latents/],
    ['unknown architecture', (d) => editJson(join(d, SAE_CONFIG_FILE), (c) => { c['architecture'] = 'gated'; }), /cfg\.json: architecture "gated" is not supported; basin reads standard, topk, jumprelu/],
    ['NaN weight', (d) => editWeights(d, (m) => m.set('W_dec', (m.get('W_dec') as T.Tensor).maskedFill(T.eye(8, 4).to('bool'), NaN))), /sae_weights\.safetensors: W_dec holds 4 NaN or infinite values/],
    ['infinite threshold', (d) => editWeights(d, (m) => m.set('threshold', T.full([8], Infinity))), /sae_weights\.safetensors: threshold holds 8 NaN or infinite values/],
    ['missing tensor', (d) => editWeights(d, (m) => m.delete('b_enc')), /sae_weights\.safetensors: tensor b_enc is missing/],
    ['missing threshold', (d) => editWeights(d, (m) => m.delete('threshold')), /sae_weights\.safetensors: threshold is missing; .*cfg\.json says architecture jumprelu/],
    ['unexpected tensor', (d) => editWeights(d, (m) => m.set('W_gate', T.zeros([1]))), /sae_weights\.safetensors: unexpected tensor "W_gate"/],
    ['hook_z', (d) => editJson(join(d, SAE_CONFIG_FILE), (c) => { c['reshape_activations'] = 'hook_z'; }), /cfg\.json: reshape_activations "hook_z" .* is not supported/],
    ['float64', (d) => editJson(join(d, SAE_CONFIG_FILE), (c) => { c['dtype'] = 'float64'; }), /cfg\.json: dtype "float64" is not supported/],
    ['d_in', (d) => editJson(join(d, SAE_CONFIG_FILE), (c) => { c['d_in'] = '4'; }), /cfg\.json: d_in must be a positive integer, got "4"/],
    ['hook name', (d) => editJson(join(d, SAE_CONFIG_FILE), (c) => { (c['metadata'] as Record<string, unknown>)['hook_name'] = 3; }), /cfg\.json: metadata\.hook_name must be a string or null/],
    ['bad JSON', (d) => writeFileSync(join(d, SAE_CONFIG_FILE), '{"d_in": 4,'), /cfg\.json: not valid JSON/],
    ['no weights', (d) => rmSync(join(d, SAE_WEIGHTS_FILE)), /sae_weights\.safetensors: not found; a SAELens SAE folder holds cfg\.json and sae_weights\.safetensors/],
  ];
  for (const [name, spoil, error] of cases) {
    const dir = folder(`hostile-${name.replace(/ /g, '-')}`);
    writeSae(dir, config, weights);
    spoil(dir);
    assert.throws(() => readSae(dir), error, name);
  }
  const dir = folder('hostile-write');
  assert.throws(() => writeSae(dir, config, { ...weights, W_enc: T.zeros([8, 4]) }), /writing .*sae_weights\.safetensors: W_enc has shape \[8, 4\], expected \[4, 8\]/);
  assert.throws(() => writeSae(dir, { ...config, architecture: 'standard' }, weights), /writing .*: threshold is present, but a standard SAE has none/);
  assert.throws(() => writeSae(dir, config, { ...weights, b_enc: T.full([8], NaN) }), /writing .*sae_weights\.safetensors: b_enc holds 8 NaN/);
  assert.throws(() => writeSae(dir, { ...config, architecture: 'topk', k: 0 }, { ...weights, threshold: undefined }), /writing .*cfg\.json: config: k must be a positive integer, got 0/);
});

// ---- .pth files built byte by byte -------------------------------------------------

/** Pickle opcodes, written out (protocol 2, as torch.save writes). */
const P = {
  bytes: (...b: number[]) => Buffer.from(b),
  str: (s: string) => { const u = Buffer.from(s); const h = Buffer.alloc(5); h[0] = 0x58; h.writeUInt32LE(u.length, 1); return Buffer.concat([h, u]); },
  int: (n: number) => Buffer.from([0x4b, n]),
  global: (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'latin1'),
  tuple: (...items: Buffer[]) => Buffer.concat([Buffer.from([0x28]), ...items, Buffer.from([0x74])]),
};
const PROTO = P.bytes(0x80, 0x02);
const STOP = P.bytes(0x2e);
const REDUCE = P.bytes(0x52);
const ORDERED_DICT = Buffer.concat([P.global('collections', 'OrderedDict'), P.bytes(0x29), REDUCE]);

/** _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict()) */
function tensorPickle(key: string, numel: number, offset: number, size: number[], stride: number[]): Buffer {
  return Buffer.concat([
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.tuple(
      P.tuple(P.str('storage'), P.global('torch', 'FloatStorage'), P.str(key), P.str('cpu'), P.int(numel)), P.bytes(0x51),
      P.int(offset), P.tuple(...size.map(P.int)), P.tuple(...stride.map(P.int)), P.bytes(0x89), ORDERED_DICT,
    ),
    REDUCE,
  ]);
}

function stateDictPickle(items: [string, Buffer][]): Buffer {
  return Buffer.concat([PROTO, ORDERED_DICT, ...items.flatMap(([k, v]) => [P.str(k), v, P.bytes(0x73)]), STOP]);
}

const floats = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

function pth(name: string, pickle: Buffer, storages: [string, Uint8Array][] = []): string {
  const path = join(folder('pth'), name);
  writeFileSync(path, storedZip([['archive/data.pkl', pickle], ...storages.map(([k, v]): [string, Uint8Array] => [`archive/data/${k}`, v]), ['archive/byteorder', Buffer.from('little')]]));
  return path;
}

test('a .pth built byte by byte reads (a transposed view, an offset), and forbidden globals, REDUCE of a storage type, BUILD on a dict and truncated pickles are refused', () => {
  const good = pth('good.pth', stateDictPickle([
    ['t', tensorPickle('0', 6, 0, [3, 2], [1, 3])],
    ['row', tensorPickle('0', 6, 3, [3], [1])],
  ]), [['0', floats([0, 1, 2, 3, 4, 5])]]);
  const got = loadTorchFile(good);
  assert.deepEqual(got.get('t')?.toNested(), [[0, 3], [1, 4], [2, 5]]);
  assert.deepEqual(got.get('row')?.toNested(), [3, 4, 5]);
  const hostile: [string, Buffer, RegExp][] = [
    ['os.system', Buffer.concat([PROTO, P.global('os', 'system'), P.str('echo pwned'), P.bytes(0x85), REDUCE, STOP]), /data\.pkl: the pickle refers to the global 'os\.system', which is not allowed/],
    ['builtins.eval', Buffer.concat([PROTO, P.global('builtins', 'eval'), STOP]), /the global 'builtins\.eval', which is not allowed/],
    ['REDUCE of a storage', Buffer.concat([PROTO, P.global('torch', 'FloatStorage'), P.bytes(0x29), REDUCE, STOP]), /REDUCE of torch\.FloatStorage is not allowed/],
    ['BUILD on a dict', Buffer.concat([PROTO, P.bytes(0x7d, 0x7d), P.bytes(0x62), STOP]), /BUILD may only set the attributes of an OrderedDict, not of a dict/],
    ['NEWOBJ', Buffer.concat([PROTO, ORDERED_DICT, P.bytes(0x29, 0x81), STOP]), /opcode NEWOBJ is not allowed/],
    ['truncated pickle', Buffer.concat([PROTO, P.bytes(0x58, 0xff, 0, 0, 0), Buffer.from('abc')]), /data\.pkl: the pickle ends at byte 10, inside an opcode; the file is truncated/],
    ['not a dict', Buffer.concat([PROTO, P.int(3), STOP]), /data\.pkl: the file holds the number 3, not a dict of tensors/],
    ['a value that is not a tensor', stateDictPickle([['lr', P.int(3)]]), /data\.pkl: "lr" is the number 3, not a tensor/],
    ['out of range', stateDictPickle([['t', tensorPickle('0', 6, 2, [2, 3], [3, 1])]]), /tensor "t" \(offset 2, size \[2,3\], stride \[3,1\]\) reaches element 7 of storage archive\/data\/0, which has 6/],
    ['missing storage', stateDictPickle([['t', tensorPickle('9', 6, 0, [6], [1])]]), /tensor "t": its storage archive\/data\/9 is missing/],
  ];
  for (const [name, pickle, error] of hostile) {
    assert.throws(() => loadTorchFile(pth(`${name}.pth`, pickle, [['0', floats([0, 1, 2, 3, 4, 5])]])), error, name);
  }
  const bigEndian = pth('big.pth', stateDictPickle([]));
  writeFileSync(bigEndian, storedZip([['archive/data.pkl', stateDictPickle([])], ['archive/byteorder', Buffer.from('big')]]));
  assert.throws(() => loadTorchFile(bigEndian), /big\.pth: archive\/byteorder says 'big'; only little-endian archives are read/);
});

test('a truncated .pth, a file that is not a zip and a legacy torch.save file are refused naming the file', () => {
  const path = pth('truncated.pth', stateDictPickle([['t', tensorPickle('0', 6, 0, [6], [1])]]), [['0', floats([0, 1, 2, 3, 4, 5])]]);
  const size = readFileSync(path).length;
  truncateSync(path, size - 30);
  assert.throws(() => loadTorchFile(path), /truncated\.pth: no end-of-central-directory record in the last \d+ bytes; the file is truncated or not a zip archive/);
  const legacy = join(ROOT, 'pth', 'legacy.pth');
  writeFileSync(legacy, Buffer.concat([PROTO, P.int(1), STOP]));
  assert.throws(() => loadTorchFile(legacy), /legacy\.pth: .*the legacy \(pre-1\.6\) format; save it again with torch ≥ 1\.6/);
  // an archive whose entry runs past the central directory: its data were cut out
  const zip = storedZip([['archive/data.pkl', stateDictPickle([])]]);
  const cut = Buffer.concat([zip.subarray(0, 40), zip.subarray(60)]);
  cut.writeUInt32LE(cut.readUInt32LE(cut.length - 6) - 20, cut.length - 6);
  const cutPath = join(ROOT, 'pth', 'cut.pth');
  writeFileSync(cutPath, cut);
  assert.throws(() => loadTorchFile(cutPath), /cut\.pth: zip entry "archive\/data\.pkl" \(bytes \d+\.\.\d+\) runs past the start of the central directory/);
});

test('500 random corruptions of a .pth each load or fail with an Error naming the file (no crash, no hang)', () => {
  const path = pth('fuzz.pth', stateDictPickle([
    ['t', tensorPickle('0', 6, 0, [3, 2], [1, 3])],
    ['u', tensorPickle('1', 2, 0, [2], [1])],
  ]), [['0', floats([0, 1, 2, 3, 4, 5])], ['1', floats([6, 7])]]);
  const original = readFileSync(path);
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  let failures = 0;
  for (let i = 0; i < 500; i++) {
    const bytes = Buffer.from(original);
    for (let j = 0; j <= next(4); j++) bytes[next(bytes.length)] = next(256);
    writeFileSync(path, bytes);
    try {
      for (const t of loadTorchFile(path).values()) t.dispose();
    } catch (e) {
      assert.ok(e instanceof Error && e.message.startsWith(`${path}: `), String(e));
      failures++;
    }
  }
  assert.ok(failures > 100, `${failures} of 500 corruptions were refused`);
});

test('Goodfire files with missing keys or mismatched shapes are refused naming the key', () => {
  const storage = floats(Array.from({ length: 6 }, (_, i) => i));
  const goodfire = (decoderBias: number) => pth(`goodfire-${decoderBias}.pth`, stateDictPickle([
    ['encoder_linear.weight', tensorPickle('0', 6, 0, [3, 2], [2, 1])],
    ['encoder_linear.bias', tensorPickle('0', 6, 0, [3], [1])],
    ['decoder_linear.weight', tensorPickle('0', 6, 0, [2, 3], [3, 1])],
    ['decoder_linear.bias', tensorPickle('0', 6, 0, [decoderBias], [1])],
  ]), [['0', storage]]);
  const { config, weights } = readGoodfireSae(goodfire(2), { hookName: 'blocks.0.hook_resid_post' });
  assert.deepEqual([config.dIn, config.dSae], [2, 3]);
  assert.deepEqual(weights.W_enc.toNested(), [[0, 2, 4], [1, 3, 5]]);
  assert.deepEqual(weights.W_dec.toNested(), [[0, 3], [1, 4], [2, 5]]);
  assert.throws(() => readGoodfireSae(goodfire(3), { hookName: 'blocks.0.hook_resid_post' }), /goodfire-3\.pth: decoder_linear\.bias has shape \[3\], expected \[2\] \(d_sae 3, d_in 2 from encoder_linear\.weight\)/);
  const partial = pth('goodfire-partial.pth', stateDictPickle([['encoder_linear.weight', tensorPickle('0', 6, 0, [3, 2], [2, 1])]]), [['0', storage]]);
  assert.throws(() => readGoodfireSae(partial, { hookName: 'blocks.0.hook_resid_post' }), /goodfire-partial\.pth: not a Goodfire SAE state_dict: missing encoder_linear\.bias, decoder_linear\.weight, decoder_linear\.bias/);
});
