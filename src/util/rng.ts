// The one seeded pseudo-random generator of basin: world generation, resampling statistics,
// cross-validation folds, data order and every study task draw from it.
//
// mulberry32 (Tommy Ettinger's 32-bit generator): one uint32 of state, period 2^32, good
// enough statistics for sampling synthetic data and resample indices, fast, and the same
// stream on every platform, so a seed reproduces a dataset or a confidence interval bit for
// bit. Not for cryptography. Independent streams come from `fork(label)`, which hashes the
// label with the generator's *seed* (not its current state), so a stream does not change when
// another stream draws more or fewer numbers. `deriveSeed(seed, label)` is the same hash as a
// plain number, for code that hands a seed on (a study task, a training run) rather than a
// generator.

export interface Rng {
  /** The seed this generator was created from (a uint32). */
  readonly seed: number;
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** true with probability p. */
  bernoulli(p: number): boolean;
  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T;
  /** Index drawn with probability proportional to weights[i]. */
  weighted(weights: readonly number[]): number;
  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** k distinct elements in random order. */
  sample<T>(items: readonly T[], k: number): T[];
  /** An independent generator for the named sub-stream: createRng(deriveSeed(seed, label)). */
  fork(label: string): Rng;
}

/** One mulberry32 step: returns [next state, output uint32]. */
export function mulberry32Step(state: number): [number, number] {
  const s = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return [s >>> 0, (t ^ (t >>> 14)) >>> 0];
}

/** FNV-1a over the UTF-16 code units of `text`, mixed with `seed`, finished with murmur3's fmix32. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function assertSeed(seed: number, where: string): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`${where}: seed (${seed}) must be an integer in [0, 2^32 - 1]`);
  }
}

/**
 * The uint32 seed of the task named `label` under `seed` (the seed `createRng(seed).fork(label)`
 * starts from). Distinct labels give unrelated seeds, so tasks never share a stream the way
 * `seed + offset` schemes do when two offsets collide.
 */
export function deriveSeed(seed: number, label: string): number {
  assertSeed(seed, 'deriveSeed');
  return hashString(label, seed);
}

/** Fisher–Yates shuffle in place (draws rng.int(i + 1) for i = n−1 down to 1); returns the same array. */
export function shuffleInPlace<T>(items: T[], rng: Pick<Rng, 'int'>): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

export function createRng(seed: number): Rng {
  assertSeed(seed, 'createRng');
  let state = seed;
  const next = (): number => {
    const [nextState, out] = mulberry32Step(state);
    state = nextState;
    return out / 4294967296;
  };
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n (${n}) must be a positive integer`);
    return Math.floor(next() * n);
  };
  const rng: Rng = {
    seed,
    next,
    int,
    bernoulli: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('Rng.pick: cannot pick from an empty list');
      return items[int(items.length)] as T;
    },
    weighted: (weights) => {
      let total = 0;
      for (const w of weights) {
        if (!(w >= 0)) throw new Error(`Rng.weighted: weights must be non-negative, got ${w}`);
        total += w;
      }
      if (total <= 0) throw new Error('Rng.weighted: weights must not all be zero');
      let u = next() * total;
      for (let i = 0; i < weights.length; i++) {
        u -= weights[i] as number;
        if (u < 0) return i;
      }
      // Rounding left u at ~0: return the last index with positive weight.
      for (let i = weights.length - 1; i >= 0; i--) if ((weights[i] as number) > 0) return i;
      return weights.length - 1;
    },
    shuffle: <T>(items: readonly T[]): T[] => shuffleInPlace(items.slice(), rng),
    sample: <T>(items: readonly T[], k: number): T[] => {
      if (k > items.length) throw new Error(`Rng.sample: cannot draw ${k} distinct items from ${items.length}`);
      return rng.shuffle(items).slice(0, k);
    },
    fork: (label) => createRng(deriveSeed(seed, label)),
  };
  return rng;
}
