/**
 * Persona geometry metrics over persona vectors (one Float64Array [d] per persona, e.g. the
 * mean residual-stream activation under that persona's system prompt):
 *
 * - M1, similarity: the P x P cosine matrix and its mean off-diagonal value, raw and after
 *   centring (subtracting the mean over personas, which removes the direction every persona
 *   shares, so what remains is how personas differ from each other).
 * - M2, shifts: per persona, condition minus base; the shared shift axis (unit mean shift of a
 *   reference condition, e.g. EM); how much of each condition's shift that one axis explains;
 *   cosines between conditions' mean shifts.
 */

/** Σ a_i·b_i */
export function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function norm(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}

function assertSameDimension(vectors: readonly Float64Array[], what: string): number {
  if (vectors.length === 0) throw new RangeError(`${what}: no vectors given`);
  const d = vectors[0]!.length;
  vectors.forEach((v, i) => {
    if (v.length !== d) throw new RangeError(`${what}: vector ${i} has length ${v.length}, vector 0 has ${d}`);
  });
  return d;
}

function cosine(a: Float64Array, b: Float64Array, what: string): number {
  const na = norm(a);
  const nb = norm(b);
  if (na === 0 || nb === 0) throw new RangeError(`${what}: cosine with a zero vector is undefined`);
  return Math.max(-1, Math.min(1, dot(a, b) / (na * nb)));
}

/** [P, P] cosine similarities between the rows. Throws on a zero vector, naming it. */
export function cosineMatrix(vectors: readonly Float64Array[]): number[][] {
  assertSameDimension(vectors, 'cosineMatrix');
  vectors.forEach((v, i) => {
    if (norm(v) === 0) throw new RangeError(`cosineMatrix: vector ${i} is all zeros, its cosine is undefined`);
  });
  return vectors.map((a, i) => vectors.map((b, j) => (i === j ? 1 : cosine(a, b, 'cosineMatrix'))));
}

/** Mean of the P(P−1) entries off the diagonal of a square matrix. */
export function meanOffDiagonal(matrix: readonly (readonly number[])[]): number {
  const p = matrix.length;
  if (p < 2) throw new RangeError(`meanOffDiagonal: needs a matrix of at least 2 x 2 (got ${p} x ${p})`);
  let sum = 0;
  for (let i = 0; i < p; i++) {
    if (matrix[i]!.length !== p) throw new RangeError(`meanOffDiagonal: row ${i} has ${matrix[i]!.length} entries, expected ${p}`);
    for (let j = 0; j < p; j++) if (i !== j) sum += matrix[i]![j]!;
  }
  return sum / (p * (p - 1));
}

/** Elementwise mean of the vectors: [d]. */
export function meanVector(vectors: readonly Float64Array[]): Float64Array {
  const d = assertSameDimension(vectors, 'meanVector');
  const result = new Float64Array(d);
  for (const v of vectors) for (let i = 0; i < d; i++) result[i]! += v[i]!;
  for (let i = 0; i < d; i++) result[i]! /= vectors.length;
  return result;
}

/** Each vector minus the mean over all of them. */
export function centerVectors(vectors: readonly Float64Array[]): Float64Array[] {
  const centre = meanVector(vectors);
  return vectors.map((v) => v.map((x, i) => x - centre[i]!));
}

export interface CosineSummary {
  /** [P, P] */
  matrix: number[][];
  meanOffDiagonal: number;
}

/**
 * M1. Raw: cosines of the persona vectors as extracted. Centred: cosines after subtracting
 * the mean persona vector. Centring makes the vectors sum to zero, so with equal norms the
 * centred mean off-diagonal is exactly −1/(P−1); a fine-tune that collapses personas onto a
 * shared direction raises the raw value towards 1.
 */
export function personaCosineGeometry(vectors: readonly Float64Array[]): { raw: CosineSummary; centered: CosineSummary } {
  if (vectors.length < 2) throw new RangeError(`personaCosineGeometry: needs at least 2 persona vectors (got ${vectors.length})`);
  const summarize = (vs: readonly Float64Array[]): CosineSummary => {
    const matrix = cosineMatrix(vs);
    return { matrix, meanOffDiagonal: meanOffDiagonal(matrix) };
  };
  return { raw: summarize(vectors), centered: summarize(centerVectors(vectors)) };
}

/** Per persona p: condition[p] − base[p]. */
export function shiftVectors(condition: readonly Float64Array[], base: readonly Float64Array[]): Float64Array[] {
  if (condition.length !== base.length) {
    throw new RangeError(`shiftVectors: condition has ${condition.length} personas, base has ${base.length}`);
  }
  const d = assertSameDimension([...base, ...condition], 'shiftVectors');
  return condition.map((c, p) => {
    const shift = new Float64Array(d);
    for (let i = 0; i < d; i++) shift[i] = c[i]! - base[p]![i]!;
    return shift;
  });
}

/** The mean of the shifts, scaled to unit length: [d]. */
export function sharedShiftAxis(shifts: readonly Float64Array[]): Float64Array {
  const meanShift = meanVector(shifts);
  const length = norm(meanShift);
  if (length === 0) throw new RangeError('sharedShiftAxis: the mean shift is zero, so it defines no axis');
  return meanShift.map((x) => x / length);
}

/**
 * Share of the shifts' total squared length that lies along one unit axis u:
 *   Σ_p (s_p · u)² / Σ_p ||s_p||²,  in [0, 1].
 * 1 when every shift is parallel to u, 0 when every shift is orthogonal to it, NaN (0/0) when
 * every shift is zero.
 */
export function fractionExplainedByAxis(shifts: readonly Float64Array[], axis: Float64Array): number {
  assertSameDimension([axis, ...shifts], 'fractionExplainedByAxis');
  const axisNorm = norm(axis);
  if (Math.abs(axisNorm - 1) > 1e-9) throw new RangeError(`fractionExplainedByAxis: axis must have unit length (has ${axisNorm})`);
  let along = 0;
  let total = 0;
  for (const s of shifts) {
    along += dot(s, axis) ** 2;
    total += dot(s, s);
  }
  return along / total;
}

export interface ConditionShift {
  name: string;
  /** [d] mean over personas of condition − base. */
  meanShift: Float64Array;
  meanShiftNorm: number;
  /** Mean over personas of ||condition_p − base_p||. */
  meanPersonaShiftNorm: number;
  /** fractionExplainedByAxis(this condition's shifts, the reference axis). */
  fractionExplainedByAxis: number;
  /** Cosine between this condition's mean shift and the reference axis (NaN if the shift is 0). */
  cosineToAxis: number;
}

export interface ShiftGeometry {
  reference: string;
  /** [d] unit mean shift of the reference condition. */
  axis: Float64Array;
  conditions: ConditionShift[];
  /** Cosines between the conditions' mean shifts (NaN next to a zero shift); names in the order of `conditions`. */
  meanShiftCosines: { names: string[]; matrix: number[][] };
}

/**
 * M2 for a set of fine-tuned conditions measured on the same personas as the base model.
 * `conditions` maps a condition name (e.g. 'em', 'benign') to its persona vectors, persona p at
 * index p as in `base`; `reference` names the condition whose mean shift defines the axis.
 */
export function shiftGeometry(
  base: readonly Float64Array[],
  conditions: Readonly<Record<string, readonly Float64Array[]>>,
  reference: string,
): ShiftGeometry {
  const names = Object.keys(conditions);
  if (!(reference in conditions)) {
    throw new RangeError(`shiftGeometry: reference condition '${reference}' is not among the conditions (${names.join(', ')})`);
  }
  const shifts = new Map(names.map((name) => [name, shiftVectors(conditions[name]!, base)]));
  const axis = sharedShiftAxis(shifts.get(reference)!);
  const summaries = names.map((name): ConditionShift => {
    const s = shifts.get(name)!;
    const meanShift = meanVector(s);
    const meanShiftNorm = norm(meanShift);
    return {
      name,
      meanShift,
      meanShiftNorm,
      meanPersonaShiftNorm: s.reduce((sum, v) => sum + norm(v), 0) / s.length,
      fractionExplainedByAxis: fractionExplainedByAxis(s, axis),
      cosineToAxis: meanShiftNorm === 0 ? NaN : dot(meanShift, axis) / meanShiftNorm,
    };
  });
  const meanShiftCosines = summaries.map((a) =>
    summaries.map((b) =>
      a === b ? 1 : a.meanShiftNorm === 0 || b.meanShiftNorm === 0 ? NaN : cosine(a.meanShift, b.meanShift, 'shiftGeometry'),
    ),
  );
  return { reference, axis, conditions: summaries, meanShiftCosines: { names, matrix: meanShiftCosines } };
}
