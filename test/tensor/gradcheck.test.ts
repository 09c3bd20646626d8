// Every differentiable op's autograd gradient against central finite differences in f64
// (random scalar projection of the output; see gradcheck-helper.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator,
  type Tensor,
  addmm,
  attentionComposed,
  cat,
  cosineSimilarity,
  crossEntropy,
  einsum,
  embedding,
  isGradEnabled,
  layerNorm,
  linear,
  rand,
  randn,
  scaledDotProductAttention,
  stack,
  tensor,
  where,
} from '../../src/tensor/index.js';
import { type GradFn, gradcheck, gradientMismatches } from './gradcheck-helper.js';

/** Seeded f64 input makers for one case. */
class Inputs {
  readonly #g: Generator;
  constructor(seed: number) {
    this.#g = Generator.seeded(seed);
  }
  /** standard normal */
  normal(...shape: number[]): Tensor {
    return randn(shape, { dtype: 'f64', generator: this.#g });
  }
  /** uniform in [low, high) */
  uniform(shape: number[], low: number, high: number): Tensor {
    return rand(shape, { dtype: 'f64', generator: this.#g }).mul(high - low).add(low);
  }
  /** in [0.5, 1.5): safe for log, sqrt, rsqrt, pow with any exponent */
  positive(...shape: number[]): Tensor {
    return this.uniform(shape, 0.5, 1.5);
  }
  /** |x| in [0.2, 1.2) with random sign: away from the kinks of abs, relu, reciprocal */
  awayFromZero(...shape: number[]): Tensor {
    const magnitude = this.uniform(shape, 0.2, 1.2);
    return where(this.uniform(shape, 0, 1).gt(0.5), magnitude, magnitude.neg());
  }
  /** uniform in [low, high), each value at least `gap` away from every point in `avoid` */
  avoiding(shape: number[], low: number, high: number, avoid: number[], gap = 0.05): Tensor {
    const values = this.uniform(shape, low, high).toArray();
    const safe = values.map((v) => {
      for (const p of avoid) if (Math.abs(v - p) < gap) return p + (v < p ? -gap : gap);
      return v;
    });
    return tensor(safe, { shape, dtype: 'f64' });
  }
  bernoulliMask(...shape: number[]): Tensor {
    return this.uniform(shape, 0, 1).gt(0.5);
  }
}

const ids = (values: unknown[]): Tensor => tensor(values, { dtype: 'i64' });

interface Case {
  name: string;
  inputs: (r: Inputs) => Tensor[];
  fn: GradFn;
}

const unary: Case[] = [
  { name: 'neg', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.neg() },
  { name: 'exp', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.exp() },
  { name: 'log', inputs: (r) => [r.positive(3, 4)], fn: (x) => x.log() },
  { name: 'log1p', inputs: (r) => [r.uniform([3, 4], -0.5, 2)], fn: (x) => x.log1p() },
  { name: 'sqrt', inputs: (r) => [r.positive(3, 4)], fn: (x) => x.sqrt() },
  { name: 'rsqrt', inputs: (r) => [r.positive(3, 4)], fn: (x) => x.rsqrt() },
  { name: 'abs (away from 0)', inputs: (r) => [r.awayFromZero(3, 4)], fn: (x) => x.abs() },
  { name: 'tanh', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.tanh() },
  { name: 'sigmoid', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.sigmoid() },
  { name: 'relu (away from 0)', inputs: (r) => [r.awayFromZero(3, 4)], fn: (x) => x.relu() },
  { name: 'silu', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.silu() },
  { name: 'gelu exact', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.gelu() },
  { name: 'gelu tanh', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.gelu('tanh') },
  { name: 'sin', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.sin() },
  { name: 'cos', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.cos() },
  { name: 'erf', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.erf() },
  { name: 'reciprocal', inputs: (r) => [r.awayFromZero(3, 4)], fn: (x) => x.reciprocal() },
  { name: 'square', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.square() },
  { name: 'softmax then log (composition)', inputs: (r) => [r.normal(2, 5)], fn: (x) => x.softmax(1).log() },
];

const binary: Case[] = [
  { name: 'add', inputs: (r) => [r.normal(3, 4), r.normal(3, 4)], fn: (a, b) => a.add(b) },
  { name: 'add with alpha', inputs: (r) => [r.normal(3, 4), r.normal(3, 4)], fn: (a, b) => a.add(b, -2.5) },
  { name: 'add broadcast [3,1,4] + [2,1]', inputs: (r) => [r.normal(3, 1, 4), r.normal(2, 1)], fn: (a, b) => a.add(b) },
  { name: 'sub broadcast [2,3] − [3]', inputs: (r) => [r.normal(2, 3), r.normal(3)], fn: (a, b) => a.sub(b) },
  { name: 'mul broadcast [4,1] · [1,5]', inputs: (r) => [r.normal(4, 1), r.normal(1, 5)], fn: (a, b) => a.mul(b) },
  { name: 'div broadcast [2,3] / [2,1]', inputs: (r) => [r.normal(2, 3), r.awayFromZero(2, 1)], fn: (a, b) => a.div(b) },
  { name: 'pow tensor^tensor broadcast', inputs: (r) => [r.positive(2, 3), r.normal(3)], fn: (a, b) => a.pow(b) },
  { name: 'maximum', inputs: (r) => [r.normal(3, 4), r.normal(3, 4)], fn: (a, b) => a.maximum(b) },
  { name: 'minimum broadcast', inputs: (r) => [r.normal(3, 4), r.normal(4)], fn: (a, b) => a.minimum(b) },
  // a / b in (1.24, 1.95): floor(a / b) = 1, away from the jumps
  { name: 'remainder', inputs: (r) => [r.uniform([3, 4], 3.1, 3.9), r.uniform([3, 4], 2, 2.5)], fn: (a, b) => a.remainder(b) },
  { name: 'lerp', inputs: (r) => [r.normal(3, 4), r.normal(3, 4)], fn: (a, b) => a.lerp(b, 0.3) },
  { name: 'where (broadcast branches)', inputs: (r) => [r.bernoulliMask(3, 4), r.normal(3, 4), r.normal(4)], fn: (c, a, b) => where(c, a, b) },
  { name: 'maskedFill', inputs: (r) => [r.normal(3, 4), r.bernoulliMask(3, 4)], fn: (x, m) => x.maskedFill(m, 0.5) },
  { name: 'clamp [−0.5, 0.5]', inputs: (r) => [r.avoiding([3, 4], -1, 1, [-0.5, 0.5])], fn: (x) => x.clamp(-0.5, 0.5) },
  { name: 'clamp min only', inputs: (r) => [r.avoiding([3, 4], -1, 1, [0.1])], fn: (x) => x.clamp(0.1) },
  { name: 'clamp max only', inputs: (r) => [r.avoiding([3, 4], -1, 1, [-0.2])], fn: (x) => x.clamp(undefined, -0.2) },
];

const scalars: Case[] = [
  { name: 'add scalar', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.add(2.5) },
  { name: 'add integral scalar', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.add(3) },
  { name: 'sub scalar', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.sub(1.25) },
  { name: 'rsub scalar', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.rsub(3) },
  { name: 'mul scalar', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.mul(-1.7) },
  { name: 'div scalar', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.div(0.3) },
  { name: 'pow 3', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.pow(3) },
  { name: 'pow 2.5', inputs: (r) => [r.positive(3, 4)], fn: (x) => x.pow(2.5) },
  { name: 'pow −0.5', inputs: (r) => [r.positive(3, 4)], fn: (x) => x.pow(-0.5) },
  { name: 'remainder scalar', inputs: (r) => [r.uniform([3, 4], 1.7, 2.8)], fn: (x) => x.remainder(1.5) },
];

const reductions: Case[] = [
  { name: 'sum all', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.sum() },
  { name: 'sum dim 1', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.sum(1) },
  { name: 'sum dims [0,2] keepdim', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.sum([0, 2], true) },
  { name: 'mean all', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.mean() },
  { name: 'mean dim −1', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.mean(-1) },
  { name: 'mean dims [0,1] keepdim', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.mean([0, 1], true) },
  { name: 'max all', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.max() },
  { name: 'min all', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.min() },
  { name: 'maxDim values', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.maxDim(1)[0] },
  { name: 'minDim values keepdim', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.minDim(0, true)[0] },
  { name: 'logsumexp dim 1', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.logsumexp(1) },
  { name: 'logsumexp dims [0,1] keepdim', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.logsumexp([0, 1], true) },
  { name: 'norm 2 all', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.norm() },
  { name: 'norm 1 all', inputs: (r) => [r.awayFromZero(3, 4)], fn: (x) => x.norm(1) },
  { name: 'norm 2 dim 1', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.norm(2, 1) },
  { name: 'norm 3 dims [0,1] keepdim', inputs: (r) => [r.awayFromZero(2, 3, 2)], fn: (x) => x.norm(3, [0, 1], true) },
  { name: 'var all (unbiased)', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.var() },
  { name: 'var dim 1 biased', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.var(1, false) },
  { name: 'var dims [0,1] keepdim', inputs: (r) => [r.normal(2, 3, 2)], fn: (x) => x.var([0, 1], true, true) },
  { name: 'std all', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.std() },
  { name: 'std dim 1 keepdim', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.std(1, true, true) },
  { name: 'prod', inputs: (r) => [r.awayFromZero(2, 3)], fn: (x) => x.prod() },
  { name: 'cumsum', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.cumsum(1) },
];

const linearAlgebra: Case[] = [
  { name: 'matmul [3,4]@[4,2]', inputs: (r) => [r.normal(3, 4), r.normal(4, 2)], fn: (a, b) => a.matmul(b) },
  { name: 'matmul batched broadcast [2,3,4]@[4,5]', inputs: (r) => [r.normal(2, 3, 4), r.normal(4, 5)], fn: (a, b) => a.matmul(b) },
  { name: 'matmul [2,1,3,4]@[3,4,2]', inputs: (r) => [r.normal(2, 1, 3, 4), r.normal(3, 4, 2)], fn: (a, b) => a.matmul(b) },
  { name: 'matmul vector@matrix', inputs: (r) => [r.normal(4), r.normal(4, 3)], fn: (a, b) => a.matmul(b) },
  { name: 'matmul matrix@vector', inputs: (r) => [r.normal(3, 4), r.normal(4)], fn: (a, b) => a.matmul(b) },
  { name: 'bmm', inputs: (r) => [r.normal(2, 3, 4), r.normal(2, 4, 2)], fn: (a, b) => a.bmm(b) },
  { name: 'addmm with beta and alpha', inputs: (r) => [r.normal(2), r.normal(3, 4), r.normal(4, 2)], fn: (c, a, b) => addmm(c, a, b, 0.5, 2) },
  { name: 'einsum bij,bjk->bik', inputs: (r) => [r.normal(2, 3, 4), r.normal(2, 4, 2)], fn: (a, b) => einsum('bij,bjk->bik', a, b) },
  { name: 'einsum ij,ij-> (inner product)', inputs: (r) => [r.normal(3, 4), r.normal(3, 4)], fn: (a, b) => einsum('ij,ij->', a, b) },
  { name: 'einsum ii->i (diagonal)', inputs: (r) => [r.normal(4, 4)], fn: (a) => einsum('ii->i', a) },
  { name: 'einsum bhqd,bhkd->bhqk', inputs: (r) => [r.normal(1, 2, 3, 4), r.normal(1, 2, 2, 4)], fn: (a, b) => einsum('bhqd,bhkd->bhqk', a, b) },
  { name: 'outer', inputs: (r) => [r.normal(3), r.normal(4)], fn: (a, b) => a.outer(b) },
  { name: 'linear with bias [2,3,4]', inputs: (r) => [r.normal(2, 3, 4), r.normal(5, 4), r.normal(5)], fn: (x, w, b) => linear(x, w, b) },
  { name: 'linear without bias', inputs: (r) => [r.normal(3, 4), r.normal(2, 4)], fn: (x, w) => linear(x, w) },
];

const network: Case[] = [
  { name: 'softmax dim −1', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.softmax(-1) },
  { name: 'softmax dim 0', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.softmax(0) },
  { name: 'logSoftmax dim 1', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.logSoftmax(1) },
  {
    name: 'layerNorm [4] with weight and bias',
    inputs: (r) => [r.normal(2, 3, 4), r.normal(4), r.normal(4)],
    fn: (x, w, b) => layerNorm(x, [4], w, b),
  },
  {
    name: 'layerNorm [3,4] with weight and bias',
    inputs: (r) => [r.normal(2, 3, 4), r.normal(3, 4), r.normal(3, 4)],
    fn: (x, w, b) => layerNorm(x, [3, 4], w, b, 1e-3),
  },
  { name: 'layerNorm without affine', inputs: (r) => [r.normal(3, 5)], fn: (x) => layerNorm(x, [5]) },
  {
    name: 'embedding (repeated ids accumulate)',
    inputs: (r) => [r.normal(6, 3), ids([[0, 2, 2], [5, 1, 0]])],
    fn: (w, i) => embedding(w, i),
  },
  { name: 'crossEntropy mean', inputs: (r) => [r.normal(4, 5), ids([0, 3, 4, 1])], fn: (x, t) => crossEntropy(x, t) },
  { name: 'crossEntropy sum', inputs: (r) => [r.normal(4, 5), ids([0, 3, 4, 1])], fn: (x, t) => crossEntropy(x, t, { reduction: 'sum' }) },
  { name: 'crossEntropy none', inputs: (r) => [r.normal(4, 5), ids([0, 3, 4, 1])], fn: (x, t) => crossEntropy(x, t, { reduction: 'none' }) },
  {
    name: 'crossEntropy default ignore index −100',
    inputs: (r) => [r.normal(5, 4), ids([1, -100, 3, -100, 0])],
    fn: (x, t) => crossEntropy(x, t),
  },
  {
    name: 'crossEntropy custom ignore index',
    inputs: (r) => [r.normal(5, 4), ids([1, 2, 3, 2, 0])],
    fn: (x, t) => crossEntropy(x, t, { ignoreIndex: 2 }),
  },
  {
    name: 'crossEntropy label smoothing',
    inputs: (r) => [r.normal(4, 5), ids([0, 3, 4, 1])],
    fn: (x, t) => crossEntropy(x, t, { labelSmoothing: 0.1 }),
  },
  {
    name: 'crossEntropy ignore index with label smoothing',
    inputs: (r) => [r.normal(5, 4), ids([1, -100, 3, 2, -100])],
    fn: (x, t) => crossEntropy(x, t, { labelSmoothing: 0.2 }),
  },
  { name: 'cosineSimilarity dim −1', inputs: (r) => [r.normal(3, 4), r.normal(3, 4)], fn: (a, b) => cosineSimilarity(a, b) },
  { name: 'cosineSimilarity dim 0 broadcast', inputs: (r) => [r.normal(3, 4), r.normal(3, 1)], fn: (a, b) => cosineSimilarity(a, b, 0) },
];

const attention: Case[] = [
  {
    name: 'scaledDotProductAttention',
    inputs: (r) => [r.normal(1, 2, 3, 4), r.normal(1, 2, 3, 4), r.normal(1, 2, 3, 4)],
    fn: (q, k, v) => scaledDotProductAttention(q, k, v),
  },
  {
    name: 'scaledDotProductAttention one query (a decode step), additive mask',
    inputs: (r) => [r.normal(2, 2, 1, 4), r.normal(2, 2, 5, 4), r.normal(2, 2, 5, 4), r.normal(2, 1, 1, 5)],
    fn: (q, k, v, m) => scaledDotProductAttention(q, k, v, { mask: m }),
  },
  {
    name: 'scaledDotProductAttention causal',
    inputs: (r) => [r.normal(1, 2, 3, 4), r.normal(1, 2, 3, 4), r.normal(1, 2, 3, 4)],
    fn: (q, k, v) => scaledDotProductAttention(q, k, v, { causal: true }),
  },
  {
    name: 'scaledDotProductAttention additive mask (mask gets a gradient too)',
    inputs: (r) => [r.normal(1, 2, 3, 4), r.normal(1, 2, 4, 4), r.normal(1, 2, 4, 4), r.normal(3, 4)],
    fn: (q, k, v, m) => scaledDotProductAttention(q, k, v, { mask: m }),
  },
  {
    name: 'scaledDotProductAttention boolean mask',
    inputs: (r) => [r.normal(2, 1, 3, 4), r.normal(2, 1, 3, 4), r.normal(2, 1, 3, 4), tensor([[true, false, true], [true, true, false], [false, true, true]])],
    fn: (q, k, v, m) => scaledDotProductAttention(q, k, v, { mask: m }),
  },
  {
    name: 'attentionComposed causal with fewer queries than keys',
    inputs: (r) => [r.normal(1, 2, 2, 4), r.normal(1, 2, 5, 4), r.normal(1, 2, 5, 4)],
    fn: (q, k, v) => attentionComposed(q, k, v, { causal: true }),
  },
  {
    name: 'attentionComposed additive mask and causal',
    inputs: (r) => [r.normal(1, 2, 3, 4), r.normal(1, 2, 3, 4), r.normal(1, 2, 3, 4), r.normal(3, 3)],
    fn: (q, k, v, m) => attentionComposed(q, k, v, { mask: m, causal: true }),
  },
];

const indexing: Case[] = [
  { name: 'indexSelect (repeated index)', inputs: (r) => [r.normal(3, 4), ids([2, 0, 2])], fn: (x, i) => x.indexSelect(0, i) },
  { name: 'gather', inputs: (r) => [r.normal(3, 4), ids([[0, 3], [1, 1], [2, 0]])], fn: (x, i) => x.gather(1, i) },
  {
    name: 'scatterAdd (self and src)',
    inputs: (r) => [r.normal(3, 4), ids([[0, 3], [1, 1], [2, 0]]), r.normal(3, 2)],
    fn: (x, i, s) => x.scatterAdd(1, i, s),
  },
  {
    name: 'scatter (unique positions)',
    inputs: (r) => [r.normal(3, 4), ids([[0, 3], [1, 2], [2, 0]]), r.normal(3, 2)],
    fn: (x, i, s) => x.scatter(1, i, s),
  },
  { name: 'indexAdd', inputs: (r) => [r.normal(3, 4), ids([1, 0, 1]), r.normal(3, 4)], fn: (x, i, s) => x.indexAdd(0, i, s) },
  { name: 'index rows', inputs: (r) => [r.normal(3, 4), ids([2, 0, 2])], fn: (x, i) => x.index([i]) },
  { name: 'index [null, cols]', inputs: (r) => [r.normal(3, 4), ids([3, 1])], fn: (x, i) => x.index([null, i]) },
  { name: 'index pairs', inputs: (r) => [r.normal(3, 4), ids([0, 2, 2]), ids([1, 3, 3])], fn: (x, i, j) => x.index([i, j]) },
  {
    name: 'indexPut accumulate (repeated index)',
    inputs: (r) => [r.normal(4, 3), ids([1, 3, 1]), r.normal(3, 3)],
    fn: (x, i, v) => x.indexPut([i], v, true),
  },
  {
    name: 'indexPut overwrite (unique index)',
    inputs: (r) => [r.normal(4, 3), ids([2, 0]), r.normal(2, 3)],
    fn: (x, i, v) => x.indexPut([i], v),
  },
  { name: 'topk values', inputs: (r) => [r.normal(3, 5)], fn: (x) => x.topk(2)[0] },
  { name: 'sort values descending', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.sort(1, true)[0] },
  { name: 'triu', inputs: (r) => [r.normal(4, 4)], fn: (x) => x.triu(1) },
  { name: 'tril', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.tril(-1) },
];

const joining: Case[] = [
  { name: 'cat dim 0', inputs: (r) => [r.normal(2, 3), r.normal(1, 3)], fn: (a, b) => cat([a, b], 0) },
  { name: 'cat dim 1 of three', inputs: (r) => [r.normal(2, 3), r.normal(2, 1), r.normal(2, 2)], fn: (a, b, c) => cat([a, b, c], 1) },
  { name: 'stack dim 1', inputs: (r) => [r.normal(2, 3), r.normal(2, 3), r.normal(2, 3)], fn: (a, b, c) => stack([a, b, c], 1) },
  { name: 'split by size', inputs: (r) => [r.normal(3, 5)], fn: (x) => x.split(2, 1) },
  { name: 'split by sizes', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.split([1, 3], 1) },
  { name: 'split, one piece used', inputs: (r) => [r.normal(4, 3)], fn: (x) => x.split([3, 1])[0].exp() },
  { name: 'chunk uneven', inputs: (r) => [r.normal(5, 2)], fn: (x) => x.chunk(3, 0) },
];

const views: Case[] = [
  { name: 'reshape', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.reshape(2, -1) },
  { name: 'view', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.view(3, 2, 2) },
  { name: 'permute', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.permute(2, 0, 1) },
  { name: 'transpose', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.transpose(0, 2) },
  { name: 'mT', inputs: (r) => [r.normal(2, 3, 4)], fn: (x) => x.mT },
  { name: 'unsqueeze', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.unsqueeze(1) },
  { name: 'squeeze dim', inputs: (r) => [r.normal(3, 1, 4)], fn: (x) => x.squeeze(1) },
  { name: 'squeeze all', inputs: (r) => [r.normal(1, 3, 1, 2)], fn: (x) => x.squeeze() },
  { name: 'expand (gradient sums over copies)', inputs: (r) => [r.normal(1, 2, 1)], fn: (x) => x.expand(3, 2, 4) },
  { name: 'narrow', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.narrow(1, 1, 2) },
  { name: 'slice with step', inputs: (r) => [r.normal(3, 5)], fn: (x) => x.slice(1, 0, 5, 2) },
  { name: 'slice negative start', inputs: (r) => [r.normal(4, 3)], fn: (x) => x.slice(0, -3) },
  { name: 'select negative index', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.select(0, -1) },
  { name: 'flip', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.flip(0, 1) },
  { name: 'repeat', inputs: (r) => [r.normal(2, 3)], fn: (x) => x.repeat(2, 1, 3) },
  { name: 'flatten', inputs: (r) => [r.normal(2, 3, 2)], fn: (x) => x.flatten() },
  { name: 'transpose then contiguous then view', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.mT.contiguous().view(2, 6) },
  { name: 'clone', inputs: (r) => [r.normal(3, 4)], fn: (x) => x.clone().mul(x) },
];

const groups: [string, Case[]][] = [
  ['unary', unary],
  ['binary', binary],
  ['scalar', scalars],
  ['reduction', reductions],
  ['linear algebra', linearAlgebra],
  ['network', network],
  ['attention', attention],
  ['indexing', indexing],
  ['joining', joining],
  ['view', views],
];

let seed = 1;
for (const [group, cases] of groups) {
  for (const c of cases) {
    const caseSeed = seed++;
    test(`gradcheck ${group}: ${c.name}`, () => {
      gradcheck(c.fn, c.inputs(new Inputs(caseSeed)));
    });
  }
}

// The checker itself must catch wrong gradients.

test('gradcheck catches a gradient that misses a path (x · detach(x))', () => {
  const x = new Inputs(99).normal(3);
  const bad = gradientMismatches((a) => a.mul(a.detach()), [x]);
  assert.equal(bad.length, 3);
  assert.throws(() => gradcheck((a) => a.mul(a.detach()), [x]), /3 gradient elements disagree/);
});

test('gradcheck catches a wrong gradient in the second input only', () => {
  const r = new Inputs(100);
  const [a, b] = [r.normal(2, 2), r.normal(2, 2)];
  const bad = gradientMismatches((x, y) => x.mul(y.detach().add(y).mul(0.5)), [a, b]);
  assert.ok(bad.length > 0);
  assert.ok(bad.every((m) => m.input === 1));
});

test('gradcheck catches a function whose forward differs from what autograd differentiated', () => {
  // With grad on, 2x is recorded; the finite differences (run under noGrad) see 3x.
  const fn: GradFn = (x) => x.mul(isGradEnabled() ? 2 : 3);
  assert.throws(() => gradcheck(fn, [new Inputs(101).normal(4)]));
});

test('gradcheck passes an analytic case and the analytic gradient is the known one', () => {
  // d/dx sum(w · x²) = 2 w x: check the helper against a hand-written gradient.
  const x = tensor([0.5, -1.25, 2], { dtype: 'f64' });
  assert.deepEqual(gradientMismatches((a) => a.square(), [x]), []);
  const leaf = x.clone().requiresGrad_();
  const w = tensor([1, 2, 3], { dtype: 'f64' });
  leaf.square().mul(w).sum().backward();
  assert.deepEqual(leaf.grad!.toArray(), [1, -5, 12]);
});
