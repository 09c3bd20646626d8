// A completion's text as its tokens arrive: decoded whole after each token (so the text is
// exactly the decode of all tokens, as the non-streamed answer is), cut before the first stop
// string, and — for streaming — handed out only where it can no longer change: text ending in
// U+FFFD (a character whose bytes have not all arrived) and text that may be the start of a stop
// string are held back until the next token settles them. The deltas join to the final text.

export class TextStream {
  readonly #ids: number[] = [];
  #text = '';
  /** characters of #text handed out as deltas */
  #sent = 0;
  #stopped = false;

  /**
   * `incremental`: decode after every token (streaming); otherwise only when stop strings need
   * checking, and once at the end.
   */
  constructor(private readonly decode: (ids: number[]) => string, private readonly stops: readonly string[], private readonly incremental: boolean) {}

  /** Whether a stop string has ended the text. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds a token; returns the text that became final with it (always '' when not incremental). */
  push(id: number): string {
    if (this.#stopped) throw new Error('TextStream.push: the text already ended at a stop string');
    this.#ids.push(id);
    if (!this.incremental && this.stops.length === 0) return '';
    const full = this.decode(this.#ids);
    const cut = Math.min(...this.stops.map((s) => full.indexOf(s)).filter((i) => i >= 0));
    if (Number.isFinite(cut)) {
      this.#text = full.slice(0, cut);
      this.#stopped = true;
      return this.incremental ? this.#take(this.#text.length) : '';
    }
    this.#text = full;
    if (!this.incremental) return '';
    let end = full.length;
    while (end > this.#sent && full[end - 1] === '\uFFFD') end--;
    return this.#take(end - this.#heldForStop(full.slice(0, end)));
  }

  /** Ends the text: returns what was not handed out yet. */
  end(): string {
    if (!this.#stopped) this.#text = this.decode(this.#ids);
    return this.#take(this.#text.length);
  }

  /** The text so far (the whole text after end()). */
  get text(): string {
    return this.#text;
  }

  // Characters at the end of `text` that may begin a stop string.
  #heldForStop(text: string): number {
    let held = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, text.length); k > held; k--) {
        if (text.endsWith(s.slice(0, k))) {
          held = k;
          break;
        }
      }
    }
    return held;
  }

  #take(end: number): string {
    if (end <= this.#sent) return '';
    const delta = this.#text.slice(this.#sent, end);
    this.#sent = end;
    return delta;
  }
}
