// `npm run bench -- model`: basin's transformer against the PyTorch reference transformer
// (bench/peer/hf_model.py via bench/peer/model_bench.py) on the same random llama checkpoints
// (written once by the peer as HF folders), the same inputs and the same thread count, f32.
//   prefill_b8_s256_<cfg>: one forward over [8, 256] tokens producing all logits, under noGrad.
//   decode_b{1,16}_<cfg>: greedy generation of 64 new tokens after a 16-token prompt with the
//     KV cache, timed over the whole generate call (the 16-token prompt prefill included).
// Trials alternate ours / peer (after one warm-up each), so both run under the same background
// load; each side's time is the median of its trials. Unit tokens/s; ratio = ours / peer
// (> 1: basin faster). Peak RSS: VmHWM of each process, reset just before each model loads.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/tensor/index.js';
import { generate, loadModel, type Transformer } from '../src/model/index.js';
import type { BenchLine } from './timing.js';
import { runPeer } from './peer-process.js';
import { PeerSession } from './peer-session.js';

const peerScript = new URL('../../bench/peer/model_bench.py', import.meta.url).pathname;

/**
 * Must match CONFIGS in bench/peer/model_bench.py. Run tiny first: memory a process frees may
 * stay resident (the allocator keeps it), which would inflate the next config's peak RSS, and
 * small's own peak is well above what tiny leaves behind. Lines are reported small first.
 */
const CONFIGS = [
  { name: 'tiny', vocab: 4096, trials: 11 },
  { name: 'small', vocab: 32000, trials: 7 },
] as const;
const REPORT_ORDER = ['small', 'tiny'];
const [PREFILL_BATCH, PREFILL_LEN] = [8, 256];
const [PROMPT_LEN, NEW_TOKENS] = [16, 64];
const DECODE_BATCHES = [1, 16];
const GOALS = { prefill: 1.0, decode: 1.2 };

/**
 * Writes the random llama checkpoints of CONFIGS (f32 HF folders without a tokenizer) into
 * `dir`/<config name>, through the peer: the same weights the model suite measures.
 */
export function writeBenchCheckpoints(dir: string): { small: string; tiny: string } {
  runPeer(peerScript, ['write', dir]);
  return { small: join(dir, 'small'), tiny: join(dir, 'tiny') };
}

/** [batch, length]: token i of the flattened batch is (i·7919 + 13) mod vocab (as the peer builds it). */
function inputIds(batch: number, length: number, vocab: number): number[][] {
  return Array.from({ length: batch }, (_, r) =>
    Array.from({ length }, (_, p) => ((r * length + p) * 7919 + 13) % vocab));
}

/** Resets this process's VmHWM (peak RSS) to its current RSS; false where /proc does not allow it. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** VmHWM in MiB, or NaN where /proc/self/status has none. */
function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Case {
  name: string;
  /** tokens per run (the rate's numerator) */
  tokens: number;
  /** one run of ours; returns row 0's generated tokens for decode cases */
  run: () => number[] | undefined;
}

function cases(model: Transformer, cfg: (typeof CONFIGS)[number]): Case[] {
  const prefillIds = inputIds(PREFILL_BATCH, PREFILL_LEN, cfg.vocab).flat();
  const out: Case[] = [{
    name: `prefill_b${PREFILL_BATCH}_s${PREFILL_LEN}_${cfg.name}`,
    tokens: PREFILL_BATCH * PREFILL_LEN,
    run: () => T.noGrad(() => T.scope(() => {
      const ids = T.tensor(prefillIds, { dtype: 'i64', shape: [PREFILL_BATCH, PREFILL_LEN] });
      model.forward(ids); // logits [8, 256, vocab], freed when the scope ends
      return undefined;
    })),
  }];
  for (const batch of DECODE_BATCHES) {
    const prompts = inputIds(batch, PROMPT_LEN, cfg.vocab);
    out.push({
      name: `decode_b${batch}_${cfg.name}`,
      tokens: batch * NEW_TOKENS,
      run: () => generate(model, prompts, { maxNewTokens: NEW_TOKENS, stopTokenIds: [] })[0]?.tokens,
    });
  }
  return out;
}

/** Warm-up, then `trials` alternating timed runs of ours and the peer's. */
async function measure(c: Case, peer: PeerSession, trials: number) {
  const peerRun = () => peer.request({ op: 'run', case: c.name });
  c.run();
  await peerRun();
  const ours: number[] = [];
  const theirs: number[] = [];
  let ourTokens: number[] | undefined;
  let peerTokens: unknown;
  for (let t = 0; t < trials; t++) {
    const t0 = process.hrtime.bigint();
    ourTokens = c.run();
    ours.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const reply = await peerRun();
    theirs.push(reply.seconds as number);
    peerTokens = reply.tokens_row0;
  }
  const sameTokens = ourTokens === undefined ? undefined : JSON.stringify(ourTokens) === JSON.stringify(peerTokens);
  return { ours: c.tokens / median(ours), peer: c.tokens / median(theirs), sameTokens };
}

export async function modelSuite(): Promise<BenchLine[]> {
  const threads = T.getNumThreads();
  const dir = mkdtempSync(join(tmpdir(), 'basin-bench-model-'));
  const note = (s: string) => console.error(`model bench: ${s}`);
  let peer: PeerSession | undefined;
  try {
    note(`writing random llama checkpoints (small ~60M, tiny ~5.5M parameters, f32) to ${dir}`);
    writeBenchCheckpoints(dir);
    peer = new PeerSession(peerScript, ['serve', dir, String(threads)]);
    const lines: BenchLine[] = [];
    for (const cfg of CONFIGS) {
      const peakReset = resetPeakRss();
      const { model } = await loadModel(join(dir, cfg.name), { dtype: 'f32' });
      await peer.request({ op: 'load', config: cfg.name });
      for (const c of cases(model, cfg)) {
        note(`${c.name}: ${cfg.trials} trials each side, alternating, ${threads} thread(s)`);
        const r = await measure(c, peer, cfg.trials);
        if (r.sameTokens === false) note(`WARNING ${c.name}: basin's greedy tokens differ from the peer's (the two sides do not compute the same thing)`);
        const decode = c.name.startsWith('decode');
        lines.push({
          suite: 'model', case: c.name, unit: 'tokens/s', ours: r.ours, peer: r.peer, ratio: r.ours / r.peer,
          goal: `>= ${decode ? GOALS.decode : GOALS.prefill}`, threads, trials: cfg.trials,
          ...(decode ? { timing: 'whole generate call (16-token prompt prefill included)', sameTokens: r.sameTokens } : {}),
        });
      }
      const ourPeak = peakReset ? peakRssMiB() : NaN;
      const peerPeak = (await peer.request({ op: 'peak' })).peak_rss_mb as number | null;
      if (Number.isFinite(ourPeak) && peerPeak !== null) {
        note(`${cfg.name}: peak RSS (VmHWM from just before load to the end of its cases) ours ${ourPeak.toFixed(0)} MiB, peer ${peerPeak.toFixed(0)} MiB`);
        for (const l of lines) if (l.case.endsWith(`_${cfg.name}`)) Object.assign(l, { oursPeakRssMiB: ourPeak, peerPeakRssMiB: peerPeak });
      }
      for (const t of model.params.values()) t.dispose();
    }
    note('prefill = one forward over [8, 256] → all logits (noGrad); decode = 64 greedy new tokens after a 16-token prompt ' +
      'with the KV cache, timed over the whole generate call (prompt prefill included), tokens/s = batch × 64 / time; ' +
      `medians of alternating trials; ratio = ours / peer; ${threads} thread(s) on both sides (at::set_num_threads; ` +
      'neither side sets the OpenBLAS pool, see OPENBLAS_NUM_THREADS; the peer inherits basin\'s OMP_WAIT_POLICY=PASSIVE). ' +
      'basin\'s decode steps run libtorch\'s element-wise kernels on one thread while the KV cache is small (matrix products ' +
      'on all). Noisy when other processes share the cores.');
    const order = (l: BenchLine) => REPORT_ORDER.findIndex((cfg) => l.case.endsWith(`_${cfg}`));
    return lines.sort((a, b) => order(a) - order(b)); // stable: case order within a config is kept
  } finally {
    await peer?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
