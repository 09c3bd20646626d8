// What one token reads as, for logprobs: its decoded text, and the UTF-8 bytes it stands for
// (OpenAI's `bytes`). A token that is part of a multi-byte character decodes to U+FFFD on its
// own; its bytes come from the vocabulary entry then — a byte-level symbol string (GPT-2, Qwen,
// Llama-3) or a SentencePiece byte-fallback token `<0xAB>` — so a client can join the bytes of
// consecutive tokens back into the text. Both are memoized per id (the vocabulary is finite).

import { byteLevelToBytes } from '../io/byte-level.js';
import type { Tokenizer } from '../io/tokenizer.js';

const UTF8 = new TextEncoder();
const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;

export interface TokenText {
  text: string;
  bytes: number[];
}

export class TokenTexts {
  readonly #cache = new Map<number, TokenText>();

  constructor(private readonly tokenizer: Tokenizer) {}

  of(id: number): TokenText {
    let t = this.#cache.get(id);
    if (t === undefined) {
      const text = this.tokenizer.decode([id]);
      t = { text, bytes: text.includes('\uFFFD') ? this.#rawBytes(id, text) : [...UTF8.encode(text)] };
      this.#cache.set(id, t);
    }
    return t;
  }

  #rawBytes(id: number, text: string): number[] {
    const entry = this.tokenizer.idToToken(id) ?? '';
    const fallback = BYTE_FALLBACK.exec(entry);
    if (fallback !== null) return [parseInt(fallback[1] as string, 16)];
    const bytes = byteLevelToBytes(entry);
    return bytes !== null ? [...bytes] : [...UTF8.encode(text)];
  }
}
