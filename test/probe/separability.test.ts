import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitShrinkageLda, ledoitWolfShrinkage } from '../../src/probe/lda.js';
import { minimizeLbfgs } from '../../src/probe/lbfgs.js';
import { addGramLower, addProductTransposed, choleskyFactor, choleskySolve } from '../../src/probe/linalg.js';
import { fitLogisticProbe } from '../../src/probe/logistic-probe.js';
import { crossValidatedAccuracy, separability, stratifiedFolds } from '../../src/probe/separability.js';
import { silhouetteScore } from '../../src/probe/silhouette.js';
import { gaussianClusters, gaussianSampler } from '../stats/synthetic.js';

const close = (actual: number, expected: number, what: string, tolerance = 1e-10) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected}`);

test('Cholesky factor and solve on the textbook example', () => {
  // A = [[4, 12, −16], [12, 37, −43], [−16, −43, 98]] = L·Lᵀ with L = [[2,0,0],[6,1,0],[−8,5,3]].
  const a = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
  assert.deepEqual([...choleskyFactor(a, 3)], [2, 0, 0, 6, 1, 0, -8, 5, 3]);
  const x = choleskySolve(choleskyFactor(a, 3), [1, 2, 3]);
  for (let i = 0; i < 3; i++) close(a[i * 3]! * x[0]! + a[i * 3 + 1]! * x[1]! + a[i * 3 + 2]! * x[2]!, i + 1, `row ${i}`);
  assert.throws(() => choleskyFactor(Float64Array.from([1, 2, 2, 1]), 2), /not positive definite \(pivot 1/);
});

test('blocked products match naive loops across block and tile edges', () => {
  const gaussian = gaussianSampler(1);
  const [m, p, k] = [5, 7, 3];
  const a = Float64Array.from({ length: m * k }, gaussian);
  const b = Float64Array.from({ length: p * k }, gaussian);
  const out = new Float64Array(m * p).fill(1);
  addProductTransposed(out, p, a, b, m, p, k, -2);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < p; j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum += a[i * k + t]! * b[j * k + t]!;
      close(out[i * p + j]!, 1 - 2 * sum, `A·Bᵀ[${i},${j}]`);
    }
  }
  const r = 70; // crosses the 64 tile
  const f = Float64Array.from({ length: r * 9 }, gaussian);
  const gram = new Float64Array(r * r);
  addGramLower(gram, f, r, 9, 1);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let t = 0; t < 9; t++) sum += f[i * 9 + t]! * f[j * 9 + t]!;
      close(gram[i * r + j]!, sum, `gram[${i},${j}]`);
    }
  }
});

test('L-BFGS finds the minimum of the Rosenbrock function', () => {
  const result = minimizeLbfgs(
    (x, g) => {
      const [u, v] = [x[0]!, x[1]!];
      g[0] = -2 * (1 - u) - 400 * u * (v - u * u);
      g[1] = 200 * (v - u * u);
      return (1 - u) ** 2 + 100 * (v - u * u) ** 2;
    },
    Float64Array.from([-1.2, 1]),
  );
  assert.ok(result.converged);
  close(result.x[0]!, 1, 'u', 1e-6);
  close(result.x[1]!, 1, 'v', 1e-6);
});

test("Ledoit–Wolf shrinkage equals scikit-learn's formula written out densely", () => {
  const gaussian = gaussianSampler(3);
  const [n, d] = [12, 5];
  // Correlated, unequal-variance data, centred.
  const rows = Array.from({ length: n }, () => {
    const z = Array.from({ length: d }, gaussian);
    return Float64Array.from(z, (x, j) => (j + 1) * x + (j > 0 ? z[0]! : 0));
  });
  for (let j = 0; j < d; j++) {
    const m = rows.reduce((s, r) => s + r[j]!, 0) / n;
    for (const r of rows) r[j]! -= m;
  }
  // sklearn.covariance.ledoit_wolf_shrinkage, literally: X2 = X**2; emp_cov_trace = sum(X2, 0)/n;
  // mu = sum(emp_cov_trace)/d; beta_ = sum(X2ᵀ·X2); delta_ = sum((XᵀX)**2)/n²;
  // beta = (beta_/n − delta_)/(d·n); delta = (delta_ − 2·mu·sum(emp_cov_trace) + d·mu²)/d;
  // shrinkage = min(beta, delta)/delta.
  let betaRaw = 0;
  let deltaRaw = 0;
  let traceSum = 0;
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < d; k++) {
      let x2x2 = 0;
      let xx = 0;
      for (const r of rows) {
        x2x2 += r[j]! ** 2 * r[k]! ** 2;
        xx += r[j]! * r[k]!;
      }
      betaRaw += x2x2;
      deltaRaw += xx ** 2;
    }
    traceSum += rows.reduce((s, r) => s + r[j]! ** 2, 0) / n;
  }
  deltaRaw /= n * n;
  const mu = traceSum / d;
  const beta = (betaRaw / n - deltaRaw) / (d * n);
  const delta = (deltaRaw - 2 * mu * traceSum + d * mu * mu) / d;
  const expected = Math.min(beta, delta) / delta;

  const covariance = new Float64Array(d * d);
  for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) covariance[j * d + k] = rows.reduce((s, r) => s + r[j]! * r[k]!, 0) / n;
  const sumFourthPowers = rows.reduce((s, r) => s + r.reduce((t, x) => t + x * x, 0) ** 2, 0);
  close(ledoitWolfShrinkage(covariance, d, n, sumFourthPowers), expected, 'shrinkage', 1e-12);
  assert.ok(expected > 0 && expected < 1, `a non-trivial shrinkage (${expected})`);
});

test('Ledoit–Wolf shrinks isotropic noise strongly and a strongly anisotropic, well-sampled covariance little', () => {
  const gaussian = gaussianSampler(4);
  const fit = (scales: number[], n: number) => {
    const rows = Array.from({ length: n }, (_, i) => Float64Array.from(scales, (s) => s * gaussian() + (i % 2) * 5));
    return fitShrinkageLda(rows, Int32Array.from(rows, (_, i) => i % 2), 2).shrinkage;
  };
  // fitShrinkageLda standardizes features first, so anisotropy must come from correlation; the
  // isotropic case is what standardization cannot change.
  assert.ok(fit([1, 1, 1, 1, 1, 1, 1, 1], 60) > 0.5, 'isotropic');
  const correlated = (() => {
    const rows = Array.from({ length: 2000 }, (_, i) => {
      const z = gaussian();
      return Float64Array.from({ length: 6 }, () => z + 0.05 * gaussian() + (i % 2));
    });
    return fitShrinkageLda(rows, Int32Array.from(rows, (_, i) => i % 2), 2).shrinkage;
  })();
  assert.ok(correlated < 0.05, `nearly collinear features, n ≫ d: shrinkage ${correlated}`);
});

test('LDA with shrinkage 0 reproduces the closed-form two-class discriminant', () => {
  const gaussian = gaussianSampler(5);
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < 40; i++) {
    const c = i < 15 ? 0 : 1; // unequal priors
    rows.push(Float64Array.from([gaussian() + 2 * c, 3 * gaussian() + 0.5 * gaussian() - c]));
    labels.push(c);
  }
  const model = fitShrinkageLda(rows, labels, 2, { shrinkage: 0 });
  // By hand: pooled covariance S/n, its 2 x 2 inverse, w = Σ⁻¹(μ1 − μ0),
  // δ1 − δ0 = xᵀw − ½(μ1ᵀΣ⁻¹μ1 − μ0ᵀΣ⁻¹μ0) + ln(n1/n0).
  const means = [0, 1].map((c) => {
    const members = rows.filter((_, i) => labels[i] === c);
    return [0, 1].map((j) => members.reduce((s, r) => s + r[j]!, 0) / members.length);
  });
  const s = [0, 0, 0];
  rows.forEach((r, i) => {
    const mu = means[labels[i]!]!;
    const [a, b] = [r[0]! - mu[0]!, r[1]! - mu[1]!];
    s[0]! += (a * a) / 40;
    s[1]! += (a * b) / 40;
    s[2]! += (b * b) / 40;
  });
  const det = s[0]! * s[2]! - s[1]! ** 2;
  const inverse = (x: number[]) => [(s[2]! * x[0]! - s[1]! * x[1]!) / det, (-s[1]! * x[0]! + s[0]! * x[1]!) / det];
  const quad = (mu: number[]) => {
    const q = inverse(mu);
    return mu[0]! * q[0]! + mu[1]! * q[1]!;
  };
  const w = inverse([means[1]![0]! - means[0]![0]!, means[1]![1]! - means[0]![1]!]);
  const constant = -0.5 * (quad(means[1]!) - quad(means[0]!)) + Math.log(25 / 15);
  for (const x of [[0, 0], [1, -2], [3.5, 4], [-2, 1]]) {
    const scores = model.scores(Float64Array.from(x));
    close(scores[1]! - scores[0]!, x[0]! * w[0]! + x[1]! * w[1]! + constant, `δ1 − δ0 at ${x}`, 1e-9);
  }
});

test('LDA from a supplied second moment equals LDA from the rows', () => {
  const gaussian = gaussianSampler(6);
  const { rows, labels } = gaussianClusters(
    Array.from({ length: 3 }, () => Float64Array.from({ length: 70 }, () => gaussian())),
    12,
    7,
  );
  const d = 70;
  const secondMoment = new Float64Array(d * d);
  for (const r of rows) for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) secondMoment[i * d + j]! += r[i]! * r[j]!;
  const direct = fitShrinkageLda(rows, labels, 3);
  const viaMoment = fitShrinkageLda(rows, labels, 3, { secondMoment });
  close(viaMoment.shrinkage, direct.shrinkage, 'shrinkage', 1e-9);
  assert.ok(direct.shrinkage > 0, 'd > n needs shrinkage');
  for (const row of rows.slice(0, 5)) {
    const [a, b] = [direct.scores(row), viaMoment.scores(row)];
    for (let c = 0; c < 3; c++) close(b[c]!, a[c]!, `score ${c}`, 1e-6 * Math.max(1, Math.abs(a[c]!)));
  }
});

test('logistic probe without penalty satisfies the maximum-likelihood moment equations', () => {
  // At the unpenalized optimum Σ_i (p_ic − y_ic) = 0 and Σ_i (p_ic − y_ic)·x_i = 0 for every class.
  const gaussian = gaussianSampler(9);
  const { rows, labels } = gaussianClusters([Float64Array.from([0, 0]), Float64Array.from([1, 0.5]), Float64Array.from([0.2, 1.5])], 40, 10);
  const probe = fitLogisticProbe(rows, labels, 3, { l2: 0, maxIterations: 500 });
  assert.ok(probe.converged, 'converged');
  for (let c = 0; c < 3; c++) {
    let count = 0;
    const moment = [0, 0];
    rows.forEach((row, i) => {
      const residual = probe.probabilities(row)[c]! - (labels[i] === c ? 1 : 0);
      count += residual;
      moment[0]! += residual * row[0]!;
      moment[1]! += residual * row[1]!;
    });
    close(count, 0, `class ${c} frequency`, 1e-4);
    close(moment[0]!, 0, `class ${c} moment x0`, 1e-4);
    close(moment[1]!, 0, `class ${c} moment x1`, 1e-4);
  }
  const p = probe.probabilities(Float64Array.from([gaussian(), gaussian()]));
  close(p.reduce((a, b) => a + b, 0), 1, 'probabilities sum to 1', 1e-12);
});

test('stratified folds hold each class in proportion and reproduce by seed', () => {
  const classIndex = Int32Array.from({ length: 53 }, (_, i) => (i < 20 ? 0 : i < 43 ? 1 : 2));
  const folds = stratifiedFolds(classIndex, 3, 5, 1);
  for (let c = 0; c < 3; c++) {
    const perFold = [0, 1, 2, 3, 4].map((f) => classIndex.filter((k, i) => k === c && folds[i] === f).length);
    assert.ok(Math.max(...perFold) - Math.min(...perFold) <= 1, `class ${c}: ${perFold}`);
  }
  const sizes = [0, 1, 2, 3, 4].map((f) => folds.filter((k) => k === f).length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `fold sizes ${sizes}`);
  assert.deepEqual(stratifiedFolds(classIndex, 3, 5, 1), folds);
  assert.notDeepEqual(stratifiedFolds(classIndex, 3, 5, 2), folds);
});

test('well-separated Gaussian clusters: LDA and logistic accuracy 1, silhouette near 1', () => {
  const gaussian = gaussianSampler(12);
  const d = 16;
  const means = Array.from({ length: 6 }, () => Float64Array.from({ length: d }, () => 8 * gaussian()));
  const { rows, labels } = gaussianClusters(means, 25, 13);
  const result = separability(rows, labels.map((c) => `persona-${c}`), { seed: 1 });
  assert.equal(result.lda.accuracy, 1);
  assert.equal(result.logistic.accuracy, 1);
  assert.ok(result.silhouette.euclidean > 0.7, `euclidean silhouette ${result.silhouette.euclidean}`);
  assert.ok(result.silhouette.cosine > 0.7, `cosine silhouette ${result.silhouette.cosine}`);
  assert.deepEqual(result.classes, ['persona-0', 'persona-1', 'persona-2', 'persona-3', 'persona-4', 'persona-5']);
  close(result.chanceAccuracy, 1 / 6, 'chance');
  assert.equal(result.lda.foldAccuracies.length, 5);
});

test('random labels: cross-validated accuracy stays near chance', () => {
  const gaussian = gaussianSampler(14);
  const rows = Array.from({ length: 160 }, () => Float64Array.from({ length: 12 }, () => gaussian()));
  const labels = rows.map((_, i) => i % 4);
  for (const classifier of ['lda', 'logistic'] as const) {
    const { accuracy } = crossValidatedAccuracy(rows, labels, classifier);
    // Chance is 0.25; a binomial(160, 0.25) stays within ±0.1 with probability > 0.99.
    assert.ok(accuracy > 0.12 && accuracy < 0.4, `${classifier} accuracy ${accuracy}`);
  }
});

test('more dimensions than samples: shrinkage LDA still separates, and so does the probe', () => {
  const gaussian = gaussianSampler(15);
  const d = 300;
  const means = Array.from({ length: 3 }, () => Float64Array.from({ length: d }, () => 0.6 * gaussian()));
  const { rows, labels } = gaussianClusters(means, 10, 16); // n = 30 ≪ d
  const lda = crossValidatedAccuracy(rows, labels, 'lda');
  const logistic = crossValidatedAccuracy(rows, labels, 'logistic');
  assert.ok(lda.accuracy >= 0.9, `lda ${lda.accuracy}`);
  assert.ok(logistic.accuracy >= 0.9, `logistic ${logistic.accuracy}`);
});

test('silhouette matches hand computation (euclidean and cosine)', () => {
  // 1-D: A = {0, 1}, B = {4, 6}.
  // s(0) = (5 − 1)/5, s(1) = (4 − 1)/4, s(4) = (3.5 − 2)/3.5, s(6) = (5.5 − 2)/5.5.
  const line = [0, 1, 4, 6].map((x) => Float64Array.from([x]));
  const expected = (0.8 + 0.75 + 1.5 / 3.5 + 3.5 / 5.5) / 4;
  close(silhouetteScore(line, [0, 0, 1, 1], 2, 'euclidean'), expected, 'euclidean', 1e-12);
  // Cosine distance 1 − cos: A = {(1,0), (0,1)}, B = {(−1,0), (0,−1)}: a = 1, b = (2 + 1)/2 for all.
  const plane = [[1, 0], [0, 1], [-1, 0], [0, -1]].map((x) => Float64Array.from(x));
  close(silhouetteScore(plane, [0, 0, 1, 1], 2, 'cosine'), 1 / 3, 'cosine', 1e-12);
  const scaled = plane.map((r, i) => r.map((x) => x * (i + 1) * 10));
  close(silhouetteScore(scaled, [0, 0, 1, 1], 2, 'cosine'), 1 / 3, 'cosine ignores scale', 1e-12);
  // A singleton cluster scores 0: C = {10}; others as before against it.
  const withSingleton = [...line, Float64Array.from([10])];
  const s = [
    (Math.min(5, 10) - 1) / Math.min(5, 10), // 0: a = 1, b = min(mean to B = 5, to C = 10)
    (Math.min(4, 9) - 1) / Math.min(4, 9),
    (Math.min(3.5, 6) - 2) / Math.min(3.5, 6),
    (Math.min(5.5, 4) - 2) / Math.min(5.5, 4),
    0,
  ];
  close(silhouetteScore(withSingleton, [0, 0, 1, 1, 2], 3, 'euclidean'), s.reduce((a, b) => a + b) / 5, 'singleton', 1e-12);
  assert.throws(() => silhouetteScore(line, [0, 0, 0, 0], 1, 'euclidean'), /between 2 and n − 1/);
});

test('separability rejects unusable input with messages naming the fix', () => {
  const rows = Array.from({ length: 8 }, (_, i) => Float64Array.from([i, i % 3]));
  assert.throws(() => separability(rows, [0, 0, 0, 0, 0, 0, 1, 1]), /class '1' has 2 rows, fewer than folds = 5; use folds <= 2/);
  assert.throws(() => separability(rows, [0, 1]), /8 rows but 2 labels/);
  assert.throws(() => separability(rows, rows.map(() => 'a')), /at least 2 classes/);
  assert.throws(() => separability(rows, rows.map((_, i) => i % 2), { folds: 1 }), /folds must be an integer >= 2/);
});
