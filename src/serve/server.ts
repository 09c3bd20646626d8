// The HTTP side of `basin serve`: a node:http server with a route table, bearer-token auth,
// JSON bodies read up to a size limit (UTF-8, a leading byte order mark dropped, nesting
// bounded), and every failure answered in OpenAI's error shape (400 bad request, 401 bad token,
// 404 unknown route or model, 405 wrong method, 413 body too large, 503 model loading or server
// closing, 500 a failed batch) — a bad request never stops the server. HEAD is answered as GET
// without the body, OPTIONS as a CORS preflight, and every response allows any origin, so
// browser clients work. listen() binds the port first (answering 503 while the model loads) and
// serve() hands it the model; startServer() does both (the CLI, tests and benchmarks run it
// in-process); close() fails what is queued or running with 503.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tokenizer } from '../io/tokenizer.js';
import { stopTokenIds } from '../model/chat-prompt.js';
import { DecodeStepper } from '../model/decode-stepper.js';
import type { Transformer } from '../model/transformer.js';
import { ApiError } from './api-error.js';
import { chatCompletions, completions, listModels, retrieveModel, sendJson, type ServeContext } from './endpoints.js';
import { Scheduler } from './scheduler.js';
import { chatRequestSchema, completionRequestSchema } from './schema.js';
import { TokenTexts } from './token-text.js';

export interface ListenOptions {
  /** when set, requests need `Authorization: Bearer <apiKey>`; printable ASCII without spaces */
  apiKey?: string | null;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: any free port (see the returned url) */
  port?: number;
  /** largest request body (default 8 MiB) */
  maxBodyBytes?: number;
}

export interface ModelOptions {
  model: Transformer;
  tokenizer: Tokenizer;
  /** the model id clients send */
  name: string;
  /** most rows decoded together (default 32) */
  maxBatch?: number;
  /**
   * what the served weights are (model fingerprint, adapters, dtype), listed with the model as
   * `basin_fingerprint` so judges can tell two models served under one name apart in their caches
   */
  fingerprint?: string;
}

export type ServeOptions = ListenOptions & ModelOptions;

export interface RunningServer {
  /** the server's origin, http://host:port; OpenAI clients take `${url}/v1` as their base URL */
  url: string;
  /** sequences (choices) waiting for room in the batch, and rows decoding now */
  load(): { queued: number; running: number };
  /** stops accepting, fails queued and running requests (503), closes connections */
  close(): Promise<void>;
}

/** A server bound to its port that answers 503 'the model is loading' until serve() gives it the model. */
export interface ListeningServer extends RunningServer {
  serve(o: ModelOptions): void;
}

export const DEFAULT_MAX_BATCH = 32;
/** how long an idle keep-alive connection stays open (clients close theirs sooner) */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
export const DEFAULT_MAX_BODY_BYTES = 8 << 20;
/** Deepest nesting of arrays and objects a request body may have (OpenAI's requests need 4). */
export const MAX_BODY_DEPTH = 64;
/** A body this many times over the limit is not drained to the end: the connection is cut. */
const DRAIN_FACTOR = 16;
/** Seconds a client is told to wait (Retry-After) while the model loads. */
const LOADING_RETRY_S = 5;

interface Call {
  body: unknown;
  /** the route pattern's groups */
  match: RegExpExecArray;
  res: ServerResponse;
  /** aborted when the client goes away before the answer is complete */
  signal: AbortSignal;
}

/** A handler answers with a JSON object (sent with status 200), or writes the response itself. */
type Handler = (ctx: ServeContext, call: Call) => object | Promise<void>;

interface Route {
  path: RegExp;
  /** shown in the 404 message */
  shown: string;
  methods: Partial<Record<string, Handler>>;
}

const ROUTES: Route[] = [
  { path: /^\/v1\/models$/, shown: 'GET /v1/models', methods: { GET: (ctx) => listModels(ctx) } },
  { path: /^\/v1\/models\/([^/]+)$/, shown: 'GET /v1/models/{id}', methods: { GET: (ctx, c) => retrieveModel(ctx, pathSegment(c.match[1] as string, 'the model id')) } },
  { path: /^\/v1\/chat\/completions$/, shown: 'POST /v1/chat/completions', methods: { POST: (ctx, c) => chatCompletions(ctx, c.body, c.res, c.signal) } },
  { path: /^\/v1\/completions$/, shown: 'POST /v1/completions', methods: { POST: (ctx, c) => completions(ctx, c.body, c.res, c.signal) } },
];

/** The methods a route answers: its own, HEAD wherever GET is, and OPTIONS (CORS preflight). */
function allowed(route: Route): string {
  const own = Object.keys(route.methods);
  return [...own, ...(own.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
}

/** Headers on every response, so browser clients on other origins can read the answers. */
const CORS = { 'Access-Control-Allow-Origin': '*' };

/** Why an API key cannot be used, or null when it can: clients send it in an HTTP header. */
export function apiKeyProblem(key: string): string | null {
  if (key === '') return 'is empty';
  if (/\s/.test(key)) return 'contains whitespace, which an "Authorization: Bearer <key>" header cannot carry; use a key without spaces';
  if (!/^[\x21-\x7e]+$/.test(key)) return 'has characters outside printable ASCII, which an HTTP header does not carry reliably; use letters, digits and punctuation';
  return null;
}

/** Binds the port and answers 503 'the model is loading' until serve() is called; errors from binding name the host and port. */
export async function listen(o: ListenOptions): Promise<ListeningServer> {
  const port = o.port ?? 0;
  const host = o.host ?? '127.0.0.1';
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`listen: port must be an integer in 0..65535, got ${port}`);
  const apiKey = o.apiKey ?? null;
  const keyProblem = apiKey === null ? null : apiKeyProblem(apiKey);
  if (keyProblem !== null) throw new Error(`listen: the API key ${keyProblem}`);
  const state: State = { ctx: null, apiKey, maxBodyBytes: o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES };
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const p = handle(state, req, res).finally(() => inFlight.delete(p));
    inFlight.add(p);
  });
  // Idle keep-alive connections are left for the client to close (undici's default is 4 s): when
  // the server closes one just as the client reuses it — likely after a long decode step held the
  // event loop, so both timers fire together — the client's request dies with ECONNRESET.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? new Error(`port ${port} on ${host} is already in use; pick another port (0 takes any free one)`)
      : new Error(`cannot listen on ${host}:${port}: ${e.message}`));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    load: () => state.ctx?.scheduler.load ?? { queued: 0, running: 0 },
    serve(m) {
      if (state.ctx !== null) throw new Error('serve: this server already serves a model');
      if (closing !== undefined) throw new Error('serve: this server is closed');
      state.ctx = serveContext(m);
    },
    close: () => (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await state.ctx?.scheduler.close();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await closed;
    })()),
  };
}

/** listen() and serve() in one: a server that answers with the model from the start. */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const server = await listen(o);
  try {
    server.serve(o);
  } catch (e) {
    await server.close();
    throw e;
  }
  return server;
}

/** What a request is answered with: the model once serve() gave it (null while loading), and the server's limits. */
interface State {
  ctx: ServeContext | null;
  apiKey: string | null;
  maxBodyBytes: number;
}

function serveContext(o: ModelOptions): ServeContext {
  if (o.name.trim() === '') throw new Error('serve: name (the model id clients send) must not be blank');
  const { model, tokenizer } = o;
  const stops = stopTokenIds(model, tokenizer);
  const stepper = new DecodeStepper(model, { padTokenId: tokenizer.padTokenId ?? stops[0] ?? 0, vocabLimit: tokenizer.vocabSize });
  const scheduler = new Scheduler(stepper, { maxBatch: o.maxBatch ?? DEFAULT_MAX_BATCH, stopTokenIds: stops, decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }) });
  const context = model.config.maxPositions;
  return {
    tokenizer, name: o.name, fingerprint: o.fingerprint ?? null, context, scheduler, texts: new TokenTexts(tokenizer), created: Math.floor(Date.now() / 1000),
    schemas: { chat: chatRequestSchema(context), completion: completionRequestSchema(context) },
  };
}

async function handle(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v);
  const headers: Record<string, string> = {};
  try {
    const target = req.url ?? '/';
    const path = requestPath(target);
    const route = ROUTES.find((r) => r.path.test(path));
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS' && route !== undefined) {
      // CORS preflight: browsers send it without credentials, so it is answered before auth.
      res.writeHead(204, {
        Allow: allowed(route), 'Access-Control-Allow-Methods': allowed(route),
        'Access-Control-Allow-Headers': 'Authorization, Content-Type', 'Access-Control-Max-Age': '86400',
      });
      res.end();
      return;
    }
    authorize(state.apiKey, req, headers);
    const sent = target.replace(/[?#].*$/s, '');
    if (route === undefined) {
      throw new ApiError(404, `Unknown request URL: ${method} ${sent}. basin serve answers ${ROUTES.map((r) => r.shown).join(', ')}`, null, 'unknown_url');
    }
    const handler = route.methods[method === 'HEAD' ? 'GET' : method];
    if (handler === undefined) {
      headers.Allow = allowed(route);
      throw new ApiError(405, `${method} ${sent} is not supported; use ${Object.keys(route.methods).join(', ')}`, null, 'method_not_allowed');
    }
    const ctx = state.ctx;
    if (ctx === null) {
      headers['Retry-After'] = String(LOADING_RETRY_S);
      throw new ApiError(503, 'the model is loading; retry in a few seconds (GET /v1/models answers 200 once it is ready)', null, 'model_loading');
    }
    const body = method === 'POST' ? await readJson(req, state.maxBodyBytes) : undefined;
    // HEAD is answered as GET: node sends the headers (Content-Length included) and drops the body.
    const out = await handler(ctx, { body, match: route.path.exec(path) as RegExpExecArray, res, signal: controller.signal });
    if (out !== undefined) sendJson(res, 200, out);
  } catch (e) {
    const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, null, 'internal_error');
    if (res.headersSent) res.end();
    else if (!res.destroyed) sendJson(res, err.status, err.body(), headers);
  }
}

/**
 * The path a request target names, for routing: the query dropped, runs of slashes merged and a
 * trailing slash dropped (so `/v1/models/` and `//v1/models` route as `/v1/models`). The target
 * is read as a path, never as a protocol-relative URL; an absolute URL (as proxies send) gives its path.
 */
function requestPath(target: string): string {
  let raw: string;
  if (target.startsWith('/')) raw = target.replace(/[?#].*$/s, '');
  else if (/^https?:\/\//i.test(target) && URL.canParse(target)) raw = new URL(target).pathname;
  else throw new ApiError(400, `the request target '${target.slice(0, 60)}' is not a path; send e.g. POST /v1/chat/completions`, null, 'invalid_url');
  return raw.replace(/\/{2,}/g, '/').replace(/(.)\/$/s, '$1');
}

/** A percent-encoded path segment, decoded; 400 when it is not valid percent-encoded UTF-8. */
function pathSegment(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, `${what} in the URL path ('${segment.slice(0, 60)}') is not valid percent-encoding; encode it with encodeURIComponent`, null, 'invalid_url');
  }
}

/** Checks the bearer token in constant time (when the server has one); whatever follows "Bearer " is the token. */
function authorize(apiKey: string | null, req: IncomingMessage, headers: Record<string, string>): void {
  if (apiKey === null) return;
  const header = (req.headers.authorization ?? '').trim();
  const bearer = /^Bearer(?:\s+(.*))?$/is.exec(header);
  const token = bearer?.[1]?.trim() ?? '';
  if (token !== '' && timingSafeEqual(digest(token), digest(apiKey))) return;
  headers['WWW-Authenticate'] = 'Bearer';
  const source = '(--api-key or BASIN_SERVE_API_KEY)';
  throw new ApiError(401, header === '' || (bearer !== null && token === '')
    ? `missing API key: send the header "Authorization: Bearer <key>" with the key the server was started with ${source}`
    : bearer === null
      ? `the Authorization header is not "Bearer <key>"; send the key the server was started with ${source} in that form`
      : `incorrect API key: send the key the server was started with ${source}`, null, 'invalid_api_key');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Whether a parsed JSON value nests arrays and objects more than `limit` deep; checked without recursion. */
function depthOver(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > limit) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (x !== null && typeof x === 'object') stack.push([x, d + 1]);
  }
  return false;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body parsed as JSON: 413 past `limit` bytes (read to the end, so the answer reaches the
 * client); 400 when it is not UTF-8, not JSON, or nested deeper than MAX_BODY_DEPTH. A UTF-8 byte
 * order mark at the start is dropped.
 */
function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => new ApiError(413, `the request body is over the server's limit of ${limit} bytes; send a smaller request`, null, 'request_too_large');
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > DRAIN_FACTOR * limit) req.destroy();
    });
    req.on('error', reject);
    req.on('close', () => reject(size > limit ? tooLarge() : new ApiError(400, 'the client closed the connection before the request body ended')));
    req.on('end', () => {
      if (size > limit) return reject(tooLarge());
      let text: string;
      try {
        text = UTF8.decode(Buffer.concat(chunks)); // drops a leading byte order mark
      } catch {
        return reject(new ApiError(400, 'the request body is not valid UTF-8; send JSON encoded as UTF-8'));
      }
      if (text.trim() === '') return reject(new ApiError(400, 'the request body is empty; send a JSON object'));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        return reject(new ApiError(400, `the request body is not valid JSON (${(e as Error).message})`));
      }
      if (depthOver(body, MAX_BODY_DEPTH)) return reject(new ApiError(400, `the request body nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep; OpenAI requests need a few`));
      resolve(body);
    });
  });
}
