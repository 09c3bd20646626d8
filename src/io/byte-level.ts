/**
 * GPT-2's reversible byte ⇄ character table, used by every byte-level BPE (GPT-2, Qwen2, Llama-3):
 * each of the 256 byte values is written as one printable character so that BPE merges operate
 * on strings. Printable Latin-1 bytes map to themselves ('!'..'~', '¡'..'¬', '®'..'ÿ'); the other
 * 68 bytes map, in byte order, to U+0100 onwards (0x00 → 'Ā', 0x20 ' ' → 'Ġ', 0x0A '\n' → 'Ċ').
 */

/** BYTE_TO_CHAR[b] is the character that stands for byte b. [256] */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** The inverse of BYTE_TO_CHAR. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

function buildByteToChar(): string[] {
  const table = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

/** The byte-level string for UTF-8 `bytes`: one character per byte. */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += BYTE_TO_CHAR[b];
  return out;
}

/** The bytes a byte-level token string stands for, or null if some character is not a byte symbol. */
export function byteLevelToBytes(token: string): Uint8Array | null {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = CHAR_TO_BYTE.get(token[i]!);
    if (b === undefined) return null;
    bytes[i] = b;
  }
  return bytes;
}
