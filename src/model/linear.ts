// A linear layer y = x Wᵀ + b that adapters (LoRA) can attach to by module path.

import * as T from '../tensor/index.js';

/** Something that adds a learned delta to a linear layer's output (e.g. a LoRA adapter). */
export interface LinearAdapter {
  readonly name: string;
  enabled: boolean;
  /** x [..., in] → delta [..., out] */
  delta(x: T.Tensor): T.Tensor;
}

export class Linear {
  /** [out, in] */
  weight: T.Tensor;
  /** [out] */
  bias: T.Tensor | undefined;
  readonly adapters: LinearAdapter[] = [];

  /** `path` is the Hugging Face module path, e.g. model.layers.0.self_attn.q_proj */
  constructor(readonly path: string, weight: T.Tensor, bias?: T.Tensor) {
    this.weight = weight;
    this.bias = bias;
  }

  get inFeatures(): number { return this.weight.size(1); }
  get outFeatures(): number { return this.weight.size(0); }

  /** x [..., in] → [..., out] */
  forward(x: T.Tensor): T.Tensor {
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
    for (const a of this.adapters) if (a.enabled) y = y.add(a.delta(x));
    return y;
  }
}
