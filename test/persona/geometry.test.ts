import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  centerVectors,
  cosineMatrix,
  fractionExplainedByAxis,
  meanOffDiagonal,
  personaCosineGeometry,
  sharedShiftAxis,
  shiftGeometry,
  shiftVectors,
} from '../../src/persona/geometry.js';

const v = (...xs: number[]) => Float64Array.from(xs);
const basis = (d: number, i: number, scale = 1) => {
  const e = new Float64Array(d);
  e[i] = scale;
  return e;
};
const close = (actual: number, expected: number, what: string, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected}`);

test('M1: orthogonal vectors have mean cosine 0, identical (or parallel) ones 1', () => {
  const orthogonal = [basis(4, 0, 2), basis(4, 1), basis(4, 2, 5), basis(4, 3, 0.1)];
  close(meanOffDiagonal(cosineMatrix(orthogonal)), 0, 'orthogonal');
  const parallel = [v(1, 2, 3), v(2, 4, 6), v(0.5, 1, 1.5)];
  close(meanOffDiagonal(cosineMatrix(parallel)), 1, 'parallel');
  const matrix = cosineMatrix([v(1, 0), v(1, 1), v(-1, 0)]);
  close(matrix[0]![1]!, Math.SQRT1_2, 'cos 45°');
  close(matrix[0]![2]!, -1, 'cos 180°');
  close(matrix[1]![2]!, -Math.SQRT1_2, 'cos 135°');
  close(meanOffDiagonal(matrix), -1 / 3, 'mean of (√½ − 1 − √½)/3 each way');
});

test('M1 centring: a shared offset b plus orthogonal persona parts s·e_i', () => {
  // Raw cosines are |b|²/(|b|² + s²) for b ⟂ every e_i; centring removes b and leaves
  // s(e_i − ē), whose cosines are all −1/(P − 1).
  const P = 5;
  const d = 8;
  const b = basis(d, 7, 3); // |b|² = 9
  const s = 2; // s² = 4
  const personas = Array.from({ length: P }, (_, i) => b.map((x, j) => x + basis(d, i, s)[j]!));
  const geometry = personaCosineGeometry(personas);
  close(geometry.raw.meanOffDiagonal, 9 / 13, 'raw');
  close(geometry.centered.meanOffDiagonal, -1 / (P - 1), 'centred');
  for (let i = 0; i < P; i++) close(geometry.centered.matrix[i]![i]!, 1, 'diagonal');
  const centred = centerVectors(personas);
  for (let j = 0; j < d; j++) close(centred.reduce((sum, c) => sum + c[j]!, 0), 0, `centred vectors sum to 0 (dim ${j})`);
});

test('M1 errors name the vector', () => {
  assert.throws(() => cosineMatrix([v(1, 0), v(0, 0)]), /vector 1 is all zeros/);
  assert.throws(() => cosineMatrix([v(1, 0), v(0, 1, 0)]), /vector 1 has length 3, vector 0 has 2/);
  assert.throws(() => personaCosineGeometry([v(1, 2)]), /at least 2 persona vectors/);
});

test('M2: fraction explained is 1 for shifts along the axis and 0 for orthogonal shifts', () => {
  const axis = sharedShiftAxis([v(0, 3, 0), v(0, 1, 0)]);
  assert.deepEqual([...axis], [0, 1, 0]);
  close(fractionExplainedByAxis([v(0, 2, 0), v(0, -5, 0), v(0, 0.1, 0)], axis), 1, 'parallel');
  close(fractionExplainedByAxis([v(1, 0, 0), v(0, 0, -4)], axis), 0, 'orthogonal');
  // Mixed: (3,4,0) and (0,0,2) → (16 + 0) / (25 + 4).
  close(fractionExplainedByAxis([v(3, 4, 0), v(0, 0, 2)], axis), 16 / 29, 'mixed');
  assert.throws(() => fractionExplainedByAxis([v(1, 0, 0)], v(0, 2, 0)), /unit length/);
  assert.throws(() => sharedShiftAxis([v(1, 0), v(-1, 0)]), /mean shift is zero/);
});

test('M2 shift geometry on a constructed EM / benign / unrelated example', () => {
  const base = [v(1, 0, 0, 0), v(0, 1, 0, 0), v(0, 0, 1, 0)];
  const em = base.map((b, p) => b.map((x, j) => x + (j === 3 ? 2 + p : 0))); // all along e3
  const benign = base.map((b) => b.map((x, j) => x + (j === 3 ? 0.5 : j === 0 ? 0.5 : 0))); // 45° to e3
  const unrelated = base.map((b) => b.map((x, j) => x + (j === 0 ? 1 : 0))); // ⟂ e3
  const geometry = shiftGeometry(base, { em, benign, unrelated }, 'em');
  assert.deepEqual([...geometry.axis], [0, 0, 0, 1]);
  const [emShift, benignShift, unrelatedShift] = geometry.conditions;
  close(emShift!.fractionExplainedByAxis, 1, 'em along its own axis');
  close(emShift!.meanShiftNorm, 3, 'em mean shift (2+3+4)/3');
  close(emShift!.meanPersonaShiftNorm, 3, 'em mean per-persona norm');
  close(benignShift!.fractionExplainedByAxis, 0.5, 'benign at 45°');
  close(benignShift!.cosineToAxis, Math.SQRT1_2, 'benign cosine');
  close(unrelatedShift!.fractionExplainedByAxis, 0, 'unrelated');
  assert.deepEqual(geometry.meanShiftCosines.names, ['em', 'benign', 'unrelated']);
  close(geometry.meanShiftCosines.matrix[1]![2]!, Math.SQRT1_2, 'benign vs unrelated');
  close(geometry.meanShiftCosines.matrix[0]![2]!, 0, 'em vs unrelated');
  assert.deepEqual(shiftVectors([v(3, 3)], [v(1, 2)]).map((s) => [...s]), [[2, 1]]);
  assert.throws(() => shiftGeometry(base, { em }, 'benign'), /reference condition 'benign' is not among the conditions \(em\)/);
  assert.throws(() => shiftVectors([v(1, 1)], base), /condition has 1 personas, base has 3/);
});
