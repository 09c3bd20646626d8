// The JSON shapes of OpenAI's API that basin serve answers with: the model list, chat
// completions and their stream chunks (`chat.completion`, `chat.completion.chunk`, logprobs as
// `{content: [{token, logprob, bytes, top_logprobs}]}`), legacy text completions and their
// chunks (`text_completion`, logprobs as `{tokens, token_logprobs, top_logprobs, text_offset}`),
// and usage. A Format turns one request's results (or streamed updates) into these.

import type { TokenLogprob } from '../model/decode-stepper.js';
import type { GeneratedToken, SequenceResult, SequenceUpdate } from './scheduler.js';
import type { TokenTexts } from './token-text.js';

export interface ResponseMeta {
  id: string;
  /** unix seconds */
  created: number;
  model: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(promptTokens: number, results: readonly SequenceResult[]): Usage {
  const completion = results.reduce((n, r) => n + r.completionTokens, 0);
  return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion };
}

/** A model entry of /v1/models; `basin_fingerprint` (when known) names the exact weights served. */
export function modelObject(name: string, created: number, fingerprint: string | null) {
  return { id: name, object: 'model', created, owned_by: 'basin', ...(fingerprint === null ? {} : { basin_fingerprint: fingerprint }) };
}

/** What a request asked about logprobs and where its choices' texts start (for text_offset). */
export interface FormatRequest {
  logprobs: boolean;
  /** characters before each choice's text (its prompt's length), one per choice */
  offsets: number[];
}

export interface Format {
  /** the id prefix (chatcmpl, cmpl) */
  prefix: string;
  /** the whole response once every choice is done */
  response(meta: ResponseMeta, results: readonly SequenceResult[], usage: Usage): object;
  /** chunks sent before any token (e.g. each chat choice's role), for this many choices */
  opening(meta: ResponseMeta, choices: number): object[];
  /** the chunk for one streamed update */
  chunk(meta: ResponseMeta, u: SequenceUpdate): object;
  /** the last chunk, with usage and no choices (stream_options.include_usage) */
  usageChunk(meta: ResponseMeta, usage: Usage): object;
}

function chatLogprobs(tokens: readonly GeneratedToken[], texts: TokenTexts) {
  const entry = (id: number, logprob: number) => {
    const t = texts.of(id);
    return { token: t.text, logprob, bytes: t.bytes };
  };
  return {
    content: tokens.map((tok) => ({ ...entry(tok.id, tok.logprob), top_logprobs: tok.top.map((a) => entry(a.token, a.logprob)) })),
    refusal: null,
  };
}

/** Chat completions: one `message` per choice; streamed as deltas after a role chunk per choice. */
export function chatFormat(request: FormatRequest, texts: TokenTexts): Format {
  const logprobs = (tokens: readonly GeneratedToken[]) => (request.logprobs ? chatLogprobs(tokens, texts) : null);
  const chunk = (meta: ResponseMeta, choices: object[], extra: object = {}) => ({ ...meta, object: 'chat.completion.chunk', choices, ...extra });
  return {
    prefix: 'chatcmpl',
    response: (meta, results, u) => ({
      ...meta,
      object: 'chat.completion',
      choices: results.map((r, index) => ({
        index,
        message: { role: 'assistant', content: r.text, refusal: null },
        logprobs: logprobs(r.tokens),
        finish_reason: r.finishReason,
      })),
      usage: u,
    }),
    opening: (meta, choices) => Array.from({ length: choices }, (_, index) => chunk(meta, [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }])),
    chunk: (meta, u) => chunk(meta, [{
      index: u.index,
      delta: u.delta === '' && u.finishReason !== null ? {} : { content: u.delta },
      logprobs: logprobs(u.tokens),
      finish_reason: u.finishReason,
    }]),
    usageChunk: (meta, u) => chunk(meta, [], { usage: u }),
  };
}

/**
 * Legacy top_logprobs: token text → logprob. Tokens that read the same (e.g. partial characters,
 * all U+FFFD) share a key; the most likely one keeps it.
 */
function topByText(top: readonly TokenLogprob[], texts: TokenTexts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of top) {
    const key = texts.of(a.token).text;
    if (!Object.hasOwn(out, key)) out[key] = a.logprob;
  }
  return out;
}

/** Legacy completions: `text` per choice; text_offset counts from the start of the choice's prompt. */
export function textFormat(request: FormatRequest, texts: TokenTexts): Format {
  /** characters of each choice's prompt and text before its next token */
  const at = [...request.offsets];
  const logprobs = (index: number, tokens: readonly GeneratedToken[]) => {
    if (!request.logprobs) return null;
    const text_offset = tokens.map((t) => {
      const o = at[index] as number;
      at[index] = o + texts.of(t.id).text.length;
      return o;
    });
    return {
      tokens: tokens.map((t) => texts.of(t.id).text),
      token_logprobs: tokens.map((t) => t.logprob),
      top_logprobs: tokens.map((t) => topByText(t.top, texts)),
      text_offset,
    };
  };
  const chunk = (meta: ResponseMeta, choices: object[], extra: object = {}) => ({ ...meta, object: 'text_completion', choices, ...extra });
  return {
    prefix: 'cmpl',
    response: (meta, results, u) => ({
      ...meta,
      object: 'text_completion',
      choices: results.map((r, index) => ({ index, text: r.text, logprobs: logprobs(index, r.tokens), finish_reason: r.finishReason })),
      usage: u,
    }),
    opening: () => [],
    chunk: (meta, u) => chunk(meta, [{ index: u.index, text: u.delta, logprobs: logprobs(u.index, u.tokens), finish_reason: u.finishReason }]),
    usageChunk: (meta, u) => chunk(meta, [], { usage: u }),
  };
}
