import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanConfidenceInterval, wilsonInterval } from '../../src/stats/intervals.js';

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected} ± ${tolerance}`);

test('Wilson interval reproduces Newcombe (1998), Statistics in Medicine 17:857, method 3', () => {
  // Published to 4 decimals.
  for (const [k, n, lower, upper] of [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ] as const) {
    const interval = wilsonInterval(k, n);
    near(interval.lower, lower, 5e-5, `${k}/${n} lower`);
    near(interval.upper, upper, 5e-5, `${k}/${n} upper`);
  }
});

test('Wilson interval at 0/10, 5/10, 10/10 equals the closed forms', () => {
  const z = 1.959963984540054;
  const z2 = z * z;
  // k = 0: [0, z²/(n + z²)]; k = n mirrors it; k = n/2 is centred on 1/2.
  const zero = wilsonInterval(0, 10);
  assert.equal(zero.lower, 0);
  near(zero.upper, z2 / (10 + z2), 1e-15, '0/10 upper');
  const all = wilsonInterval(10, 10);
  assert.equal(all.upper, 1);
  near(all.lower, 10 / (10 + z2), 1e-15, '10/10 lower');
  const half = wilsonInterval(5, 10);
  near(half.lower + half.upper, 1, 1e-15, '5/10 symmetric');
  near(half.upper - half.lower, ((2 * z) / (1 + z2 / 10)) * Math.sqrt(0.025 + z2 / 400), 1e-15, '5/10 width');
  near(half.lower, 0.236593, 5e-7, '5/10 lower (4-decimal tables: 0.2366)');
});

test('Wilson bounds are the roots of the score equation (k/n − p)² = z² p(1 − p)/n at any level', () => {
  for (const confidence of [0.8, 0.95, 0.99]) {
    for (const [k, n] of [[3, 17], [40, 41], [250, 1000]] as const) {
      const interval = wilsonInterval(k, n, confidence);
      // Independent: bisection on the score statistic with z from the interval's own definition.
      const scoreGap = (p: number, z: number) => (k / n - p) ** 2 - (z * z * p * (1 - p)) / n;
      const z = { 0.8: 1.2815515655446004, 0.95: 1.959963984540054, 0.99: 2.5758293035489004 }[confidence]!;
      const root = (lo: number, hi: number) => {
        for (let i = 0; i < 200; i++) {
          const mid = (lo + hi) / 2;
          if (Math.sign(scoreGap(mid, z)) === Math.sign(scoreGap(lo, z))) lo = mid;
          else hi = mid;
        }
        return lo;
      };
      near(interval.lower, root(0, k / n), 1e-12, `${k}/${n} @${confidence} lower`);
      near(interval.upper, root(k / n, 1), 1e-12, `${k}/${n} @${confidence} upper`);
    }
  }
});

test('Wilson interval rejects impossible counts with a message naming the fix', () => {
  assert.throws(() => wilsonInterval(3, 0), /trials must be a positive integer/);
  assert.throws(() => wilsonInterval(11, 10), /successes must be an integer in \[0, trials=10\]/);
  assert.throws(() => wilsonInterval(1, 10, 95), /confidence must lie in \(0, 1\)/);
});

test('mean t interval: 1..5 gives 3 ± t_{0.975,4}·sqrt(2.5/5)', () => {
  const interval = meanConfidenceInterval([1, 2, 3, 4, 5]);
  const halfWidth = 2.7764451051977987 * Math.sqrt(2.5 / 5);
  near(interval.mean, 3, 0, 'mean');
  near(interval.lower, 3 - halfWidth, 1e-12, 'lower');
  near(interval.upper, 3 + halfWidth, 1e-12, 'upper');
  assert.equal(interval.degreesOfFreedom, 4);
  // Three seeds, 99%: t_{0.995,2} = 9.924843.
  const three = meanConfidenceInterval([0.2, 0.5, 0.8], 0.99);
  near(three.upper - three.mean, 9.924843 * (0.3 / Math.sqrt(3)), 1e-6, 'n = 3 at 99%');
  assert.throws(() => meanConfidenceInterval([1]), /at least 2 values/);
  assert.throws(() => meanConfidenceInterval([1, NaN]), /values\[1\] is NaN/);
});
