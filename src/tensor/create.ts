// Creating tensors: from JS data, from raw bytes, and the usual factories.

import { native } from './native.js';
import { DTYPES, type DType, type TypedArray } from './dtype.js';
import { Tensor, type Device } from './tensor.js';
import type { Generator } from './random.js';

export interface Options {
  dtype?: DType;
  device?: Device;
}

function code(o: Options | undefined, fallback: DType = 'f32'): number {
  return DTYPES[o?.dtype ?? fallback].code;
}
function dev(o: Options | undefined): string {
  return o?.device ?? 'cpu';
}

/** A tensor from little-endian bytes (a copy); bytes.length must equal numel × element size. */
export function fromBytes(bytes: Uint8Array, dtype: DType, shape: number[], device: Device = 'cpu'): Tensor {
  return new Tensor(native.fromBytes(bytes, DTYPES[dtype].code, shape, device));
}

function shapeOf(data: unknown): number[] {
  const shape: number[] = [];
  let v: unknown = data;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

function defaultDtype(data: TypedArray | number[] | boolean[]): DType {
  if (data instanceof Float64Array) return 'f64';
  if (data instanceof BigInt64Array) return 'i64';
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Int16Array) return 'i16';
  if (data instanceof Int8Array) return 'i8';
  if (data instanceof Uint8Array) return 'u8';
  if (data.length > 0 && typeof data[0] === 'boolean') return 'bool';
  return 'f32';
}

/** Writes JS numbers into a fresh CPU tensor of the given dtype. */
function fromNumbers(flat: ArrayLike<number | boolean | bigint>, dtype: DType, shape: number[]): Tensor {
  // The exact conversion for f16/bf16 is libtorch's: stage as f64, then convert.
  const stage: DType = dtype === 'f16' || dtype === 'bf16' ? 'f64' : dtype;
  const t = new Tensor(native.empty(shape, DTYPES[stage].code, 'cpu'));
  if (flat.length !== t.numel) {
    t.dispose();
    throw new Error(`tensor(): ${flat.length} values do not fill shape [${shape.join(', ')}] (${t.numel} elements)`);
  }
  const bytes = t.bytesView();
  const buf = bytes.buffer;
  const n = flat.length;
  const at = (i: number) => flat[i] as number;
  switch (stage) {
    case 'f32': { const a = new Float32Array(buf, bytes.byteOffset, n); for (let i = 0; i < n; i++) a[i] = at(i); break; }
    case 'f64': { const a = new Float64Array(buf, bytes.byteOffset, n); for (let i = 0; i < n; i++) a[i] = at(i); break; }
    case 'i64': { const a = new BigInt64Array(buf, bytes.byteOffset, n); for (let i = 0; i < n; i++) a[i] = BigInt(Math.trunc(Number(flat[i]))); break; }
    case 'i32': { const a = new Int32Array(buf, bytes.byteOffset, n); for (let i = 0; i < n; i++) a[i] = at(i); break; }
    case 'i16': { const a = new Int16Array(buf, bytes.byteOffset, n); for (let i = 0; i < n; i++) a[i] = at(i); break; }
    case 'i8': { const a = new Int8Array(buf, bytes.byteOffset, n); for (let i = 0; i < n; i++) a[i] = at(i); break; }
    case 'u8': case 'bool': { const a = new Uint8Array(buf, bytes.byteOffset, n); for (let i = 0; i < n; i++) a[i] = Number(flat[i]) ? (stage === 'bool' ? 1 : at(i)) : 0; break; }
    default: throw new Error(`unreachable dtype ${stage}`);
  }
  if (stage === dtype) return t;
  const out = t.to(dtype);
  t.dispose();
  return out;
}

/**
 * A tensor from nested JS arrays or a flat typed array (with `shape`).
 * tensor([[1, 2], [3, 4]]) → f32 [2, 2]; tensor(new Int32Array(6), {shape: [2, 3]}) → i32 [2, 3].
 */
export function tensor(
  data: number | boolean | unknown[] | TypedArray,
  options: Options & { shape?: number[] } = {},
): Tensor {
  let flat: ArrayLike<number | boolean | bigint>;
  let shape: number[];
  let dtype: DType;
  if (typeof data === 'number' || typeof data === 'boolean') {
    flat = [data];
    shape = options.shape ?? [];
    dtype = options.dtype ?? (typeof data === 'boolean' ? 'bool' : 'f32');
  } else if (Array.isArray(data)) {
    shape = options.shape ?? shapeOf(data);
    const f = (data as unknown[]).flat(Infinity) as (number | boolean)[];
    flat = f;
    dtype = options.dtype ?? defaultDtype(f as number[]);
  } else {
    flat = data as ArrayLike<number | bigint>;
    shape = options.shape ?? [data.length];
    dtype = options.dtype ?? defaultDtype(data);
  }
  const t = fromNumbers(flat, dtype, shape);
  if (options.device === undefined || options.device === 'cpu') return t;
  const moved = t.to(options.device);
  t.dispose();
  return moved;
}

export function empty(shape: number[], o?: Options): Tensor { return new Tensor(native.empty(shape, code(o), dev(o))); }
export function zeros(shape: number[], o?: Options): Tensor { return new Tensor(native.zeros(shape, code(o), dev(o))); }
export function ones(shape: number[], o?: Options): Tensor { return new Tensor(native.ones(shape, code(o), dev(o))); }
export function full(shape: number[], value: number, o?: Options): Tensor {
  return new Tensor(native.full(shape, value, code(o), dev(o)));
}
export function zerosLike(t: Tensor): Tensor { return zeros(t.shape, { dtype: t.dtype, device: t.device as Device }); }
export function onesLike(t: Tensor): Tensor { return ones(t.shape, { dtype: t.dtype, device: t.device as Device }); }
/** [start, end) with step; i64 when all three are integers, else f32 (as torch.arange), unless given. */
export function arange(start: number, end?: number, step = 1, o?: Options): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const integral = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
  return new Tensor(native.arange(s, e, step, code(o, integral ? 'i64' : 'f32'), dev(o)));
}
export function eye(n: number, m = n, o?: Options): Tensor { return new Tensor(native.eye(n, m, code(o), dev(o))); }

export interface RandomOptions extends Options {
  generator?: Generator;
}
export function randn(shape: number[], o?: RandomOptions): Tensor {
  return new Tensor(native.randn(shape, code(o), dev(o), o?.generator?.handle));
}
export function rand(shape: number[], o?: RandomOptions): Tensor {
  return new Tensor(native.rand(shape, code(o), dev(o), o?.generator?.handle));
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: number[], o?: RandomOptions): Tensor {
  return new Tensor(native.randint(low, high, shape, code(o, 'i64'), dev(o), o?.generator?.handle));
}
/** Samples `n` indices per row from probabilities [rows, classes] (or [classes]). */
export function multinomial(probs: Tensor, n: number, replacement = false, generator?: Generator): Tensor {
  return new Tensor(native.multinomial(probs.handle, n, replacement, generator?.handle));
}
export function randnLike(t: Tensor, generator?: Generator): Tensor {
  return randn(t.shape, { dtype: t.dtype, device: t.device as Device, ...(generator ? { generator } : {}) });
}
/** Bernoulli(p) draws shaped like t (values 0/1 in t's dtype). */
export function bernoulli(t: Tensor, p: number, generator?: Generator): Tensor {
  return new Tensor(native.bernoulli(t.handle, p, generator?.handle));
}
