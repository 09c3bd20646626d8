import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  inverseRegularizedIncompleteBeta,
  logFactorial,
  logGamma,
  normalQuantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
} from '../../src/stats/distributions.js';

function assertClose(actual: number, expected: number, relative: number, what: string): void {
  const error = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
  assert.ok(error <= relative, `${what}: got ${actual}, expected ${expected} (relative error ${error})`);
}

test('logGamma matches exact values: Γ(1/2) = √π, Γ(n) = (n−1)!', () => {
  assertClose(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-15, 'lnΓ(1/2)');
  assertClose(logGamma(1.5), Math.log(Math.sqrt(Math.PI) / 2), 1e-14, 'lnΓ(3/2)');
  let factorial = 1;
  for (let n = 1; n <= 25; n++) {
    assertClose(logGamma(n + 1), Math.log((factorial *= n)), 1e-14, `lnΓ(${n + 1})`);
  }
  assert.equal(logGamma(1), 0);
  assert.throws(() => logGamma(0), /must be > 0/);
});

test('logFactorial agrees with a direct sum of logs, across the table/Stirling switch at 171', () => {
  let sum = 0;
  for (let k = 1; k <= 30000; k++) {
    sum += Math.log(k);
    if ([1, 10, 170, 171, 172, 500, 1000, 20000, 30000].includes(k)) {
      assertClose(logFactorial(k), sum, 1e-12, `ln ${k}!`);
    }
  }
  assert.equal(logFactorial(0), 0);
  assert.throws(() => logFactorial(2.5), /non-negative integer/);
});

test('regularized incomplete beta against closed forms', () => {
  for (const x of [0.01, 0.2, 0.5, 0.77, 0.999]) {
    for (const a of [0.5, 1, 2.5, 7, 40]) {
      assertClose(regularizedIncompleteBeta(x, a, 1), x ** a, 1e-13, `I_${x}(${a}, 1) = x^a`);
      assertClose(regularizedIncompleteBeta(x, 1, a), 1 - (1 - x) ** a, 1e-13, `I_${x}(1, ${a})`);
      assertClose(regularizedIncompleteBeta(x, a, 3) + regularizedIncompleteBeta(1 - x, 3, a), 1, 1e-14, 'symmetry');
    }
  }
  for (const a of [0.5, 3, 50, 2000]) assertClose(regularizedIncompleteBeta(0.5, a, a), 0.5, 1e-12, `I_0.5(${a}, ${a})`);
  // Integer a, b: I_x(a, b) = P(Binomial(a + b − 1, x) >= a).
  const binomialTail = (n: number, k: number, x: number) => {
    let total = 0;
    for (let j = k; j <= n; j++) total += Math.exp(logFactorial(n) - logFactorial(j) - logFactorial(n - j)) * x ** j * (1 - x) ** (n - j);
    return total;
  };
  for (const [a, b, x] of [[3, 4, 0.3], [10, 2, 0.9], [5, 25, 0.1], [60, 40, 0.62]] as const) {
    assertClose(regularizedIncompleteBeta(x, a, b), binomialTail(a + b - 1, a, x), 1e-12, `I_${x}(${a}, ${b})`);
  }
});

test('inverse incomplete beta round-trips, including far tails', () => {
  for (const [a, b] of [[0.5, 0.5], [2, 0.5], [0.5, 15], [4.5, 0.5], [30, 7]] as const) {
    for (const p of [1e-12, 1e-6, 0.025, 0.3, 0.5, 0.9]) {
      const x = inverseRegularizedIncompleteBeta(p, a, b);
      assertClose(regularizedIncompleteBeta(x, a, b), p, 1e-10, `I(I⁻¹(${p}; ${a}, ${b}))`);
    }
    // Near p = 1 the answer crowds against x = 1, where doubles are 1.1e-16 apart.
    const x = inverseRegularizedIncompleteBeta(0.999999, a, b);
    assert.ok(Math.abs(regularizedIncompleteBeta(x, a, b) - 0.999999) < 1e-9, `I(I⁻¹(0.999999; ${a}, ${b}))`);
  }
});

test('Student t quantiles match published tables and the closed forms for df = 1, 2', () => {
  // Published critical values, given to 6 decimals: within half a unit of the 6th.
  const table = (actual: number, expected: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= 5e-7, `${what}: got ${actual}, table says ${expected}`);
  table(studentTQuantile(0.975, 1), 12.706205, 't_{0.975,1}');
  table(studentTQuantile(0.975, 2), 4.302653, 't_{0.975,2}');
  table(studentTQuantile(0.975, 4), 2.776445, 't_{0.975,4}');
  table(studentTQuantile(0.975, 9), 2.262157, 't_{0.975,9}');
  table(studentTQuantile(0.975, 30), 2.042272, 't_{0.975,30}');
  table(studentTQuantile(0.995, 10), 3.169273, 't_{0.995,10}');
  table(studentTQuantile(0.025, 4), -2.776445, 't_{0.025,4}');
  for (const p of [1e-100, 1e-9, 0.01, 0.3, 0.5000001, 0.6, 0.975, 0.999999]) {
    // df = 1 is the Cauchy distribution: tan(π(p − 1/2)) = −cot(πp) = cot(π(1 − p)).
    const cauchy = p < 0.5 ? -1 / Math.tan(Math.PI * p) : 1 / Math.tan(Math.PI * (1 - p));
    assertClose(studentTQuantile(p, 1), cauchy, 1e-9, `Cauchy quantile ${p}`);
    // df = 2: t = (2p − 1)/sqrt(2p(1 − p)).
    assertClose(studentTQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-9, `t2 quantile ${p}`);
  }
  // Large df approaches the normal quantile.
  assertClose(studentTQuantile(0.975, 1e5), 1.959988, 1e-6, 't_{0.975,1e5}');
  assertClose(studentTQuantile(0.975, 1e8), 1.959963984540054, 1e-7, 't_{0.975,1e8} ≈ z_{0.975}');
});

test('Student t CDF matches the closed forms for df = 1, 2 and inverts the quantile', () => {
  for (const t of [-40, -3, -0.5, -1e-9, 0, 1e-9, 0.7, 2.5, 100]) {
    assertClose(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-13, `Cauchy CDF ${t}`);
    assertClose(studentTCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-13, `t2 CDF ${t}`);
  }
  for (const df of [3, 7.5, 29]) {
    for (const p of [0.001, 0.2, 0.5, 0.8, 0.999]) assertClose(studentTCdf(studentTQuantile(p, df), df), p, 1e-12, `CDF(Q(${p}))`);
  }
});

test('normal quantile matches published values', () => {
  assertClose(normalQuantile(0.975), 1.959963984540054, 1e-15, 'z_{0.975}');
  assertClose(normalQuantile(0.995), 2.575829303548901, 1e-15, 'z_{0.995}');
  assertClose(normalQuantile(0.95), 1.644853626951472, 1e-15, 'z_{0.95}');
  assertClose(normalQuantile(0.5 + 0.6826894921370859 / 2), 1, 1e-13, 'Φ⁻¹(Φ(1))');
  assertClose(normalQuantile(1e-10), -6.361340902404056, 1e-14, 'z_{1e-10}');
  assert.equal(normalQuantile(0.5), 0);
  assert.throws(() => normalQuantile(1), /\(0, 1\)/);
});
