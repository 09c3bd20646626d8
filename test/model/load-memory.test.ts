// Loading a checkpoint must not hold two copies of the weights: a child process loads a ~210 MB
// f32 llama checkpoint (single file, then sharded) with loadModel, and its peak RSS during the
// load (VmHWM, reset just before it) may exceed its RSS before the load by at most 1.3× the
// weights' size. Linux only (/proc/self/status, /proc/self/clear_refs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { writeShardedCheckpoint } from '../../src/io/safetensors-checkpoint.js';

const LIMIT = 1.3;
// llama, d_model 1024, 2 layers, MLP 2048, vocab 32000, tied embeddings: 52.8M f32 parameters (211 MB),
// of which the embedding is 131 MB (so even a transient second copy of one tensor shows).
const [D, LAYERS, MLP, VOCAB] = [1024, 2, 2048, 32000];
const linux = existsSync('/proc/self/clear_refs') && existsSync('/proc/self/status');
const dir = mkdtempSync(join(tmpdir(), 'basin-load-memory-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function shapes(): [string, number[]][] {
  const out: [string, number[]][] = [['model.embed_tokens.weight', [VOCAB, D]], ['model.norm.weight', [D]]];
  for (let l = 0; l < LAYERS; l++) {
    const p = `model.layers.${l}`;
    out.push([`${p}.input_layernorm.weight`, [D]], [`${p}.post_attention_layernorm.weight`, [D]]);
    for (const m of ['q', 'k', 'v', 'o']) out.push([`${p}.self_attn.${m}_proj.weight`, [D, D]]);
    out.push([`${p}.mlp.gate_proj.weight`, [MLP, D]], [`${p}.mlp.up_proj.weight`, [MLP, D]], [`${p}.mlp.down_proj.weight`, [D, MLP]]);
  }
  return out;
}

/** Random f32 weights as safetensors entries, one tensor materialized at a time. */
function* weights(): Iterable<TensorToWrite> {
  const g = T.Generator.seeded(7);
  for (const [name, shape] of shapes()) {
    const bytes = T.scope(() => T.randn(shape, { generator: g }).mul(0.02).toBytes());
    yield { name, dtype: 'F32', shape, bytes };
  }
}

function writeFolder(folder: string, sharded: boolean): number {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.json'), JSON.stringify({
    model_type: 'llama', hidden_size: D, intermediate_size: MLP, num_hidden_layers: LAYERS,
    num_attention_heads: 16, num_key_value_heads: 16, vocab_size: VOCAB, max_position_embeddings: 2048,
    rms_norm_eps: 1e-5, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  }));
  const all = [...weights()];
  if (sharded) writeShardedCheckpoint(folder, all, 64 << 20, { format: 'pt' });
  else writeSafetensors(join(folder, 'model.safetensors'), all, { format: 'pt' });
  return all.reduce((n, t) => n + t.bytes.length, 0);
}

/** Loads `folder` in a fresh node process; returns its RSS before the load and its peak during it. */
function measureLoad(folder: string): { baseline: number; peak: number; parameters: number } {
  const tensorUrl = new URL('../../src/tensor/index.js', import.meta.url).href;
  const modelUrl = new URL('../../src/model/index.js', import.meta.url).href;
  const child = `
    import { readFileSync, writeFileSync } from 'node:fs';
    const T = await import(${JSON.stringify(tensorUrl)});
    const { loadModel } = await import(${JSON.stringify(modelUrl)});
    T.scope(() => T.randn([64, 64]).matmul(T.randn([64, 64])).sum().item()); // engine warmed up before the baseline
    const kb = (field) => Number(new RegExp('^' + field + ':\\\\s+(\\\\d+) kB', 'm').exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    writeFileSync('/proc/self/clear_refs', '5'); // VmHWM := current RSS
    const baseline = kb('VmRSS');
    const { model } = await loadModel(${JSON.stringify(folder)});
    const peak = kb('VmHWM');
    console.log(JSON.stringify({ baseline, peak, parameters: model.parameterCount }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', env: { ...process.env, BASIN_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`child load failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { baseline: number; peak: number; parameters: number };
}

for (const sharded of [false, true]) {
  const layout = sharded ? 'sharded (64 MiB shards + index)' : 'single model.safetensors';
  test(`loading a ~210 MB f32 checkpoint, ${layout}, peaks below ${LIMIT}× the weights' size`, { skip: !linux && 'needs Linux /proc/self/clear_refs' }, () => {
    const folder = join(dir, sharded ? 'sharded' : 'single');
    const weightBytes = writeFolder(folder, sharded);
    if (sharded) assert.ok(readdirSync(folder).includes('model.safetensors.index.json'), 'the checkpoint was not sharded');
    const { baseline, peak, parameters } = measureLoad(folder);
    assert.equal(parameters * 4, weightBytes, 'the child loaded a different checkpoint');
    const ratio = (peak - baseline) / weightBytes;
    assert.ok(ratio >= 0.9, `peak RSS grew by only ${ratio.toFixed(2)}× the weights: the measurement does not see the loaded weights`);
    assert.ok(ratio <= LIMIT, `peak RSS during load grew by ${((peak - baseline) / 2 ** 20).toFixed(0)} MiB = ${ratio.toFixed(2)}× the weights (${(weightBytes / 2 ** 20).toFixed(0)} MiB); a second copy is being held`);
    rmSync(folder, { recursive: true, force: true });
  });
}
