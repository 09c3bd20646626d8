// A client for the OpenAI chat-completions API (POST {baseUrl}/chat/completions), as LLM judges
// use it: Node's fetch, a bearer key when one is configured, at most endpoint.concurrency
// requests in flight, and every answered request stored in the request cache before it is used.
// It also reads the server's model list (GET {baseUrl}/models), which a judge's check uses to
// see that the server answers and serves the judge model, and to key the cache to the served
// model's fingerprint when the server gives one (request-cache.ts).
//
// Retries, with exponential back-off and full jitter (a uniform delay in [0, base·2^attempt),
// capped), on what a busy or restarting server does: 429 (its Retry-After / retry-after-ms wait
// is honoured instead, capped), 408, 409, 5xx, a per-request time-out (endpoint.timeoutMs, the
// body included), a refused or reset connection, and a 200 whose body is not JSON or has no
// `choices`. Any other status is a mistake retrying cannot fix, and fails at once quoting the
// server's message, in one of two ways:
//   - about this one request (400, 413, 422: a prompt longer than the judge model's context, a
//     body too large): RequestRejected, which judges turn into that item's JUDGE-FAILED verdict
//     while the other items are judged;
//   - about the setup (401/403 a bad key, 404 an unknown model or a wrong URL, …): a
//     JudgeServerError, which stops the batch, as does a request that still fails after
//     endpoint.maxRetries retries. Both name the URL, the status or cause and the fix.
// A request keeps its slot while it backs off, so a struggling server is sent less.
//
// `map` runs a batch: when one item fails, requests not yet sent are not sent, those in flight
// finish (and are cached), and the first failure is thrown saying how many items were judged,
// so running again resumes where it stopped. Identical requests in flight at once are sent once.

import type { JudgeEndpoint } from './judge.js';
import { keyMaterial, requestKey, type RequestCache } from './request-cache.js';
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

/** An entry of the server's model list; basin serve adds the fingerprint of what it serves. */
export interface ServedModel {
  id: string;
  basin_fingerprint?: unknown;
  [field: string]: unknown;
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

/** Statuses about the one request that got them, not about the setup: that item fails, the batch goes on. */
const REQUEST_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

/** What to do about a status that is about the setup, by status. */
const SETUP_FIXES: Record<number, string> = {
  401: 'set $BASIN_JUDGE_API_KEY (or $OPENAI_API_KEY) to a key the server accepts',
  403: 'set $BASIN_JUDGE_API_KEY (or $OPENAI_API_KEY) to a key allowed to use this model',
  404: "check --judge-url (the OpenAI-compatible base, usually ending in /v1) and the judge's model name (options.model; basin eval: --judge-option model=ID)",
};

/** The waits and limits, in words, for an error about a server that keeps failing. */
const SLOW_SERVER_FIX =
  'a slow or busy server needs more time ($BASIN_JUDGE_TIMEOUT_S; basin eval --judge-timeout), more retries ($BASIN_JUDGE_RETRIES) ' +
  'or fewer requests at once ($BASIN_JUDGE_CONCURRENCY; basin eval --judge-concurrency)';

/** Whether a refusal says the prompt does not fit the model's context (OpenAI's and basin serve's code, or the usual wording). */
function isContextLength(code: string | null, message: string): boolean {
  return code === 'context_length_exceeded' || /context|too long|too many tokens/i.test(message);
}

/** The fix for a request the server refused (400, 413, 422). */
function rejectionFix(status: number, code: string | null, message: string): string {
  if (status === 413) return 'the request is larger than the server accepts: shorten the answers (basin eval --max-new-tokens) or the judge template';
  if (isContextLength(code, message)) {
    return "the judge prompt (template, question and answer) does not fit the judge model's context: use a judge model with a longer context, or shorter answers (basin eval --max-new-tokens)";
  }
  return "if every request is refused so, the server does not take one of the judge's settings (logprobs, top_logprobs, seed, max_tokens): check the judge's options";
}

/** A failure of the judge's server or of its setup, not of one request: the evaluation stops. */
export class JudgeServerError extends Error {}

/** A request the server refused for what it holds (400, 413, 422): its item cannot be judged, the others can. */
export class RequestRejected extends Error {
  constructor(
    url: string,
    readonly status: number,
    code: string | null,
    serverMessage: string,
  ) {
    super(`judge request to ${url}: HTTP ${status}${serverMessage === '' ? '' : `: ${serverMessage}`}; ${rejectionFix(status, code, serverMessage)}`);
  }
}

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

/** What one HTTP attempt came to: a 2xx (its JSON, undefined when it is not JSON), a reason to retry, or a status retrying cannot fix. */
type Outcome =
  | { kind: 'ok'; status: number; text: string; json: unknown }
  | ({ kind: 'retry' } & RetryReason)
  | { kind: 'refused'; status: number; code: string | null; message: string };

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
  private readonly base: string;
  private readonly cache: RequestCache | null;
  private readonly limiter: Limiter;
  private readonly inFlight = new Map<string, Promise<ChatCompletion>>();
  /** served models' fingerprints by model id, from the model list (keyed into the cache) */
  private readonly fingerprints = new Map<string, string>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly endpoint: JudgeEndpoint,
    options: ClientOptions = {},
  ) {
    if (!Number.isInteger(endpoint.concurrency) || endpoint.concurrency < 1) throw new Error(`judge endpoint ${endpoint.baseUrl}: concurrency (${endpoint.concurrency}) must be a positive integer`);
    this.base = endpoint.baseUrl.replace(/\/+$/, '');
    this.url = `${this.base}/chat/completions`;
    this.cache = options.cache ?? null;
    this.limiter = new Limiter(endpoint.concurrency);
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    // The jitter changes no result, it only spreads the retries of processes apart: seeded per process.
    this.random = options.random ?? createRng(hashString(`${process.pid} ${Date.now()}`)).next;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * The models the server lists (GET {baseUrl}/models), or null when it has no such route or
   * lists none (nothing to check). Retried like a completion; throws a JudgeServerError when the
   * server cannot be reached or refuses the key.
   */
  async listModels(): Promise<ServedModel[] | null> {
    const url = `${this.base}/models`;
    const fix = `Start the judge's server (any OpenAI-compatible one; 'basin serve --model DIR' serves a local model) or point --judge-url ($BASIN_JUDGE_URL) at it; ${SLOW_SERVER_FIX}`;
    return this.retrying(url, fix, async () => {
      const o = await this.once('GET', url);
      if (o.kind === 'retry') return o;
      if (o.kind === 'refused') {
        // a bad key is an error; any other refusal (404: no such route) leaves nothing to check
        if (o.status === 401 || o.status === 403) throw new JudgeServerError(`GET ${url}: HTTP ${o.status}${o.message === '' ? '' : `: ${o.message}`}; ${SETUP_FIXES[o.status]}`);
        return { done: null };
      }
      const data = (o.json as { data?: unknown } | null | undefined)?.data;
      const models = Array.isArray(data) ? data.filter((m): m is ServedModel => m !== null && typeof m === 'object' && typeof (m as { id?: unknown }).id === 'string') : [];
      return { done: models.length === 0 ? null : models };
    });
  }

  /** Keys the cache entries of requests to `model` to this fingerprint of what the server serves under that name. */
  keyToFingerprint(model: string, fingerprint: string): void {
    this.fingerprints.set(model, fingerprint);
  }

  /** The response to `body`, from the cache or the server; within a batch, not sent once the batch has failed. */
  complete(body: ChatRequest, batch?: Batch): Promise<ChatCompletion> {
    const material = keyMaterial(body, this.fingerprints.get(body.model) ?? null);
    const key = requestKey(material);
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
          return await this.send(body, material, key);
        } catch (error) {
          // marked before the slot is handed on, so the next request in the queue is not sent;
          // a request the server refused for what it holds stops nothing else
          if (batch !== undefined && !(error instanceof RequestRejected)) batch.failure ??= asError(error);
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
   * (An fn that turns a RequestRejected into a result, as judges do, makes it no failure.)
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

  private async send(body: ChatRequest, material: unknown, key: string): Promise<ChatCompletion> {
    const fix = `Check that the server is up and serves model '${body.model}'; ${SLOW_SERVER_FIX}`;
    const completion = await this.retrying<ChatCompletion>(this.url, fix, async () => {
      const o = await this.once('POST', this.url, body);
      if (o.kind === 'retry') return o;
      if (o.kind === 'refused') {
        if (REQUEST_STATUSES.has(o.status)) throw new RequestRejected(this.url, o.status, o.code, o.message);
        throw new JudgeServerError(`judge request to ${this.url}: HTTP ${o.status}${o.message === '' ? '' : `: ${o.message}`}; ${SETUP_FIXES[o.status] ?? "check --judge-url and the judge's options"}`);
      }
      if (o.json === undefined) return { reason: `HTTP ${o.status} with a body that is not JSON (${JSON.stringify(o.text.slice(0, 80))})` };
      return hasChoices(o.json) ? { done: o.json } : { reason: `HTTP ${o.status} with a response that has no choices (${JSON.stringify(o.text.slice(0, 80))})` };
    });
    this.counts.answered++;
    this.cache?.put(key, material, completion);
    return completion;
  }

  /** `attempt` until it is done, backing off between tries; after endpoint.maxRetries retries, a JudgeServerError naming the URL, the last cause and `fix`. */
  private async retrying<T>(url: string, fix: string, attempt: () => Promise<{ done: T } | RetryReason>): Promise<T> {
    for (let n = 0; ; n++) {
      const outcome = await attempt();
      if ('done' in outcome) return outcome.done;
      if (n >= this.endpoint.maxRetries) throw new JudgeServerError(`judge request to ${url} failed after ${n + 1} attempt${n === 0 ? '' : 's'}; last: ${outcome.reason}. ${fix}`);
      await this.sleep(this.delay(n, outcome.retryAfterMs));
    }
  }

  /** Before retry `attempt` (0 = the first retry): the server's wait, else full jitter; capped. */
  delay(attempt: number, retryAfterMs?: number): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.maxDelayMs);
    return this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
  }

  /** One HTTP attempt, with the key and the time-out. */
  private async once(method: 'GET' | 'POST', url: string, body?: ChatRequest): Promise<Outcome> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.endpoint.apiKey !== null) headers.authorization = `Bearer ${this.endpoint.apiKey}`;
    this.counts.attempts++;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(this.endpoint.timeoutMs) });
      text = await response.text();
    } catch (error) {
      return { kind: 'retry', reason: fetchFailure(error, this.endpoint.timeoutMs) };
    }
    const status = response.status;
    if (status >= 200 && status < 300) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { kind: 'ok', status, text, json };
    }
    const { message, code } = serverError(text);
    if (status >= 500 || RETRY_STATUSES.has(status)) {
      const retryAfterMs = retryAfter(response.headers);
      return { kind: 'retry', reason: `HTTP ${status}${message === '' ? '' : ` (${message})`}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    return { kind: 'refused', status, code, message };
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

/** The error message (and code) an OpenAI-compatible server put in its body, else the body's start. */
function serverError(text: string): { message: string; code: string | null } {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown; code?: unknown } | string; message?: unknown; detail?: unknown };
    const message = typeof body.error === 'object' ? body.error?.message : body.error ?? body.message ?? body.detail;
    const code = typeof body.error === 'object' && typeof body.error?.code === 'string' ? body.error.code : null;
    if (typeof message === 'string') return { message, code };
  } catch {
    // not JSON: quote the text
  }
  return { message: text.trim().slice(0, 300), code: null };
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
