// Finite-difference gradient check: autograd's gradient of a random scalar projection of
// fn's output, sum(fn(inputs) · W), against central differences in f64.

import { Generator, type Tensor, noGrad, randn, scope, tensor } from '../../src/tensor/index.js';

export type GradFn = (...inputs: Tensor[]) => Tensor | Tensor[];

export interface GradcheckOptions {
  /** finite-difference step (default 1e-6) */
  eps?: number;
  /** pass when |analytic − numeric| ≤ atol + rtol·|numeric| (defaults 1e-6 each) */
  atol?: number;
  rtol?: number;
  /** seed of the random projection weights W */
  seed?: number;
}

/** One element whose analytic and numeric gradients disagree. */
export interface GradMismatch {
  input: number;
  element: number;
  analytic: number;
  numeric: number;
}

const asList = (out: Tensor | Tensor[]): Tensor[] => (Array.isArray(out) ? out : [out]);

/** sum over outputs of sum(out · w), a 0-d f64 tensor. */
function project(outs: Tensor[], weights: Tensor[]): Tensor {
  let total = outs[0].mul(weights[0]).sum();
  for (let i = 1; i < outs.length; i++) total = total.add(outs[i].mul(weights[i]).sum());
  return total;
}

/**
 * Checks every f64 input's gradient element by element (inputs of other dtypes, such as
 * index tensors and masks, are passed through unchanged). fn's outputs must be f64.
 * Returns the mismatches (empty when the gradient is right).
 */
export function gradientMismatches(fn: GradFn, inputs: Tensor[], o: GradcheckOptions = {}): GradMismatch[] {
  const eps = o.eps ?? 1e-6;
  const atol = o.atol ?? 1e-6;
  const rtol = o.rtol ?? 1e-6;
  return scope(() => {
    const leaves = inputs.map((x) => (x.dtype === 'f64' ? x.detach().clone().requiresGrad_() : x));
    const outs = asList(fn(...leaves));
    for (const [k, out] of outs.entries()) {
      if (out.dtype !== 'f64') throw new Error(`gradcheck: output ${k} is ${out.dtype}; use f64 inputs so the output is f64`);
    }
    const generator = Generator.seeded(o.seed ?? 1234);
    const weights = outs.map((out) => randn(out.shape, { dtype: 'f64', generator })); // each like its output
    const loss = project(outs, weights);
    if (loss.requiresGrad) loss.backward();

    const value = (index: number, values: Float64Array, shape: number[]): number =>
      noGrad(() =>
        scope(() => {
          const xs = inputs.slice();
          xs[index] = tensor(values, { shape, dtype: 'f64' });
          return project(asList(fn(...xs)), weights).item();
        }),
      );

    const mismatches: GradMismatch[] = [];
    inputs.forEach((x, i) => {
      if (x.dtype !== 'f64') return;
      const grad = leaves[i].grad;
      const analytic = grad === null ? new Float64Array(x.numel) : (grad.data() as Float64Array);
      const base = x.data() as Float64Array;
      for (let j = 0; j < base.length; j++) {
        const perturbed = base.slice();
        perturbed[j] = base[j] + eps;
        const up = value(i, perturbed, x.shape);
        perturbed[j] = base[j] - eps;
        const down = value(i, perturbed, x.shape);
        const numeric = (up - down) / (2 * eps);
        const a = analytic[j];
        if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) mismatches.push({ input: i, element: j, analytic: a, numeric });
      }
    });
    return mismatches;
  });
}

/** Throws an Error listing the first mismatches when the gradient is wrong. */
export function gradcheck(fn: GradFn, inputs: Tensor[], o: GradcheckOptions = {}): void {
  const bad = gradientMismatches(fn, inputs, o);
  if (bad.length === 0) return;
  const lines = bad.slice(0, 5).map((m) => `input ${m.input} element ${m.element}: autograd ${m.analytic}, finite differences ${m.numeric}`);
  throw new Error(`gradcheck: ${bad.length} gradient elements disagree\n${lines.join('\n')}`);
}
