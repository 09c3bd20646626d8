/**
 * Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, Alg. 7.4 and 7.5) with a
 * backtracking Armijo line search, for smooth convex objectives such as the logistic probe.
 */

export interface LbfgsOptions {
  /** Default 200. */
  maxIterations?: number;
  /** Correction pairs kept (default 10). */
  memory?: number;
  /** Stop when max_i |∂f/∂x_i| <= this (default 1e-6). */
  gradientTolerance?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  /** false when maxIterations ran out or the line search could not decrease f any more. */
  converged: boolean;
}

function dotProduct(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** objective(x, gradient) returns f(x) and writes ∇f(x) into gradient. */
export function minimizeLbfgs(
  objective: (x: Float64Array, gradient: Float64Array) => number,
  start: Float64Array,
  options: LbfgsOptions = {},
): LbfgsResult {
  const maxIterations = options.maxIterations ?? 200;
  const memory = options.memory ?? 10;
  const gradientTolerance = options.gradientTolerance ?? 1e-6;
  const size = start.length;
  let x = Float64Array.from(start);
  let gradient = new Float64Array(size);
  let value = objective(x, gradient);
  const steps: Float64Array[] = []; // s_k = x_{k+1} − x_k
  const gradientChanges: Float64Array[] = []; // y_k = g_{k+1} − g_k
  const direction = new Float64Array(size);
  const alphas = new Float64Array(memory);

  for (let iteration = 0; iteration < maxIterations; iteration++) {
    let largest = 0;
    for (let i = 0; i < size; i++) largest = Math.max(largest, Math.abs(gradient[i]!));
    if (largest <= gradientTolerance) return { x, value, iterations: iteration, converged: true };

    // Two-loop recursion: direction = −H·g with H the L-BFGS inverse-Hessian approximation.
    direction.set(gradient);
    for (let k = steps.length - 1; k >= 0; k--) {
      alphas[k] = dotProduct(steps[k]!, direction) / dotProduct(steps[k]!, gradientChanges[k]!);
      const y = gradientChanges[k]!;
      for (let i = 0; i < size; i++) direction[i]! -= alphas[k]! * y[i]!;
    }
    const last = steps.length - 1;
    const gamma =
      last >= 0
        ? dotProduct(steps[last]!, gradientChanges[last]!) / dotProduct(gradientChanges[last]!, gradientChanges[last]!)
        : 1 / Math.sqrt(dotProduct(gradient, gradient));
    for (let i = 0; i < size; i++) direction[i]! *= gamma;
    for (let k = 0; k < steps.length; k++) {
      const beta = dotProduct(gradientChanges[k]!, direction) / dotProduct(steps[k]!, gradientChanges[k]!);
      const s = steps[k]!;
      for (let i = 0; i < size; i++) direction[i]! += s[i]! * (alphas[k]! - beta);
    }
    for (let i = 0; i < size; i++) direction[i] = -direction[i]!;
    let slope = dotProduct(gradient, direction);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      steps.length = 0;
      gradientChanges.length = 0;
      const scale = 1 / Math.sqrt(dotProduct(gradient, gradient));
      for (let i = 0; i < size; i++) direction[i] = -gradient[i]! * scale;
      slope = dotProduct(gradient, direction);
    }

    // Backtracking line search on the Armijo condition f(x + t·p) <= f(x) + 1e-4·t·gᵀp.
    const candidate = new Float64Array(size);
    const candidateGradient = new Float64Array(size);
    let step = 1;
    let candidateValue = Infinity;
    for (let halving = 0; halving < 40; halving++) {
      for (let i = 0; i < size; i++) candidate[i] = x[i]! + step * direction[i]!;
      candidateValue = objective(candidate, candidateGradient);
      if (candidateValue <= value + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(candidateValue < value)) return { x, value, iterations: iteration, converged: false };

    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = candidate[i]! - x[i]!;
      y[i] = candidateGradient[i]! - gradient[i]!;
    }
    if (dotProduct(s, y) > 1e-12 * dotProduct(y, y)) {
      if (steps.length === memory) {
        steps.shift();
        gradientChanges.shift();
      }
      steps.push(s);
      gradientChanges.push(y);
    }
    x = candidate;
    gradient = candidateGradient;
    value = candidateValue;
  }
  return { x, value, iterations: maxIterations, converged: false };
}
