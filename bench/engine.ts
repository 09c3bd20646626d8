// `npm run bench -- engine`: the tensor engine against PyTorch eager, same shapes, seeds and
// thread count, in one invocation: five alternating rounds of peer then ours, each figure the
// median of its side's rounds (each round's figure itself a median of trials); ratio = peer / ours
// (> 1: basin faster).

import * as T from '../src/tensor/index.js';
import { medianTime, type BenchLine } from './timing.js';
import { runPeer } from './peer-process.js';

const peerScript = new URL('../../bench/peer/engine_bench.py', import.meta.url).pathname;

function ours(threads: number): Record<string, { unit: string; value: number }> {
  T.setNumThreads(threads);
  const out: Record<string, { unit: string; value: number }> = {};

  for (const [n, reps] of [[1024, 10], [2048, 3]] as const) {
    const g = T.Generator.seeded(n);
    const a = T.randn([n, n], { generator: g });
    const b = T.randn([n, n], { generator: g });
    const t = T.noGrad(() => medianTime(() => a.matmul(b).dispose(), reps, 7));
    out[`matmul_${n}`] = { unit: 'ms', value: t * 1e3 };
    a.dispose();
    b.dispose();
  }

  {
    const g = T.Generator.seeded(1);
    const x0 = T.randn([16], { generator: g });
    const y = T.randn([16], { generator: g });
    const chain = () =>
      T.scope(() => {
        let x = x0;
        for (let i = 0; i < 250; i++) x = x.add(y).mul(0.5).sub(y).tanh();
        return x;
      }).dispose();
    out.op_overhead = { unit: 'us/op', value: (medianTime(chain, 5, 9) / 1000) * 1e6 };
  }

  {
    const g = T.Generator.seeded(2);
    const [width, batch] = [512, 64];
    const ws = [0, 1, 2].map(() => T.keep(T.randn([width, width], { generator: g }).mul(0.04).requiresGrad_()));
    const bs = [0, 1, 2].map(() => T.keep(T.zeros([width]).requiresGrad_()));
    const x = T.randn([batch, width], { generator: g });
    const target = T.randn([batch, width], { generator: g });
    const opt = new T.AdamW([...ws, ...bs], { lr: 1e-3, weightDecay: 0.01 });
    const [w0, w1, w2] = ws as [T.Tensor, T.Tensor, T.Tensor];
    const [b0, b1, b2] = bs as [T.Tensor, T.Tensor, T.Tensor];
    const step = () =>
      T.scope(() => {
        opt.zeroGrad();
        const h1 = T.linear(x, w0, b0).relu();
        const h2 = T.linear(h1, w1, b1).relu();
        const o = T.linear(h2, w2, b2);
        o.sub(target).pow(2).mean().backward();
        opt.step();
      });
    out.mlp_train_step = { unit: 'ms', value: medianTime(step, 20, 7) * 1e3 };
  }
  return out;
}

const GOALS: Record<string, number> = { matmul_1024: 0.95, matmul_2048: 0.95, op_overhead: 2, mlp_train_step: 1.0 };

/** Rounds of (peer, ours): each side's figure is its median over rounds, so slow drift in the machine's load hits both. */
const ROUNDS = 5;

export function engineSuite(): BenchLine[] {
  const threads = T.getNumThreads();
  const peerRounds: Record<string, { unit: string; value: number }>[] = [];
  const ourRounds: Record<string, { unit: string; value: number }>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    peerRounds.push(Object.fromEntries(runPeer(peerScript, [String(threads)]).map((p) => [p.case, { unit: p.unit, value: p.value }])));
    ourRounds.push(ours(threads));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return Object.entries(peerRounds[0] as Record<string, { unit: string; value: number }>).map(([name, { unit }]) => {
    if (ourRounds.some((o) => o[name] === undefined)) throw new Error(`engine bench: peer case ${name} has no basin counterpart`);
    const peer = median(peerRounds.map((p) => (p[name] as { value: number }).value));
    const mine = median(ourRounds.map((o) => (o[name] as { value: number }).value));
    return { suite: 'engine', case: name, unit, ours: mine, peer, ratio: peer / mine, goal: `>= ${GOALS[name]}`, threads, rounds: ROUNDS };
  });
}
