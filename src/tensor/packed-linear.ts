// A linear layer's weight packed once (XNNPACK, through libtorch's prepacked ops) for products
// with few rows. BLAS packs the whole weight matrix again on every call, which is most of the
// cost of a decode step, where each matrix meets only a handful of rows; the packed copy is
// made once and reused. It costs memory about the weight's size, so callers opt in.

import { native } from './native.js';
import { Tensor } from './tensor.js';

/** An opaque native packed-weights handle. */
type PackedHandle = { readonly __brand: 'PackedLinearHandle' };

export class PackedLinear {
  #handle: PackedHandle | undefined;

  /** Whether this libtorch has the prepacked ops (builds without XNNPACK do not). */
  static available(): boolean {
    return native.packedLinearAvailable() as boolean;
  }

  /**
   * Packs weight [out, in] (f32, CPU) and bias [out]. The weight and bias stay the source of
   * truth: after an in-place update of either, the next run repacks.
   */
  constructor(readonly weight: Tensor, readonly bias?: Tensor) {
    this.#handle = this.#pack();
  }

  /** Bytes of the packed copy (about the weight's). */
  get bytes(): number {
    return this.weight.numel * 4;
  }

  /**
   * x [..., in] → x·Wᵀ + b [..., out], or undefined when the packed copy cannot answer: x is not
   * an f32 CPU tensor, or a gradient would be recorded (the packed product has no backward).
   */
  run(x: Tensor): Tensor | undefined {
    const handle = this.#live();
    let y = native.packedLinear(x.handle, handle, this.weight.handle, this.bias?.handle) as number | undefined;
    if (y === undefined && (native.packedLinearStale(handle) as boolean)) {
      native.disposePackedLinear(handle);
      this.#handle = this.#pack();
      y = native.packedLinear(x.handle, this.#handle, this.weight.handle, this.bias?.handle) as number | undefined;
    }
    return y === undefined ? undefined : new Tensor(y);
  }

  /** Frees the packed copy now (otherwise the garbage collector does). */
  dispose(): void {
    if (this.#handle !== undefined) native.disposePackedLinear(this.#handle);
    this.#handle = undefined;
  }

  #pack(): PackedHandle {
    return native.packLinear(this.weight.handle, this.bias?.handle) as PackedHandle;
  }

  #live(): PackedHandle {
    if (this.#handle === undefined) throw new Error('PackedLinear: used after dispose()');
    return this.#handle;
  }
}
