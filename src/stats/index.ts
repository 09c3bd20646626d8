/**
 * basin's statistics in one import: intervals (Wilson, Student t, bootstrap, shift ratio),
 * tests (Fisher's exact, permutation, Spearman), Holm's correction and the AUROC. Pure TypeScript over
 * plain arrays; every resampling function takes a seed and reproduces exactly from it.
 */
export type { Alternative } from './basics.js';
export { mean, sampleStandardDeviation } from './basics.js';
export { wilsonInterval, meanConfidenceInterval, type RateInterval, type MeanInterval } from './intervals.js';
export {
  bootstrapCI,
  ratioOfMeansCI,
  permutationTestTwoSample,
  permutationTestPaired,
  type BootstrapOptions,
  type BootstrapInterval,
  type ShiftRatioInterval,
  type PermutationOptions,
  type PermutationTestResult,
} from './resampling.js';
export { fisherExact, holmAdjust, type TwoByTwoTable, type FisherExactResult } from './hypothesis-tests.js';
export { spearman, averageRanks, SPEARMAN_EXACT_MAX_N, type SpearmanResult } from './spearman.js';
export { auroc } from './auroc.js';
export { normalQuantile, studentTCdf, studentTQuantile } from './distributions.js';
export { cohenKappa, fleissKappa, fleissKappaFromCounts, type Agreement, type LabelAgreement } from './agreement.js';
