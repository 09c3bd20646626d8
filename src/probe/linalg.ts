/**
 * The little dense linear algebra the separability metrics need, on row-major Float64Array
 * matrices (a [r, c] matrix A has A[i, j] at index i·c + j; offsets are taken with `subarray`):
 * dot products, a register-blocked A·Bᵀ, a tiled Gram matrix, a blocked Cholesky factor/solve,
 * argmax. The blocking keeps operands in registers and cache, which is 2–3x faster in V8 than
 * plain loops at d = 1024.
 */

/** Σ_{k < length} a[aOffset + k] · b[bOffset + k] */
export function dotRange(a: Float64Array, aOffset: number, b: Float64Array, bOffset: number, length: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < length; k += 4) {
    s0 += a[aOffset + k]! * b[bOffset + k]!;
    s1 += a[aOffset + k + 1]! * b[bOffset + k + 1]!;
    s2 += a[aOffset + k + 2]! * b[bOffset + k + 2]!;
    s3 += a[aOffset + k + 3]! * b[bOffset + k + 3]!;
  }
  for (; k < length; k++) s0 += a[aOffset + k]! * b[bOffset + k]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * out[i·outStride + j] += alpha · Σ_t A[i, t]·B[j, t] for A [m, k], B [p, k] (row-major), that is
 * out += alpha·A·Bᵀ. Computes 2 x 4 output blocks per pass over t so each loaded value is used
 * two to four times.
 */
export function addProductTransposed(
  out: Float64Array,
  outStride: number,
  a: Float64Array,
  b: Float64Array,
  m: number,
  p: number,
  k: number,
  alpha: number,
): void {
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const a0 = i * k;
    const a1 = a0 + k;
    let j = 0;
    for (; j + 3 < p; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
      for (let t = 0; t < k; t++) {
        const x0 = a[a0 + t]!;
        const x1 = a[a1 + t]!;
        const y0 = b[b0 + t]!;
        const y1 = b[b1 + t]!;
        const y2 = b[b2 + t]!;
        const y3 = b[b3 + t]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
      }
      const o0 = i * outStride + j;
      const o1 = o0 + outStride;
      out[o0]! += alpha * s00;
      out[o0 + 1]! += alpha * s01;
      out[o0 + 2]! += alpha * s02;
      out[o0 + 3]! += alpha * s03;
      out[o1]! += alpha * s10;
      out[o1 + 1]! += alpha * s11;
      out[o1 + 2]! += alpha * s12;
      out[o1 + 3]! += alpha * s13;
    }
    for (; j < p; j++) {
      out[i * outStride + j]! += alpha * dotRange(a, a0, b, j * k, k);
      out[(i + 1) * outStride + j]! += alpha * dotRange(a, a1, b, j * k, k);
    }
  }
  for (; i < m; i++) {
    for (let j = 0; j < p; j++) out[i * outStride + j]! += alpha * dotRange(a, i * k, b, j * k, k);
  }
}

/** Rows [n][d] as one feature-major [d, n] matrix: entry (j, i) is feature j of row i. */
export function featureMajor(rows: readonly ArrayLike<number>[], d: number): Float64Array {
  const n = rows.length;
  const result = new Float64Array(d * n);
  rows.forEach((row, i) => {
    for (let j = 0; j < d; j++) result[j * n + i] = row[j]!;
  });
  return result;
}

/**
 * target += weight·F·Fᵀ on the lower triangle of target [r, r], for F [r, length] row-major.
 * With F feature-major [d, n] this is the second moment Σ over rows of x xᵀ [d, d]; with F the
 * rows [n, d] it is the Gram matrix of inner products [n, n]. Works in 64 x 64 tiles; the
 * diagonal tiles are computed whole, so a few entries above the diagonal are written too — only
 * the lower triangle is meaningful.
 */
export function addGramLower(target: Float64Array, f: Float64Array, r: number, length: number, weight: number): void {
  const tile = 64;
  for (let i0 = 0; i0 < r; i0 += tile) {
    const rows = Math.min(tile, r - i0);
    for (let j0 = 0; j0 <= i0; j0 += tile) {
      const cols = Math.min(tile, r - j0);
      addProductTransposed(
        target.subarray(i0 * r + j0),
        r,
        f.subarray(i0 * length),
        f.subarray(j0 * length),
        rows,
        cols,
        length,
        weight,
      );
    }
  }
}

/**
 * Cholesky factor of a symmetric positive definite [d, d] matrix: returns L (lower triangular,
 * zeros above) with L·Lᵀ = A, reading only A's lower triangle. Rows are produced in blocks of
 * 64 (Cholesky–Banachiewicz order) so each finished row is read once per block. Throws when A is
 * not positive definite, naming the failing pivot.
 */
export function choleskyFactor(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  const block = 64;
  for (let i0 = 0; i0 < d; i0 += block) {
    const i1 = Math.min(d, i0 + block);
    for (let j = 0; j < i1; j++) {
      const rowJ = j * d;
      if (j >= i0) {
        const diagonal = a[rowJ + j]! - dotRange(l, rowJ, l, rowJ, j);
        if (!(diagonal > 0)) {
          throw new RangeError(`choleskyFactor: matrix is not positive definite (pivot ${j} is ${diagonal})`);
        }
        l[rowJ + j] = Math.sqrt(diagonal);
      }
      const ljj = l[rowJ + j]!;
      for (let i = Math.max(i0, j + 1); i < i1; i++) {
        l[i * d + j] = (a[i * d + j]! - dotRange(l, i * d, l, rowJ, j)) / ljj;
      }
    }
  }
  return l;
}

/** Solves L·Lᵀ·x = b for x given the Cholesky factor L of a [d, d] matrix. */
export function choleskySolve(l: Float64Array, b: ArrayLike<number>): Float64Array {
  const d = b.length;
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) y[i] = (b[i]! - dotRange(l, i * d, y, 0, i)) / l[i * d + i]!;
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < d; k++) sum -= l[k * d + i]! * x[k]!;
    x[i] = sum / l[i * d + i]!;
  }
  return x;
}

/** Index of the largest value (the first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
