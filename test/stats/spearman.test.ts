import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageRanks, spearman } from '../../src/stats/spearman.js';

function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]! / n;
    my += y[i]! / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Two-sided exact p by brute force: recursive enumeration of all n! orderings of y's ranks. */
function bruteForceP(x: number[], y: number[]): number {
  const rx = averageRanks(x);
  const ry = [...averageRanks(y)];
  const observed = Math.abs(pearson(rx, ry));
  let extreme = 0;
  let total = 0;
  const visit = (prefix: number[], rest: number[]) => {
    if (rest.length === 0) {
      total++;
      if (Math.abs(pearson(rx, prefix)) >= observed - 1e-12) extreme++;
      return;
    }
    for (let i = 0; i < rest.length; i++) visit([...prefix, rest[i]!], [...rest.slice(0, i), ...rest.slice(i + 1)]);
  };
  visit([], ry);
  return extreme / total;
}

test('average ranks share tied positions', () => {
  assert.deepEqual([...averageRanks([10, 20, 20, 5, 20])], [2, 4, 4, 1, 4]);
  assert.deepEqual([...averageRanks([3, 1, 2])], [3, 1, 2]);
});

test('Spearman n = 5, rho = −0.9: exact two-sided p = 10/120 = 0.0833 (published tables: 0.083)', () => {
  const result = spearman([1, 2, 3, 4, 5], [5, 4, 3, 1, 2]);
  assert.ok(Math.abs(result.rho + 0.9) < 1e-15, `rho ${result.rho}`);
  assert.equal(result.method, 'exact permutation');
  assert.ok(Math.abs(result.pValue - 10 / 120) < 1e-15, `p ${result.pValue}`);
  assert.equal(Number(result.pValue.toFixed(3)), 0.083);
  // Perfect agreement at n = 5: only the identity and its reversal reach |rho| = 1.
  assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]).pValue - 2 / 120) < 1e-15);
});

test('Spearman n = 10 agrees with the published two-sided 5% critical value 0.648 (Zar 1972)', () => {
  const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  // Σd² = 58 → rho = 0.648 (just significant); Σd² = 60 → rho = 0.636 (just not).
  const atCritical = spearman(x, [6, 2, 3, 4, 5, 1, 9, 8, 7, 10]);
  const belowCritical = spearman(x, [6, 2, 4, 3, 5, 1, 9, 8, 7, 10]);
  assert.ok(Math.abs(atCritical.rho - (1 - (6 * 58) / 990)) < 1e-15);
  assert.ok(atCritical.pValue <= 0.05, `p at rho 0.648: ${atCritical.pValue}`);
  assert.ok(belowCritical.pValue > 0.05, `p at rho 0.636: ${belowCritical.pValue}`);
});

test('Spearman exact p equals brute-force enumeration, with and without ties', () => {
  const cases: [number[], number[]][] = [
    [[1, 2, 3, 4, 5, 6, 7], [2, 1, 4, 3, 7, 5, 6]],
    [[1, 2, 2, 3, 4, 5, 6, 7], [2, 1, 4, 3, 3, 6, 8, 7]],
    [[0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6], [3, 9, 1, 4, 2, 8, 6, 5, 7]],
    [[1, 1, 2, 2, 3, 3], [1, 2, 1, 2, 1, 2]],
  ];
  for (const [x, y] of cases) {
    const result = spearman(x, y);
    assert.ok(Math.abs(result.rho - pearson(averageRanks(x), averageRanks(y))) < 1e-14, `rho for ${x}`);
    assert.ok(Math.abs(result.pValue - bruteForceP(x, y)) < 1e-12, `p for ${x}: ${result.pValue}`);
  }
});

test('Spearman without ties equals 1 − 6Σd²/(n(n²−1)); large n uses the t approximation', () => {
  const x = Array.from({ length: 30 }, (_, i) => i);
  const y = x.map((i) => (i * 7) % 30); // a permutation: no ties
  const sumSquares = x.reduce((sum, i) => sum + (i - y[i]!) ** 2, 0);
  const result = spearman(x, y);
  assert.ok(Math.abs(result.rho - (1 - (6 * sumSquares) / (30 * 899))) < 1e-14);
  assert.equal(result.method, 't approximation');
});

test('Spearman t approximation matches the closed-form t CDF with 2 degrees of freedom (n = 4)', () => {
  // P(|T_2| >= t) = 1 − t/sqrt(2 + t²).
  const result = spearman([1, 2, 3, 4], [1, 3, 2, 4], { method: 't-approximation' });
  const t = result.rho * Math.sqrt(2 / (1 - result.rho ** 2));
  assert.ok(Math.abs(result.pValue - (1 - t / Math.sqrt(2 + t * t))) < 1e-14, `${result.pValue}`);
});

test('Spearman errors name the problem', () => {
  assert.throws(() => spearman([1, 2], [2, 1]), /at least 3 pairs/);
  assert.throws(() => spearman([1, 2, 3], [1, 2]), /equal lengths/);
  assert.throws(() => spearman([1, 1, 1], [1, 2, 3]), /x is constant/);
  assert.throws(() => spearman(Array.from({ length: 11 }, (_, i) => i), Array.from({ length: 11 }, (_, i) => -i), { method: 'exact' }), /n <= 10/);
});
