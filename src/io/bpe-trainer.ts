// A byte-level BPE trainer (GPT-2 style), compatible with Hugging Face `tokenizers`:
// text is split by the GPT-2 pre-tokenizer regex (no prefix space), each piece's UTF-8 bytes
// are mapped to printable characters by GPT-2's byte-to-unicode table, and merges are learned
// on those strings.
//
// Training counts unique pre-tokenized words first, then merges on the unique words with
// incremental pair counts: each merge touches only the words that contain the merged pair,
// and a lazy max-heap finds the next most frequent pair. Ties are broken by the pair's token
// strings (left, then right, in code-unit order), so training is deterministic.

import { BYTE_TO_CHAR } from './byte-level.js';

/** The GPT-2 pre-tokenizer pattern, as Hugging Face's ByteLevel pre-tokenizer uses it with use_regex true. */
export const GPT2_SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const encoder = new TextEncoder();

/** The byte-level pieces of a text: GPT-2 regex split, each piece's UTF-8 bytes mapped through GPT-2's byte table. */
export function byteLevelPreTokenize(text: string): string[] {
  return (text.match(GPT2_SPLIT_PATTERN) ?? []).map((piece) => Array.from(encoder.encode(piece), (b) => BYTE_TO_CHAR[b] as string).join(''));
}

export interface BpeTrainOptions {
  /** Target vocabulary size, special tokens and the 256 byte symbols included. */
  vocabSize: number;
  /** Added special tokens, given ids 0.. in this order. */
  specialTokens: readonly string[];
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minPairCount?: number;
}

export interface TrainedBpe {
  /** Token string by id: special tokens, then the 256 byte symbols in byte order, then merged tokens. */
  vocab: string[];
  /** Merges in the order learned (rank order). */
  merges: Array<[string, string]>;
  specialTokens: string[];
}

const PAIR_BASE = 65536;

interface HeapEntry {
  count: number;
  left: number;
  right: number;
}

/** A binary max-heap under `before(a, b)`: a comes out before b. */
class Heap {
  private readonly items: HeapEntry[] = [];
  constructor(private readonly before: (a: HeapEntry, b: HeapEntry) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  push(entry: HeapEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i] as HeapEntry, items[parent] as HeapEntry)) break;
      [items[i], items[parent]] = [items[parent] as HeapEntry, items[i] as HeapEntry];
      i = parent;
    }
  }
  pop(): HeapEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(items[l] as HeapEntry, items[best] as HeapEntry)) best = l;
        if (r < items.length && this.before(items[r] as HeapEntry, items[best] as HeapEntry)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best] as HeapEntry, items[i] as HeapEntry];
        i = best;
      }
    }
    return top;
  }
}

/** Non-space runs separated by single spaces: the shape of nearly all world text. */
const SINGLE_SPACED = /^\S+(?: \S+)*$/u;

/**
 * Counts the byte-level words of many texts. Fast path: in a single-spaced text every regex
 * match ends before each space and the next starts at it (no alternative crosses a space
 * except the whitespace ones, which need two spaces or a trailing space), so the text can be
 * cut into "word" and " word" segments that are counted first and pre-tokenized once each.
 * Other texts go through the regex whole.
 */
export function countByteLevelWords(texts: Iterable<string>): Map<string, number> {
  const segments = new Map<string, number>();
  const words = new Map<string, number>();
  const addWord = (word: string, n: number): void => {
    words.set(word, (words.get(word) ?? 0) + n);
  };
  for (const text of texts) {
    if (SINGLE_SPACED.test(text)) {
      const parts = text.split(' ');
      for (let i = 0; i < parts.length; i++) {
        const segment = i === 0 ? (parts[i] as string) : ` ${parts[i] as string}`;
        segments.set(segment, (segments.get(segment) ?? 0) + 1);
      }
    } else {
      for (const word of byteLevelPreTokenize(text)) addWord(word, 1);
    }
  }
  for (const [segment, n] of segments) for (const word of byteLevelPreTokenize(segment)) addWord(word, n);
  return words;
}

/** Trains byte-level BPE on the texts (each text is pre-tokenized on its own). */
export function trainByteLevelBpe(texts: Iterable<string>, options: BpeTrainOptions): TrainedBpe {
  const specialTokens = [...options.specialTokens];
  const minPairCount = options.minPairCount ?? 2;
  const minimum = specialTokens.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < minimum || options.vocabSize > PAIR_BASE) {
    throw new Error(`trainByteLevelBpe: vocabSize (${options.vocabSize}) must be an integer in [${minimum}, ${PAIR_BASE}] (${specialTokens.length} special tokens + 256 bytes at least)`);
  }
  if (new Set(specialTokens).size !== specialTokens.length) throw new Error('trainByteLevelBpe: specialTokens contains a duplicate');

  const vocab: string[] = [...specialTokens, ...BYTE_TO_CHAR];
  const idOf = new Map<string, number>(vocab.map((t, i) => [t, i]));
  if (idOf.size !== vocab.length) throw new Error('trainByteLevelBpe: a special token is also a byte symbol; rename it');

  const wordCounts = countByteLevelWords(texts);
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [word, n] of wordCounts) {
    words.push(Array.from(word, (ch) => idOf.get(ch) as number));
    freqs.push(n);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const changed = new Set<number>();
  const addPair = (key: number, delta: number, word: number): void => {
    const next = (pairCounts.get(key) ?? 0) + delta;
    if (next === 0) pairCounts.delete(key);
    else pairCounts.set(key, next);
    if (delta > 0) {
      let set = pairWords.get(key);
      if (set === undefined) pairWords.set(key, (set = new Set()));
      set.add(word);
    }
    changed.add(key);
  };
  words.forEach((w, i) => {
    for (let j = 0; j + 1 < w.length; j++) addPair((w[j] as number) * PAIR_BASE + (w[j + 1] as number), freqs[i] as number, i);
  });

  const before = (x: HeapEntry, y: HeapEntry): boolean => {
    if (x.count !== y.count) return x.count > y.count;
    const xl = vocab[x.left] as string;
    const yl = vocab[y.left] as string;
    if (xl !== yl) return xl < yl;
    return (vocab[x.right] as string) < (vocab[y.right] as string);
  };
  const heap = new Heap(before);
  const flushChanged = (): void => {
    for (const key of changed) {
      const count = pairCounts.get(key);
      if (count !== undefined) heap.push({ count, left: Math.floor(key / PAIR_BASE), right: key % PAIR_BASE });
    }
    changed.clear();
  };
  flushChanged();

  const merges: Array<[string, string]> = [];
  while (vocab.length < options.vocabSize) {
    let top: HeapEntry | undefined;
    while ((top = heap.pop()) !== undefined && pairCounts.get(top.left * PAIR_BASE + top.right) !== top.count);
    if (top === undefined || top.count < minPairCount) break;
    const { left, right } = top;
    const key = left * PAIR_BASE + right;
    const token = (vocab[left] as string) + (vocab[right] as string);
    let merged = idOf.get(token);
    if (merged === undefined) {
      merged = vocab.length;
      vocab.push(token);
      idOf.set(token, merged);
    }
    merges.push([vocab[left] as string, vocab[right] as string]);
    for (const i of pairWords.get(key) ?? []) {
      const word = words[i] as number[];
      const freq = freqs[i] as number;
      const out: number[] = [];
      for (let j = 0; j < word.length; j++) {
        if (j + 1 < word.length && word[j] === left && word[j + 1] === right) {
          out.push(merged);
          j++;
        } else {
          out.push(word[j] as number);
        }
      }
      if (out.length === word.length) continue;
      for (let j = 0; j + 1 < word.length; j++) addPair((word[j] as number) * PAIR_BASE + (word[j + 1] as number), -freq, i);
      for (let j = 0; j + 1 < out.length; j++) addPair((out[j] as number) * PAIR_BASE + (out[j + 1] as number), freq, i);
      words[i] = out;
    }
    pairWords.delete(key);
    flushChanged();
  }
  return { vocab, merges, specialTokens };
}
