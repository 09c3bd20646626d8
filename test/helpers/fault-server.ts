// A fake judge model behind a real OpenAI-compatible HTTP server (node:http), for testing LLM
// judges and their client without a network or a model. Its answers are deterministic
// functions of the prompt (fakeJudgeModel below), and it can break any request on a schedule:
// an HTTP status (500, 429 with Retry-After, 400 with a message, …), a stall past the client's
// time-out, a dropped connection, a body that is not JSON, a 200 with no choices. It records
// every request it receives, and which it answered. GET /v1/models lists what `models` gives
// (or breaks the same ways); without it the server has no such route (404), as some do not.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake model answers: text, and for logprobs requests the first token's top tokens with probabilities. */
export interface Reply {
  content: string;
  top?: Array<[token: string, probability: number]>;
}

export type Fault =
  | number
  | { status: number; message?: string; code?: string; retryAfter?: string; retryAfterMs?: string }
  | 'stall'
  | 'drop'
  | 'malformed'
  | 'no-choices';

export interface Received {
  /** arrival order, from 0 */
  n: number;
  body: Record<string, unknown> & { messages: Array<{ role: string; content: string }> };
  /** the last message's content */
  prompt: string;
  authorization: string | undefined;
  fault: Fault | null;
}

export interface FaultServer {
  /** http://127.0.0.1:PORT/v1 */
  baseUrl: string;
  requests: Received[];
  /** the authorization header of each GET /v1/models, in order */
  listings: Array<string | undefined>;
  /** requests answered with a completion */
  answered(): Received[];
  close(): Promise<void>;
}

/**
 * The fake judge model. A logprobs request whose prompt starts 'rate METRIC:' answers with the
 * value written 'METRIC=V' in the prompt: a number V gives top tokens V (0.7), ' V' (0.2) and
 * 'the' (0.1), so the score is V with mass 0.9; CODE or REFUSAL gives that word (0.9) and '50'
 * (0.1), mass 0.1; 'none' gives no number at all. Other requests answer 'ANSWER: L' for
 * 'rubric=L' in the prompt, or 'I am not sure' while the request's seed is below a 'garble=S'
 * in the prompt.
 */
export function fakeJudgeModel(body: Received['body'], prompt: string): Reply {
  if (body.logprobs === true) {
    const metric = /^rate (\w+):/.exec(prompt)?.[1];
    const value = metric === undefined ? undefined : new RegExp(`\\b${metric}=(\\w+)`).exec(prompt)?.[1];
    if (value === undefined || value === 'none') return { content: 'the', top: [['the', 0.6], ['a', 0.4]] };
    if (/^\d+$/.test(value)) return { content: value, top: [[value, 0.7], [` ${value}`, 0.2], ['the', 0.1]] };
    return { content: value, top: [[value, 0.9], ['50', 0.1]] };
  }
  const garble = Number(/garble=(\d+)/.exec(prompt)?.[1] ?? 0);
  if (Number(body.seed ?? 0) < garble) return { content: 'I am not sure' };
  return { content: `ANSWER: ${/rubric=(\S+)/.exec(prompt)?.[1] ?? 'none'}` };
}

function completion(body: Received['body'], reply: Reply): unknown {
  const top = (reply.top ?? []).map(([token, p]) => ({ token, logprob: Math.log(p), bytes: [...Buffer.from(token)] }));
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 0,
    model: body.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: reply.content },
        logprobs: body.logprobs === true ? { content: [{ token: reply.content, logprob: top[0]?.logprob ?? 0, bytes: [], top_logprobs: top }] } : null,
        finish_reason: 'length',
      },
    ],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

/** Answers a request with a fault. */
function sendFault(req: IncomingMessage, res: ServerResponse, fault: Fault): void {
  if (fault === 'stall') return; // never answers; the client's time-out ends it
  if (fault === 'drop') return void req.socket.destroy();
  if (fault === 'malformed') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end('{"choices": [ {"mess');
  }
  if (fault === 'no-choices') return sendJson(res, 200, { id: 'x', object: 'chat.completion' });
  const f = typeof fault === 'number' ? { status: fault } : fault;
  const headers: Record<string, string> = {};
  if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
  if (f.retryAfterMs !== undefined) headers['retry-after-ms'] = f.retryAfterMs;
  sendJson(res, f.status, { error: { message: f.message ?? `injected fault ${f.status}`, type: 'fault', ...(f.code === undefined ? {} : { code: f.code }) } }, headers);
}

export interface FaultServerOptions {
  respond?: (body: Received['body'], prompt: string) => Reply;
  faults?: (n: number, received: Received) => Fault | null;
  /** the n-th GET /v1/models: the model entries to list, or a fault; absent: no such route (404) */
  models?: (n: number) => Array<Record<string, unknown>> | Fault;
}

export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  const respond = options.respond ?? fakeJudgeModel;
  const requests: Received[] = [];
  const answered: Received[] = [];
  const listings: Array<string | undefined> = [];
  const handle = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    if (req.method === 'GET' && req.url?.endsWith('/v1/models') && options.models !== undefined) {
      listings.push(req.headers.authorization);
      const listed = options.models(listings.length - 1);
      return Array.isArray(listed) ? sendJson(res, 200, { object: 'list', data: listed }) : sendFault(req, res, listed);
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/v1/chat/completions')) return sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
    const body = JSON.parse(text) as Received['body'];
    const received: Received = { n: requests.length, body, prompt: body.messages.at(-1)?.content ?? '', authorization: req.headers.authorization, fault: null };
    requests.push(received);
    const fault = options.faults?.(received.n, received) ?? null;
    received.fault = fault;
    if (fault === null) {
      answered.push(received);
      return sendJson(res, 200, completion(body, respond(body, received.prompt)));
    }
    sendFault(req, res, fault);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    listings,
    answered: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
