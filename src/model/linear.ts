// A linear layer y = x Wᵀ + b that adapters (LoRA) can attach to by module path.

import * as T from '../tensor/index.js';

/** Something that adds a learned delta to a linear layer's output (e.g. a LoRA adapter). */
export interface LinearAdapter {
  readonly name: string;
  enabled: boolean;
  /** x [..., in] → delta [..., out] */
  delta(x: T.Tensor): T.Tensor;
}

/**
 * Products with at most this many rows use the packed weight when there is one. Measured at the
 * bench models' shapes (f32, 2 threads): packed is 1.1–3.5× faster up to 64 rows (most for a
 * single row); from a few hundred rows on (a prompt's prefill) BLAS is as fast or faster.
 */
export const PACKED_MAX_ROWS = 64;

export class Linear {
  /** [out, in] */
  weight: T.Tensor;
  /** [out] */
  bias: T.Tensor | undefined;
  readonly adapters: LinearAdapter[] = [];
  #packed: T.PackedLinear | undefined;

  /** `path` is the Hugging Face module path, e.g. model.layers.0.self_attn.q_proj */
  constructor(readonly path: string, weight: T.Tensor, bias?: T.Tensor) {
    this.weight = weight;
    this.bias = bias;
  }

  get inFeatures(): number { return this.weight.size(1); }
  get outFeatures(): number { return this.weight.size(0); }

  /**
   * Packs the weight for products with few rows (decode steps): faster, for memory about the
   * weight's size. False where it cannot be packed (not f32 on the CPU, or no XNNPACK).
   */
  pack(): boolean {
    if (this.#packed !== undefined && this.#packed.weight === this.weight && this.#packed.bias === this.bias) return true;
    this.unpack();
    if (this.weight.dtype !== 'f32' || this.weight.device !== 'cpu' || !T.PackedLinear.available()) return false;
    this.#packed = new T.PackedLinear(this.weight, this.bias);
    return true;
  }
  /** Frees the packed weight. */
  unpack(): void {
    this.#packed?.dispose();
    this.#packed = undefined;
  }
  /** Bytes held by the packed weight (0 when unpacked). */
  get packedBytes(): number {
    return this.#packed?.bytes ?? 0;
  }

  /** x [..., in] → [..., out] */
  forward(x: T.Tensor): T.Tensor {
    const y = (this.#packed === undefined ? undefined : this.#packedProduct(x)) ?? this.#product(x);
    return this.addAdapterDeltas(x, y);
  }

  /** y plus the delta of each enabled adapter for input x. */
  addAdapterDeltas(x: T.Tensor, y: T.Tensor): T.Tensor {
    for (const a of this.adapters) if (a.enabled) y = y.add(a.delta(x));
    return y;
  }

  // The packed weight's product when it applies (few rows, no gradient, the weight not replaced).
  #packedProduct(x: T.Tensor): T.Tensor | undefined {
    const packed = this.#packed as T.PackedLinear;
    if (packed.weight !== this.weight || packed.bias !== this.bias) return undefined;
    if (x.numel > PACKED_MAX_ROWS * this.inFeatures) return undefined;
    return packed.run(x);
  }

  #product(x: T.Tensor): T.Tensor {
    let y: T.Tensor;
    if (x.numel === this.inFeatures) {
      // One row (a single decode step): a matrix-vector product. BLAS runs a 1-row matrix
      // product several times slower than the same gemv (measured 3–7× at 1536×512).
      const shape = x.shape;
      shape[shape.length - 1] = this.outFeatures;
      const v = this.weight.matmul(x.reshape(-1)); // [out]
      y = (this.bias === undefined ? v : v.add(this.bias)).view(...shape);
    } else {
      y = T.linear(x, this.weight, this.bias);
    }
    return y;
  }
}

/**
 * Linear layers that read the same input (q/k/v, gate/up) with their weights stored as row
 * blocks of one matrix: each part's weight (and bias) is a view into the whole, so in-place
 * updates (an optimizer step, a LoRA merge) reach both. The parts stay the modules adapters
 * attach to and the parameters checkpoints name; forward runs one matrix product instead of
 * one per part whenever no part's weight needs a gradient, and each part's enabled adapters add
 * their delta to its slice (the same sum as the part's own forward). The matrix is stored
 * input-major ([in, Σ out] in memory, seen as [Σ out, in]): OpenBLAS runs small-batch products
 * x·Wᵀ (decoding a batch) 10–35% faster on that layout, and matrix-vector products no slower
 * (measured at the bench models' shapes).
 */
export class FusedLinear {
  readonly whole: Linear;
  readonly #sizes: number[];

  /** Moves the parts' weights into one matrix (disposing the originals); parts share its storage. */
  constructor(readonly parts: Linear[]) {
    const withBias = parts.filter((p) => p.bias !== undefined).length;
    if (withBias !== 0 && withBias !== parts.length) throw new Error(`FusedLinear: ${parts.map((p) => p.path).join(', ')} must all have a bias or none`);
    this.#sizes = parts.map((p) => p.outFeatures);
    const weight = T.keep(T.scope(() => T.cat(parts.map((p) => p.weight.mT), 1).mT)); // [Σ out, in], stored input-major
    const bias = withBias === 0 ? undefined : T.keep(T.cat(parts.map((p) => p.bias as T.Tensor), 0)); // [Σ out]
    let row = 0;
    for (const p of parts) {
      const n = p.outFeatures;
      p.weight.dispose();
      p.weight = T.keep(weight.narrow(0, row, n));
      if (bias !== undefined) {
        p.bias?.dispose();
        p.bias = T.keep(bias.narrow(0, row, n));
      }
      row += n;
    }
    this.whole = new Linear(parts.map((p) => p.path).join('+'), weight, bias);
  }

  /** x [..., in] → one output per part, [..., out_i] */
  forward(x: T.Tensor): T.Tensor[] {
    if (!this.#fusable()) return this.parts.map((p) => p.forward(x));
    const outs = this.whole.forward(x).split(this.#sizes, -1);
    return outs.map((y, i) => (this.parts[i] as Linear).addAdapterDeltas(x, y));
  }

  // The whole matrix's product has no gradient path to the parts' weights.
  #fusable(): boolean {
    if (!T.isGradEnabled()) return true;
    return this.parts.every((p) => !p.weight.requiresGrad && !(p.bias?.requiresGrad ?? false));
  }
}
