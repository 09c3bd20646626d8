// The Tensor: a handle to a libtorch tensor with the ops basin needs. Every method is a thin
// call into native/basin.cc; shapes, dtypes and broadcasting follow PyTorch exactly.
// Errors from libtorch (wrong shapes, dtypes, out-of-range indices) arrive as JS Errors.

import { native, type Handle } from './native.js';
import { DTYPES, dtypeFromCode, type DType, type TypedArray } from './dtype.js';
import { track, type Disposable } from './scope.js';
import type { Generator } from './random.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Operand = Tensor | number;
/** Reduction over all dims (undefined) or the listed ones. */
export type Dims = number | number[] | undefined;

const REDUCTION = { none: 0, mean: 1, sum: 2 } as const;
export type Reduction = keyof typeof REDUCTION;

function dimList(d: Dims): number[] | null {
  if (d === undefined) return null;
  return typeof d === 'number' ? [d] : d;
}

function genHandle(g: Generator | undefined): unknown {
  return g === undefined ? undefined : g.handle;
}

// The GC backstop for tensors that outlive every scope: when such a Tensor object is
// collected, its native slot is freed.
const release = new FinalizationRegistry<Handle>((handle) => native.dispose(handle));

export class Tensor implements Disposable {
  readonly handle: Handle;
  #shape: number[] | undefined;
  #dtype: DType | undefined;
  #registered = false;

  constructor(handle: Handle) {
    this.handle = handle;
    track(this);
  }

  // ---- metadata ---------------------------------------------------------------------

  /** Sizes of each dimension (a copy). */
  get shape(): number[] {
    if (this.#shape === undefined) this.#shape = native.shape(this.handle) as number[];
    return this.#shape.slice();
  }
  get ndim(): number {
    return this.shape.length;
  }
  get dtype(): DType {
    if (this.#dtype === undefined) this.#dtype = dtypeFromCode(native.dtype(this.handle));
    return this.#dtype;
  }
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  get numel(): number {
    return native.numel(this.handle) as number;
  }
  get isContiguous(): boolean {
    return native.isContiguous(this.handle) as boolean;
  }
  /** Size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    const v = s[d];
    if (v === undefined) throw new RangeError(`size(${dim}): tensor has ${s.length} dims`);
    return v;
  }
  toString(): string {
    return this.disposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device})`;
  }

  // ---- lifetime ---------------------------------------------------------------------

  /** Drops this handle's reference to the native tensor now (views and grads keep theirs). */
  dispose(): void {
    native.dispose(this.handle);
    if (this.#registered) {
      release.unregister(this);
      this.#registered = false;
    }
  }
  /** Scopes call this when the tensor outlives them all: the GC then frees it if nobody does. */
  escape(): void {
    if (this.#registered) return;
    release.register(this, this.handle, this);
    native.reportToGc(this.handle); // so that V8 weighs the native memory waiting on it
    this.#registered = true;
  }
  get batchHandle(): Handle | undefined {
    return this.#registered ? undefined : this.handle;
  }
  get disposed(): boolean {
    return native.isDisposed(this.handle) as boolean;
  }

  // ---- data out ---------------------------------------------------------------------

  /** The elements as little-endian bytes, a copy (row-major, contiguous). */
  toBytes(): Uint8Array {
    return native.toBytes(this.handle) as Uint8Array;
  }
  /**
   * A zero-copy view of a contiguous CPU tensor's memory. Writes through it change the tensor;
   * the view keeps the memory alive even after dispose().
   */
  bytesView(): Uint8Array {
    return new Uint8Array(native.bytesView(this.handle) as ArrayBuffer);
  }
  /** The elements in a typed array (a copy). f16/bf16 come out as Float32Array, bool as Uint8Array. */
  data(): TypedArray {
    const t = this.dtype === 'f16' || this.dtype === 'bf16' ? this.to('f32') : this;
    const dtype = t.dtype;
    const bytes = t.toBytes();
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    if (t !== this) t.dispose();
    switch (dtype) {
      case 'f32': return new Float32Array(buf);
      case 'f64': return new Float64Array(buf);
      case 'i64': return new BigInt64Array(buf);
      case 'i32': return new Int32Array(buf);
      case 'i16': return new Int16Array(buf);
      case 'i8': return new Int8Array(buf);
      default: return new Uint8Array(buf);
    }
  }
  /** The elements as JS numbers, flat. */
  toArray(): number[] {
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d as ArrayLike<number>);
  }
  /** The elements as nested JS arrays of numbers (a number for a 0-d tensor). */
  toNested(): unknown {
    const flat = this.toArray();
    const shape = this.shape;
    if (shape.length === 0) return flat[0];
    let i = 0;
    const build = (d: number): unknown[] => {
      const out: unknown[] = [];
      const n = shape[d] ?? 0;
      for (let k = 0; k < n; k++) out.push(d === shape.length - 1 ? flat[i++] : build(d + 1));
      return out;
    };
    return build(0);
  }
  /** The single element as a number (or boolean for bool tensors). */
  item(): number {
    return native.item(this.handle) as number;
  }

  // ---- conversion -------------------------------------------------------------------

  to(target: DType | Device): Tensor {
    if (target in DTYPES) return new Tensor(native.toDtype(this.handle, DTYPES[target as DType].code));
    return new Tensor(native.toDevice(this.handle, target));
  }
  contiguous(): Tensor { return new Tensor(native.contiguous(this.handle)); }
  clone(): Tensor { return new Tensor(native.clone(this.handle)); }
  /** A new handle to the same values, cut from the autograd graph. */
  detach(): Tensor { return new Tensor(native.detach(this.handle)); }

  // ---- elementwise ------------------------------------------------------------------

  neg(): Tensor { return new Tensor(native.neg(this.handle)); }
  exp(): Tensor { return new Tensor(native.exp(this.handle)); }
  log(): Tensor { return new Tensor(native.log(this.handle)); }
  log1p(): Tensor { return new Tensor(native.log1p(this.handle)); }
  sqrt(): Tensor { return new Tensor(native.sqrt(this.handle)); }
  rsqrt(): Tensor { return new Tensor(native.rsqrt(this.handle)); }
  abs(): Tensor { return new Tensor(native.abs(this.handle)); }
  tanh(): Tensor { return new Tensor(native.tanh(this.handle)); }
  sigmoid(): Tensor { return new Tensor(native.sigmoid(this.handle)); }
  relu(): Tensor { return new Tensor(native.relu(this.handle)); }
  silu(): Tensor { return new Tensor(native.silu(this.handle)); }
  /** GELU, exact (erf) or the tanh approximation (GPT-2's gelu_new). */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return new Tensor(native.gelu(this.handle, approximate)); }
  sin(): Tensor { return new Tensor(native.sin(this.handle)); }
  cos(): Tensor { return new Tensor(native.cos(this.handle)); }
  erf(): Tensor { return new Tensor(native.erf(this.handle)); }
  sign(): Tensor { return new Tensor(native.sign(this.handle)); }
  floor(): Tensor { return new Tensor(native.floor(this.handle)); }
  ceil(): Tensor { return new Tensor(native.ceil(this.handle)); }
  round(): Tensor { return new Tensor(native.round(this.handle)); }
  reciprocal(): Tensor { return new Tensor(native.reciprocal(this.handle)); }
  square(): Tensor { return new Tensor(native.square(this.handle)); }
  logicalNot(): Tensor { return new Tensor(native.logicalNot(this.handle)); }
  isnan(): Tensor { return new Tensor(native.isnan(this.handle)); }
  isfinite(): Tensor { return new Tensor(native.isfinite(this.handle)); }

  /** this + alpha·other */
  add(other: Operand, alpha = 1): Tensor {
    if (typeof other === 'number') return new Tensor(native.addS(this.handle, other * alpha));
    return new Tensor(native.add(this.handle, other.handle, alpha));
  }
  sub(other: Operand): Tensor {
    return new Tensor(typeof other === 'number' ? native.subS(this.handle, other) : native.sub(this.handle, other.handle));
  }
  /** other − this */
  rsub(other: number): Tensor { return new Tensor(native.rsubS(this.handle, other)); }
  mul(other: Operand): Tensor {
    return new Tensor(typeof other === 'number' ? native.mulS(this.handle, other) : native.mul(this.handle, other.handle));
  }
  div(other: Operand): Tensor {
    return new Tensor(typeof other === 'number' ? native.divS(this.handle, other) : native.div(this.handle, other.handle));
  }
  pow(exponent: Operand): Tensor {
    return new Tensor(typeof exponent === 'number' ? native.powS(this.handle, exponent) : native.pow(this.handle, exponent.handle));
  }
  remainder(other: Operand): Tensor {
    return new Tensor(typeof other === 'number' ? native.remainderS(this.handle, other) : native.remainder(this.handle, other.handle));
  }
  maximum(other: Tensor): Tensor { return new Tensor(native.maximum(this.handle, other.handle)); }
  minimum(other: Tensor): Tensor { return new Tensor(native.minimum(this.handle, other.handle)); }

  eq(other: Operand): Tensor { return this.#compare(other, native.eq, native.eqS); }
  ne(other: Operand): Tensor { return this.#compare(other, native.ne, native.neS); }
  lt(other: Operand): Tensor { return this.#compare(other, native.lt, native.ltS); }
  le(other: Operand): Tensor { return this.#compare(other, native.le, native.leS); }
  gt(other: Operand): Tensor { return this.#compare(other, native.gt, native.gtS); }
  ge(other: Operand): Tensor { return this.#compare(other, native.ge, native.geS); }
  #compare(other: Operand, t: (a: Handle, b: Handle) => Handle, s: (a: Handle, b: number) => Handle): Tensor {
    return new Tensor(typeof other === 'number' ? s(this.handle, other) : t(this.handle, other.handle));
  }
  logicalAnd(other: Tensor): Tensor { return new Tensor(native.logicalAnd(this.handle, other.handle)); }
  logicalOr(other: Tensor): Tensor { return new Tensor(native.logicalOr(this.handle, other.handle)); }
  logicalXor(other: Tensor): Tensor { return new Tensor(native.logicalXor(this.handle, other.handle)); }

  /** Elements of this where `mask` is true are replaced by `value`. */
  maskedFill(mask: Tensor, value: number): Tensor { return new Tensor(native.maskedFill(this.handle, mask.handle, value)); }
  clamp(min?: number, max?: number): Tensor { return new Tensor(native.clamp(this.handle, min ?? null, max ?? null)); }
  /** this + weight·(end − this) */
  lerp(end: Tensor, weight: number): Tensor { return new Tensor(native.lerp(this.handle, end.handle, weight)); }

  // ---- in place (use under noGrad for parameters) ---------------------------------------

  /** this += alpha·other, in place; returns this. */
  add_(other: Operand, alpha = 1): this {
    if (typeof other === 'number') native.addS_(this.handle, other * alpha);
    else native.add_(this.handle, other.handle, alpha);
    return this;
  }
  sub_(other: Tensor): this { native.sub_(this.handle, other.handle); return this; }
  mul_(other: Operand): this {
    if (typeof other === 'number') native.mulS_(this.handle, other);
    else native.mul_(this.handle, other.handle);
    return this;
  }
  div_(other: Operand): this {
    if (typeof other === 'number') native.divS_(this.handle, other);
    else native.div_(this.handle, other.handle);
    return this;
  }
  /** this += value·a·b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this { native.addcmul_(this.handle, a.handle, b.handle, value); return this; }
  /** this += value·a/b */
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { native.addcdiv_(this.handle, a.handle, b.handle, value); return this; }
  lerp_(end: Tensor, weight: number): this { native.lerp_(this.handle, end.handle, weight); return this; }
  clamp_(min?: number, max?: number): this { native.clamp_(this.handle, min ?? null, max ?? null); return this; }
  maskedFill_(mask: Tensor, value: number): this { native.maskedFill_(this.handle, mask.handle, value); return this; }
  sqrt_(): this { native.sqrt_(this.handle); return this; }
  copy_(src: Tensor): this { native.copy_(this.handle, src.handle); return this; }
  fill_(value: number): this { native.fill_(this.handle, value); return this; }
  zero_(): this { native.zero_(this.handle); return this; }
  normal_(mean = 0, std = 1, generator?: Generator): this { native.normal_(this.handle, mean, std, genHandle(generator)); return this; }
  uniform_(low = 0, high = 1, generator?: Generator): this { native.uniform_(this.handle, low, high, genHandle(generator)); return this; }
  /** this[indices] = values (or += with accumulate), in place. null entries mean "all" for that dim. */
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this {
    native.indexPut_(this.handle, indices.map((t) => (t === null ? null : t.handle)), values.handle, accumulate);
    return this;
  }

  // ---- reductions -------------------------------------------------------------------

  sum(dims?: Dims, keepdim = false): Tensor { return new Tensor(native.sum(this.handle, dimList(dims), keepdim)); }
  mean(dims?: Dims, keepdim = false): Tensor { return new Tensor(native.mean(this.handle, dimList(dims), keepdim)); }
  prod(): Tensor { return new Tensor(native.prod(this.handle)); }
  /** Maximum over everything. */
  max(): Tensor { return new Tensor(native.maxAll(this.handle)); }
  min(): Tensor { return new Tensor(native.minAll(this.handle)); }
  /** Maximum along dim: [values, indices]. */
  maxDim(dim: number, keepdim = false): [Tensor, Tensor] { return this.#pair(native.maxDim(this.handle, dim, keepdim)); }
  minDim(dim: number, keepdim = false): [Tensor, Tensor] { return this.#pair(native.minDim(this.handle, dim, keepdim)); }
  argmax(dim: number, keepdim = false): Tensor { return new Tensor(native.argmax(this.handle, dim, keepdim)); }
  argmin(dim: number, keepdim = false): Tensor { return new Tensor(native.argmin(this.handle, dim, keepdim)); }
  logsumexp(dims: number | number[], keepdim = false): Tensor {
    return new Tensor(native.logsumexp(this.handle, dimList(dims), keepdim));
  }
  /** p-norm over all elements or along dims. */
  norm(p = 2, dims?: Dims, keepdim = false): Tensor { return new Tensor(native.norm(this.handle, p, dimList(dims), keepdim)); }
  /** Variance; unbiased (n − 1) by default as in PyTorch. */
  var(dims?: Dims, unbiased = true, keepdim = false): Tensor { return new Tensor(native.var(this.handle, dimList(dims), unbiased, keepdim)); }
  std(dims?: Dims, unbiased = true, keepdim = false): Tensor { return new Tensor(native.std(this.handle, dimList(dims), unbiased, keepdim)); }
  cumsum(dim: number): Tensor { return new Tensor(native.cumsum(this.handle, dim)); }
  any(): Tensor { return new Tensor(native.any(this.handle)); }
  all(): Tensor { return new Tensor(native.all(this.handle)); }

  // ---- linear algebra ---------------------------------------------------------------

  matmul(other: Tensor): Tensor { return new Tensor(native.matmul(this.handle, other.handle)); }
  bmm(other: Tensor): Tensor { return new Tensor(native.bmm(this.handle, other.handle)); }
  outer(other: Tensor): Tensor { return new Tensor(native.outer(this.handle, other.handle)); }

  // ---- neural-network functions -----------------------------------------------------

  softmax(dim: number): Tensor { return new Tensor(native.softmax(this.handle, dim)); }
  logSoftmax(dim: number): Tensor { return new Tensor(native.logSoftmax(this.handle, dim)); }

  // ---- indexing ---------------------------------------------------------------------

  indexSelect(dim: number, index: Tensor): Tensor { return new Tensor(native.indexSelect(this.handle, dim, index.handle)); }
  gather(dim: number, index: Tensor): Tensor { return new Tensor(native.gather(this.handle, dim, index.handle)); }
  /** Out of place: a copy of this with src added at index along dim. */
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatterAdd(this.handle, dim, index.handle, src.handle));
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.scatter(this.handle, dim, index.handle, src.handle));
  }
  indexAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(native.indexAdd(this.handle, dim, index.handle, src.handle));
  }
  /** Advanced indexing this[i0, i1, …]; null entries mean "all" for that dim. */
  index(indices: (Tensor | null)[]): Tensor {
    return new Tensor(native.index(this.handle, indices.map((t) => (t === null ? null : t.handle))));
  }
  /** Out of place: a copy of this with values written (or accumulated) at indices. */
  indexPut(indices: (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
    return new Tensor(native.indexPut(this.handle, indices.map((t) => (t === null ? null : t.handle)), values.handle, accumulate));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return this.#pair(native.topk(this.handle, k, dim, largest, sorted));
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] { return this.#pair(native.sort(this.handle, dim, descending)); }
  triu(diagonal = 0): Tensor { return new Tensor(native.triu(this.handle, diagonal)); }
  tril(diagonal = 0): Tensor { return new Tensor(native.tril(this.handle, diagonal)); }

  // ---- shape and views --------------------------------------------------------------

  reshape(...shape: number[]): Tensor { return new Tensor(native.reshape(this.handle, shape)); }
  /** A view with a new shape (no copy; fails where a copy would be needed — use reshape). */
  view(...shape: number[]): Tensor { return new Tensor(native.view(this.handle, shape)); }
  permute(...dims: number[]): Tensor { return new Tensor(native.permute(this.handle, dims)); }
  transpose(dim0: number, dim1: number): Tensor { return new Tensor(native.transpose(this.handle, dim0, dim1)); }
  /** Matrix transpose of the last two dims. */
  get mT(): Tensor { return this.transpose(-2, -1); }
  unsqueeze(dim: number): Tensor { return new Tensor(native.unsqueeze(this.handle, dim)); }
  squeeze(dim?: number): Tensor {
    return new Tensor(dim === undefined ? native.squeezeAll(this.handle) : native.squeeze(this.handle, dim));
  }
  expand(...shape: number[]): Tensor { return new Tensor(native.expand(this.handle, shape)); }
  narrow(dim: number, start: number, length: number): Tensor { return new Tensor(native.narrow(this.handle, dim, start, length)); }
  /** Python's t[start:end:step] along dim (negative and out-of-range bounds clamp as in Python). */
  slice(dim: number, start = 0, end = Number.MAX_SAFE_INTEGER, step = 1): Tensor {
    return new Tensor(native.slice(this.handle, dim, start, end, step));
  }
  /** t.select(dim, i): removes dim, taking index i. */
  select(dim: number, index: number): Tensor { return new Tensor(native.select(this.handle, dim, index)); }
  flip(...dims: number[]): Tensor { return new Tensor(native.flip(this.handle, dims)); }
  repeat(...times: number[]): Tensor { return new Tensor(native.repeat(this.handle, times)); }
  flatten(): Tensor { return this.reshape(-1); }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] {
    let sizes: number[];
    if (typeof sizeOrSizes === 'number') {
      if (!(Number.isInteger(sizeOrSizes) && sizeOrSizes > 0)) throw new RangeError(`split: the chunk size must be a positive integer, got ${sizeOrSizes}`);
      const total = this.size(dim);
      sizes = [];
      for (let s = 0; s < total; s += sizeOrSizes) sizes.push(Math.min(sizeOrSizes, total - s));
    } else {
      sizes = sizeOrSizes;
    }
    return (native.splitSizes(this.handle, sizes, dim) as Handle[]).map((h) => new Tensor(h));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return (native.chunk(this.handle, chunks, dim) as Handle[]).map((h) => new Tensor(h));
  }

  // ---- autograd ---------------------------------------------------------------------

  get requiresGrad(): boolean { return native.requiresGrad(this.handle) as boolean; }
  /** Marks a leaf tensor as a parameter whose gradient autograd accumulates; returns this. */
  requiresGrad_(value = true): this { native.setRequiresGrad(this.handle, value); return this; }
  get isLeaf(): boolean { return native.isLeaf(this.handle) as boolean; }
  /** The accumulated gradient, or null before any backward (a new handle to it each call). */
  get grad(): Tensor | null {
    const h = native.grad(this.handle) as Handle | null;
    return h === null ? null : new Tensor(h);
  }
  set grad(g: Tensor | null) { native.setGrad(this.handle, g === null ? null : g.handle); }
  /** Drops the gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void { native.setGrad(this.handle, null); }
  /** Backpropagates from this tensor; `gradient` is required unless this is a scalar. */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    native.backward(this.handle, gradient === undefined ? null : gradient.handle, options.retainGraph ?? false);
  }

  #pair(hs: Handle[]): [Tensor, Tensor] {
    return [new Tensor(hs[0] as Handle), new Tensor(hs[1] as Handle)];
  }
}
