/**
 * Chance-corrected agreement of raters who put items into nominal categories:
 *   κ = (P_o − P_e) / (1 − P_e)
 * with P_o the observed and P_e the chance agreement.
 * - Cohen's kappa (Cohen 1960), two raters: P_o is the share of items they label alike, and
 *   P_e = Σ_c p_a(c)·p_b(c) from each rater's own marginals.
 * - Fleiss' kappa (Fleiss 1971), m ≥ 2 ratings of every item (not necessarily by the same
 *   raters): P_o is the mean over items of the share of agreeing rating pairs,
 *   P_i = (Σ_c n_ic² − m) / (m(m − 1)), and P_e = Σ_c p_c² from the pooled marginals p_c. With
 *   two raters it is Scott's pi, not Cohen's kappa.
 * κ is 1 for perfect agreement, 0 for agreement at chance, negative below it. It is undefined
 * (NaN here) when P_e = 1, i.e. when every rating falls in one category: raters who only ever
 * say one thing show neither agreement nor disagreement beyond chance.
 */

export interface Agreement {
  kappa: number;
  /** P_o */
  observed: number;
  /** P_e */
  expected: number;
  /** items */
  n: number;
}

export interface LabelAgreement extends Agreement {
  /** the categories seen, sorted */
  categories: string[];
}

function kappaOf(observed: number, expected: number): number {
  return expected === 1 ? NaN : (observed - expected) / (1 - expected);
}

/** Cohen's kappa of two raters' labels of the same items, a[i] and b[i] for item i. */
export function cohenKappa(a: readonly string[], b: readonly string[]): LabelAgreement {
  if (a.length !== b.length) throw new Error(`cohenKappa: the raters labelled different numbers of items (${a.length} and ${b.length}); give one label per item from each`);
  const n = a.length;
  if (n === 0) throw new Error('cohenKappa: no items; agreement needs at least one item labelled by both raters');
  const countA = new Map<string, number>();
  const countB = new Map<string, number>();
  let same = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) same++;
    countA.set(x, (countA.get(x) ?? 0) + 1);
    countB.set(y, (countB.get(y) ?? 0) + 1);
  }
  const categories = [...new Set([...countA.keys(), ...countB.keys()])].sort();
  const expected = categories.reduce((s, c) => s + ((countA.get(c) ?? 0) / n) * ((countB.get(c) ?? 0) / n), 0);
  const observed = same / n;
  return { kappa: kappaOf(observed, expected), observed, expected, n, categories };
}

/**
 * Fleiss' kappa from a count table: counts[i][c] raters put item i in category c; every row
 * sums to the same number of ratings m ≥ 2.
 */
export function fleissKappaFromCounts(counts: readonly (readonly number[])[]): Agreement & { raters: number } {
  const n = counts.length;
  if (n === 0) throw new Error('fleissKappa: no items; agreement needs at least one rated item');
  const k = (counts[0] as readonly number[]).length;
  const m = (counts[0] as readonly number[]).reduce((s, x) => s + x, 0);
  if (m < 2) throw new Error(`fleissKappa: item 1 has ${m} rating${m === 1 ? '' : 's'}; agreement needs at least 2 per item`);
  const totals = new Array<number>(k).fill(0);
  let observedSum = 0;
  counts.forEach((row, i) => {
    if (row.length !== k) throw new Error(`fleissKappa: item ${i + 1} has ${row.length} categories, item 1 has ${k}; give every item a count for every category`);
    if (row.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`fleissKappa: item ${i + 1}: counts must be non-negative integers, got ${row.join(', ')}`);
    const mi = row.reduce((s, x) => s + x, 0);
    if (mi !== m) throw new Error(`fleissKappa: item ${i + 1} has ${mi} ratings, item 1 has ${m}; every item needs the same number of ratings`);
    let squares = 0;
    row.forEach((x, c) => {
      squares += x * x;
      totals[c] = (totals[c] as number) + x;
    });
    observedSum += (squares - m) / (m * (m - 1));
  });
  const observed = observedSum / n;
  const expected = totals.reduce((s, t) => s + (t / (n * m)) ** 2, 0);
  return { kappa: kappaOf(observed, expected), observed, expected, n, raters: m };
}

/** Fleiss' kappa from labels: ratings[i] holds the m labels item i received. */
export function fleissKappa(ratings: readonly (readonly string[])[]): LabelAgreement & { raters: number } {
  const categories = [...new Set(ratings.flat())].sort();
  const index = new Map(categories.map((c, j) => [c, j]));
  const counts = ratings.map((labels) => {
    const row = new Array<number>(categories.length).fill(0);
    for (const l of labels) row[index.get(l) as number]++;
    return row;
  });
  return { ...fleissKappaFromCounts(counts), categories };
}
