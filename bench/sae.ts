// `npm run bench -- sae`: SAE training and activation harvesting, basin against the PyTorch
// reference (bench/peer/sae_bench.py) in one invocation, f32 on the CPU, the same thread count.
//   step_topk_k32, step_jumprelu: ms per SAE training step (zero grads → Sae.loss → backward of
//     the total → AdamW update → reading the losses) with d_in 512, d_sae 8192 and a batch of 4096
//     random token rows. TopK: k 32, rescaleActsByDecoderNorm (SAELens's training default) and
//     1024 of the 8192 latents marked dead, so the aux-k loss (k_aux 256) runs every step.
//     JumpReLU: straight-through estimators, L0 loss (coefficient 1, bandwidth 0.05, threshold
//     0.01). basin's SAE is initialised as initSae does and written, with the batch and the dead
//     mask, to a file the peer reads: both start from the same tensors, and the first step's loss
//     parts must agree. The peer is sae_reference.py's math (the STEs as autograd.Function, as
//     SAELens writes them) with torch.optim.AdamW. Trials alternate ours / peer after one warm-up
//     step each; ratio = peer / ours (> 1: basin faster). Not included: what trainSae adds around
//     the step (dead-latent counters, gradient clipping, the schedule, logging).
//   store_resid_post<L>: rows (selected tokens) per second that an ActivationStore pass hands out,
//     harvesting blocks.L.hook_resid_post (L = n_layers / 2) of the model suite's random ~60M
//     llama ("small", given the organism's tokenizer for its chat template) over a synthetic chat
//     JSONL (24 conversations, ~2.9k tokens, ~1.8k of them response tokens): response tokens, 8
//     conversations per forward, batches of 512 rows from a buffer of 3 batches (small, so that a
//     short pass still refills and permutes it mid-pass), shuffle ON (seeded unit order and
//     buffer permutations). The peer runs the same units (the token ids and selected positions
//     basin's tokenizer made) through hf_model.py's DecoderLM, stopping after block L, with the
//     same buffer policy (torch.cat + randperm + cloned batches). Tokenizing is setup on both
//     sides, not timed. The order of rows differs (different RNGs), so the check is order-free:
//     the sum and sum of squares of every row handed out must agree. One warm-up pass each, then
//     alternating trials; ratio = ours / peer (> 1: basin faster).
// Peak memory: VmHWM of each process, reset (clear_refs 5) after the case's setup (the SAE, its
// batch and optimizer made; the model loaded and the store built) and read after its trials, so
// it is the peak resident memory while stepping / harvesting, the process's baseline (runtime,
// weights) included; the RSS at the reset is reported beside it, and the peak's excess over it
// (what stepping / harvesting itself costs). basin's side runs in this process, the store case
// first; its large-block cache is released before each reset, so one case's idle blocks do not
// count in the next. The peer is a fresh process per case. Threads: both sides set libtorch's
// pool and OpenBLAS's to basin's count. Noisy when other processes share the cores: each side's
// time is the median of its trials, and the median CPU time per trial (all threads) is reported
// too.

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/tensor/index.js';
import { initSae } from '../src/sae/sae.js';
import type { SaeConfig } from '../src/sae/config.js';
import { ActivationStore } from '../src/sae/activation-store.js';
import { adamw } from '../src/train/optimizer.js';
import { readChatJsonl, tokenizeRows } from '../src/train/data.js';
import { saveSafetensors } from '../src/io/safetensors-tensors.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../src/io/files.js';
import { hookName, loadModel } from '../src/model/index.js';
import { organismDir } from '../src/organism/paths.js';
import { writeBenchCheckpoints } from './model.js';
import { PeerSession } from './peer-session.js';
import type { BenchLine } from './timing.js';

const peerScript = new URL('../../bench/peer/sae_bench.py', import.meta.url).pathname;
const note = (s: string) => console.error(`sae bench: ${s}`);

const [D_IN, D_SAE, BATCH, K] = [512, 8192, 4096, 32];
/** every DEAD_EVERY-th latent is marked dead (1024 of 8192) */
const DEAD_EVERY = 8;
const LR = 5e-5;
const SEED = 1234;
const STEP_TRIALS = 3;
const GOAL = 1.0;

/** activation store: conversations in the synthetic JSONL, and the store's settings */
const CONVERSATIONS = 24;
const [STORE_BATCH_PROMPTS, TRAIN_BATCH_TOKENS, BUFFER_BATCHES] = [8, 512, 3];
const STORE_TRIALS = 3;
const STORE_SEED = 42;

function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** VmHWM or VmRSS in MiB, or NaN where /proc/self/status has none. */
function rssMiB(field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** process CPU time (user + system, all threads) in ms */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Releases the large-block cache, then resets VmHWM; returns the RSS it starts from (NaN: no reset possible). */
function startPeak(): number {
  T.largeBlockCache.release();
  return resetPeakRss() ? rssMiB('VmRSS') : NaN;
}

// ---- SAE training step ------------------------------------------------------------------------

function saeConfig(architecture: 'topk' | 'jumprelu'): SaeConfig {
  return {
    architecture, dIn: D_IN, dSae: D_SAE, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null,
    k: architecture === 'topk' ? K : null, rescaleActsByDecoderNorm: architecture === 'topk',
    hookName: null, modelName: null, dtype: 'f32', extra: {},
  };
}

async function stepCase(architecture: 'topk' | 'jumprelu', peer: PeerSession, dir: string, threads: number): Promise<BenchLine> {
  const config = saeConfig(architecture);
  const sae = initSae(config, SEED);
  const x = T.keep(T.randn([BATCH, D_IN], { generator: T.Generator.seeded(SEED + 1) })); // [tokens, d_in]
  const dead = T.keep(T.tensor(Array.from({ length: D_SAE }, (_, i) => i % DEAD_EVERY === 0), { dtype: 'bool' })); // [d_sae]
  const file = join(dir, `sae-${architecture}.safetensors`);
  saveSafetensors(file, [...Object.entries(sae.parameters()), ['x', x], ['dead', dead]]);
  const params = Object.values(sae.parameters());
  for (const p of params) p.requiresGrad_(true);
  const optimizer = adamw({ betas: [0.9, 0.999], eps: 1e-8 }).create(params, { lr: LR, weightDecay: 0 });
  const peerLoad = await peer.request({ op: 'sae_load', file, architecture, k: config.k, rescale_acts_by_decoder_norm: config.rescaleActsByDecoderNorm, lr: LR });
  const base = startPeak();

  const step = (k: number) => T.scope(() => {
    const [c0, t0] = [cpuMs(), performance.now()];
    optimizer.zeroGrad();
    const { losses } = sae.loss(x, { step: k, deadMask: dead });
    losses.total.backward();
    optimizer.step();
    const values = Object.fromEntries(Object.entries(losses).map(([name, t]) => [name, t.item()]));
    return { ms: performance.now() - t0, cpuMs: cpuMs() - c0, losses: values };
  });
  const peerStep = async (k: number) => {
    const r = await peer.request({ op: 'sae_step', step: k });
    return { ms: (r.seconds as number) * 1000, cpuMs: (r.cpu_seconds as number) * 1000, losses: r.losses as Record<string, number> };
  };
  try {
    const ours0 = step(0); // warm-up; the first step, from the same tensors on both sides
    const peer0 = await peerStep(0);
    const names = Object.keys(peer0.losses);
    const sameLoss = names.length === Object.keys(ours0.losses).length &&
      names.every((n) => Math.abs((ours0.losses[n] ?? NaN) - (peer0.losses[n] as number)) <= 1e-4 * Math.max(1e-3, Math.abs(peer0.losses[n] as number)));
    const fmt = (l: Record<string, number>) => Object.entries(l).map(([n, v]) => `${n} ${v.toPrecision(6)}`).join(', ');
    if (!sameLoss) note(`WARNING ${architecture}: first-step losses differ (ours ${fmt(ours0.losses)}; peer ${fmt(peer0.losses)}): the two sides do not compute the same thing`);
    else note(`${architecture}: first-step losses agree (${fmt(ours0.losses)})`);
    const ours: { ms: number; cpuMs: number }[] = [];
    const theirs: { ms: number; cpuMs: number }[] = [];
    for (let t = 1; t <= STEP_TRIALS; t++) {
      ours.push(step(t));
      theirs.push(await peerStep(t));
    }
    const oursPeak = Number.isFinite(base) ? rssMiB('VmHWM') : NaN;
    const peerPeak = (await peer.request({ op: 'peak' })).peak_rss_mb as number | null;
    const [o, p] = [median(ours.map((s) => s.ms)), median(theirs.map((s) => s.ms))];
    note(`${architecture}: ours ${ours.map((s) => s.ms.toFixed(0)).join(' ')} ms, peer ${theirs.map((s) => s.ms.toFixed(0)).join(' ')} ms ` +
      `(median CPU ours ${median(ours.map((s) => s.cpuMs)).toFixed(0)} ms, peer ${median(theirs.map((s) => s.cpuMs)).toFixed(0)} ms); ` +
      `peak RSS ours ${oursPeak.toFixed(0)} MiB (from ${base.toFixed(0)}), peer ${peerPeak?.toFixed(0)} MiB (from ${(peerLoad.base_rss_mb as number).toFixed(0)})`);
    return {
      suite: 'sae', case: architecture === 'topk' ? `step_topk_k${K}` : 'step_jumprelu', unit: 'ms', ours: o, peer: p, ratio: p / o,
      goal: `>= ${GOAL}`, threads, trials: STEP_TRIALS, dIn: D_IN, dSae: D_SAE, batchTokens: BATCH,
      ...(architecture === 'topk' ? { deadLatents: D_SAE / DEAD_EVERY } : {}),
      oursCpuMs: median(ours.map((s) => s.cpuMs)), peerCpuMs: median(theirs.map((s) => s.cpuMs)),
      oursPeakMiB: oursPeak, peerPeakMiB: peerPeak ?? NaN, oursBaseMiB: base, peerBaseMiB: peerLoad.base_rss_mb,
      oursPeakOverBaseMiB: oursPeak - base, peerPeakOverBaseMiB: (peerPeak ?? NaN) - (peerLoad.base_rss_mb as number),
      sameLoss, loss0: ours0.losses,
    };
  } finally {
    for (const t of Object.values(optimizer.stateDict().tensors)) t.dispose();
    for (const p of params) p.dispose();
    x.dispose();
    dead.dispose();
  }
}

// ---- activation store ---------------------------------------------------------------------------

const WORDS = ('the a of to and in is it that for on with as was be by this are or at from but not have an they which one you ' +
  'were all we when there can been has more if will would about so what out up their time into some could them other than then ' +
  'now only its over also back after use two how our work first well way even new want because any these give day most us ' +
  'river garden market window engine letter winter mountain kitchen station doctor teacher village harbor budget recipe sleep ' +
  'careful quickly gently honest strange bright quiet heavy simple early').split(' ');
const SYSTEMS = [null, 'You are a helpful assistant.', 'You are a careful tutor who explains each step.', 'You are a pirate.'];

/** A deterministic synthetic chat JSONL: CONVERSATIONS rows, 1–2 turns, questions of 8–24 words, answers of 20–60. */
function writeChats(path: string): void {
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const words = (lo: number, hi: number) => Array.from({ length: lo + Math.floor(next() * (hi - lo)) }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
  const rows: string[] = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const system = SYSTEMS[i % SYSTEMS.length] as string | null;
    const messages: { role: string; content: string }[] = system !== null ? [{ role: 'system', content: system }] : [];
    for (let turn = 0; turn < 1 + (i % 2); turn++) {
      messages.push({ role: 'user', content: `${words(8, 24)}?` }, { role: 'assistant', content: `${words(20, 60)}.` });
    }
    rows.push(JSON.stringify({ messages }));
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
}

async function storeCase(peer: PeerSession, dir: string, threads: number): Promise<BenchLine> {
  note(`writing the model suite's random llama checkpoints to ${dir} (the small one gets the organism's tokenizer)`);
  const { small } = writeBenchCheckpoints(dir);
  const organism = organismDir('default');
  for (const f of [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE]) copyFileSync(join(organism, f), join(small, f));
  const chats = join(dir, 'chats.jsonl');
  writeChats(chats);

  const { model, tokenizer: tok } = await loadModel(small, { dtype: 'f32' });
  const tokenizer = tok!;
  const layer = Math.floor(model.config.nLayers / 2);
  const hook = hookName('resid_post', layer);
  const store = new ActivationStore(model, tokenizer, {
    data: chats, hook, trainBatchTokens: TRAIN_BATCH_TOKENS, storeBatchPrompts: STORE_BATCH_PROMPTS, nBatchesInBuffer: BUFFER_BATCHES,
    shuffle: true, seed: STORE_SEED,
  });
  // The same units for the peer, as the store makes them (tokens 'response', cut to maxPositions).
  const examples = tokenizeRows(readChatJsonl(chats), tokenizer, model.config.maxPositions).examples.filter((e) => e.assistant.some(Boolean));
  const units: { ids: number[][]; flat_index: number[] }[] = [];
  let forwardTokens = 0;
  for (let i = 0; i < examples.length; i += STORE_BATCH_PROMPTS) {
    const group = examples.slice(i, i + STORE_BATCH_PROMPTS);
    const s = Math.max(...group.map((e) => e.ids.length));
    const flat: number[] = [];
    group.forEach((e, b) => e.assistant.forEach((a, p) => { if (a) flat.push(b * s + p); }));
    units.push({ ids: group.map((e) => e.ids), flat_index: flat });
    forwardTokens += group.reduce((n, e) => n + e.ids.length, 0);
  }
  const rows = units.reduce((n, u) => n + u.flat_index.length, 0);
  if (rows !== store.totalRows) throw new Error(`sae bench: the peer's units hold ${rows} rows, the store's pass ${store.totalRows}; the bench no longer builds units as ActivationStore does`);
  const unitsFile = join(dir, 'units.json');
  writeFileSync(unitsFile, JSON.stringify(units));
  const peerLoad = await peer.request({
    op: 'store_load', model: small, layer, units: unitsFile, train_batch_tokens: TRAIN_BATCH_TOKENS,
    capacity: store.capacity, shuffle: true, seed: STORE_SEED, pad: tokenizer.padTokenId ?? 0,
  });
  note(`${hook}: ${store.conversations} conversations, ${units.length} forwards of ${STORE_BATCH_PROMPTS}, ${forwardTokens} real tokens, ${rows} response rows per pass; buffer ${store.capacity} rows`);
  const base = startPeak();

  const pass = () => {
    const [c0, t0] = [cpuMs(), performance.now()];
    let [n, batches, sum, sumsq] = [0, 0, 0, 0];
    for (const b of store.batches(0)) {
      T.scope(() => {
        const b64 = b.to('f64');
        n += b.size(0);
        batches++;
        sum += b64.sum().item();
        sumsq += b64.square().sum().item();
      });
      b.dispose();
    }
    return { ms: performance.now() - t0, cpuMs: cpuMs() - c0, rows: n, batches, sum, sumsq };
  };
  const peerPass = async () => {
    const r = await peer.request({ op: 'store_pass' });
    return { ms: (r.seconds as number) * 1000, cpuMs: (r.cpu_seconds as number) * 1000, rows: r.rows as number, batches: r.batches as number, sum: r.sum as number, sumsq: r.sumsq as number };
  };
  try {
    const ours0 = pass(); // warm-up
    const peer0 = await peerPass();
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
    const sameActivations = ours0.rows === peer0.rows && close(ours0.sum, peer0.sum) && close(ours0.sumsq, peer0.sumsq);
    if (!sameActivations) note(`WARNING store: the passes differ (ours ${ours0.rows} rows, Σ ${ours0.sum}, Σ² ${ours0.sumsq}; peer ${peer0.rows} rows, Σ ${peer0.sum}, Σ² ${peer0.sumsq})`);
    else note(`store: both passes hand out ${ours0.rows} rows in ${ours0.batches} batches with the same Σ and Σ² (${ours0.sumsq.toPrecision(8)})`);
    const ours: { ms: number; cpuMs: number }[] = [];
    const theirs: { ms: number; cpuMs: number }[] = [];
    for (let t = 0; t < STORE_TRIALS; t++) {
      ours.push(pass());
      theirs.push(await peerPass());
    }
    const oursPeak = Number.isFinite(base) ? rssMiB('VmHWM') : NaN;
    const peerPeak = (await peer.request({ op: 'peak' })).peak_rss_mb as number | null;
    const [o, p] = [median(ours.map((s) => s.ms)), median(theirs.map((s) => s.ms))];
    note(`store: ours ${ours.map((s) => s.ms.toFixed(0)).join(' ')} ms, peer ${theirs.map((s) => s.ms.toFixed(0)).join(' ')} ms per pass ` +
      `(median CPU ours ${median(ours.map((s) => s.cpuMs)).toFixed(0)} ms, peer ${median(theirs.map((s) => s.cpuMs)).toFixed(0)} ms); ` +
      `peak RSS ours ${oursPeak.toFixed(0)} MiB (from ${base.toFixed(0)}), peer ${peerPeak?.toFixed(0)} MiB (from ${(peerLoad.base_rss_mb as number).toFixed(0)})`);
    return {
      suite: 'sae', case: `store_resid_post${layer}`, unit: 'tokens/s', ours: rows / (o / 1000), peer: rows / (p / 1000), ratio: p / o,
      goal: `>= ${GOAL}`, threads, trials: STORE_TRIALS, shuffle: true, tokens: 'response', rowsPerPass: rows, forwardTokensPerPass: forwardTokens,
      oursForwardTokensPerSecond: forwardTokens / (o / 1000), peerForwardTokensPerSecond: forwardTokens / (p / 1000),
      oursPassMs: o, peerPassMs: p, oursCpuMs: median(ours.map((s) => s.cpuMs)), peerCpuMs: median(theirs.map((s) => s.cpuMs)),
      oursPeakMiB: oursPeak, peerPeakMiB: peerPeak ?? NaN, oursBaseMiB: base, peerBaseMiB: peerLoad.base_rss_mb,
      oursPeakOverBaseMiB: oursPeak - base, peerPeakOverBaseMiB: (peerPeak ?? NaN) - (peerLoad.base_rss_mb as number),
      maxRowsHeld: store.maxRowsHeld, sameActivations,
    };
  } finally {
    for (const t of model.params.values()) t.dispose();
  }
}

export async function saeSuite(): Promise<BenchLine[]> {
  const threads = T.getNumThreads();
  const dir = mkdtempSync(join(tmpdir(), 'basin-bench-sae-'));
  // A fresh peer process per case, so that its peak RSS starts from a clean process. basin's
  // side runs here, store first (the smallest peak, measured before the SAE cases' memory has
  // passed through this process), its lines reported last.
  const withPeer = async <R>(fn: (peer: PeerSession) => Promise<R>): Promise<R> => {
    const peer = new PeerSession(peerScript, ['serve', String(threads)]);
    try {
      return await fn(peer);
    } finally {
      await peer.close();
    }
  };
  try {
    const store = await withPeer((peer) => storeCase(peer, dir, threads));
    const lines: BenchLine[] = [];
    for (const architecture of ['topk', 'jumprelu'] as const) {
      note(`${architecture} step: d_in ${D_IN}, d_sae ${D_SAE}, ${BATCH} tokens, f32, ${STEP_TRIALS} trials each side after a warm-up, alternating, ${threads} thread(s)`);
      lines.push(await withPeer((peer) => stepCase(architecture, peer, dir, threads)));
    }
    lines.push(store);
    note(`${threads} thread(s) on both sides (at::set_num_threads and openblas_set_num_threads; the peer inherits basin's OMP_WAIT_POLICY=PASSIVE). ` +
      'step ratio = peer / ours; store ratio = ours / peer (rows handed out per second, shuffle on). Noisy when other processes share the cores: compare oursCpuMs / peerCpuMs too.');
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
