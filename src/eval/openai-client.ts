// A client for the OpenAI chat-completions API (POST {baseUrl}/chat/completions), as LLM judges
// use it: Node's fetch, a bearer key when one is configured, at most endpoint.concurrency
// requests in flight, and every answered request stored in the request cache before it is used.
//
// Retries, with exponential back-off and full jitter (a uniform delay in [0, base·2^attempt),
// capped), on what a busy or restarting server does: 429 (its Retry-After / retry-after-ms wait
// is honoured instead, capped), 408, 409, 5xx, a per-request time-out (endpoint.timeoutMs, the
// body included), a refused or reset connection, and a 200 whose body is not JSON or has no
// `choices`. Any other status is a mistake retrying cannot fix (a bad key, an unknown model, a
// setting the server rejects): it fails at once, quoting the server's message. A request that
// still fails after endpoint.maxRetries retries fails naming the URL, the last status or cause
// and the fix. A request keeps its slot while it backs off, so a struggling server is sent less.
//
// `map` runs a batch: when one item fails, requests not yet sent are not sent, those in flight
// finish (and are cached), and the first failure is thrown saying how many items were judged,
// so running again resumes where it stopped. Identical requests in flight at once are sent once.

import type { JudgeEndpoint } from './judge.js';
import { requestKey, type RequestCache } from './request-cache.js';
import { createRng, hashString } from '../util/rng.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A chat-completions request body; the fields a judge sets besides these pass through. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  [setting: string]: unknown;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

/** The part of a chat-completions response judges read. */
export interface ChatCompletion {
  choices: Array<{
    message?: { content?: string | null };
    logprobs?: { content?: Array<{ token: string; logprob: number; top_logprobs?: TopLogprob[] }> | null } | null;
  }>;
}

/** Sends one request (or answers it from the cache). */
export type Send = (body: ChatRequest) => Promise<ChatCompletion>;

export interface ClientOptions {
  /** where answered requests are kept (null: no cache) */
  cache?: RequestCache | null;
  /** back-off before retry k is uniform in [0, baseDelayMs·2^k) (default 500 ms) */
  baseDelayMs?: number;
  /** cap on one back-off and on a server's Retry-After (default 30 s) */
  maxDelayMs?: number;
  /** uniform [0, 1) draws for the jitter (default: a generator seeded per process) */
  random?: () => number;
  /** waits between attempts (default: a timer); tests record the delays instead */
  sleep?: (ms: number) => Promise<void>;
}

/** Statuses worth retrying besides 5xx. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 409, 429]);

/** What to do about a status that is not retried, by status. */
const STATUS_FIXES: Record<number, string> = {
  400: "check the judge's options (model name, sampling settings the server accepts: logprobs, top_logprobs, seed)",
  401: 'set $BASIN_JUDGE_API_KEY (or $OPENAI_API_KEY) to a key the server accepts',
  403: 'set $BASIN_JUDGE_API_KEY (or $OPENAI_API_KEY) to a key allowed to use this model',
  404: "check --judge-url (the OpenAI-compatible base, usually ending in /v1) and the judge's model name",
  413: 'the prompt is too long for the server: shorten the answers (max new tokens) or the template',
};

/** The items of one `map` call: its first failure stops requests not yet sent. */
export interface Batch {
  failure: Error | null;
}

/** An item's request not sent because another item of the batch had already failed. */
class Cancelled extends Error {}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** Why an attempt should be retried, and how long the server asked us to wait. */
interface RetryReason {
  reason: string;
  retryAfterMs?: number;
}

class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly slots: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.active--;
    }
  }
}

export class OpenAIClient {
  readonly url: string;
  /** HTTP attempts made, requests answered by the server, and answered from the cache */
  readonly counts = { attempts: 0, answered: 0, cached: 0 };
  private readonly cache: RequestCache | null;
  private readonly limiter: Limiter;
  private readonly inFlight = new Map<string, Promise<ChatCompletion>>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly endpoint: JudgeEndpoint,
    options: ClientOptions = {},
  ) {
    if (!Number.isInteger(endpoint.concurrency) || endpoint.concurrency < 1) throw new Error(`judge endpoint ${endpoint.baseUrl}: concurrency (${endpoint.concurrency}) must be a positive integer`);
    this.url = `${endpoint.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.cache = options.cache ?? null;
    this.limiter = new Limiter(endpoint.concurrency);
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    // The jitter changes no result, it only spreads the retries of processes apart: seeded per process.
    this.random = options.random ?? createRng(hashString(`${process.pid} ${Date.now()}`)).next;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The response to `body`, from the cache or the server; within a batch, not sent once the batch has failed. */
  complete(body: ChatRequest, batch?: Batch): Promise<ChatCompletion> {
    const key = requestKey(body);
    const hit = this.cache?.get(key);
    if (hit !== undefined && hasChoices(hit)) {
      this.counts.cached++;
      return Promise.resolve(hit);
    }
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    const request = this.limiter
      .run(async () => {
        if (batch !== undefined && batch.failure !== null) throw new Cancelled('not sent: the batch had already failed');
        try {
          return await this.send(body, key);
        } catch (error) {
          // marked before the slot is handed on, so the next request in the queue is not sent
          if (batch !== undefined) batch.failure ??= asError(error);
          throw error;
        }
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, request);
    return request;
  }

  /**
   * fn over every item, with `send` for its requests; `onDone` after each item. When an item
   * fails, requests not yet sent are not sent, the rest finish, and the first failure is thrown.
   */
  async map<T, R>(items: readonly T[], fn: (item: T, send: Send) => Promise<R>, onDone?: () => void): Promise<R[]> {
    const batch: Batch = { failure: null };
    const send: Send = (body) => this.complete(body, batch);
    const settled = await Promise.allSettled(
      items.map(async (item) => {
        try {
          const result = await fn(item, send);
          onDone?.();
          return result;
        } catch (error) {
          if (!(error instanceof Cancelled)) batch.failure ??= asError(error);
          throw error;
        }
      }),
    );
    const failure = batch.failure;
    if (failure !== null) {
      const done = settled.filter((s) => s.status === 'fulfilled').length;
      const kept = this.cache === null ? 'the judge request cache is off ($BASIN_JUDGE_CACHE=off), so a new run sends them again' : `their requests are cached in ${this.cache.dir}, so running again resumes`;
      throw new Error(`${failure.message} (${done} of ${items.length} items were judged before the batch stopped; ${kept})`, { cause: failure });
    }
    return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
  }

  private async send(body: ChatRequest, key: string): Promise<ChatCompletion> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(body);
      if ('choices' in outcome) {
        this.counts.answered++;
        this.cache?.put(key, body, outcome);
        return outcome;
      }
      if (attempt >= this.endpoint.maxRetries) {
        throw new Error(
          `judge request to ${this.url} failed after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}; last: ${outcome.reason}. ` +
            `Check that the server is up and serves model '${body.model}'; a slow or busy server needs more time (--judge-timeout, $BASIN_JUDGE_TIMEOUT_S), more retries ($BASIN_JUDGE_RETRIES) or fewer requests at once (--judge-concurrency)`,
        );
      }
      await this.sleep(this.delay(attempt, outcome.retryAfterMs));
    }
  }

  /** Before retry `attempt` (0 = the first retry): the server's wait, else full jitter; capped. */
  delay(attempt: number, retryAfterMs?: number): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.maxDelayMs);
    return this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
  }

  /** One HTTP attempt: the completion, or why to retry; throws when retrying cannot help. */
  private async attempt(body: ChatRequest): Promise<ChatCompletion | RetryReason> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.endpoint.apiKey !== null) headers.authorization = `Bearer ${this.endpoint.apiKey}`;
    this.counts.attempts++;
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.endpoint.timeoutMs) });
      text = await response.text();
    } catch (error) {
      return { reason: fetchFailure(error, this.endpoint.timeoutMs) };
    }
    const status = response.status;
    if (status >= 200 && status < 300) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return { reason: `HTTP ${status} with a body that is not JSON (${JSON.stringify(text.slice(0, 80))})` };
      }
      return hasChoices(parsed) ? parsed : { reason: `HTTP ${status} with a response that has no choices (${JSON.stringify(text.slice(0, 80))})` };
    }
    const message = serverMessage(text);
    if (status >= 500 || RETRY_STATUSES.has(status)) {
      const retryAfterMs = retryAfter(response.headers);
      return { reason: `HTTP ${status}${message === '' ? '' : ` (${message})`}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    const fix = STATUS_FIXES[status] ?? 'check --judge-url and the judge options';
    throw new Error(`judge request to ${this.url}: HTTP ${status}${message === '' ? '' : `: ${message}`}; ${fix}`);
  }
}

function hasChoices(value: unknown): value is ChatCompletion {
  return value !== null && typeof value === 'object' && Array.isArray((value as { choices?: unknown }).choices) && (value as ChatCompletion).choices.length > 0;
}

/** A fetch error in words: a time-out, or the connection's failure code. */
function fetchFailure(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no response within ${timeoutMs} ms (time-out)`;
  const cause = e.cause?.code ?? e.cause?.message;
  return `connection failed (${cause ?? e.message ?? String(error)})`;
}

/** The error message an OpenAI-compatible server put in its body, else the body's start. */
function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const message = typeof body.error === 'object' ? body.error?.message : body.error ?? body.message ?? body.detail;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: quote the text
  }
  return text.trim().slice(0, 300);
}

/** The wait a 429/503 asks for: retry-after-ms, else Retry-After (seconds or an HTTP date). */
function retryAfter(headers: Headers): number | undefined {
  const ms = Number(headers.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
