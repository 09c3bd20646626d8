/**
 * Multinomial logistic-regression probe: softmax(W·x' + b) on standardized features
 * x' = (x − mean)/sd (training-set statistics; constant features get sd 1), trained by
 * L-BFGS on
 *
 *   mean_i CE(softmax(W x'_i + b), y_i) + (l2/2)·||W||²_F    (the bias is not penalized).
 *
 * The default l2 = 1/n matches scikit-learn's LogisticRegression(C=1.0), whose objective is
 * the same up to the factor n. Cost per iteration O(n·d·C).
 */
import { minimizeLbfgs } from './lbfgs.js';
import { addProductTransposed, argmax, featureMajor } from './linalg.js';

export interface LogisticProbeOptions {
  /** Penalty on ||W||² per the objective above (default 1/n). */
  l2?: number;
  /** L-BFGS iterations (default 200). */
  maxIterations?: number;
}

export interface LogisticProbe {
  numClasses: number;
  /** Objective value at the end of training. */
  loss: number;
  iterations: number;
  converged: boolean;
  /** [C] class probabilities for one row [d]. */
  probabilities(row: Float64Array): Float64Array;
  predict(row: Float64Array): number;
}

/** rows [n][d], classIndex [n] in 0..numClasses−1. */
export function fitLogisticProbe(
  rows: readonly Float64Array[],
  classIndex: ArrayLike<number>,
  numClasses: number,
  options: LogisticProbeOptions = {},
): LogisticProbe {
  const n = rows.length;
  if (n === 0) throw new RangeError('fitLogisticProbe: no rows to fit');
  const d = rows[0]!.length;
  const l2 = options.l2 ?? 1 / n;
  if (!(l2 >= 0)) throw new RangeError(`fitLogisticProbe: l2 must be >= 0 (got ${l2})`);

  const featureMean = new Float64Array(d);
  const featureScale = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) featureMean[j]! += row[j]! / n;
  for (const row of rows) for (let j = 0; j < d; j++) featureScale[j]! += (row[j]! - featureMean[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) featureScale[j] = featureScale[j]! > 0 ? Math.sqrt(featureScale[j]!) : 1;
  const standardized = new Float64Array(n * d); // [n, d]
  rows.forEach((row, i) => {
    for (let j = 0; j < d; j++) standardized[i * d + j] = (row[j]! - featureMean[j]!) / featureScale[j]!;
  });
  const standardizedByFeature = featureMajor(
    Array.from({ length: n }, (_, i) => standardized.subarray(i * d, (i + 1) * d)),
    d,
  ); // [d, n]

  // Parameters θ = [W (C x d, row-major), b (C)].
  const weightCount = numClasses * d;
  const logits = new Float64Array(n * numClasses); // [n, C]
  const residualsByClass = new Float64Array(numClasses * n); // [C, n], (softmax − onehot)/n
  const objective = (theta: Float64Array, gradient: Float64Array): number => {
    for (let i = 0; i < n; i++) logits.set(theta.subarray(weightCount), i * numClasses);
    addProductTransposed(logits, numClasses, standardized, theta, n, numClasses, d, 1);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const z = logits.subarray(i * numClasses, (i + 1) * numClasses);
      const largest = Math.max(...z);
      let normalizer = 0;
      for (let c = 0; c < numClasses; c++) normalizer += Math.exp(z[c]! - largest);
      const label = classIndex[i]!;
      loss += largest + Math.log(normalizer) - z[label]!;
      for (let c = 0; c < numClasses; c++) {
        residualsByClass[c * n + i] = (Math.exp(z[c]! - largest) / normalizer - (c === label ? 1 : 0)) / n;
      }
    }
    gradient.fill(0);
    // ∂/∂W = residualsᵀ·X' [C, d]; ∂/∂b = row sums of the residuals.
    addProductTransposed(gradient, d, residualsByClass, standardizedByFeature, numClasses, d, n, 1);
    for (let c = 0; c < numClasses; c++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += residualsByClass[c * n + i]!;
      gradient[weightCount + c] = sum;
    }
    let squaredNorm = 0;
    for (let k = 0; k < weightCount; k++) {
      squaredNorm += theta[k]! ** 2;
      gradient[k]! += l2 * theta[k]!;
    }
    return loss / n + 0.5 * l2 * squaredNorm;
  };
  const result = minimizeLbfgs(objective, new Float64Array(weightCount + numClasses), {
    maxIterations: options.maxIterations ?? 200,
  });
  const theta = result.x;

  const probabilities = (row: Float64Array): Float64Array => {
    const z = new Float64Array(numClasses);
    for (let c = 0; c < numClasses; c++) {
      let sum = theta[weightCount + c]!;
      for (let j = 0; j < d; j++) sum += (theta[c * d + j]! * (row[j]! - featureMean[j]!)) / featureScale[j]!;
      z[c] = sum;
    }
    const largest = Math.max(...z);
    let normalizer = 0;
    for (let c = 0; c < numClasses; c++) normalizer += (z[c] = Math.exp(z[c]! - largest));
    return z.map((v) => v / normalizer);
  };
  return {
    numClasses,
    loss: result.value,
    iterations: result.iterations,
    converged: result.converged,
    probabilities,
    predict: (row) => argmax(probabilities(row)),
  };
}
