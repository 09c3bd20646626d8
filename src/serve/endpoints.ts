// The three endpoints: GET /v1/models, POST /v1/chat/completions (messages rendered with the
// model's chat template and the generation prompt, as renderPrompt does) and POST
// /v1/completions (raw prompts, encoded with the tokenizer's special tokens). A request becomes
// one sequence per choice, queued on the scheduler as one job; the answer is sent whole, or
// streamed as server-sent events (`data: {chunk}` … `data: [DONE]`) when `stream` is true.
//
// Seeds: choice c of a request samples from a generator seeded `seed` (c = 0) or
// deriveSeed(seed, 'choice c'), with `seed` reduced to 32 bits; without a seed, a random one.
// So with seed s, choice 0 is what generate() with seed s samples for that prompt alone.

import { randomInt, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Tokenizer } from '../io/tokenizer.js';
import { deriveSeed } from '../util/rng.js';
import { ApiError } from './api-error.js';
import { chatFormat, modelObject, textFormat, usage, type Format, type FormatRequest, type ResponseMeta } from './openai-format.js';
import type { Scheduler, SequenceSpec } from './scheduler.js';
import { chatRequestSchema, completionRequestSchema, parseRequest, type ChatRequest, type CompletionRequest } from './schema.js';
import type { TokenTexts } from './token-text.js';

export interface ServeContext {
  tokenizer: Tokenizer;
  /** the model id clients name */
  name: string;
  /** what the served weights are (see ModelOptions.fingerprint), or null */
  fingerprint: string | null;
  /** the model's context length (max_position_embeddings) */
  context: number;
  /** the request schemas for this context (built once: zod schemas are slow to build) */
  schemas: { chat: ReturnType<typeof chatRequestSchema>; completion: ReturnType<typeof completionRequestSchema> };
  scheduler: Scheduler;
  texts: TokenTexts;
  /** unix seconds the server started (the model object's `created`) */
  created: number;
}

/** Legacy completions' default max_tokens. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** A validated request, ready to queue: one sequence per choice. */
interface Prepared {
  sequences: SequenceSpec[];
  /** prompt tokens for usage: each distinct prompt once (n choices share one prompt) */
  promptTokens: number;
  stream: boolean;
  includeUsage: boolean;
  format: FormatRequest;
}

/** The fields both endpoints share (sampling, stop, seed, stream). */
type Common = Pick<ChatRequest, 'model' | 'n' | 'temperature' | 'top_p' | 'stop' | 'seed' | 'stream' | 'stream_options'>;

export function listModels(ctx: ServeContext): object {
  return { object: 'list', data: [modelObject(ctx.name, ctx.created, ctx.fingerprint)] };
}

export function retrieveModel(ctx: ServeContext, id: string): object {
  if (id !== ctx.name) throw modelNotFound(ctx, id);
  return modelObject(ctx.name, ctx.created, ctx.fingerprint);
}

export async function chatCompletions(ctx: ServeContext, body: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = parseRequest(ctx.schemas.chat, body);
  checkModel(ctx, req.model);
  const tok = ctx.tokenizer;
  if (tok.chatTemplate === null) {
    throw new ApiError(400, `model '${ctx.name}' has no chat template (tokenizer_config.json chat_template); send raw prompts to POST /v1/completions`, 'messages');
  }
  const messages = req.messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: m.content === null ? '' : typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
  let text: string;
  try {
    text = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
  } catch (e) {
    throw new ApiError(400, `messages: the model's chat template cannot render them: ${(e as Error).message}`, 'messages');
  }
  const prompt = tok.encode(text, { addSpecialTokens: false });
  const maxTokens = budget(ctx, prompt.length, req.max_completion_tokens ?? req.max_tokens, 'messages', ctx.context - prompt.length);
  const prepared = prepare(req, [prompt], [0], maxTokens, { logprobs: req.logprobs === true, topLogprobs: req.top_logprobs ?? 0 });
  await run(ctx, prepared, chatFormat(prepared.format, ctx.texts), res, signal);
}

export async function completions(ctx: ServeContext, body: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req: CompletionRequest = parseRequest(ctx.schemas.completion, body);
  checkModel(ctx, req.model);
  const texts = typeof req.prompt === 'string' ? [req.prompt] : req.prompt;
  const prompts = texts.map((t) => ctx.tokenizer.encode(t));
  const maxTokens = Math.min(...prompts.map((p, i) => budget(ctx, p.length, req.max_tokens, texts.length === 1 ? 'prompt' : `prompt[${i}]`,
    Math.min(COMPLETIONS_DEFAULT_MAX_TOKENS, ctx.context - p.length))));
  const prepared = prepare(req, prompts, texts.map((t) => t.length), maxTokens, { logprobs: req.logprobs != null, topLogprobs: req.logprobs ?? 0 });
  await run(ctx, prepared, textFormat(prepared.format, ctx.texts), res, signal);
}

function modelNotFound(ctx: ServeContext, id: string): ApiError {
  return new ApiError(404, `The model '${id}' does not exist; this server serves '${ctx.name}' (GET /v1/models)`, 'model', 'model_not_found');
}

function checkModel(ctx: ServeContext, model: string): void {
  if (model !== ctx.name) throw modelNotFound(ctx, model);
}

/** The new-token budget of a prompt: the request's max_tokens, or `fallback`, checked against the context. */
function budget(ctx: ServeContext, promptLength: number, requested: number | null | undefined, param: string, fallback: number): number {
  if (promptLength === 0) throw new ApiError(400, `${param}: no tokens after tokenization; give at least one`, param);
  if (promptLength >= ctx.context) {
    throw new ApiError(400, `${param}: ${promptLength} prompt tokens leave no room for a completion in the model's context of ${ctx.context} tokens`, param, 'context_length_exceeded');
  }
  const max = requested ?? fallback;
  if (promptLength + max > ctx.context) {
    throw new ApiError(400, `max_tokens: ${max} new tokens after ${promptLength} prompt tokens exceed the model's context of ${ctx.context} tokens; ask for at most ${ctx.context - promptLength}`, 'max_tokens', 'context_length_exceeded');
  }
  return max;
}

/** One sequence per choice (n per prompt); `promptChars`: each prompt's length in characters (where text_offset starts). */
function prepare(req: Common, prompts: number[][], promptChars: number[], maxTokens: number, lp: { logprobs: boolean; topLogprobs: number }): Prepared {
  const n = req.n ?? 1;
  const base = req.seed == null ? randomInt(2 ** 32) : ((req.seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const stop = req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop;
  const sequences = prompts.flatMap((prompt, p) => Array.from({ length: n }, (_, i): SequenceSpec => {
    const choice = p * n + i;
    return {
      prompt, maxTokens, stop,
      temperature: req.temperature ?? 1,
      topP: req.top_p ?? 1,
      seed: choice === 0 ? base : deriveSeed(base, `choice ${choice}`),
      logprobs: lp.logprobs,
      topLogprobs: lp.topLogprobs,
    };
  }));
  return {
    sequences,
    promptTokens: prompts.reduce((s, p) => s + p.length, 0),
    stream: req.stream === true,
    includeUsage: req.stream_options?.include_usage === true,
    format: { logprobs: lp.logprobs, offsets: promptChars.flatMap((c) => new Array<number>(n).fill(c)) },
  };
}

/** Queues the request and answers it, whole or streamed. */
async function run(ctx: ServeContext, p: Prepared, format: Format, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const meta: ResponseMeta = { id: `${format.prefix}-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), model: ctx.name };
  if (!p.stream) {
    const results = await ctx.scheduler.submit(p.sequences, { signal });
    sendJson(res, 200, format.response(meta, results, usage(p.promptTokens, results)));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  const event = (data: object | string) => res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  for (const c of format.opening(meta, p.sequences.length)) event(c);
  try {
    const results = await ctx.scheduler.submit(p.sequences, { signal, onUpdate: (u) => event(format.chunk(meta, u)) });
    if (p.includeUsage) event(format.usageChunk(meta, usage(p.promptTokens, results)));
  } catch (e) {
    event((e instanceof ApiError ? e : new ApiError(500, (e as Error).message)).body());
  }
  event('[DONE]');
  res.end();
}

export function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
