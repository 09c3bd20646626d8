// The HTTP side of `basin serve`: a node:http server with a route table, bearer-token auth,
// JSON bodies read up to a size limit, and every failure answered in OpenAI's error shape (400
// bad request, 401 bad token, 404 unknown route or model, 405 wrong method, 413 body too large,
// 500 a failed batch) — a bad request never stops the server. startServer() runs it in-process
// (the CLI, tests and benchmarks use it); close() fails what is queued or running with 503.

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

export interface ServeOptions {
  model: Transformer;
  tokenizer: Tokenizer;
  /** the model id clients send */
  name: string;
  /** when set, requests need `Authorization: Bearer <apiKey>` */
  apiKey?: string | null;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: any free port (see the returned url) */
  port?: number;
  /** most rows decoded together (default 32) */
  maxBatch?: number;
  /** largest request body (default 8 MiB) */
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  /** sequences (choices) waiting for room in the batch, and rows decoding now */
  load(): { queued: number; running: number };
  /** stops accepting, fails queued and running requests (503), closes connections */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BATCH = 32;
export const DEFAULT_MAX_BODY_BYTES = 8 << 20;
/** A body this many times over the limit is not drained to the end: the connection is cut. */
const DRAIN_FACTOR = 16;

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
  { path: /^\/v1\/models\/([^/]+)$/, shown: 'GET /v1/models/{id}', methods: { GET: (ctx, c) => retrieveModel(ctx, decodeURIComponent(c.match[1] as string)) } },
  { path: /^\/v1\/chat\/completions$/, shown: 'POST /v1/chat/completions', methods: { POST: (ctx, c) => chatCompletions(ctx, c.body, c.res, c.signal) } },
  { path: /^\/v1\/completions$/, shown: 'POST /v1/completions', methods: { POST: (ctx, c) => completions(ctx, c.body, c.res, c.signal) } },
];

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const maxBatch = o.maxBatch ?? DEFAULT_MAX_BATCH;
  const port = o.port ?? 0;
  const host = o.host ?? '127.0.0.1';
  if (o.name.trim() === '') throw new Error('startServer: name (the model id clients send) must not be blank');
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`startServer: port must be an integer in 0..65535, got ${port}`);
  const { model, tokenizer } = o;
  const stops = stopTokenIds(model, tokenizer);
  const stepper = new DecodeStepper(model, { padTokenId: tokenizer.padTokenId ?? stops[0] ?? 0, vocabLimit: tokenizer.vocabSize });
  const scheduler = new Scheduler(stepper, { maxBatch, stopTokenIds: stops, decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }) });
  const context = model.config.maxPositions;
  const ctx: ServeContext = {
    tokenizer, name: o.name, context, scheduler, texts: new TokenTexts(tokenizer), created: Math.floor(Date.now() / 1000),
    schemas: { chat: chatRequestSchema(context), completion: completionRequestSchema(context) },
  };
  const limits = { apiKey: o.apiKey ?? null, maxBodyBytes: o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES };
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const p = handle(ctx, limits, req, res).finally(() => inFlight.delete(p));
    inFlight.add(p);
  });
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
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    load: () => scheduler.load,
    close: () => (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await scheduler.close();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await closed;
    })()),
  };
}

async function handle(ctx: ServeContext, limits: { apiKey: string | null; maxBodyBytes: number }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const headers: Record<string, string> = {};
  try {
    authorize(limits.apiKey, req, headers);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = ROUTES.find((r) => r.path.test(path));
    if (route === undefined) {
      throw new ApiError(404, `Unknown request URL: ${req.method} ${path}. basin serve answers ${ROUTES.map((r) => r.shown).join(', ')}`, null, 'unknown_url');
    }
    const method = req.method ?? 'GET';
    const handler = route.methods[method];
    if (handler === undefined) {
      headers.Allow = Object.keys(route.methods).join(', ');
      throw new ApiError(405, `${method} ${path} is not supported; use ${headers.Allow}`, null, 'method_not_allowed');
    }
    const body = method === 'POST' ? await readJson(req, limits.maxBodyBytes) : undefined;
    const out = await handler(ctx, { body, match: route.path.exec(path) as RegExpExecArray, res, signal: controller.signal });
    if (out !== undefined) sendJson(res, 200, out);
  } catch (e) {
    const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, null, 'internal_error');
    if (res.headersSent) res.end();
    else if (!res.destroyed) sendJson(res, err.status, err.body(), headers);
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Checks the bearer token in constant time (when the server has one). */
function authorize(apiKey: string | null, req: IncomingMessage, headers: Record<string, string>): void {
  if (apiKey === null) return;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (m === null || !timingSafeEqual(digest(m[1] as string), digest(apiKey))) {
    headers['WWW-Authenticate'] = 'Bearer';
    throw new ApiError(401, m === null
      ? 'missing API key: send the header "Authorization: Bearer <key>" with the key the server was started with (--api-key or BASIN_SERVE_API_KEY)'
      : 'incorrect API key: send the key the server was started with (--api-key or BASIN_SERVE_API_KEY)', null, 'invalid_api_key');
  }
}

/** The body parsed as JSON; 413 past `limit` bytes (read to the end, so the answer reaches the client), 400 when not JSON. */
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
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return reject(new ApiError(400, 'the request body is empty; send a JSON object'));
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new ApiError(400, `the request body is not valid JSON (${(e as Error).message})`));
      }
    });
  });
}
