// `npm run bench -- <suite> [--json]`: benchmark suites, basin vs the PyTorch peer in one run.

import { engineSuite } from './engine.js';
import { trainSuite } from './train.js';
import { modelSuite } from './model.js';
import { serveSuite } from './serve.js';
import { saeSuite } from './sae.js';
import type { BenchLine } from './timing.js';

const suites: Record<string, () => BenchLine[] | Promise<BenchLine[]>> = {
  engine: engineSuite,
  model: modelSuite,
  train: trainSuite,
  serve: serveSuite,
  sae: saeSuite,
};

const args = process.argv.slice(2);
const json = args.includes('--json');
const names = args.filter((a) => !a.startsWith('--'));
if (names.length === 0 || names.some((n) => !(n in suites))) {
  console.error(`usage: npm run bench -- <${Object.keys(suites).join('|')}> [--json]`);
  process.exit(2);
}
for (const name of names) {
  const lines = await (suites[name] as () => BenchLine[] | Promise<BenchLine[]>)();
  for (const l of lines) {
    if (json) console.log(JSON.stringify(l));
    else console.log(`${l.suite.padEnd(7)} ${l.case.padEnd(24)} ours ${l.ours.toPrecision(4).padStart(9)} ${l.unit.padEnd(8)} peer ${l.peer.toPrecision(4).padStart(9)}  ratio ${l.ratio.toFixed(2)}  (goal ${l.goal ?? '-'})`);
  }
}
