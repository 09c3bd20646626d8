/**
 * Special functions and the distributions basin's statistics need: log-gamma and
 * log-factorial (Fisher's exact test), the regularized incomplete beta function and its
 * inverse (Student t), the Student t CDF and quantile, and the normal quantile (Wilson).
 * All double precision; accuracy is stated at each function and pinned by the tests.
 */

// Lanczos approximation, g = 671/128, 14 terms (Numerical Recipes 3rd ed., §6.1, `gammln`);
// relative error below 1e-15 for x > 0.
const LANCZOS_G = 5.2421875;
const LANCZOS_COEFFICIENTS = [
  57.1562356658629235, -59.5979603554754912, 14.1360979747417471, -0.491913816097620199,
  0.339946499848118887e-4, 0.465236289270485756e-4, -0.983744753048795646e-4,
  0.158088703224912494e-3, -0.210264441724104883e-3, 0.217439618115212643e-3,
  -0.164318106536763890e-3, 0.844182239838527433e-4, -0.261908384015814087e-4,
  0.368991826595316234e-5,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: argument must be > 0 (got ${x})`);
  let y = x;
  const tmp = x + LANCZOS_G;
  let series = 0.999999999999997092;
  for (const c of LANCZOS_COEFFICIENTS) series += c / ++y;
  return (x + 0.5) * Math.log(tmp) - tmp + Math.log((2.5066282746310005 * series) / x);
}

// ln k! for k < 171 from the exact-as-double product, above by Stirling's series whose first
// omitted term, 1/(1680 k^7), is below 1e-18 there.
const LOG_FACTORIAL_TABLE: Float64Array = (() => {
  const table = new Float64Array(171);
  let factorial = 1;
  for (let k = 1; k < 171; k++) {
    factorial *= k;
    table[k] = Math.log(factorial);
  }
  return table;
})();

/** ln k! for a non-negative integer k; absolute error ~1e-16·ln k!. */
export function logFactorial(k: number): number {
  if (!Number.isInteger(k) || k < 0) {
    throw new RangeError(`logFactorial: argument must be a non-negative integer (got ${k})`);
  }
  if (k < 171) return LOG_FACTORIAL_TABLE[k]!;
  const k2 = k * k;
  return (
    k * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI * k) +
    1 / (12 * k) - 1 / (360 * k * k2) + 1 / (1260 * k * k2 * k2)
  );
}

const LN_SQRT_2PI = 0.9189385332046728; // ln √(2π)

// ln Γ(x) − [(x − ½)·ln x − x + ln √(2π)] for x >= 10: Stirling's series to the x⁻¹³ term,
// whose remainder is below 1e-16 there.
function stirlingRemainder(x: number): number {
  const inverse = 1 / x;
  const inverse2 = inverse * inverse;
  return (
    inverse *
    (1 / 12 +
      inverse2 * (-1 / 360 + inverse2 * (1 / 1260 + inverse2 * (-1 / 1680 + inverse2 * (1 / 1188 + inverse2 * (-691 / 360360 + inverse2 / 156))))))
  );
}

// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b). For large arguments the three log-gammas are
// huge and cancel, so, as R's `lbeta` does, the leading Stirling terms are combined
// analytically and only the small remainders are added.
function logBeta(a: number, b: number): number {
  const p = Math.min(a, b);
  const q = Math.max(a, b);
  if (p >= 10) {
    const correction = stirlingRemainder(p) + stirlingRemainder(q) - stirlingRemainder(p + q);
    return (
      -0.5 * Math.log(q) + LN_SQRT_2PI + correction + (p - 0.5) * Math.log(p / (p + q)) + q * Math.log1p(-p / (p + q))
    );
  }
  if (q >= 10) {
    const correction = stirlingRemainder(q) - stirlingRemainder(p + q);
    return logGamma(p) + correction + p - p * Math.log(p + q) + (q - 0.5) * Math.log1p(-p / (p + q));
  }
  return logGamma(p) + logGamma(q) - logGamma(p + q);
}

// Continued fraction for I_x(a, b), modified Lentz (Numerical Recipes §6.4, `betacf`).
// Converges quickly for x < (a + 1) / (a + b + 2); iterations grow like sqrt(max(a, b)).
function incompleteBetaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const maxIterations = 20000;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= maxIterations; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) return h;
  }
  throw new Error(
    `regularizedIncompleteBeta: continued fraction did not converge for a=${a}, b=${b}, x=${x}; ` +
      'parameters this large need a normal approximation instead',
  );
}

/**
 * I_x(a, b) = B(x; a, b) / B(a, b), for a, b > 0 and 0 <= x <= 1. Relative error about
 * 1e-16·(10 + a·|ln x| + b·|ln(1 − x)|), the rounding of the prefactor x^a (1 − x)^b: ~1e-14
 * for moderate a, b, ~1e-13 at a = b = 2000.
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) {
    throw new RangeError(`regularizedIncompleteBeta: a and b must be > 0 (got a=${a}, b=${b})`);
  }
  if (!(x >= 0 && x <= 1)) {
    throw new RangeError(`regularizedIncompleteBeta: x must lie in [0, 1] (got ${x})`);
  }
  return incompleteBetaWithComplement(x, 1 - x, a, b);
}

// I_x(a, b) given x and 1 − x separately, so a caller that knows a tiny 1 − x exactly (the t
// distribution's t²/(df + t²)) does not lose it to the rounding of x.
function incompleteBetaWithComplement(x: number, complement: number, a: number, b: number): number {
  if (x === 0 || complement === 0) return x === 0 ? 0 : 1;
  // ln x and ln(1 − x) from whichever of the two is small (and so exact), via log1p for the other.
  const logX = x < 0.5 ? Math.log(x) : Math.log1p(-complement);
  const logComplement = x < 0.5 ? Math.log1p(-x) : Math.log(complement);
  const logFront = a * logX + b * logComplement - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    return (Math.exp(logFront) * incompleteBetaContinuedFraction(a, b, x)) / a;
  }
  return 1 - (Math.exp(logFront) * incompleteBetaContinuedFraction(b, a, complement)) / b;
}

/**
 * The x in [0, 1] with I_x(a, b) = p. Newton's method, falling back to bisection whenever a
 * step leaves the bracket that holds the root, so it always converges; x is accurate to ~1e-15
 * relative (near x = 1 to a couple of ulps, where doubles are 1.1e-16 apart).
 */
export function inverseRegularizedIncompleteBeta(p: number, a: number, b: number): number {
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(`inverseRegularizedIncompleteBeta: p must lie in [0, 1] (got ${p})`);
  }
  if (p === 0 || p === 1) return p;
  return solveIncompleteBeta(p, a, b, 'x');
}

// Solves I_x(a, b) = p for u = x, or for u = 1 − x when that is the small quantity the caller
// needs to full relative precision (then x = 1 − u is never formed from a rounded u).
function solveIncompleteBeta(p: number, a: number, b: number, unknown: 'x' | 'complement'): number {
  const logB = logBeta(a, b);
  const sign = unknown === 'x' ? 1 : -1; // I increases with x, decreases with 1 − x
  let lo = 0;
  let hi = 1;
  let u = unknown === 'x' ? a / (a + b) : b / (a + b);
  for (let iteration = 0; iteration < 400; iteration++) {
    const x = unknown === 'x' ? u : 1 - u;
    const complement = unknown === 'x' ? 1 - u : u;
    const value = incompleteBetaWithComplement(x, complement, a, b);
    const f = sign * (value - p); // increasing in u
    if (f === 0) return u;
    if (f < 0) lo = u;
    else hi = u;
    const logX = x < 0.5 ? Math.log(x) : Math.log1p(-complement);
    const logComplement = x < 0.5 ? Math.log1p(-x) : Math.log(complement);
    const density = Math.exp((a - 1) * logX + (b - 1) * logComplement - logB); // |dI/du|
    // Newton on I − p, or on ln I − ln p in the lower tail, where I behaves like x^a and plain
    // Newton would creep towards the root by a factor (1 − 1/a) per step.
    let next =
      value < 0.1 && p < 0.1
        ? u - (sign * value * (Math.log(value) - Math.log(p))) / density
        : u - f / density;
    if (!(next > lo && next < hi)) {
      // Bisect, geometrically while the bracket spans orders of magnitude (far tails put u
      // as low as 1e-200, out of reach of plain halving).
      next = lo === 0 ? hi / 1024 : hi > 4 * lo ? Math.sqrt(lo * hi) : 0.5 * (lo + hi);
    }
    // Converged when the step is below 1e-15 of the distance to the nearer end of [0, 1], or
    // below what a double near u can resolve.
    const tolerance = Math.max(1e-15 * Math.min(u, 1 - u), 2 * Number.EPSILON * u);
    if (Math.abs(next - u) <= tolerance || hi - lo <= tolerance) return next;
    u = next;
  }
  return u;
}

function assertDegreesOfFreedom(df: number, where: string): void {
  if (!(df > 0)) throw new RangeError(`${where}: degrees of freedom must be > 0 (got ${df})`);
}

/**
 * P(T <= t) for Student's t with df degrees of freedom (df > 0, not necessarily integer).
 * Relative error of the smaller tail ~1e-13 up to df = 1e5, ~1e-9 at df = 1e7.
 */
export function studentTCdf(t: number, df: number): number {
  assertDegreesOfFreedom(df, 'studentTCdf');
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  // P(|T| >= |t|) = I_x(df/2, 1/2) with x = df/(df+t²); each tail is half of it. Passing
  // 1 − x = t²/(df+t²) computed directly keeps t's precision when x rounds towards 1.
  const t2 = t * t;
  const twoSidedTail = incompleteBetaWithComplement(df / (df + t2), t2 / (df + t2), df / 2, 0.5);
  return t > 0 ? 1 - 0.5 * twoSidedTail : 0.5 * twoSidedTail;
}

/** The t with P(T <= t) = p for Student's t with df degrees of freedom. */
export function studentTQuantile(p: number, df: number): number {
  assertDegreesOfFreedom(df, 'studentTQuantile');
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must lie in (0, 1) (got ${p})`);
  if (p === 0.5) return 0;
  const sign = p < 0.5 ? -1 : 1;
  const twoSidedTail = p < 0.5 ? 2 * p : 2 * (1 - p); // P(|T| >= |t|), exact in doubles
  // I_x(df/2, 1/2) = twoSidedTail with x = df/(df+t²). Solve for whichever of x and
  // y = 1 − x = t²/(df+t²) is below 1/2, so the small one has full relative precision; they
  // cross at t² = df, where the tail is I_{1/2}(df/2, 1/2).
  if (twoSidedTail < regularizedIncompleteBeta(0.5, df / 2, 0.5)) {
    const x = solveIncompleteBeta(twoSidedTail, df / 2, 0.5, 'x'); // far tail, t² > df
    return sign * Math.sqrt((df * (1 - x)) / x);
  }
  const y = solveIncompleteBeta(twoSidedTail, df / 2, 0.5, 'complement');
  return sign * Math.sqrt((df * y) / (1 - y));
}

/**
 * The z with Φ(z) = p for the standard normal: Wichura (1988), Algorithm AS 241 (PPND16),
 * relative accuracy about 1e-16.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must lie in (0, 1) (got ${p})`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    const num =
      ((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r +
        45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r +
        133.14166789178437745) * r + 3.387132872796366608;
    const den =
      ((((((5226.495278852854561 * r + 28729.085735721942674) * r + 39307.89580009271061) * r +
        21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r +
        42.313330701600911252) * r + 1;
    return (q * num) / den;
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let z: number;
  if (r <= 5) {
    r -= 1.6;
    const num =
      ((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) *
        r + 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r +
        4.6303378461565452959) * r + 1.42343711074968357734;
    const den =
      ((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) *
        r + 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r +
        2.05319162663775882187) * r + 1;
    z = num / den;
  } else {
    r -= 5;
    const num =
      ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) *
        r + 0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r +
        5.4637849111641143699) * r + 6.6579046435011037772;
    const den =
      ((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) *
        r + 7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r +
        0.59983220655588793769) * r + 1;
    z = num / den;
  }
  return q < 0 ? -z : z;
}
