/**
 * Separability of labelled rows: given activation rows with class labels (for M3, one row per
 * prompt, label = persona), how well can a linear read-out tell the classes apart, and how
 * clustered are they?
 *
 * - Stratified k-fold cross-validated accuracy (pooled over all held-out rows) of
 *   (a) shrinkage LDA (lda.ts) and (b) a multinomial logistic-regression probe (logistic-probe.ts).
 *   Folds: within each class the rows are shuffled with the seed and dealt round-robin, so every
 *   fold holds each class in proportion.
 * - Silhouette score with euclidean and cosine distance (silhouette.ts), on all rows.
 *
 * At 12 classes x 100 rows, d = 1024, 5 folds: about 3 s of one core each for LDA and the probe.
 */
import { fitShrinkageLda, type LdaOptions } from './lda.js';
import { addGramLower, featureMajor } from './linalg.js';
import { fitLogisticProbe, type LogisticProbeOptions } from './logistic-probe.js';
import { createRng, shuffleInPlace } from '../util/rng.js';
import { silhouetteScore } from './silhouette.js';

export type Label = string | number;

export interface EncodedLabels {
  /** Distinct labels in order of first appearance; class c is classes[c]. */
  classes: Label[];
  /** [n] class index of each row. */
  classIndex: Int32Array;
}

export function encodeLabels(labels: readonly Label[]): EncodedLabels {
  const index = new Map<Label, number>();
  const classIndex = Int32Array.from(labels, (label) => {
    if (!index.has(label)) index.set(label, index.size);
    return index.get(label)!;
  });
  return { classes: [...index.keys()], classIndex };
}

/** [n] fold (0..folds−1) of each row, stratified by class and shuffled with `seed`. */
export function stratifiedFolds(classIndex: ArrayLike<number>, numClasses: number, folds: number, seed: number): Int32Array {
  const members: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < classIndex.length; i++) members[classIndex[i]!]!.push(i);
  const rng = createRng(seed);
  const fold = new Int32Array(classIndex.length);
  let dealt = 0; // continuing the round-robin across classes keeps the fold sizes balanced
  for (const group of members) for (const i of shuffleInPlace(group, rng)) fold[i] = dealt++ % folds;
  return fold;
}

export interface SeparabilityOptions {
  /** Number of cross-validation folds (default 5). */
  folds?: number;
  /** Seed of the fold assignment (default 0). */
  seed?: number;
  lda?: Pick<LdaOptions, 'shrinkage'>;
  logistic?: LogisticProbeOptions;
}

export interface CrossValidatedAccuracy {
  /** Correct held-out predictions / n, pooled over folds. */
  accuracy: number;
  /** [folds] accuracy within each fold. */
  foldAccuracies: number[];
  n: number;
}

interface Prepared {
  rows: readonly Float64Array[];
  encoded: EncodedLabels;
  fold: Int32Array;
  folds: number;
  seed: number;
}

function prepare(rows: readonly Float64Array[], labels: readonly Label[], options: SeparabilityOptions, where: string): Prepared {
  const folds = options.folds ?? 5;
  const seed = options.seed ?? 0;
  if (rows.length !== labels.length) {
    throw new RangeError(`${where}: ${rows.length} rows but ${labels.length} labels; give one label per row`);
  }
  if (rows.length === 0) throw new RangeError(`${where}: no rows given`);
  const d = rows[0]!.length;
  rows.forEach((row, i) => {
    if (row.length !== d) throw new RangeError(`${where}: row ${i} has length ${row.length}, row 0 has ${d}`);
    if (!row.every(Number.isFinite)) throw new RangeError(`${where}: row ${i} contains a non-finite value`);
  });
  if (!Number.isInteger(folds) || folds < 2) throw new RangeError(`${where}: folds must be an integer >= 2 (got ${folds})`);
  const encoded = encodeLabels(labels);
  if (encoded.classes.length < 2) throw new RangeError(`${where}: needs at least 2 classes (got ${encoded.classes.length})`);
  encoded.classes.forEach((label, c) => {
    const size = encoded.classIndex.filter((k) => k === c).length;
    if (size < folds) {
      throw new RangeError(
        `${where}: class '${label}' has ${size} rows, fewer than folds = ${folds}; use folds <= ${size} or collect more rows`,
      );
    }
  });
  return { rows, encoded, fold: stratifiedFolds(encoded.classIndex, encoded.classes.length, folds, seed), folds, seed };
}

/** fit(trainRows, trainClassIndex, foldIndex) returns a predictor of a row's class index. */
function crossValidate(
  prepared: Prepared,
  rows: readonly Float64Array[],
  fit: (trainRows: Float64Array[], trainClassIndex: Int32Array, fold: number) => (row: Float64Array) => number,
): CrossValidatedAccuracy {
  const { encoded, fold, folds } = prepared;
  const foldAccuracies: number[] = [];
  let correct = 0;
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    fold.forEach((k, i) => (k === f ? test : train).push(i));
    const predict = fit(
      train.map((i) => rows[i]!),
      Int32Array.from(train, (i) => encoded.classIndex[i]!),
      f,
    );
    let foldCorrect = 0;
    for (const i of test) if (predict(rows[i]!) === encoded.classIndex[i]) foldCorrect++;
    correct += foldCorrect;
    foldAccuracies.push(foldCorrect / test.length);
  }
  return { accuracy: correct / rows.length, foldAccuracies, n: rows.length };
}

function ldaCrossValidation(prepared: Prepared, options: SeparabilityOptions): CrossValidatedAccuracy & { shrinkages: number[] } {
  const { rows, encoded, fold } = prepared;
  const d = rows[0]!.length;
  // Centre on the mean of all rows (LDA is invariant to a common shift), accumulate Σ x xᵀ once,
  // and get each fold's training second moment by subtracting its held-out rows: O(n d²) in all
  // instead of O(folds · n d²).
  const centre = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) centre[j]! += row[j]! / rows.length;
  const centred = rows.map((row) => row.map((x, j) => x - centre[j]!));
  const total = new Float64Array(d * d);
  addGramLower(total, featureMajor(centred, d), d, centred.length, 1);
  const shrinkages: number[] = [];
  const result = crossValidate(prepared, centred, (trainRows, trainClassIndex, f) => {
    const secondMoment = Float64Array.from(total);
    const heldOut = centred.filter((_, i) => fold[i] === f);
    addGramLower(secondMoment, featureMajor(heldOut, d), d, heldOut.length, -1);
    const model = fitShrinkageLda(trainRows, trainClassIndex, encoded.classes.length, {
      ...(options.lda ?? {}),
      secondMoment,
    });
    shrinkages.push(model.shrinkage);
    return model.predict;
  });
  return { ...result, shrinkages };
}

function logisticCrossValidation(prepared: Prepared, options: SeparabilityOptions): CrossValidatedAccuracy & { allConverged: boolean } {
  let allConverged = true;
  const result = crossValidate(prepared, prepared.rows, (trainRows, trainClassIndex) => {
    const probe = fitLogisticProbe(trainRows, trainClassIndex, prepared.encoded.classes.length, options.logistic ?? {});
    allConverged &&= probe.converged;
    return probe.predict;
  });
  return { ...result, allConverged };
}

/** Cross-validated accuracy of one classifier; rows [n][d], one label per row. */
export function crossValidatedAccuracy(
  rows: readonly Float64Array[],
  labels: readonly Label[],
  classifier: 'lda' | 'logistic',
  options: SeparabilityOptions = {},
): CrossValidatedAccuracy {
  const prepared = prepare(rows, labels, options, 'crossValidatedAccuracy');
  const { accuracy, foldAccuracies, n } =
    classifier === 'lda' ? ldaCrossValidation(prepared, options) : logisticCrossValidation(prepared, options);
  return { accuracy, foldAccuracies, n };
}

export interface SeparabilityResult {
  n: number;
  classes: Label[];
  folds: number;
  seed: number;
  /** Share of the largest class: the accuracy of always guessing it. */
  chanceAccuracy: number;
  /** Shrinkage LDA; shrinkages [folds] are the λ each fold's fit used. */
  lda: CrossValidatedAccuracy & { shrinkages: number[] };
  /** Logistic probe; allConverged is false if some fold's L-BFGS hit its iteration limit. */
  logistic: CrossValidatedAccuracy & { allConverged: boolean };
  silhouette: { euclidean: number; cosine: number };
}

/** All M3 metrics on the same folds. rows [n][d], one label per row (e.g. persona name). */
export function separability(
  rows: readonly Float64Array[],
  labels: readonly Label[],
  options: SeparabilityOptions = {},
): SeparabilityResult {
  const prepared = prepare(rows, labels, options, 'separability');
  const { classes, classIndex } = prepared.encoded;
  const sizes = classes.map((_, c) => classIndex.filter((k) => k === c).length);
  return {
    n: rows.length,
    classes,
    folds: prepared.folds,
    seed: prepared.seed,
    chanceAccuracy: Math.max(...sizes) / rows.length,
    lda: ldaCrossValidation(prepared, options),
    logistic: logisticCrossValidation(prepared, options),
    silhouette: {
      euclidean: silhouetteScore(rows, classIndex, classes.length, 'euclidean'),
      cosine: silhouetteScore(rows, classIndex, classes.length, 'cosine'),
    },
  };
}
