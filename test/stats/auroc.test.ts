// The AUROC against values worked out by hand (perfect, reversed, ties counting half), Hanley &
// McNeil's (1982) CT rating example (2642 of 2958 pairs, 0.8932), brute-force pair counting on
// random scores with many ties, the swap identity auroc(a, b) = 1 − auroc(b, a), and its errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc } from '../../src/stats/index.js';
import { createRng } from '../../src/util/rng.js';

const near = (actual: number, expected: number, tol = 1e-12) => assert.ok(Math.abs(actual - expected) < tol, `${actual} ≠ ${expected}`);

/** P(S₊ > S₋) + ½P(S₊ = S₋) by counting every pair. */
function pairwise(positive: number[], negative: number[]): number {
  let wins = 0;
  for (const p of positive) for (const n of negative) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (positive.length * negative.length);
}

test('AUROC by hand: perfect 1, reversed 0, all tied 0.5, ties count half, 8 of 9 pairs', () => {
  assert.equal(auroc([3, 4], [1, 2]), 1);
  assert.equal(auroc([1], [2]), 0);
  assert.equal(auroc([0, 0, 0], [0, 0]), 0.5);
  near(auroc([1, 2], [1]), 0.75); // (½ + 1) / 2
  near(auroc([0.9, 0.8, 0.4], [0.7, 0.3, 0.2]), 8 / 9);
});

test('AUROC of Hanley & McNeil (1982)\'s CT ratings: 2642 of 2958 pairs = 0.8932', () => {
  const ratings = (counts: number[]) => counts.flatMap((c, i) => Array<number>(c).fill(i + 1));
  const normal = ratings([33, 6, 6, 11, 2]);
  const abnormal = ratings([3, 2, 2, 11, 33]);
  near(auroc(abnormal, normal), 2642 / 2958);
  assert.equal(Number(auroc(abnormal, normal).toFixed(3)), 0.893);
});

test('AUROC equals brute-force pair counting on random tied scores, and auroc(a, b) = 1 − auroc(b, a)', () => {
  const rng = createRng(11);
  for (let trial = 0; trial < 20; trial++) {
    const draw = (n: number) => Array.from({ length: n }, () => Math.floor(rng.next() * 6) / 2);
    const a = draw(1 + Math.floor(rng.next() * 30));
    const b = draw(1 + Math.floor(rng.next() * 30));
    near(auroc(a, b), pairwise(a, b));
    near(auroc(a, b), 1 - auroc(b, a));
  }
});

test('AUROC refuses an empty group and non-finite scores', () => {
  assert.throws(() => auroc([], [1]), /at least one positive and one negative score \(got 0 and 1\)/);
  assert.throws(() => auroc([1], []), /got 1 and 0/);
  assert.throws(() => auroc([1, NaN], [0]), /auroc: positive\[1\] is NaN/);
  assert.throws(() => auroc([1], [Infinity]), /auroc: negative\[0\] is Infinity/);
});
