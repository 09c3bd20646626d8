// basin's ops against PyTorch (bench/peer/ops_reference.py run by Debian's /usr/bin/python3).
// The test builds fixed inputs, sends their bytes to the script, which evaluates each named
// case with PyTorch; the test evaluates the case of the same name with basin and compares
// dtype, shape and values (f32 to 1e-5 relative, f64 to 1e-12, integers, bools, half-precision
// bytes and seeded random draws exactly).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type DType,
  Generator,
  type Tensor,
  arange,
  attentionComposed,
  cat,
  cosineSimilarity,
  crossEntropy,
  einsum,
  embedding,
  empty,
  eye,
  fromBytes,
  full,
  layerNorm,
  linear,
  addmm,
  manualSeed,
  multinomial,
  ones,
  rand,
  randint,
  randn,
  bernoulli,
  scaledDotProductAttention,
  scope,
  stack,
  tensor,
  where,
  zeros,
} from '../../src/tensor/index.js';
import { type TensorEntry, decodeTensor, encodeTensor, peerUnavailable, runPeer, tensorDifference } from './peer-helper.js';

/** n values scale·sin(k·i + phase): fixed, irregular, no ties. */
function wave(n: number, k: number, phase: number, scale = 1, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => offset + scale * Math.sin(k * i + phase));
}
const f32 = (values: number[], shape: number[]): Tensor => tensor(values, { shape, dtype: 'f32' });
const f64 = (values: number[], shape: number[]): Tensor => tensor(values, { shape, dtype: 'f64' });
const i64 = (values: unknown[]): Tensor => tensor(values, { dtype: 'i64' });
const typed = (values: unknown[], dtype: DType): Tensor => tensor(values, { dtype });

/** 16 half-precision words (bf16 and f16 read the same bits): zeros, ones, infinities, NaNs, subnormals. */
const HALF_WORDS = [0x0000, 0x8000, 0x3f80, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x3c00, 0x7c00, 0x7e00, 0x0400, 0x03ff, 0xc000, 0x4049, 0x1234, 0xabcd];

function buildInputs(): Record<string, Tensor> {
  return {
    a: f32(wave(12, 0.7, 0.3, 1.5), [3, 4]),
    b: f32(wave(12, 1.3, -0.8, 1.2), [3, 4]),
    c: f32(wave(4, 2.1, 0.5), [4]),
    pos: f32(wave(12, 0.9, 0.1, 0.7, 1.25), [3, 4]),
    a64: f64(wave(12, 0.77, 0.2, 1.3), [3, 4]),
    b64: f64(wave(12, 1.7, 1.1, 0.9), [3, 4]),
    s64: tensor(0.1, { dtype: 'f64' }),
    iv: i64([-3, -2, -1, 0, 1, 5]),
    jv: typed([4, -7, 2, 9, -1, 3], 'i32'),
    fv: f64(wave(6, 1.1, 0.4, 2), [6]),
    u8v: typed([0, 1, 200, 255], 'u8'),
    i8v: typed([-128, -1, 5, 127], 'i8'),
    bv: typed([true, false, true, true, false, true], 'bool'),
    rounding: f32([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -2.7], [8]),
    specials: f32([0, -0, Infinity, -Infinity, NaN, -1, 1e-45], [7]),
    halves: f64(
      [0, -0, 1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -40, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 70000, 1e-6, 6e-8, 5.96e-8, Math.PI, -2.5, 1e38, 3.4e38, Infinity, -Infinity, NaN, 1 / 3],
      [22],
    ),
    raw16: typed(HALF_WORDS.flatMap((w) => [w & 0xff, w >> 8]), 'u8'),
    m: f32(wave(20, 0.37, 0.9, 1.1), [4, 5]),
    n: f32(wave(15, 0.61, -0.2, 0.8), [5, 3]),
    bias3: f32([0.25, -0.5, 1.5], [3]),
    x3: f32(wave(24, 0.53, 0.7), [2, 3, 4]),
    y3: f32(wave(40, 0.29, -1.3, 0.9), [2, 4, 5]),
    sq: f32(wave(16, 1.9, 0.05), [4, 4]),
    w5: f32(wave(20, 0.83, 0.33, 0.5), [5, 4]),
    b5: f32(wave(5, 1.4, 0.6, 0.2), [5]),
    q: f32(wave(64, 0.41, 0.1), [1, 2, 4, 8]),
    q2: f32(wave(32, 0.57, 0.8), [1, 2, 2, 8]),
    q1: f32(wave(16, 0.49, 0.3), [1, 2, 1, 8]),
    // 150 queries: enough for the causal path that works in blocks of queries (the last block longer)
    qL: f32(wave(4800, 0.031, 0.2, 2), [1, 2, 150, 16]),
    kL: f32(wave(5440, 0.057, -0.3, 2), [1, 2, 170, 16]),
    vL: f32(wave(5440, 0.043, 0.9), [1, 2, 170, 16]),
    amask1: f32(wave(4, 1.3, 0.1, 2), [1, 4]),
    bmask1: tensor([[true, false, true, true]]),
    k: f32(wave(64, 0.67, -0.4), [1, 2, 4, 8]),
    v: f32(wave(64, 0.23, 1.2), [1, 2, 4, 8]),
    amask: f32(wave(16, 1.21, 0.0, 2), [4, 4]),
    bmask: tensor([[true, false, true, false], [false, true, true, false], [true, true, true, false], [false, false, true, true]]),
    logits: f32(wave(30, 0.47, 0.2, 2), [5, 6]),
    target: i64([1, -100, 5, 0, -100]),
    target2: i64([1, 2, 5, 0, 2]),
    emb: f32(wave(21, 0.31, 0.6), [7, 3]),
    tok: i64([[0, 6, 2], [2, 1, 0]]),
    idx: i64([2, 0, 2]),
    gidx: i64([[0, 3], [1, 1], [2, 0]]),
    uidx: i64([[0, 3], [1, 2], [2, 0]]),
    src: f32(wave(6, 0.9, 0.9), [3, 2]),
    lnw: f32([1.5, 0.5, -1, 2], [4]),
    lnb: f32([0.1, -0.2, 0.3, 0], [4]),
    probs: f32([0.1, 0.2, 0.3, 0.15, 0.25, 0.5, 0, 0.2, 0.2, 0.1], [2, 5]),
    nanA: f32([1, NaN, 3], [3]),
    nanB: f32([2, 2, NaN], [3]),
    seqv: f32(wave(8, 2.3, 0.4), [8]),
  };
}

type X = Record<string, Tensor>;
const gen = (seed: number): Generator => Generator.seeded(seed);

/** Each case's twin in bench/peer/ops_reference.py has the same name and output order. */
const CASES: Record<string, (x: X) => Tensor[]> = {
  // ---- elementwise arithmetic and dtype promotion ----
  'add broadcast f32': (x) => [x.a.add(x.c)],
  'sub f64': (x) => [x.a64.sub(x.b64)],
  'mul f32 by f64 → f64': (x) => [x.a.mul(x.a64)],
  'div f32': (x) => [x.a.div(x.pos)],
  'add alpha': (x) => [x.a.add(x.b, -2.5)],
  'i64 + 2.5 → f32': (x) => [x.iv.add(2.5)],
  'i64 + 2 → i64': (x) => [x.iv.add(2)],
  'i32 · 0.5 → f32': (x) => [x.jv.mul(0.5)],
  'i64 / 2 → f32 (true division)': (x) => [x.iv.div(2)],
  'i64 + f64 tensor → f64': (x) => [x.iv.add(x.fv)],
  'i32 + i64 → i64': (x) => [x.jv.add(x.iv)],
  'u8 + i8 → i16': (x) => [x.u8v.add(x.i8v)],
  'bool + 1 → i64': (x) => [x.bv.add(1)],
  'bool · 1.5 → f32': (x) => [x.bv.mul(1.5)],
  'f32 + 0-d f64 → f32': (x) => [x.a.add(x.s64)],
  'i32 − 0.25 → f32': (x) => [x.jv.sub(0.25)],
  'rsub and scalar ops': (x) => [x.a.rsub(3), x.a.mul(-1.7), x.a.div(0.3), x.a.sub(1.25)],
  'scalars beyond f32 range and f64 precision': (x) => [x.a.mul(1e300), x.a.add(1e-300), x.a.gt(1e300), x.a.lt(-1e300),
    x.a64.mul(0.1), x.a64.add(1e-300), x.a.mul(0.1), x.a.eq(0.1)],
  'remainder (sign of divisor)': (x) => [x.a.mul(3).remainder(2), x.iv.remainder(4), x.a.remainder(x.pos)],
  pow: (x) => [x.pos.pow(2.5), x.pos.pow(x.a), x.iv.pow(2), x.a.pow(3)],
  'unary f32': (x) => [
    x.a.exp(), x.pos.log(), x.pos.sqrt(), x.pos.rsqrt(), x.a.tanh(), x.a.sigmoid(),
    x.a.gelu(), x.a.gelu('tanh'), x.a.silu(), x.a.relu(), x.a.erf(),
    x.a.abs(), x.a.neg(), x.a.sin(), x.a.cos(), x.pos.log1p(), x.a.reciprocal(), x.a.square(),
  ],
  'unary f64': (x) => [x.a64.exp(), x.a64.tanh(), x.a64.gelu(), x.a64.silu(), x.a64.erf()],
  rounding: (x) => [x.rounding.round(), x.rounding.floor(), x.rounding.ceil(), x.rounding.sign()],
  'special values': (x) => [
    x.specials.exp(), x.specials.log(), x.specials.sqrt(), x.specials.isnan(), x.specials.isfinite(),
    x.specials.sign(), x.specials.sigmoid(),
  ],
  'maximum and minimum propagate NaN': (x) => [x.nanA.maximum(x.nanB), x.nanA.minimum(x.nanB)],
  'clamp, maskedFill, where, lerp': (x) => [
    x.a.clamp(-0.5, 0.5), x.a.clamp(0.1), x.a.clamp(undefined, -0.2),
    x.a.maskedFill(x.b.gt(0), -1), where(x.a.gt(x.b), x.a, x.c), x.a.lerp(x.b, 0.3),
  ],
  comparisons: (x) => [x.a.gt(x.b), x.a.le(0.1), x.iv.eq(0), x.iv.ne(x.jv), x.a.lt(x.c), x.a.ge(0)],
  logical: (x) => [x.bv.logicalAnd(x.iv.gt(0)), x.bv.logicalOr(x.iv.gt(0)), x.bv.logicalXor(x.iv.gt(0)), x.bv.logicalNot()],
  'dtype conversions': (x) => [
    x.rounding.to('i32'), x.rounding.to('bool'), x.a64.to('f32'), x.iv.to('f32'), x.pos.mul(100).to('u8'), x.jv.to('i8'),
  ],
  // ---- half precision bytes ----
  'bf16 from f32 bytes': (x) => [x.halves.to('f32').to('bf16')],
  'f16 from f32 bytes': (x) => [x.halves.to('f32').to('f16')],
  'bf16 from JS numbers': (x) => [tensor(x.halves.toArray(), { dtype: 'bf16' })],
  'f16 from JS numbers': (x) => [tensor(x.halves.toArray(), { dtype: 'f16' })],
  'bf16 and f16 bytes to f32': (x) => [
    fromBytes(x.raw16.toBytes(), 'bf16', [16]).to('f32'),
    fromBytes(x.raw16.toBytes(), 'f16', [16]).to('f32'),
  ],
  'bf16 arithmetic': (x) => [x.a.to('bf16').mul(x.b.to('bf16')).add(1).to('f32')],
  // ---- reductions ----
  'reductions f32': (x) => [
    x.a.sum(), x.a.sum(1), x.a.mean(0, true), x.a.max(), x.a.min(),
    x.a.logsumexp(1), x.a.norm(), x.a.norm(1, 1), x.a.var(), x.a.var(1, false),
    x.a.std(0), x.pos.prod(), x.a.cumsum(1), x.bv.any(), x.bv.all(),
  ],
  'reductions f64': (x) => [x.a64.sum(), x.a64.mean(1), x.a64.var(0), x.a64.std(), x.a64.norm(3, [0, 1])],
  'max and min along a dim': (x) => [...x.a.maxDim(1), ...x.a.minDim(0, true)],
  'argmax and argmin': (x) => [x.a.argmax(1), x.a.argmin(0), x.a.argmax(0, true)],
  'integer reductions promote to i64': (x) => [x.jv.sum(), x.jv.cumsum(0), x.bv.sum(), x.u8v.sum(), x.iv.prod()],
  'logsumexp with −inf': (x) => [x.specials.index([i64([0, 1, 3, 5])]).logsumexp(0), full([3], -Infinity).logsumexp(0)],
  // ---- linear algebra ----
  matmul: (x) => [x.m.matmul(x.n), x.x3.matmul(x.y3), x.c.matmul(x.a.mT), x.a64.matmul(x.b64.mT)],
  'bmm and addmm and outer': (x) => [x.x3.bmm(x.y3), addmm(x.bias3, x.m, x.n, 0.5, 2), x.c.outer(x.bias3)],
  linear: (x) => [linear(x.x3, x.w5, x.b5), linear(x.a, x.w5)],
  einsum: (x) => [
    einsum('ij,jk->ik', x.m, x.n), einsum('bij,bjk->bik', x.x3, x.y3), einsum('ii->', x.sq),
    einsum('i,j->ij', x.c, x.bias3), einsum('bhqd,bhkd->bhqk', x.q, x.k),
    einsum('...ij->...ji', x.x3), einsum('ij->j', x.a),
  ],
  // ---- network functions ----
  'softmax and logSoftmax': (x) => [x.a.softmax(-1), x.a.softmax(0), x.x3.logSoftmax(1), x.specials.index([i64([0, 1, 3, 5])]).softmax(0)],
  layerNorm: (x) => [layerNorm(x.x3, [4], x.lnw, x.lnb), layerNorm(x.x3, [3, 4]), layerNorm(x.a64, [4], undefined, undefined, 1e-3)],
  embedding: (x) => [embedding(x.emb, x.tok)],
  crossEntropy: (x) => [
    crossEntropy(x.logits, x.target2),
    crossEntropy(x.logits, x.target),
    crossEntropy(x.logits, x.target2, { ignoreIndex: 2 }),
    crossEntropy(x.logits, x.target2, { labelSmoothing: 0.1 }),
    crossEntropy(x.logits, x.target, { labelSmoothing: 0.2 }),
    crossEntropy(x.logits, x.target, { reduction: 'sum' }),
    crossEntropy(x.logits, x.target, { reduction: 'none' }),
  ],
  cosineSimilarity: (x) => [cosineSimilarity(x.a, x.b, -1), cosineSimilarity(x.a, x.c, 1), cosineSimilarity(x.a, x.b, 0)],
  scaledDotProductAttention: (x) => [scaledDotProductAttention(x.q, x.k, x.v)],
  'scaledDotProductAttention causal': (x) => [scaledDotProductAttention(x.q, x.k, x.v, { causal: true })],
  'scaledDotProductAttention additive mask': (x) => [scaledDotProductAttention(x.q, x.k, x.v, { mask: x.amask })],
  'scaledDotProductAttention boolean mask': (x) => [scaledDotProductAttention(x.q, x.k, x.v, { mask: x.bmask })],
  'scaledDotProductAttention causal, fewer queries than keys': (x) => [scaledDotProductAttention(x.q2, x.k, x.v, { causal: true })],
  'scaledDotProductAttention one query (a decode step)': (x) => [scaledDotProductAttention(x.q1, x.k, x.v)],
  'scaledDotProductAttention one query, causal': (x) => [scaledDotProductAttention(x.q1, x.k, x.v, { causal: true })],
  'scaledDotProductAttention one query, additive mask': (x) => [scaledDotProductAttention(x.q1, x.k, x.v, { mask: x.amask1 })],
  'scaledDotProductAttention one query, boolean mask': (x) => [scaledDotProductAttention(x.q1, x.k, x.v, { mask: x.bmask1 })],
  'scaledDotProductAttention causal and additive mask': (x) => [scaledDotProductAttention(x.q, x.k, x.v, { mask: x.amask, causal: true })],
  'scaledDotProductAttention causal, 150 queries (in blocks)': (x) => [
    scaledDotProductAttention(x.qL, x.kL.narrow(2, 0, 150), x.vL.narrow(2, 0, 150), { causal: true }),
  ],
  'scaledDotProductAttention causal, 150 queries, 170 keys (in blocks)': (x) => [scaledDotProductAttention(x.qL, x.kL, x.vL, { causal: true })],
  'attentionComposed causal, fewer queries than keys': (x) => [attentionComposed(x.q2, x.k, x.v, { causal: true })],
  'attentionComposed causal and additive mask': (x) => [attentionComposed(x.q, x.k, x.v, { mask: x.amask, causal: true })],
  // ---- indexing ----
  'indexSelect, gather, index': (x) => [
    x.a.indexSelect(0, x.idx), x.a.gather(1, x.gidx), x.a.index([x.idx]), x.a.index([null, x.idx]), x.a.index([x.idx, x.idx]),
  ],
  'scatterAdd, scatter, indexAdd': (x) => [x.a.scatterAdd(1, x.gidx, x.src), x.a.scatter(1, x.uidx, x.src), x.a.indexAdd(0, x.idx, x.b)],
  indexPut: (x) => [
    x.a.indexPut([x.idx], x.b, true), x.a.indexPut([x.idx.slice(0, 0, 2)], x.b.slice(0, 0, 2)),
    x.a.indexPut([x.idx, x.idx], x.c.slice(0, 0, 3), true),
  ],
  'topk and sort': (x) => [...x.seqv.topk(3), ...x.seqv.topk(2, -1, false), ...x.a.sort(1, true), ...x.a.sort(0)],
  'triu and tril': (x) => [x.m.triu(), x.m.triu(2), x.m.tril(-1), x.m.tril(1)],
  // ---- joining, splitting and views ----
  'cat and stack': (x) => [cat([x.a, x.b], 0), cat([x.a, x.b], 1), stack([x.a, x.b], 1)],
  'split and chunk': (x) => [...x.m.split(2, 1), ...x.m.split([1, 3], 0), ...x.m.chunk(3, 1)],
  views: (x) => [
    x.x3.reshape(4, -1), x.x3.permute(2, 0, 1).contiguous(), x.x3.transpose(0, 2), x.x3.narrow(1, 1, 2),
    x.m.slice(1, 0, undefined, 2), x.m.slice(0, -3), x.m.select(0, -1), x.m.flip(0, 1), x.a.repeat(2, 1, 3),
    x.c.unsqueeze(0).expand(3, 4), x.x3.unsqueeze(1).squeeze(1), x.m.mT,
  ],
  // ---- creation ----
  creation: () => [
    arange(0, 1, 0.1, { dtype: 'f32' }), arange(5), arange(-3, 7, 3), eye(3, 4), full([2, 2], 7),
    full([2], 7, { dtype: 'i64' }), zeros([2, 3], { dtype: 'i32' }), ones([2], { dtype: 'bool' }),
  ],
  // ---- random, seeded ----
  'randn seeded': () => [randn([7], { generator: gen(0) }), randn([5, 3], { generator: gen(42), dtype: 'f64' }), randn([33], { generator: gen(1) })],
  'rand seeded': () => [rand([20], { generator: gen(7) }), rand([2, 3], { generator: gen(8), dtype: 'f64' })],
  'randint seeded': () => [randint(-5, 5, [10], { generator: gen(3) }), randint(0, 1000, [4, 4], { generator: gen(4), dtype: 'i32' })],
  'multinomial seeded': (x) => [
    multinomial(x.probs, 3, false, gen(5)),
    multinomial(x.probs, 10, true, gen(6)),
    multinomial(x.probs.select(0, 0), 4, false, gen(7)),
  ],
  'normal_ uniform_ bernoulli seeded': () => [
    empty([6]).normal_(2, 0.5, gen(9)), empty([6]).uniform_(-1, 1, gen(11)), bernoulli(zeros([12]), 0.3, gen(13)),
  ],
  'one generator, several draws': () => {
    const g = gen(21);
    return [randn([5], { generator: g }), rand([5], { generator: g }), randint(0, 100, [5], { generator: g })];
  },
  'generator state bytes': () => {
    const g = gen(5);
    randn([3], { generator: g });
    const state = g.getState();
    return [fromBytes(state, 'u8', [state.length])];
  },
  'global seed': () => {
    manualSeed(123);
    return [randn([4]), rand([3])];
  },
};

/** Cases compared byte for byte. */
const EXACT = new Set([
  'bf16 from f32 bytes', 'f16 from f32 bytes', 'bf16 from JS numbers', 'f16 from JS numbers', 'bf16 and f16 bytes to f32',
  'randn seeded', 'rand seeded', 'randint seeded', 'multinomial seeded', 'normal_ uniform_ bernoulli seeded',
  'one generator, several draws', 'generator state bytes', 'global seed', 'dtype conversions',
]);

test('basin ops equal PyTorch on fixed inputs (bench/peer/ops_reference.py)', async (t) => {
  const unavailable = peerUnavailable();
  if (unavailable !== null) {
    t.skip(unavailable);
    return;
  }
  const inputs = buildInputs();
  const encoded: Record<string, TensorEntry> = {};
  for (const [name, value] of Object.entries(inputs)) encoded[name] = encodeTensor(value);
  const reference = runPeer('ops_reference.py', { tensors: encoded }) as Record<string, TensorEntry[] | { error: string }>;

  assert.deepEqual(Object.keys(reference).sort(), Object.keys(CASES).sort(), 'the script and the test list the same cases');

  for (const [name, evaluate] of Object.entries(CASES)) {
    await t.test(name, () => {
      scope(() => {
        const expected = reference[name];
        if (!Array.isArray(expected)) throw new Error(`PyTorch failed on this case: ${expected.error}`);
        const actual = evaluate(inputs);
        assert.equal(actual.length, expected.length, 'number of outputs');
        actual.forEach((out, k) => {
          const difference = tensorDifference(out, decodeTensor(expected[k]), { exact: EXACT.has(name) });
          assert.equal(difference, null, `output ${k}: ${difference}`);
        });
      });
    });
  }
});

test('tensorDifference notices a wrong dtype, a wrong shape and a value off by more than f32 tolerance', () => {
  const x = tensor([1, 2, 3]);
  assert.match(tensorDifference(x, x.to('f64')) ?? '', /dtype f32, expected f64/);
  assert.match(tensorDifference(x, x.reshape(3, 1)) ?? '', /shape/);
  assert.match(tensorDifference(x, tensor([1, 2, 3.0001])) ?? '', /element 2/);
  assert.equal(tensorDifference(x, tensor([1, 2, 3 + 1e-6])), null);
  assert.match(tensorDifference(x, tensor([1, 2, 3 + 1e-6]), { exact: true }) ?? '', /exact/);
  assert.equal(tensorDifference(tensor([NaN]), tensor([NaN])), null);
});

test('arange with a fractional step infers a floating dtype, as torch.arange(0, 1, 0.1)', () => {
  const r = arange(0, 1, 0.1);
  assert.equal(r.dtype, 'f32');
  assert.equal(r.numel, 10);
});

test('data() reads f16 and bf16 tensors as Float32Array', () => {
  const data = tensor([1.5, -2], { dtype: 'bf16' }).data();
  assert.ok(data instanceof Float32Array);
  assert.deepEqual(Array.from(data), [1.5, -2]);
  assert.deepEqual(tensor([0.5], { dtype: 'f16' }).toArray(), [0.5]);
});
