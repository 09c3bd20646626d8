// How well an SAE reconstructs and how sparse it is, over a stream of batches: each batch adds
// to running sums (float64, read back once per batch), and finish() turns the sums into the
// metrics SAELens reports (evals.py), so no batch's activations are kept. Plus the spliced
// downstream scores (CE loss score, KL score) as pure functions of the raw numbers.
//
// With x the SAE's input [tokens, d_in], x̂ its reconstruction [tokens, d_in] and z the latent
// activations [tokens, d_sae], over the N tokens added (E = mean over tokens):
//   l0    = E[#{k : z_k ≠ 0}]                 l1 = E[Σ_k |z_k|]
//   mse   = E‖x − x̂‖²  (summed over d_in, averaged over tokens: SAELens's and the training loss's convention)
//   explainedVariance       = 1 − E‖x − x̂‖² / (E‖x‖² − Σ_d E[x_d]²), numerator and denominator
//                             averaged separately over all N tokens (SAELens after PR #665). When
//                             the denominator is below 1e-10 it is 1 if mse is too, else 0 (as SAELens).
//   explainedVarianceLegacy = mean over tokens of 1 − ‖x_t − x̂_t‖² / ‖x_t − x̄_B‖², where x̄_B is
//                             the mean over the tokens of the batch x_t was added in ([d_in]),
//                             exactly SAELens's `explained_variance_legacy` (its "SS_tot" is
//                             `(x - x.mean(dim=0)).pow(2).sum(-1)` per evaluation batch). It
//                             therefore depends on how tokens are batched, and is ±∞/NaN for a
//                             token equal to its batch's mean (e.g. a batch of one token).
//   cosine = E[x·x̂ / max(‖x‖‖x̂‖, 1e-8)]      (0 where x̂ = 0; SAELens gives NaN there)
//   l2Ratio = E[‖x̂‖ / ‖x‖], with ‖x‖ < 1e-4 replaced by 1 (SAELens's guard)
//   relativeReconstructionBias = E‖x̂‖² / E[x·x̂] over all N tokens (Gated-SAE paper Eq. 10; SAELens
//                             averages the per-batch ratios instead); NaN when E[x·x̂] = 0
//   featureDensity_k = #{t : z_tk ≠ 0} / N; dead latents: density ≤ deadDensity (default 0: never
//                             fired on the evaluated tokens); dense: density > denseDensity (0.1).

import * as T from '../tensor/index.js';

/** Scalar sums per batch, in the order the batch reduction stacks them. */
const SUMS = ['l0', 'l1', 'sqErr', 'sqNormX', 'legacyEv', 'cosine', 'l2Ratio', 'sqNormRecon', 'dot'] as const;
type Sum = (typeof SUMS)[number];

/** log10(feature density) binned: what SAELens's sparsity.safetensors stores, as a histogram. */
export interface DensityHistogram {
  /** bins + 1 edges in log10(density), from `min` up to 0 (density 1) */
  edges: number[];
  /** latents per bin [bins]; a density below 10^min counts in the first bin, density 1 in the last */
  counts: number[];
  /** latents with density 0 (log10 = −∞), counted here rather than in a bin */
  neverFired: number;
}

export interface SaeMetrics {
  /** tokens evaluated */
  tokens: number;
  l0: number;
  l1: number;
  mse: number;
  explainedVariance: number;
  explainedVarianceLegacy: number;
  cosine: number;
  l2Ratio: number;
  relativeReconstructionBias: number;
  /** fraction of the tokens each latent fired on (z ≠ 0) [d_sae] */
  featureDensity: Float64Array;
  /** latents with density ≤ deadDensity, ascending */
  deadLatents: number[];
  /** latents with density > denseDensity, ascending */
  denseLatents: number[];
  deadDensity: number;
  denseDensity: number;
  densityHistogram: DensityHistogram;
}

export interface FinishOptions {
  /** a latent is dead when its density is ≤ this (default 0: it never fired) */
  deadDensity?: number;
  /** a latent is dense when its density is > this (default 0.1) */
  denseDensity?: number;
  /** histogram bins (default 20) over [log10(1/tokens) rounded down, 0] */
  histogramBins?: number;
}

/**
 * Running sums of the reconstruction and sparsity metrics. add() each batch, finish() at the end
 * (it does not reset; add more batches and finish again for the metrics over all of them).
 */
export class SaeMetricsAccumulator {
  #tokens = 0;
  readonly #sums = new Map<Sum, number>(SUMS.map((s) => [s, 0]));
  /** Σ_t x_t [d_in] */
  #sumX: Float64Array | null = null;
  /** tokens each latent fired on [d_sae] */
  #fired: Float64Array | null = null;

  /** tokens added so far */
  get tokens(): number {
    return this.#tokens;
  }

  /** Adds one batch: x and recon [tokens, d_in], acts [tokens, d_sae] (any float dtype, one device). */
  add(x: T.Tensor, recon: T.Tensor, acts: T.Tensor): void {
    const [n, dIn] = checkMatrix('x', x);
    const [nr, dr] = checkMatrix('recon', recon);
    const [na, dSae] = checkMatrix('acts', acts);
    if (nr !== n || dr !== dIn) throw new Error(`SaeMetricsAccumulator.add: recon is [${nr}, ${dr}] but x is [${n}, ${dIn}]; pass the SAE's reconstruction of x`);
    if (na !== n) throw new Error(`SaeMetricsAccumulator.add: acts has ${na} rows but x has ${n} tokens; pass the latent activations of the same tokens`);
    if (this.#sumX !== null && this.#sumX.length !== dIn) throw new Error(`SaeMetricsAccumulator.add: x has d_in ${dIn} but earlier batches had ${this.#sumX.length}; use one accumulator per SAE`);
    if (this.#fired !== null && this.#fired.length !== dSae) throw new Error(`SaeMetricsAccumulator.add: acts has d_sae ${dSae} but earlier batches had ${this.#fired.length}; use one accumulator per SAE`);
    if (n === 0) return;
    const flat = T.noGrad(() => T.scope(() => batchSums(x, recon, acts).data() as Float64Array));
    SUMS.forEach((s, i) => this.#sums.set(s, (this.#sums.get(s) as number) + (flat[i] as number)));
    this.#sumX = addInto(this.#sumX, flat.subarray(SUMS.length, SUMS.length + dIn));
    this.#fired = addInto(this.#fired, flat.subarray(SUMS.length + dIn));
    this.#tokens += n;
  }

  /** The metrics over every token added so far. */
  finish(o: FinishOptions = {}): SaeMetrics {
    const n = this.#tokens;
    if (n === 0 || this.#sumX === null || this.#fired === null) {
      throw new Error('SaeMetricsAccumulator.finish: no tokens were added; call add(x, recon, acts) with at least one non-empty batch first');
    }
    const deadDensity = o.deadDensity ?? 0;
    const denseDensity = o.denseDensity ?? 0.1;
    checkFraction('deadDensity', deadDensity);
    checkFraction('denseDensity', denseDensity);
    const mean = (s: Sum) => (this.#sums.get(s) as number) / n;
    const mse = mean('sqErr');
    let sqMeanX = 0;
    for (const v of this.#sumX) sqMeanX += (v / n) ** 2;
    const totalVariance = mean('sqNormX') - sqMeanX;
    const featureDensity = this.#fired.map((c) => c / n);
    const latents = (keep: (d: number) => boolean) => [...featureDensity.keys()].filter((k) => keep(featureDensity[k] as number));
    return {
      tokens: n,
      l0: mean('l0'),
      l1: mean('l1'),
      mse,
      explainedVariance: totalVariance < 1e-10 ? (mse < 1e-10 ? 1 : 0) : 1 - mse / totalVariance,
      explainedVarianceLegacy: mean('legacyEv'),
      cosine: mean('cosine'),
      l2Ratio: mean('l2Ratio'),
      relativeReconstructionBias: mean('sqNormRecon') / mean('dot'),
      featureDensity,
      deadLatents: latents((d) => d <= deadDensity),
      denseLatents: latents((d) => d > denseDensity),
      deadDensity,
      denseDensity,
      densityHistogram: densityHistogram(featureDensity, { bins: o.histogramBins ?? 20, min: Math.min(-1, Math.floor(Math.log10(1 / n))) }),
    };
  }
}

/** One batch's sums, flat f64: the SUMS scalars, then Σ_t x_t [d_in], then firing counts [d_sae]. */
function batchSums(x: T.Tensor, recon: T.Tensor, acts: T.Tensor): T.Tensor {
  const xf = x.to('f64'); // [n, d_in]
  const rf = recon.to('f64'); // [n, d_in]
  const sqErr = xf.sub(rf).square().sum(-1); // [n]
  const sqNormX = xf.square().sum(-1); // [n]
  const sqNormRecon = rf.square().sum(-1); // [n]
  const dot = xf.mul(rf).sum(-1); // [n]
  const ssTot = xf.sub(xf.mean(0, true)).square().sum(-1); // [n] about the batch mean, as SAELens
  const normX = sqNormX.sqrt();
  const normRecon = sqNormRecon.sqrt();
  const cosine = dot.div(normX.mul(normRecon).clamp(1e-8)); // [n]
  const l2Ratio = normRecon.div(normX.maskedFill(normX.lt(1e-4), 1)); // [n]
  const fires = acts.ne(0); // [n, d_sae] bool
  const l0 = fires.sum().to('f64');
  const l1 = acts.abs().sum(-1).to('f64').sum(); // per-token sums in the acts' dtype, then f64
  const scalars: Record<Sum, T.Tensor> = {
    l0, l1, sqErr: sqErr.sum(), sqNormX: sqNormX.sum(), legacyEv: sqErr.div(ssTot).rsub(1).sum(),
    cosine: cosine.sum(), l2Ratio: l2Ratio.sum(), sqNormRecon: sqNormRecon.sum(), dot: dot.sum(),
  };
  return T.cat([T.stack(SUMS.map((s) => scalars[s])), xf.sum(0), fires.sum(0).to('f64')]).to('cpu');
}

function addInto(into: Float64Array | null, values: Float64Array): Float64Array {
  if (into === null) return Float64Array.from(values);
  for (let i = 0; i < values.length; i++) into[i] = (into[i] as number) + (values[i] as number);
  return into;
}

function checkMatrix(name: string, t: T.Tensor): [number, number] {
  const s = t.shape;
  if (s.length !== 2) throw new Error(`SaeMetricsAccumulator.add: ${name} must be [tokens, width], got [${s.join(', ')}]; flatten batch and position first (reshape(-1, width))`);
  return [s[0] as number, s[1] as number];
}

function checkFraction(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new Error(`SaeMetricsAccumulator.finish: ${name} (${v}) must be a density in [0, 1]`);
}

/**
 * Histogram of log10(density) of the latents that fired, `bins` equal bins over [min, 0]
 * (defaults: 20 bins; min = the smallest positive density's log10 rounded down, −1 at most).
 */
export function densityHistogram(density: ArrayLike<number>, o: { bins?: number; min?: number } = {}): DensityHistogram {
  const bins = o.bins ?? 20;
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`densityHistogram: bins (${bins}) must be a positive integer`);
  const logs: number[] = [];
  let neverFired = 0;
  let lowest = 0;
  for (let k = 0; k < density.length; k++) {
    const d = density[k] as number;
    if (!(d >= 0 && d <= 1)) throw new Error(`densityHistogram: latent ${k} has density ${d}; densities are fractions in [0, 1]`);
    if (d === 0) {
      neverFired++;
    } else {
      logs.push(Math.log10(d));
      lowest = Math.min(lowest, Math.log10(d));
    }
  }
  const min = o.min ?? Math.min(-1, Math.floor(lowest));
  if (!(min < 0)) throw new Error(`densityHistogram: min (${min}) must be a negative log10 density, e.g. −6 for one token in a million`);
  const width = -min / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? 0 : min + i * width));
  const counts = new Array<number>(bins).fill(0);
  for (const l of logs) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor((l - min) / width)));
    counts[i] = (counts[i] as number) + 1;
  }
  return { edges, counts, neverFired };
}

/** The spliced CE loss score and the raw losses it came from (mean CE per token). */
export interface CeLossScore {
  /** CE of the model as is */
  ceClean: number;
  /** CE with the SAE's reconstruction spliced in at the hook */
  ceSae: number;
  /** CE with the hook's activations replaced by zeros */
  ceZeroAbl: number;
  /** ceSae − ceClean (SAELens's delta loss) */
  deltaLoss: number;
  /** (ceZeroAbl − ceSae) / (ceZeroAbl − ceClean): 1 = the SAE costs nothing, 0 = as bad as zero-ablation; NaN when ablation changes nothing */
  score: number;
}

export function ceLossScore(ceClean: number, ceSae: number, ceZeroAbl: number): CeLossScore {
  const denom = ceZeroAbl - ceClean;
  return { ceClean, ceSae, ceZeroAbl, deltaLoss: ceSae - ceClean, score: denom === 0 ? Number.NaN : (ceZeroAbl - ceSae) / denom };
}

/** The spliced KL score and the raw divergences (mean KL(clean ‖ spliced) per token). */
export interface KlDivScore {
  /** KL from the clean next-token distribution to the one with the SAE spliced in */
  klSae: number;
  /** KL from the clean distribution to the zero-ablated one */
  klAbl: number;
  /** (klAbl − klSae) / klAbl: 1 = no divergence with the SAE; NaN when ablation diverges by 0 */
  score: number;
}

export function klDivScore(klSae: number, klAbl: number): KlDivScore {
  return { klSae, klAbl, score: klAbl === 0 ? Number.NaN : (klAbl - klSae) / klAbl };
}
