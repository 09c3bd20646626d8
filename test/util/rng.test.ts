import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, deriveSeed, hashString, mulberry32Step, shuffleInPlace } from '../../src/util/rng.js';

// Expected numbers below were generated with /usr/bin/python3 from the published mulberry32 and
// FNV-1a/fmix32 algorithms, masking to 32 bits (an implementation independent of this one).

test('mulberry32 matches an independent Python implementation (uint32 arithmetic)', () => {
  const expected: Record<number, number[]> = {
    0: [1144304738, 1416247, 958946056, 627933444, 2007157716],
    1: [2693262067, 11749833, 2265367787, 4213581821, 4159151403],
    42: [2581720956, 1925393290, 3661312704, 2876485805, 750819978],
  };
  for (const [seed, outputs] of Object.entries(expected)) {
    let state = Number(seed);
    const got: number[] = [];
    for (let i = 0; i < outputs.length; i++) {
      const [next, out] = mulberry32Step(state);
      state = next;
      got.push(out);
    }
    assert.deepEqual(got, outputs, `seed ${seed}`);
    const rng = createRng(Number(seed));
    assert.deepEqual(Array.from({ length: outputs.length }, () => rng.next()), outputs.map((o) => o / 2 ** 32), `createRng(${seed})`);
  }
  // int(n) = floor(next() · n): the resampling statistics depend on exactly this mapping.
  const rng = createRng(42);
  assert.deepEqual(Array.from({ length: 3 }, () => rng.int(1000)), [601, 448, 852]);
});

test('deriveSeed hashes the label with the seed (pinned), is deterministic, and separates labels', () => {
  assert.equal(deriveSeed(0, 'corpus'), 1634495575);
  assert.equal(deriveSeed(1, 'corpus'), 2155211973);
  assert.equal(deriveSeed(42, 'train/seed-0'), 1174424496);
  assert.equal(deriveSeed(42, 'train/seed-1'), 3529424488);
  assert.equal(deriveSeed(0xffffffff, 'é'), 4013534851);
  assert.equal(deriveSeed(42, 'train/seed-0'), deriveSeed(42, 'train/seed-0'));
  const seeds = new Set<number>();
  for (let i = 0; i < 2000; i++) seeds.add(deriveSeed(5, `task-${i}`));
  assert.equal(seeds.size, 2000);
  for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s <= 0xffffffff);
  assert.throws(() => deriveSeed(-1, 'x'), /deriveSeed: seed \(-1\) must be an integer/);
  assert.throws(() => deriveSeed(1.5, 'x'), /deriveSeed: seed \(1.5\) must be an integer/);
});

test('a fork starts from deriveSeed(seed, label) and does not depend on how much the parent drew', () => {
  const fork = createRng(1).fork('corpus');
  assert.equal(fork.seed, 2155211973);
  assert.deepEqual(Array.from({ length: 3 }, () => fork.next()), [1907714514, 175660254, 668208720].map((o) => o / 2 ** 32));
  const fresh = createRng(7).fork('x');
  const used = createRng(7);
  for (let i = 0; i < 50; i++) used.next();
  const forkAfterUse = used.fork('x');
  assert.deepEqual(Array.from({ length: 10 }, () => fresh.next()), Array.from({ length: 10 }, () => forkAfterUse.next()));
  // Drawing from the fork leaves the parent's stream alone, too.
  const parent = createRng(7);
  const child = parent.fork('x');
  for (let i = 0; i < 50; i++) child.next();
  const untouched = createRng(7);
  assert.deepEqual(Array.from({ length: 5 }, () => parent.next()), Array.from({ length: 5 }, () => untouched.next()));
  assert.notEqual(createRng(7).fork('x').next(), createRng(7).fork('y').next());
  assert.notEqual(createRng(7).next(), createRng(8).next());
});

test('hashString is deterministic and spreads nearby labels', () => {
  assert.equal(hashString('corpus', 1), hashString('corpus', 1));
  assert.notEqual(hashString('corpus', 1), hashString('corpus', 2));
  const hashes = new Set(Array.from({ length: 1000 }, (_, i) => hashString(`label-${i}`)));
  assert.equal(hashes.size, 1000);
});

test('int, weighted and shuffle have the right support and roughly the right frequencies', () => {
  const rng = createRng(123);
  const n = 60000;
  const counts = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) counts[rng.int(6)] += 1;
  // Chi-square with 5 degrees of freedom; 20.52 is its 0.999 quantile.
  const chiSquare = counts.reduce((sum, k) => sum + (k - n / 6) ** 2 / (n / 6), 0);
  assert.ok(chiSquare < 20.52, `int bins ${counts}, chi-square ${chiSquare}`);
  const w = [0, 1, 3];
  const wc = [0, 0, 0];
  for (let i = 0; i < n; i++) wc[rng.weighted(w)] += 1;
  assert.equal(wc[0], 0);
  assert.ok(Math.abs(wc[2] / n - 0.75) < 0.01, `weighted ${wc}`);
  const items = Array.from({ length: 30 }, (_, i) => i);
  const shuffled = rng.shuffle(items);
  assert.deepEqual([...shuffled].sort((x, y) => x - y), items);
  assert.notDeepEqual(shuffled, items);
  assert.equal(new Set(rng.sample(items, 10)).size, 10);
  assert.throws(() => rng.sample(items, 31), /cannot draw 31 distinct items from 30/);
  assert.throws(() => rng.int(0), /n \(0\) must be a positive integer/);
  assert.throws(() => createRng(-1), /seed \(-1\) must be an integer/);
  assert.throws(() => createRng(2 ** 32), /must be an integer in \[0, 2\^32 - 1\]/);
});

test('shuffleInPlace permutes the array itself and draws the same stream as Rng.shuffle', () => {
  const items = [0, 1, 2, 3, 4, 5, 6, 7];
  const copy = createRng(1).shuffle(items);
  const inPlace = items.slice();
  assert.equal(shuffleInPlace(inPlace, createRng(1)), inPlace);
  assert.deepEqual(inPlace, copy);
  assert.deepEqual([...inPlace].sort(), items);
  // Fisher–Yates from the end: position 7 swaps with int(8), then 6 with int(7), …
  const rng = createRng(1);
  const expected = items.slice();
  for (let i = 7; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [expected[i], expected[j]] = [expected[j]!, expected[i]!];
  }
  assert.deepEqual(inPlace, expected);
});
