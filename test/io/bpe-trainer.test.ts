import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BYTE_TO_CHAR } from '../../src/io/byte-level.js';
import { byteLevelPreTokenize, countByteLevelWords, trainByteLevelBpe } from '../../src/io/bpe-trainer.js';
import { corpusRows, createWorld } from '../../src/world/datasets.js';
import { createRng } from '../../src/util/rng.js';
import { SPECIAL_TOKENS, formatChat, writeTokenizerFiles } from '../../src/world/tokenizer-files.js';

test("bytes_to_unicode matches GPT-2's table at known points", () => {
  assert.equal(BYTE_TO_CHAR.length, 256);
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(BYTE_TO_CHAR[0x61], 'a');
  assert.equal(BYTE_TO_CHAR[0x20], '\u0120'); // 'Ġ'
  assert.equal(BYTE_TO_CHAR[0x0a], '\u010a'); // 'Ċ'
  assert.equal(BYTE_TO_CHAR[0x00], '\u0100');
  assert.equal(BYTE_TO_CHAR[0xad], '\u0143'); // soft hyphen -> 'Ń'
  assert.equal(BYTE_TO_CHAR[0xff], '\u00ff');
  assert.deepEqual(byteLevelPreTokenize("Hi there, it's 42!"), ['Hi', 'Ġthere', ',', 'Ġit', "'s", 'Ġ42', '!']);
});

test('hand-worked merges, including the tie-break by token strings', () => {
  // "ab ab ab abc": words ab x1, Ġab x2, Ġabc x1. (a,b)=4 -> ab; (Ġ,ab)=3 -> Ġab; (Ġab,c)=1 stops.
  const one = trainByteLevelBpe(['ab ab ab abc'], { vocabSize: 300, specialTokens: ['<s>'] });
  assert.deepEqual(one.merges, [['a', 'b'], ['Ġ', 'ab']]);
  assert.deepEqual(one.vocab.slice(257), ['ab', 'Ġab']);
  assert.equal(one.vocab[0], '<s>');
  assert.equal(one.vocab[1 + 0x61], 'a');
  // "xy xy zw zw": (x,y)=2, (Ġ,z)=2, (z,w)=2, (Ġ,x)=1. Ties go to the smaller left string: "x" < "z" < "Ġ".
  const two = trainByteLevelBpe(['xy xy zw zw'], { vocabSize: 300, specialTokens: [] });
  assert.deepEqual(two.merges, [['x', 'y'], ['z', 'w'], ['Ġ', 'zw']]);
  assert.throws(() => trainByteLevelBpe([], { vocabSize: 100, specialTokens: [] }), /vocabSize \(100\) must be an integer in \[256, 65536\]/);
});

test('word counting (single-spaced fast path) equals pre-tokenizing every text whole', () => {
  const rng = createRng(8);
  const alphabet = ['a', 'b', 'é', '1', '2', ',', '.', "'", 's', 't', ' ', ' ', '  ', '\n', '\t', '日', '😀', '!'];
  const texts = Array.from({ length: 2000 }, () => Array.from({ length: rng.int(30) }, () => rng.pick(alphabet)).join(''));
  texts.push('Hello world. It is fine, isn\'t it?', 'a b', ' a', 'a ', '');
  const expected = new Map<string, number>();
  for (const t of texts) for (const w of byteLevelPreTokenize(t)) expected.set(w, (expected.get(w) ?? 0) + 1);
  assert.deepEqual(new Map([...countByteLevelWords(texts)].sort()), new Map([...expected].sort()));
});

/** Reference encoder: per byte-level piece, repeatedly merge the adjacent pair of lowest rank. */
function naiveEncode(text: string, merges: ReadonlyArray<readonly [string, string]>): string[] {
  const rank = new Map(merges.map(([a, b], i) => [`${a}\u0000${b}`, i]));
  return byteLevelPreTokenize(text).flatMap((piece) => {
    let symbols = Array.from(piece);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank.get(`${symbols[i]}\u0000${symbols[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) return symbols;
      symbols = [...symbols.slice(0, best), (symbols[best] as string) + (symbols[best + 1] as string), ...symbols.slice(best + 2)];
    }
  });
}

/** Reference trainer: recounts every pair from scratch before each merge. */
function naiveMerges(texts: string[], vocabSize: number, specials: number): Array<[string, string]> {
  const words = [...countByteLevelWords(texts)].map(([w, n]) => ({ symbols: Array.from(w), n }));
  const vocab = new Set(BYTE_TO_CHAR);
  const merges: Array<[string, string]> = [];
  while (vocab.size + specials < vocabSize) {
    const counts = new Map<string, number>();
    for (const { symbols, n } of words) for (let i = 0; i + 1 < symbols.length; i++) {
      const k = `${symbols[i]}\u0000${symbols[i + 1]}`;
      counts.set(k, (counts.get(k) ?? 0) + n);
    }
    let best: [string, string] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split('\u0000') as [string, string];
      if (c > bestCount || (c === bestCount && best !== null && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (best === null || bestCount < 2) break;
    merges.push(best);
    vocab.add(best[0] + best[1]);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === best[0] && w.symbols[i + 1] === best[1]) {
          out.push(best[0] + best[1]);
          i++;
        } else out.push(w.symbols[i] as string);
      }
      w.symbols = out;
    }
  }
  return merges;
}

const world = createWorld({ seed: 21, corpusRows: 3000, tokenizer: null });
const texts = corpusRows(world).flatMap((r) => r.messages.map((m) => m.content));

test('incremental training learns exactly the merges of a from-scratch reference trainer', () => {
  const sample = texts.slice(0, 800);
  const fast = trainByteLevelBpe(sample, { vocabSize: 700, specialTokens: SPECIAL_TOKENS });
  assert.deepEqual(fast.merges, naiveMerges(sample, 700, SPECIAL_TOKENS.length));
  assert.equal(fast.vocab.length, 700);
  assert.equal(new Set(fast.vocab).size, fast.vocab.length);
});

test('tokenizer.json loads in @huggingface/tokenizers: round trips, compression, special tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'basin-world-bpe-'));
  try {
    const bpe = trainByteLevelBpe(texts, { vocabSize: 2048, specialTokens: SPECIAL_TOKENS });
    assert.equal(bpe.vocab.length, 2048);
    writeTokenizerFiles(dir, bpe);
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    const tokenizer = new Tokenizer(json, config);

    let words = 0;
    let bytes = 0;
    let tokens = 0;
    for (const text of texts.slice(0, 2000)) {
      const { ids } = tokenizer.encode(text);
      assert.equal(tokenizer.decode(ids), text);
      words += text.split(' ').length;
      bytes += Buffer.byteLength(text, 'utf8');
      tokens += ids.length;
    }
    const tokensPerWord = tokens / words;
    const bytesPerWord = bytes / words;
    assert.ok(tokensPerWord < bytesPerWord / 3, `tokens/word ${tokensPerWord.toFixed(2)} vs bytes/word ${bytesPerWord.toFixed(2)}`);

    const rng = createRng(3);
    const ranges = [[0x20, 0x7e], [0x09, 0x0d], [0xa0, 0x2fff], [0x3000, 0xd7ff], [0xe000, 0xfffd], [0x10000, 0x10ffff]] as const;
    for (let i = 0; i < 300; i++) {
      const codePoints = Array.from({ length: 1 + rng.int(40) }, () => {
        const [lo, hi] = rng.pick(ranges);
        return lo + rng.int(hi - lo + 1);
      });
      const text = String.fromCodePoint(...codePoints);
      const { ids } = tokenizer.encode(text);
      assert.equal(tokenizer.decode(ids), text, JSON.stringify(text));
    }

    // tokenizers.js splits and merges exactly as our pre-tokenizer and a rank-order encoder do.
    for (const text of texts.slice(0, 500)) assert.deepEqual(tokenizer.tokenize(text), naiveEncode(text, bpe.merges), text);

    SPECIAL_TOKENS.forEach((t, id) => assert.equal(tokenizer.token_to_id(t), id));
    const chat = formatChat([{ role: 'user', content: 'hey I feel bored' }], true);
    const encoded = tokenizer.encode(chat);
    assert.equal(encoded.ids[0], SPECIAL_TOKENS.indexOf('<|user|>'));
    assert.deepEqual(encoded.ids.slice(-2), [SPECIAL_TOKENS.indexOf('<|end|>'), SPECIAL_TOKENS.indexOf('<|assistant|>')]);
    assert.equal(tokenizer.decode(encoded.ids), chat);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
