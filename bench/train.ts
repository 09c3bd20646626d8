// `npm run bench -- train`: one LoRA fine-tuning optimizer step, basin against the PyTorch
// reference (bench/peer/train_bench.py), in one invocation, f32, same thread count:
//   lora_step: ms per optimizer step (forward + cross-entropy + backward + AdamW on the LoRA
//   parameters, and reading the loss) on a random llama (d_model 512, 8 layers, 8 heads, MLP 1536,
//   vocab 32000, ~60M parameters) written once as an HF folder both sides load; LoRA r=16,
//   alpha=32 on q/k/v/o/gate/up/down of every layer; batch [8, 256]. Median of 5 steps after 2
//   warm-up steps; ratio = peer / ours (> 1: basin faster).
// Each side runs in a process of its own; oursPeakMiB / peerPeakMiB are that process's VmHWM,
// reset after the model is loaded (the peak resident memory while training). The forward /
// backward / optimizer medians of both sides are extra fields, and loss0 of both sides must
// agree (LoRA B starts at zero, so the first loss is the base model's). oursCpuMs / peerCpuMs are
// the median process CPU time per step (all threads), a steadier comparison than wall time when
// other processes share the machine.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/tensor/index.js';
import type { BenchLine } from './timing.js';
import { runPeer, type PeerLine } from './peer-process.js';

const peerScript = new URL('../../bench/peer/train_bench.py', import.meta.url).pathname;
const oursScript = new URL('./train-ours.js', import.meta.url).pathname;
const GOAL = 1.0;

function runOurs(modelDir: string, threads: number): PeerLine {
  const r = spawnSync(process.execPath, [oursScript, modelDir, String(threads)], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`train bench: ${oursScript} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as PeerLine;
}

export function trainSuite(): BenchLine[] {
  const threads = T.getNumThreads();
  const dir = mkdtempSync(join(tmpdir(), 'basin-bench-train-'));
  try {
    const modelDir = join(dir, 'model');
    console.error(`train bench: writing a random llama (~60M parameters, f32) to ${modelDir}`);
    runPeer(peerScript, ['write', modelDir]);
    console.error(`train bench: PyTorch peer, ${threads} thread(s) (7 LoRA steps on [8, 256] tokens; minutes on 2 cores)`);
    const [peer] = runPeer(peerScript, ['run', modelDir, String(threads)]);
    if (peer === undefined) throw new Error('train bench: the peer printed nothing');
    console.error(`train bench: basin, ${threads} thread(s)`);
    const ours = runOurs(modelDir, threads);
    const sameLoss = Math.abs((ours.loss0 as number) - (peer.loss0 as number)) <= 1e-4 * Math.abs(peer.loss0 as number);
    if (!sameLoss) console.error(`train bench: WARNING first-step losses differ (ours ${ours.loss0}, peer ${peer.loss0}): the two sides do not compute the same thing`);
    const phases = (l: PeerLine) => `forward ${(l.forward_ms as number).toFixed(0)} ms, backward ${(l.backward_ms as number).toFixed(0)} ms, AdamW ${(l.optimizer_ms as number).toFixed(0)} ms; CPU ${(l.cpu_ms as number).toFixed(0)} ms per step`;
    console.error(`train bench: ours: ${phases(ours)}; peer: ${phases(peer)}`);
    console.error(`train bench: peak RSS while training (VmHWM, reset after load): ours ${(ours.peak_mib as number).toFixed(0)} MiB, peer ${(peer.peak_mib as number).toFixed(0)} MiB`);
    return [{
      suite: 'train', case: 'lora_step', unit: 'ms', ours: ours.value, peer: peer.value, ratio: peer.value / ours.value,
      goal: `>= ${GOAL}`, threads, oursPeakMiB: ours.peak_mib, peerPeakMiB: peer.peak_mib,
      oursForwardMs: ours.forward_ms, oursBackwardMs: ours.backward_ms, oursOptimizerMs: ours.optimizer_ms,
      peerForwardMs: peer.forward_ms, peerBackwardMs: peer.backward_ms, peerOptimizerMs: peer.optimizer_ms,
      oursCpuMs: ours.cpu_ms, peerCpuMs: peer.cpu_ms,
      sameLoss, trainableParameters: ours.trainable,
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
