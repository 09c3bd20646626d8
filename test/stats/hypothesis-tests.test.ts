import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fisherExact, holmAdjust, type TwoByTwoTable } from '../../src/stats/hypothesis-tests.js';

/** Exact binomial coefficient. */
function choose(n: number, k: number): bigint {
  let result = 1n;
  for (let i = 1; i <= k; i++) result = (result * BigInt(n - k + i)) / BigInt(i);
  return result;
}

/** num/den as a double, keeping ~64 significant bits of the quotient. */
function ratio(num: bigint, den: bigint): number {
  const shift = Math.max(0, den.toString(2).length - num.toString(2).length + 64);
  return Number((num << BigInt(shift)) / den) / 2 ** shift;
}

/**
 * Fisher's exact test by full enumeration of the hypergeometric distribution in exact integer
 * arithmetic: P(X = x) = C(r1, x)·C(r2, c1 − x)/C(n, c1). Two-sided sums the tables whose
 * probability is <= the observed one, compared exactly (no tolerance needed).
 */
function fisherByEnumeration(table: TwoByTwoTable, alternative: 'two-sided' | 'less' | 'greater'): number {
  const [[a, b], [c, d]] = table;
  const r1 = a + b;
  const r2 = c + d;
  const c1 = a + c;
  const lowest = Math.max(0, c1 - r2);
  const highest = Math.min(r1, c1);
  // weights[x − lowest] = C(r1, x)·C(r2, c1 − x), updated incrementally (exact divisions).
  const weights: bigint[] = [];
  let left = choose(r1, lowest);
  let right = choose(r2, c1 - lowest);
  for (let x = lowest; x <= highest; x++) {
    weights.push(left * right);
    left = (left * BigInt(r1 - x)) / BigInt(x + 1);
    if (x < highest) right = (right * BigInt(c1 - x)) / BigInt(r2 - c1 + x + 1);
  }
  const observed = weights[a - lowest]!;
  let numerator = 0n;
  weights.forEach((w, i) => {
    const x = lowest + i;
    if (alternative === 'less' ? x <= a : alternative === 'greater' ? x >= a : w <= observed) numerator += w;
  });
  return ratio(numerator, choose(r1 + r2, c1));
}

const relativeClose = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance * expected,
    `${what}: got ${actual}, expected ${expected} (relative error ${Math.abs(actual - expected) / expected})`,
  );

test("Fisher's exact test: published values", () => {
  // Fisher's tea-tasting experiment: two-sided 34/70, one-sided 17/70.
  relativeClose(fisherExact([[3, 1], [1, 3]]).pValue, 34 / 70, 1e-12, 'tea two-sided');
  relativeClose(fisherExact([[3, 1], [1, 3]], 'greater').pValue, 17 / 70, 1e-12, 'tea greater');
  relativeClose(fisherExact([[3, 1], [1, 3]], 'less').pValue, 69 / 70, 1e-12, 'tea less');
  // Wikipedia's dieting example (R fisher.test / scipy): two-sided p = 0.002759.
  const dieting = fisherExact([[1, 9], [11, 3]]);
  assert.ok(Math.abs(dieting.pValue - 0.002759) < 5e-7, `dieting: ${dieting.pValue}`);
  relativeClose(dieting.oddsRatio, 3 / 99, 1e-15, 'dieting odds ratio');
});

test("Fisher's exact test equals full enumeration in exact arithmetic, up to n = 20000", () => {
  const tables: TwoByTwoTable[] = [
    [[3, 1], [1, 3]],
    [[1, 9], [11, 3]],
    [[0, 5], [5, 0]],
    [[7, 0], [0, 0]],
    [[12, 5], [3, 19]],
    [[120, 380], [160, 340]],
    [[45, 5], [955, 995]],
    [[2, 0], [498, 500]],
    [[4500, 5500], [4650, 5350]],
  ];
  for (const table of tables) {
    for (const alternative of ['two-sided', 'less', 'greater'] as const) {
      const expected = fisherByEnumeration(table, alternative);
      const actual = fisherExact(table, alternative).pValue;
      relativeClose(actual, expected, 1e-9, `${JSON.stringify(table)} ${alternative}`);
    }
  }
});

test("Fisher's exact test rejects non-count tables", () => {
  assert.throws(() => fisherExact([[1.5, 2], [3, 4]]), /non-negative integers/);
  assert.throws(() => fisherExact([[1, -2], [3, 4]]), /non-negative integers/);
});

test('Holm adjustment: hand-worked example, monotonicity and the cap at 1', () => {
  // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → max(0.06, 0.04) = 0.06.
  const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
  [0.03, 0.06, 0.06, 0.02].forEach((expected, i) => assert.ok(Math.abs(adjusted[i]! - expected) < 1e-15, `index ${i}: ${adjusted[i]}`));
  assert.deepEqual(holmAdjust([0.5, 0.6]), [1, 1]);
  assert.deepEqual(holmAdjust([]), []);
  assert.deepEqual(holmAdjust([0.2]), [0.2]);
  // Ties keep equal adjusted values; every adjusted value is >= its raw value.
  const tied = holmAdjust([0.02, 0.02, 0.5]);
  assert.ok(Math.abs(tied[0]! - 0.06) < 1e-15 && Math.abs(tied[1]! - 0.06) < 1e-15 && tied[2] === 0.5, `${tied}`);
  assert.throws(() => holmAdjust([0.1, 1.2]), /pValues\[1\] = 1.2 is not a probability/);
});
