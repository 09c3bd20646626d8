// The request bodies of POST /v1/chat/completions and POST /v1/completions, validated with zod:
// OpenAI's fields with their ranges (max_tokens bounded by the model's context). Fields that
// clients send by default and that do not change the result here (user, metadata, store,
// stream_options' extras, …) are accepted and ignored; fields that would change the result and
// that basin serve does not implement (penalties, logit_bias, tools, echo, …) are accepted only
// at their neutral value; any other field is an error that names it, so a typo such as
// `max_token` is not silently dropped. Assistant messages take the fields of the messages
// OpenAI's API returns (refusal, tool_calls, …) at the values basin serve returns, so a client
// can send an answer back as the next turn's history. The first problem becomes a 400 whose
// `param` is the field.

import { z } from 'zod';
import { ApiError } from './api-error.js';

/** Most choices per prompt (`n`). */
export const MAX_N = 16;
/** Most alternatives per token (`top_logprobs`, and `logprobs` of /v1/completions). */
export const MAX_TOP_LOGPROBS = 20;
/** Most stop strings. */
export const MAX_STOP = 16;
/** Most prompts in one /v1/completions request. */
export const MAX_PROMPTS = 64;

const ignored = z.unknown().optional();

/** A field basin serve does not implement: accepted when absent, null or `neutral`. */
function onlyNeutral<S extends z.ZodType>(schema: S, neutral: (v: z.infer<S>) => boolean, shown: string) {
  return schema.nullish().refine((v) => v === null || v === undefined || neutral(v as z.infer<S>), {
    message: `is not supported by basin serve; leave it out or send ${shown}`,
  });
}

function shared(context: number) {
  return {
    model: z.string().min(1),
    n: z.int().min(1).max(MAX_N).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    max_tokens: maxTokens(context),
    stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP)], {
      error: `expected a non-empty string or a list of up to ${MAX_STOP} non-empty strings`,
    }).nullish(),
    seed: z.int().nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
    frequency_penalty: onlyNeutral(z.number(), (v) => v === 0, '0'),
    presence_penalty: onlyNeutral(z.number(), (v) => v === 0, '0'),
    logit_bias: onlyNeutral(z.record(z.string(), z.number()), (v) => Object.keys(v).length === 0, '{}'),
    user: ignored,
    metadata: ignored,
    store: ignored,
    service_tier: ignored,
    prompt_cache_key: ignored,
    safety_identifier: ignored,
  };
}

function maxTokens(context: number) {
  return z.int().min(1).nullish().refine((v) => v === null || v === undefined || v <= context, {
    message: `must be at most ${context}, the model's context length`,
  });
}

const content = z.union([z.string(), z.array(z.looseObject({ type: z.literal('text'), text: z.string() }))], {
  error: 'expected a string or a list of text parts ({"type": "text", "text": ...})',
});

/** Fields of OpenAI's assistant messages (clients send a returned message back as is), taken at the values basin serve returns. */
const assistantOnly = {
  refusal: onlyNeutral(z.string(), () => false, 'null'),
  annotations: onlyNeutral(z.array(z.unknown()), (v) => v.length === 0, '[]'),
  audio: onlyNeutral(z.unknown(), () => false, 'null'),
  function_call: onlyNeutral(z.unknown(), () => false, 'null'),
  tool_calls: onlyNeutral(z.array(z.unknown()), (v) => v.length === 0, '[]'),
};

/** A message; `content: null` (an assistant message without tool calls) reads as empty text. */
const message = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: content.nullable(),
  name: ignored,
  ...assistantOnly,
}).superRefine((m, ctx) => {
  if (m.role === 'assistant') return;
  if (m.content === null) ctx.addIssue({ code: 'custom', path: ['content'], message: 'expected a string or a list of text parts (null only on assistant messages)' });
  for (const k of Object.keys(assistantOnly)) {
    if (Object.hasOwn(m, k)) ctx.addIssue({ code: 'custom', path: [k], message: `is a field of assistant messages, not of ${m.role} messages; leave it out` });
  }
});

export function chatRequestSchema(context: number) {
  return z.strictObject({
    ...shared(context),
    messages: z.array(message).min(1),
    max_completion_tokens: maxTokens(context),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
    response_format: onlyNeutral(z.looseObject({ type: z.string() }), (v) => v.type === 'text', '{"type": "text"}'),
    tools: onlyNeutral(z.array(z.unknown()), (v) => v.length === 0, '[]'),
    tool_choice: onlyNeutral(z.unknown(), (v) => v === 'none', '"none"'),
    parallel_tool_calls: ignored,
    modalities: onlyNeutral(z.array(z.string()), (v) => v.every((m) => m === 'text'), '["text"]'),
    reasoning_effort: ignored,
  }).refine((r) => !(r.top_logprobs != null && r.top_logprobs > 0 && r.logprobs !== true), {
    message: 'needs logprobs: true', path: ['top_logprobs'],
  });
}

export function completionRequestSchema(context: number) {
  return z.strictObject({
    ...shared(context),
    prompt: z.union([z.string(), z.array(z.string()).min(1).max(MAX_PROMPTS)], {
      error: `expected a string or a list of 1 to ${MAX_PROMPTS} strings`,
    }),
    logprobs: z.int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
    echo: onlyNeutral(z.boolean(), (v) => !v, 'false'),
    suffix: onlyNeutral(z.string(), (v) => v === '', '""'),
    best_of: onlyNeutral(z.int(), (v) => v === 1, '1'),
  });
}

export type ChatRequest = z.infer<ReturnType<typeof chatRequestSchema>>;
export type CompletionRequest = z.infer<ReturnType<typeof completionRequestSchema>>;

type Issue = z.core.$ZodIssue;

/** What each kind of problem says, after "<field>: ". */
const EXPECTED: Record<string, (issue: Issue) => string> = {
  invalid_type: (i) => `expected ${({ int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'an object' } as Record<string, string>)[(i as z.core.$ZodIssueInvalidType).expected] ?? (i as z.core.$ZodIssueInvalidType).expected}`,
  too_big: (i) => {
    const t = i as z.core.$ZodIssueTooBig;
    return t.origin === 'array' ? `must have at most ${t.maximum} items` : `must be ${t.inclusive ? 'at most' : 'below'} ${t.maximum}`;
  },
  too_small: (i) => {
    const t = i as z.core.$ZodIssueTooSmall;
    if (t.origin === 'string') return 'must not be empty';
    return t.origin === 'array' ? `must have at least ${t.minimum} item${t.minimum === 1 ? '' : 's'}` : `must be ${t.inclusive ? 'at least' : 'above'} ${t.minimum}`;
  },
  invalid_value: (i) => `must be one of ${(i as z.core.$ZodIssueInvalidValue).values.map((v) => JSON.stringify(v)).join(', ')}`,
};

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}

function valueAt(v: unknown, path: readonly PropertyKey[]): unknown {
  let x = v;
  for (const p of path) x = x !== null && typeof x === 'object' && Object.hasOwn(x, p) ? (x as Record<PropertyKey, unknown>)[p] : undefined;
  return x;
}

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** Parses a request body, or throws a 400 naming the first field that is wrong. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, `the request body must be a JSON object, got ${shown(body)}`);
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0] as Issue;
  if (issue.code === 'unrecognized_keys') {
    const param = fieldName([...issue.path, issue.keys[0] as string]);
    throw new ApiError(400, `unknown field '${param}'; basin serve does not take it (see \`basin serve --help\` for the fields it reads)`, param);
  }
  const param = fieldName(issue.path);
  const value = valueAt(body, issue.path);
  if (value === undefined) throw new ApiError(400, `missing required field '${param}'`, param);
  const problem = EXPECTED[issue.code]?.(issue) ?? issue.message;
  throw new ApiError(400, `${param}: ${problem}, got ${shown(value)}`, param);
}
