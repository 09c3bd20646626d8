// The server's engine: a queue of sequences (one per choice of each request) and one loop that
// decodes them in shared batches with a DecodeStepper (src/model/decode-stepper.ts). At every
// step boundary the loop admits queued sequences while the batch has room (--max-batch rows;
// a request with n=k is k sequences, which may join in different steps), picks each row's next
// token, ends the rows that are done (a stop token, a stop string, max_tokens, or a client that
// went away) and runs one decode forward for the rest — then yields to the event loop, so
// streamed chunks flush and new requests are parsed and queued while a batch runs.
//
// Every row samples from its own generator seeded from its request (DecodeStepper), so what a
// request gets does not depend on what else shares its batch (up to float rounding).
//
// A failure while admitting rows fails the requests of those rows; a failure in a step fails
// every request with a row in the batch (500), and the loop goes on with a fresh batch.

import { DecodeStepper, type DecodeRow, type StepToken, type TokenLogprob } from '../model/decode-stepper.js';
import { ApiError } from './api-error.js';
import { TextStream } from './text-stream.js';

export interface SequenceSpec extends DecodeRow {
  /** most new tokens (the stop token included) */
  maxTokens: number;
  /** stop strings: the text ends before the first one */
  stop: string[];
}

export interface GeneratedToken {
  id: number;
  /** NaN unless the sequence asked for logprobs */
  logprob: number;
  top: TokenLogprob[];
}

export type FinishReason = 'stop' | 'length';

/** New text of one sequence (streaming), with the tokens generated since the last update. */
export interface SequenceUpdate {
  /** the sequence's index in its request */
  index: number;
  delta: string;
  /** tokens behind the delta (a stop token is never one) */
  tokens: GeneratedToken[];
  /** set on the sequence's last update */
  finishReason: FinishReason | null;
}

export interface SequenceResult {
  text: string;
  /** every generated token but a final stop token */
  tokens: GeneratedToken[];
  finishReason: FinishReason;
  /** tokens generated, the stop token included */
  completionTokens: number;
}

export interface SchedulerOptions {
  /** most rows decoded together */
  maxBatch: number;
  /** ids that end a sequence (not part of its text) */
  stopTokenIds: number[];
  decode: (ids: number[]) => string;
}

export interface SubmitOptions {
  /** aborting drops the request's sequences at the next step boundary; the promise rejects */
  signal?: AbortSignal;
  /** streaming: called whenever a sequence's text grows, and once as it ends */
  onUpdate?: (u: SequenceUpdate) => void;
}

interface Job {
  results: (SequenceResult | undefined)[];
  remaining: number;
  /** set when the job failed or was cancelled: its sequences leave the queue and the batch */
  over: boolean;
  resolve: (r: SequenceResult[]) => void;
  reject: (e: Error) => void;
  onUpdate: ((u: SequenceUpdate) => void) | undefined;
}

class Sequence {
  readonly tokens: GeneratedToken[] = [];
  /** tokens not yet reported in an update */
  #unsent: GeneratedToken[] = [];
  #count = 0;
  readonly #text: TextStream;

  constructor(readonly job: Job, readonly index: number, readonly spec: SequenceSpec, o: SchedulerOptions) {
    this.#text = new TextStream(o.decode, spec.stop, job.onUpdate !== undefined);
  }

  /** Takes this step's token; true when the sequence is done. */
  consume(step: StepToken, stopIds: ReadonlySet<number>): boolean {
    this.#count++;
    if (stopIds.has(step.token)) return this.#finish('stop', '');
    const token = { id: step.token, logprob: step.logprob, top: step.top };
    this.tokens.push(token);
    this.#unsent.push(token);
    const delta = this.#text.push(step.token);
    if (this.#text.stopped) return this.#finish('stop', delta);
    if (this.#count >= this.spec.maxTokens) return this.#finish('length', delta);
    if (delta !== '') this.#update(delta, null);
    return false;
  }

  #update(delta: string, finishReason: FinishReason | null): void {
    this.job.onUpdate?.({ index: this.index, delta, tokens: this.#unsent, finishReason });
    this.#unsent = [];
  }

  #finish(reason: FinishReason, delta: string): true {
    const rest = delta + this.#text.end();
    if (this.job.onUpdate !== undefined) this.#update(rest, reason);
    const job = this.job;
    job.results[this.index] = { text: this.#text.text, tokens: this.tokens, finishReason: reason, completionTokens: this.#count };
    if (--job.remaining === 0 && !job.over) {
      job.over = true;
      job.resolve(job.results as SequenceResult[]);
    }
    return true;
  }
}

export class Scheduler {
  readonly #queue: Sequence[] = [];
  /** by stepper row id */
  readonly #active = new Map<number, Sequence>();
  readonly #stopIds: ReadonlySet<number>;
  #loop: Promise<void> | null = null;
  #closed = false;

  constructor(private readonly stepper: DecodeStepper, private readonly o: SchedulerOptions) {
    if (!(Number.isInteger(o.maxBatch) && o.maxBatch >= 1)) throw new Error(`Scheduler: maxBatch must be an integer ≥ 1, got ${o.maxBatch}`);
    this.#stopIds = new Set(o.stopTokenIds);
  }

  /** Sequences waiting for room in the batch, and rows in it. */
  get load(): { queued: number; running: number } {
    return { queued: this.#queue.length, running: this.#active.size };
  }

  /** Queues a request's sequences; resolves with their results in order. */
  submit(specs: SequenceSpec[], o: SubmitOptions = {}): Promise<SequenceResult[]> {
    if (this.#closed) return Promise.reject(new ApiError(503, 'the server is shutting down'));
    if (specs.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const job: Job = { results: new Array(specs.length), remaining: specs.length, over: false, resolve, reject, onUpdate: o.onUpdate };
      specs.forEach((s, i) => this.#queue.push(new Sequence(job, i, s, this.o)));
      if (o.signal !== undefined) {
        if (o.signal.aborted) this.#fail(job, new ApiError(499, 'the client closed the request'));
        else o.signal.addEventListener('abort', () => this.#fail(job, new ApiError(499, 'the client closed the request')), { once: true });
      }
      this.#kick();
    });
  }

  /** Starts the loop unless it runs (and again if work arrived as it ended). */
  #kick(): void {
    this.#loop ??= this.#run().finally(() => {
      this.#loop = null;
      if (!this.#closed && this.#queue.length > 0) this.#kick();
    });
  }

  /** Fails every queued and running request (503) and frees the batch; later submits are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const jobs = new Set([...this.#queue, ...this.#active.values()].map((s) => s.job));
    for (const job of jobs) this.#fail(job, new ApiError(503, 'the server is shutting down'));
    await this.#loop;
    this.stepper.dispose();
  }

  // Yields first, so requests that arrive together (one poll of the event loop) join together.
  async #run(): Promise<void> {
    while (!this.#closed && (this.#queue.length > 0 || this.#active.size > 0)) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.#closed) break;
      this.#admit();
      if (this.#active.size > 0) this.#step();
    }
  }

  #admit(): void {
    const live = this.#queue.filter((s) => !s.job.over);
    this.#queue.length = 0;
    const room = this.o.maxBatch - this.#active.size;
    const joining = live.slice(0, Math.max(0, room));
    this.#queue.push(...live.slice(joining.length));
    if (joining.length === 0) return;
    let ids: number[];
    try {
      ids = this.stepper.add(joining.map((s) => s.spec));
    } catch (e) {
      for (const job of new Set(joining.map((s) => s.job))) this.#fail(job, serverError(e));
      return;
    }
    ids.forEach((id, i) => this.#active.set(id, joining[i] as Sequence));
  }

  #step(): void {
    try {
      const done: number[] = [];
      for (const step of this.stepper.pick()) {
        const seq = this.#active.get(step.row) as Sequence;
        if (seq.job.over || seq.consume(step, this.#stopIds)) done.push(step.row);
      }
      // Rows whose request failed or was cancelled since (a callback may have aborted one).
      for (const [id, seq] of this.#active) if (seq.job.over && !done.includes(id)) done.push(id);
      this.stepper.drop(done);
      for (const id of done) this.#active.delete(id);
      this.stepper.advance();
    } catch (e) {
      const jobs = new Set([...this.#active.values()].map((s) => s.job));
      this.#active.clear();
      this.stepper.dispose();
      for (const job of jobs) this.#fail(job, serverError(e));
    }
  }

  #fail(job: Job, e: Error): void {
    if (job.over) return;
    job.over = true;
    job.reject(e);
  }
}

function serverError(e: unknown): ApiError {
  return new ApiError(500, `generation failed: ${e instanceof Error ? e.message : String(e)}`, null, 'generation_failed');
}
