// The basin side of `npm run bench -- train`, run by bench/train.ts in a process of its own so
// that its peak memory is measured alone: `node dist/bench/train-ours.js MODEL_DIR THREADS`.
// The same step as bench/peer/train_bench.py, from the trainer's building blocks: collate →
// model.forward (tokenMask, responseMask, as the trainer passes them) → crossEntropy over
// logits[:, :-1] → loss.item() → backward → AdamW on the LoRA parameters. Prints one JSON line
// with the same fields as the peer.

import { readFileSync, writeFileSync } from 'node:fs';
import * as T from '../src/tensor/index.js';
import { loadModel, LoraAdapter } from '../src/model/index.js';
import { collate, type Example } from '../src/train/index.js';

/** Must match bench/peer/train_bench.py. */
const [BATCH, LENGTH, VOCAB] = [8, 256, 32000];
const [R, ALPHA, LR] = [16, 32, 1e-4];
const [WARMUP, TIMED] = [2, 5];
/** LoRA init (B starts at zero, so the first loss does not depend on it) */
const SEED = 1235;

/** Token i of the flattened batch is (i·7919 + 13) mod vocab; every token is a response token. */
function examples(): Example[] {
  return Array.from({ length: BATCH }, (_, r) => ({
    ids: Array.from({ length: LENGTH }, (_, p) => ((r * LENGTH + p) * 7919 + 13) % VOCAB),
    assistant: new Array<boolean>(LENGTH).fill(true),
  }));
}

function peakMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const [dir, threads] = [process.argv[2], Number(process.argv[3])];
if (dir === undefined || !Number.isInteger(threads) || threads < 1) {
  console.error('usage: node dist/bench/train-ours.js MODEL_DIR THREADS');
  process.exit(2);
}
T.setNumThreads(threads);
const { model } = await loadModel(dir, { dtype: 'f32' });
const adapter = LoraAdapter.attach(model, 'bench', { r: R, alpha: ALPHA, dropout: 0, targetModules: 'all-linear', useRslora: false, init: 'kaiming' }, T.Generator.seeded(SEED));
const params = adapter.parameters();
const optimizer = new T.AdamW(params, { lr: LR, weightDecay: 0 });
const batch = collate(examples(), 0, model.device);
writeFileSync('/proc/self/clear_refs', '5'); // peak resident memory from here on: training only

const phases: Record<'step' | 'forward' | 'backward' | 'optimizer' | 'cpu', number[]> = { step: [], forward: [], backward: [], optimizer: [], cpu: [] };
/** process CPU time (user + system, all threads) in ms */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
let loss0: number | undefined;
for (let k = 0; k < WARMUP + TIMED; k++) {
  T.scope(() => {
    const [cpu0, t0] = [cpuMs(), performance.now()];
    optimizer.zeroGrad();
    const logits = model.forward(batch.ids, { tokenMask: batch.tokenMask, responseMask: batch.responseMask }); // [b, s, V]
    const loss = T.crossEntropy(logits.narrow(1, 0, LENGTH - 1).reshape(-1, VOCAB), batch.labels.reshape(-1), { ignoreIndex: -100 });
    const value = loss.item();
    const t1 = performance.now();
    loss.backward();
    const t2 = performance.now();
    optimizer.step();
    const [t3, cpu3] = [performance.now(), cpuMs()];
    loss0 ??= value;
    if (k >= WARMUP) {
      phases.step.push(t3 - t0);
      phases.forward.push(t1 - t0);
      phases.backward.push(t2 - t1);
      phases.optimizer.push(t3 - t2);
      phases.cpu.push(cpu3 - cpu0);
    }
  });
}
console.log(JSON.stringify({
  case: 'lora_step', unit: 'ms', value: median(phases.step), forward_ms: median(phases.forward), backward_ms: median(phases.backward),
  optimizer_ms: median(phases.optimizer), cpu_ms: median(phases.cpu), peak_mib: peakMiB(), loss0, trainable: params.reduce((n, p) => n + p.numel, 0),
}));
