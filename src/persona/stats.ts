/**
 * basin's statistics in one import: intervals (Wilson, Student t, bootstrap, shift ratio),
 * tests (Fisher's exact, permutation, Spearman) and Holm's correction. Pure TypeScript over
 * plain arrays; every resampling function takes a seed and reproduces exactly from it.
 */
export type { Alternative } from './stats-basics.js';
export { mean, sampleStandardDeviation } from './stats-basics.js';
export { wilsonInterval, meanConfidenceInterval, type RateInterval, type MeanInterval } from './stats-intervals.js';
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
} from './stats-resampling.js';
export { fisherExact, holmAdjust, type TwoByTwoTable, type FisherExactResult } from './stats-tests.js';
export { spearman, averageRanks, SPEARMAN_EXACT_MAX_N, type SpearmanResult } from './spearman.js';
export { normalQuantile, studentTCdf, studentTQuantile } from './distributions.js';
