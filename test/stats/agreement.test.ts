// Cohen's and Fleiss' kappa against published worked examples (Wikipedia's, which reproduce
// Fleiss 1971's method on a 10-item, 14-rater table) and their edge cases.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cohenKappa, fleissKappa, fleissKappaFromCounts } from '../../src/stats/agreement.js';

const near = (actual: number, expected: number, tol = 1e-9) => assert.ok(Math.abs(actual - expected) < tol, `${actual} ≠ ${expected}`);

/** Two raters' labels from a 2×2 table: yy both yes, yn A yes B no, ny, nn. */
function fromTable(yy: number, yn: number, ny: number, nn: number): [string[], string[]] {
  const rows = [...Array(yy).fill(['Y', 'Y']), ...Array(yn).fill(['Y', 'N']), ...Array(ny).fill(['N', 'Y']), ...Array(nn).fill(['N', 'N'])] as [string, string][];
  return [rows.map((r) => r[0]), rows.map((r) => r[1])];
}

test("Cohen's kappa: Wikipedia's worked examples", () => {
  // 50 grant proposals: 20 both yes, 5 A yes B no, 10 A no B yes, 15 both no: P_o 0.7, P_e 0.5, κ 0.4
  const k = cohenKappa(...fromTable(20, 5, 10, 15));
  near(k.observed, 0.7);
  near(k.expected, 0.5);
  near(k.kappa, 0.4);
  assert.equal(k.n, 50);
  assert.deepEqual(k.categories, ['N', 'Y']);
  // "same agreement, different kappa": 45/15/25/15 → 0.1304; 25/35/5/35 → 0.2593
  near(cohenKappa(...fromTable(45, 15, 25, 15)).kappa, 0.06 / 0.46);
  near(cohenKappa(...fromTable(25, 35, 5, 35)).kappa, 0.14 / 0.54);
  near(cohenKappa(...fromTable(45, 15, 25, 15)).kappa, 0.1304, 1e-4);
});

test("Fleiss' kappa: Wikipedia's 10 items × 14 raters × 5 categories (κ ≈ 0.210)", () => {
  const counts = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];
  const f = fleissKappaFromCounts(counts);
  near(f.observed, 0.378, 1e-3);
  near(f.expected, 0.213, 1e-3);
  near(f.kappa, 0.210, 1e-3);
  assert.equal(f.raters, 14);
  assert.equal(f.n, 10);
  // the same table as labels
  const labels = counts.map((row) => row.flatMap((c, j) => Array<string>(c).fill(`c${j}`)));
  near(fleissKappa(labels).kappa, f.kappa);
});

test("Fleiss' kappa of two raters is Scott's pi (pooled marginals), not Cohen's kappa", () => {
  const [a, b] = fromTable(20, 5, 10, 15);
  const pooledYes = (25 + 30) / 100;
  const pe = pooledYes ** 2 + (1 - pooledYes) ** 2;
  const f = fleissKappa(a.map((x, i) => [x, b[i] as string]));
  near(f.kappa, (0.7 - pe) / (1 - pe));
  assert.ok(Math.abs(f.kappa - 0.4) > 0.005);
});

test('edge cases: perfect agreement is 1, perfect disagreement of two balanced raters −1, one category undefined (NaN)', () => {
  assert.equal(cohenKappa(['a', 'b', 'c', 'a'], ['a', 'b', 'c', 'a']).kappa, 1);
  assert.equal(fleissKappa([['a', 'a', 'a'], ['b', 'b', 'b']]).kappa, 1);
  assert.equal(cohenKappa(['a', 'b'], ['b', 'a']).kappa, -1);
  const single = cohenKappa(['x', 'x', 'x'], ['x', 'x', 'x']);
  assert.ok(Number.isNaN(single.kappa));
  assert.equal(single.observed, 1);
  assert.equal(single.expected, 1);
  assert.ok(Number.isNaN(fleissKappa([['x', 'x'], ['x', 'x']]).kappa));
});

test('bad input is refused naming the problem', () => {
  assert.throws(() => cohenKappa(['a'], ['a', 'b']), /different numbers of items \(1 and 2\)/);
  assert.throws(() => cohenKappa([], []), /no items/);
  assert.throws(() => fleissKappa([['a', 'b'], ['a']]), /item 2 has 1 ratings, item 1 has 2/);
  assert.throws(() => fleissKappa([['a']]), /item 1 has 1 rating; agreement needs at least 2/);
  assert.throws(() => fleissKappaFromCounts([[1, 1], [2]]), /item 2 has 1 categories, item 1 has 2/);
});
