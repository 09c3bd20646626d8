import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, hashString, mulberry32Step } from '../../src/world/prng.js';

test('mulberry32 matches an independent Python implementation (uint32 arithmetic)', () => {
  // Generated with /usr/bin/python3 from the published mulberry32 algorithm, masking to 32 bits.
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
  }
  assert.equal(createRng(0).next(), 1144304738 / 2 ** 32);
});

test('same seed gives the same stream; forks are independent of how much the parent drew', () => {
  const a = createRng(7);
  const b = createRng(7);
  assert.deepEqual(Array.from({ length: 20 }, () => a.int(1000)), Array.from({ length: 20 }, () => b.int(1000)));
  const fresh = createRng(7).fork('x');
  const used = createRng(7);
  for (let i = 0; i < 50; i++) used.next();
  const forkAfterUse = used.fork('x');
  assert.deepEqual(Array.from({ length: 10 }, () => fresh.next()), Array.from({ length: 10 }, () => forkAfterUse.next()));
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
  // Each bin ~ Binomial(n, 1/6): sd ~ 91; 6 sd is a generous deterministic bound.
  for (const c of counts) assert.ok(Math.abs(c - n / 6) < 6 * 91, `int bin ${c}`);
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
  assert.throws(() => createRng(-1), /seed \(-1\) must be an integer/);
});
