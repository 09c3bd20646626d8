// Errors never kill the process: hundreds of seeded random calls into the whole tensor API
// with wrong shapes, dtypes, dims, out-of-range indices, disposed tensors and non-tensor
// arguments. Every call must return or throw an Error with a message. The calls run in a
// child process (this file, re-run with BASIN_FUZZ_SEED set) so that a crash is reported
// with the call that caused it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as api from '../../src/tensor/index.js';
import {
  AdamW,
  Generator,
  SGD,
  Tensor,
  cat,
  crossEntropy,
  embedding,
  isGradEnabled,
  ones,
  randint,
  randn,
  scope,
  scopeDepth,
  tensor,
} from '../../src/tensor/index.js';

const SEED_ENV = 'BASIN_FUZZ_SEED';
const CALLS_PER_SEED = 400;
const SEEDS = [1, 2];

// ---------------------------------------------------------------------------------------
// The fuzzer (runs in the child)

/** mulberry32: a small seeded PRNG, so every run makes the same calls. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Numbers a dim, size, index or scalar argument might be: valid, negative, out of range, not integral, huge. */
const NUMBERS = [0, 1, 2, 3, -1, -2, 5, 100, 1.5, -0.5, -0, NaN, Infinity, -Infinity, 2 ** 40, 2 ** 53 + 2];

class Fuzzer {
  readonly #random: () => number;
  constructor(seed: number) {
    this.#random = prng(seed);
  }
  chance(p: number): boolean {
    return this.#random() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#random() * xs.length)] as T;
  }

  /** A fresh tensor of an odd shape or dtype, or a disposed one (in-place ops and dispose cannot affect the next call). */
  tensor(): Tensor {
    const makers: (() => Tensor)[] = [
      () => randn([3, 4]),
      () => randn([4]),
      () => randn([2, 3, 4], { dtype: 'f64' }),
      () => tensor([0, 1, 2], { dtype: 'i64' }),
      () => tensor([[5, -7], [1, 0]], { dtype: 'i64' }),
      () => tensor([true, false, true]),
      () => tensor(3, { dtype: 'i32' }),
      () => randn([2, 2]).to('bf16'),
      () => randn([0, 3]),
      () => tensor(0.5),
      () => tensor([1, 2, 3, 4], { dtype: 'u8' }),
      () => randn([3, 4]).mT,
      () => randn([1, 2, 3, 4]),
      () => randn([3]).requiresGrad_(),
      () => {
        const disposed = ones([2]);
        disposed.dispose();
        return disposed;
      },
    ];
    return this.pick(makers)();
  }

  /** Values that are not tensors or numbers. */
  junk(): unknown {
    const fake = Object.create(Tensor.prototype) as Tensor; // a Tensor without a handle
    return this.pick([
      undefined, null, '', 'abc', 'f32', 'cuda:7', 'ij,jk->ik', true, {}, { handle: {} }, [], [1, 'x'], [null],
      new ArrayBuffer(8), new Uint8Array(3), new Float64Array(2), 5n, Symbol('s'), () => 1, fake, Generator.seeded(3),
    ]);
  }

  /** An argument: often plausible (a tensor, a small integer, a shape), sometimes junk. */
  arg(): unknown {
    const r = this.#random();
    if (r < 0.35) return this.tensor();
    if (r < 0.65) return this.pick(NUMBERS);
    if (r < 0.75) return Array.from({ length: Math.floor(this.#random() * 4) }, () => this.pick(NUMBERS));
    if (r < 0.8) return [this.tensor(), this.tensor()];
    if (r < 0.85) return { dtype: this.pick(['f64', 'i64', 'nope']), generator: this.pick([Generator.seeded(1), this.tensor(), 7]) };
    return this.junk();
  }

  args(): unknown[] {
    return Array.from({ length: Math.floor(this.#random() * 5) }, () => this.arg());
  }

  /** An argument of the kind an op expects, with wrong values (shape, dtype, range) and now and then junk. */
  typed(kind: ArgKind): unknown {
    if (this.chance(0.08)) return this.junk();
    const small = (): number => this.pick([-3, -2, -1, 0, 1, 2, 3, 4, 5]);
    switch (kind) {
      case 't': return this.chance(0.7) ? this.shaped() : this.tensor();
      case 'dim': return this.chance(0.9) ? small() : this.pick(NUMBERS);
      case 'int': return this.chance(0.9) ? small() : this.pick(NUMBERS);
      case 'num': return this.pick([...NUMBERS, 0.25, -1.75]);
      case 'bool': return this.chance(0.9) ? this.chance(0.5) : this.pick(NUMBERS);
      case 'ints': return Array.from({ length: Math.floor(this.#random() * 4) }, small);
      case 'idx': return this.index();
      case 'ts': return Array.from({ length: 1 + Math.floor(this.#random() * 3) }, () => this.shaped());
      case 'idxs': return Array.from({ length: 1 + Math.floor(this.#random() * 3) }, () => (this.chance(0.2) ? null : this.index()));
      case 'dtype': return this.pick(['f32', 'f64', 'f16', 'bf16', 'i64', 'i32', 'u8', 'bool', 'i16', 'i8', 'cpu', 'cuda', 'nope']);
      case 'eq': return this.pick(['ij,jk->ik', 'bij,bjk->bik', 'ii->i', 'i,j->ij', '...ij->...ji', 'ij->', 'ab,bc', 'i->ii', '->', 'ij,ij,ij->']);
    }
  }

  /** A tensor of a common shape and dtype, so ops fail on shape or dtype rather than on type. */
  shaped(): Tensor {
    const shape = this.pick([[3, 4], [4, 3], [2, 3, 4], [4], [1, 4], [3, 1], [], [0, 3], [2, 2], [1, 2, 3, 4]]);
    const dtype = this.pick(['f32', 'f32', 'f32', 'f64', 'i64', 'bool', 'bf16', 'i32'] as const);
    const t = randn(shape).mul(3);
    return dtype === 'bool' ? t.gt(0) : t.to(dtype);
  }

  /** An index tensor, usually i64, with values that are often out of range. */
  index(): Tensor {
    const shape = this.pick([[2], [3], [2, 2], [3, 4], [1], [0]]);
    const t = randint(-5, 6, shape);
    return this.chance(0.85) ? t : t.to(this.pick(['i32', 'f32', 'bool'] as const));
  }
}

type ArgKind = 't' | 'dim' | 'int' | 'num' | 'bool' | 'ints' | 'idx' | 'ts' | 'idxs' | 'dtype' | 'eq';

/** Tensor methods by the arguments they expect; a trailing '...ints' spreads integers. */
const METHOD_SIGNATURES: [string, (ArgKind | '...ints')[]][] = [
  ['add', ['t']], ['add', ['num']], ['sub', ['t']], ['mul', ['t']], ['div', ['t']], ['pow', ['t']], ['pow', ['num']],
  ['remainder', ['t']], ['maximum', ['t']], ['minimum', ['t']], ['eq', ['t']], ['lt', ['num']], ['logicalAnd', ['t']],
  ['lerp', ['t', 'num']], ['maskedFill', ['t', 'num']], ['clamp', ['num', 'num']],
  ['matmul', ['t']], ['bmm', ['t']], ['outer', ['t']],
  ['sum', ['ints', 'bool']], ['sum', ['dim']], ['mean', ['dim', 'bool']], ['max', []], ['maxDim', ['dim']], ['minDim', ['dim', 'bool']],
  ['argmax', ['dim']], ['logsumexp', ['ints']], ['norm', ['num', 'dim']], ['var', ['dim']], ['std', ['ints', 'bool']],
  ['cumsum', ['dim']], ['prod', []], ['softmax', ['dim']], ['logSoftmax', ['dim']], ['gelu', ['dtype']],
  ['squeeze', ['dim']], ['unsqueeze', ['dim']], ['transpose', ['dim', 'dim']], ['select', ['dim', 'int']],
  ['narrow', ['dim', 'int', 'int']], ['slice', ['dim', 'int', 'int', 'int']], ['topk', ['int', 'dim']], ['sort', ['dim', 'bool']],
  ['chunk', ['int', 'dim']], ['split', ['ints', 'dim']], ['triu', ['int']], ['tril', ['int']],
  ['reshape', ['...ints']], ['view', ['...ints']], ['expand', ['...ints']], ['repeat', ['...ints']], ['permute', ['...ints']], ['flip', ['...ints']],
  ['indexSelect', ['dim', 'idx']], ['gather', ['dim', 'idx']], ['scatterAdd', ['dim', 'idx', 't']], ['scatter', ['dim', 'idx', 't']],
  ['indexAdd', ['dim', 'idx', 't']], ['index', ['idxs']], ['indexPut', ['idxs', 't', 'bool']], ['indexPut_', ['idxs', 't', 'bool']],
  ['add_', ['t']], ['mul_', ['t']], ['copy_', ['t']], ['addcmul_', ['t', 't']], ['addcdiv_', ['t', 't']], ['fill_', ['num']],
  ['clamp_', ['num']], ['maskedFill_', ['t', 'num']], ['sqrt_', []], ['normal_', ['num', 'num']], ['to', ['dtype']],
  ['item', []], ['toNested', []], ['bytesView', []], ['requiresGrad_', ['bool']], ['backward', ['t']], ['size', ['dim']],
];

/** Functions by the arguments they expect. */
const FUNCTION_SIGNATURES: [string, ArgKind[], (...a: never[]) => unknown][] = [
  ['cat', ['ts', 'dim'], api.cat], ['stack', ['ts', 'dim'], api.stack], ['where', ['t', 't', 't'], api.where],
  ['einsum', ['eq', 't', 't'], api.einsum], ['addmm', ['t', 't', 't'], api.addmm], ['linear', ['t', 't', 't'], api.linear],
  ['layerNorm', ['t', 'ints', 't', 't'], api.layerNorm], ['embedding', ['t', 'idx'], api.embedding],
  ['crossEntropy', ['t', 'idx'], api.crossEntropy], ['cosineSimilarity', ['t', 't', 'dim'], api.cosineSimilarity],
  ['scaledDotProductAttention', ['t', 't', 't'], api.scaledDotProductAttention], ['attentionComposed', ['t', 't', 't'], api.attentionComposed],
  ['multinomial', ['t', 'int', 'bool'], api.multinomial], ['bernoulli', ['t', 'num'], api.bernoulli], ['dropout', ['t', 'num', 'bool'], api.dropout],
  ['zeros', ['ints'], api.zeros], ['full', ['ints', 'num'], api.full], ['arange', ['num', 'num', 'num'], api.arange], ['eye', ['int', 'int'], api.eye],
  ['randn', ['ints'], api.randn], ['randint', ['int', 'int', 'ints'], api.randint], ['clipGradNorm', ['ts', 'num'], api.clipGradNorm],
];

function typedCall(f: Fuzzer): Call {
  if (f.chance(0.65)) {
    const [name, kinds] = f.pick(METHOD_SIGNATURES);
    const receiver = f.chance(0.9) ? f.shaped() : f.tensor();
    const args: unknown[] = kinds.flatMap((k) => (k === '...ints' ? (f.typed('ints') as unknown[]) : [f.typed(k)]));
    const method = (Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    return { what: `(${describe(receiver)}).${name}(${args.map((a) => describe(a)).join(', ')})`, run: () => method.apply(receiver, args) };
  }
  const [name, kinds, fn] = f.pick(FUNCTION_SIGNATURES);
  const args = kinds.map((k) => f.typed(k));
  if (name === 'scaledDotProductAttention' || name === 'attentionComposed') {
    args.push({ causal: f.chance(0.5), ...(f.chance(0.5) ? { mask: f.typed('t') } : {}) });
  }
  return { what: `${name}(${args.map((a) => describe(a)).join(', ')})`, run: () => (fn as (...a: unknown[]) => unknown)(...args) };
}

function describe(v: unknown, depth = 0): string {
  if (v instanceof Tensor) {
    try {
      return v.disposed ? 'disposed tensor' : `Tensor(${v.dtype}, [${v.shape}])`;
    } catch {
      return 'Tensor(fake)';
    }
  }
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function') return typeof v;
  if (Array.isArray(v)) return depth > 2 ? '[…]' : `[${v.map((x) => describe(x, depth + 1)).join(', ')}]`;
  if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.byteLength} bytes)`;
  if (v instanceof Generator) return 'Generator';
  if (v !== null && typeof v === 'object') {
    return depth > 2 ? '{…}' : `{${Object.entries(v).map(([k, x]) => `${k}: ${describe(x, depth + 1)}`).join(', ')}}`;
  }
  return String(v);
}

type Call = { what: string; run: () => unknown };

/** A call of any public function or Tensor member: typed (see above) or with arguments of any kind. */
function randomCall(f: Fuzzer): Call {
  const kind = f.pick(['typed', 'typed', 'typed', 'typed', 'method', 'method', 'function', 'other']);
  if (kind === 'typed') return typedCall(f);
  if (kind === 'method') {
    const members = Object.getOwnPropertyNames(Tensor.prototype).filter((n) => n !== 'constructor');
    const name = f.pick(members);
    const receiver: unknown = f.chance(0.85) ? f.tensor() : f.junk();
    const descriptor = Object.getOwnPropertyDescriptor(Tensor.prototype, name)!;
    if (descriptor.get !== undefined && (descriptor.set === undefined || f.chance(0.5))) {
      return { what: `(${describe(receiver)}).${name}`, run: () => descriptor.get!.call(receiver) };
    }
    if (descriptor.set !== undefined) {
      const value = f.arg();
      return { what: `(${describe(receiver)}).${name} = ${describe(value)}`, run: () => descriptor.set!.call(receiver, value) };
    }
    const args = f.args();
    const method = descriptor.value as (...a: unknown[]) => unknown;
    return { what: `(${describe(receiver)}).${name}(${args.map((a) => describe(a)).join(', ')})`, run: () => method.apply(receiver, args) };
  }
  if (kind === 'function') {
    // Thread settings are process-wide and not argument checks worth the side effect.
    const skip = new Set(['setNumThreads', 'initThreads']);
    const classes = new Set<unknown>([Tensor, Generator, AdamW, SGD, api.Optimizer]);
    const names = Object.keys(api).filter((n) => typeof (api as Record<string, unknown>)[n] === 'function' && !skip.has(n) && !classes.has((api as Record<string, unknown>)[n]));
    const name = f.pick(names);
    const fn = (api as Record<string, unknown>)[name] as (...a: unknown[]) => unknown;
    const args = f.args();
    return { what: `${name}(${args.map((a) => describe(a)).join(', ')})`, run: () => fn(...args) };
  }
  const a = f.arg();
  const b = f.arg();
  return f.pick<Call>([
    { what: `new AdamW(${describe(a)}, ${describe(b)})`, run: () => new AdamW(a as never, b as never) },
    { what: `new SGD(${describe(a)}, ${describe(b)})`, run: () => new SGD(a as never, b as never) },
    { what: `new Tensor(${describe(a)}).sum()`, run: () => new Tensor(a as never).sum() },
    { what: `Generator.seeded(${describe(a)})`, run: () => Generator.seeded(a as never) },
    { what: `Generator.seeded(1).setState(${describe(a)})`, run: () => Generator.seeded(1).setState(a as never) },
    {
      what: `AdamW step with a grad ${describe(a)}`,
      run: () => {
        const p = randn([3]).requiresGrad_();
        p.grad = a as never;
        new AdamW([p]).step();
      },
    },
    {
      what: `SGD loadStateDict(${describe(a)})`,
      run: () => new SGD([randn([2]).requiresGrad_()], { momentum: 0.9 }).loadStateDict(a as never),
    },
  ]);
}

interface Summary {
  calls: number;
  returned: number;
  threw: number;
  /** calls that threw something other than an Error with a message, or broke an invariant */
  bad: string[];
}

function runChild(seed: number): void {
  const f = new Fuzzer(seed);
  const summary: Summary = { calls: 0, returned: 0, threw: 0, bad: [] };
  for (let i = 0; i < CALLS_PER_SEED; i++) {
    scope(() => {
      const call = randomCall(f);
      writeSync(1, `CALL ${i} ${call.what}\n`);
      summary.calls++;
      try {
        call.run();
        summary.returned++;
      } catch (e) {
        summary.threw++;
        if (!(e instanceof Error)) summary.bad.push(`${call.what}: threw a non-Error ${describe(e)}`);
        else if (e.message.trim() === '') summary.bad.push(`${call.what}: threw ${e.name} with an empty message`);
      }
      if (!isGradEnabled()) summary.bad.push(`${call.what}: left grad mode off`);
      if (scopeDepth() !== 1) summary.bad.push(`${call.what}: left ${scopeDepth() - 1} scope(s) open`);
    });
  }
  const after = scope(() => ones([2]).add(1).toArray());
  if (after.join(',') !== '2,2') summary.bad.push(`after the calls, ones([2]) + 1 gave [${after}]`);
  writeSync(1, `SUMMARY ${JSON.stringify(summary)}\n`);
}

// ---------------------------------------------------------------------------------------
// The tests (run in the parent)

const childSeed = process.env[SEED_ENV];
if (childSeed !== undefined) {
  runChild(Number(childSeed));
} else {
  for (const seed of SEEDS) {
    test(`${CALLS_PER_SEED} random calls with seed ${seed}: each returns or throws an Error, the process survives`, () => {
      const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, [SEED_ENV]: String(seed) },
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        timeout: 50_000,
      });
      const lines = run.stdout.trim().split('\n');
      const last = lines.filter((l) => l.startsWith('CALL ')).pop() ?? '(no call made)';
      assert.equal(run.status, 0, `the fuzz process died (status ${run.status}, signal ${run.signal}) at ${last}\n${run.stderr.slice(-2000)}`);
      const summaryLine = lines.find((l) => l.startsWith('SUMMARY '));
      assert.ok(summaryLine !== undefined, `no summary; last: ${last}`);
      const summary = JSON.parse(summaryLine.slice('SUMMARY '.length)) as Summary;
      assert.deepEqual(summary.bad, []);
      assert.equal(summary.calls, CALLS_PER_SEED);
      // Both outcomes must be common, or the fuzz exercises only argument checks (or none).
      assert.ok(summary.threw >= CALLS_PER_SEED / 5, `only ${summary.threw} calls threw`);
      assert.ok(summary.returned >= CALLS_PER_SEED / 10, `only ${summary.returned} calls returned`);
    });
  }

  test('a matmul shape mismatch names both shapes', () => {
    assert.throws(() => ones([2, 3]).matmul(ones([4, 5])), (e: unknown) => e instanceof Error && /2x3/.test(e.message) && /4x5/.test(e.message));
  });

  test('a disposed tensor says "disposed" wherever it is used', () => {
    const t = ones([2, 2]);
    t.dispose();
    assert.equal(t.disposed, true);
    assert.equal(String(t), 'Tensor(disposed)');
    assert.throws(() => t.add(1), /disposed/);
    assert.throws(() => t.shape, /disposed/);
    assert.throws(() => ones([2, 2]).matmul(t), /disposed/);
    assert.throws(() => cat([ones([2, 2]), t]), /disposed/);
    assert.throws(() => ones([2, 2]).index([t]), /disposed/);
    t.dispose(); // twice is harmless
  });

  test('out-of-range indices throw', () => {
    const x = ones([2, 3]);
    const bad = tensor([0, 5], { dtype: 'i64' });
    assert.throws(() => x.select(0, 2), /out of range/);
    assert.throws(() => x.select(1, -4), /out of range/);
    assert.throws(() => x.indexSelect(1, bad), /out of/);
    assert.throws(() => x.gather(1, tensor([[0, 5]], { dtype: 'i64' })), /out of bounds/);
    assert.throws(() => x.index([bad]), /out of bounds/);
    assert.throws(() => x.indexPut([bad], ones([2, 3])), /out of bounds/);
    assert.throws(() => embedding(ones([4, 2]), bad), /out of range/);
    assert.throws(() => crossEntropy(ones([2, 3]), tensor([0, 3], { dtype: 'i64' })), /out of bounds/);
    assert.throws(() => x.sum(2), /out of range/);
    assert.throws(() => x.narrow(1, 2, 2), /exceeds/);
  });

  test('wrong argument types are TypeErrors that name the argument', () => {
    assert.throws(() => ones([3]).add('x' as never), (e: unknown) => e instanceof TypeError && /argument 1 must be a Tensor/.test(e.message));
    assert.throws(() => ones([3]).sum(1.5), (e: unknown) => e instanceof TypeError && /argument 1\[0\] must be an integer/.test(e.message));
    assert.throws(() => randn([2], { generator: { handle: ones([1]).handle } as never }), /must be a Generator/);
  });

  test('a failing op inside scope() closes the scope and frees what it made', () => {
    let made: api.Tensor | undefined;
    assert.throws(() =>
      scope(() => {
        made = ones([2]);
        ones([2, 3]).matmul(ones([2, 3]));
      }),
    );
    assert.equal(scopeDepth(), 0);
    assert.equal(made?.disposed, true);
  });

  test('assigning a gradient of the wrong shape throws', () => {
    // PyTorch: "assigned grad has data of a different size"; a broadcastable wrong-shaped grad
    // would otherwise update the parameter silently in optimizer steps.
    const p = ones([2]).requiresGrad_();
    assert.throws(() => {
      p.grad = ones([3]);
    }, /size|shape/);
  });

  test('split with a non-positive size throws instead of looping forever', () => {
    // A loop stepping by n <= 0 would grow an array until the process dies: run in a child with a small heap.
    const tensorIndex = new URL('../../src/tensor/index.js', import.meta.url).href;
    const script = `const T = await import(${JSON.stringify(tensorIndex)}); try { T.ones([4]).split(0); } catch (e) { if (!(e instanceof Error)) process.exit(2); }`;
    const run = spawnSync(process.execPath, ['--max-old-space-size=32', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, `split(0) killed the process (status ${run.status}, signal ${run.signal})`);
  });
}
