// What the judge kinds that call an LLM share: checking their options (a zod schema; unknown
// options named by onlyOptions; each bad option in basin's words, with the value as given),
// the client for a judge context (its endpoint, its request cache) with the error that names the
// fix when no endpoint is configured, the check a judge runs before anything is sampled (its
// templates fill, its server answers and serves its model), the verdict of an item whose request
// the server refused, and the prompt templates: named placeholders ({question}, {answer}; the
// rubric's {labels}) are filled in, {{ and }} stand for literal braces (as in the EM project's
// Python str.format templates), other braces are left as they are.

import type { z } from 'zod';
import { onlyOptions, type JudgeContext, type Verdict } from './judge.js';
import { JudgeServerError, OpenAIClient, type RequestRejected } from './openai-client.js';
import { RequestCache } from './request-cache.js';
import { shown } from './shown.js';

/** The judge's options checked against its schema, defaults filled in; throws naming each bad option. */
export function parseJudgeOptions<S extends z.ZodObject>(judge: string, schema: S, options: Record<string, unknown>): z.output<S> {
  onlyOptions(judge, options, Object.keys(schema.shape));
  const r = schema.safeParse(options, { reportInput: true });
  if (r.success) return r.data;
  throw new Error(`judge '${judge}': ${issueLines(r.error.issues, [], schema, undefined).join('; ')}`);
}

type Issue = z.core.$ZodIssue;

/** The schema of the option at `path`, through optional/default/nullable wrappers, lists and mappings; undefined past what it can follow. */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (const key of path) {
    s = unwrapped(s);
    const def = s?._zod.def as { type?: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType } | undefined;
    s = def?.type === 'object' ? def.shape?.[String(key)] : def?.type === 'array' ? def.element : def?.type === 'record' ? def.valueType : undefined;
  }
  return s;
}

function unwrapped(s: z.ZodType | undefined): z.ZodType | undefined {
  let t = s;
  while (t !== undefined && ['optional', 'default', 'nullable'].includes((t._zod.def as { type: string }).type)) t = (t._zod.def as unknown as { innerType: z.ZodType }).innerType;
  return t;
}

/** The description (zod .describe) of the option at `path`, on it or on its wrappers. */
function describedAt(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  for (let s = schemaAt(schema, path); s !== undefined; s = (s._zod.def as { innerType?: z.ZodType }).innerType) if (s.description !== undefined) return s.description;
  return undefined;
}

const TYPE_WORDS: Record<string, string> = { string: 'text', number: 'a number', int: 'an integer', boolean: 'true or false', array: 'a list', object: 'a mapping', record: 'a mapping' };

/** A union issue whose value is not of the branch's type at all (the branch was not taken). */
function notTaken(issue: Issue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || (issue.code === 'invalid_union' && issue.errors.every((b) => b.every(notTaken))));
}

/**
 * One line per issue, `options.PATH: what was expected, got VALUE`. A union's failure is reported
 * from the branch that took the value with the fewest problems, when one did, else as the
 * union's own message (or `fallback`, an outer union's).
 */
function issueLines(issues: readonly Issue[], at: readonly PropertyKey[], schema: z.ZodType, fallback: string | undefined): string[] {
  return issues.flatMap((issue) => {
    const path = [...at, ...issue.path];
    const where = `options.${path.map(String).join('.')}`;
    if (issue.code === 'invalid_union') {
      const message = issue.message === 'Invalid input' ? fallback : issue.message;
      // the branch that took the value and came closest (fewest problems), when one did
      const taken = issue.errors.filter((b) => !b.every(notTaken));
      const fewest = Math.min(...taken.map((b) => b.length));
      const closest = taken.filter((b) => b.length === fewest);
      if (closest.length === 1) return issueLines(closest[0] as Issue[], path, schema, message);
      return [`${where}: ${message ?? 'not of any form this option takes'}, got ${shown(issue.input)}`];
    }
    return [`${where}: ${issueText(issue, schema, path)}`];
  });
}

/** What was wrong with one option, in basin's words. */
function issueText(issue: Issue, schema: z.ZodType, path: readonly PropertyKey[]): string {
  const got = `got ${shown(issue.input)}`;
  const integer = (issue.code === 'invalid_type' && issue.expected === 'int') || (unwrapped(schemaAt(schema, path)) as { isInt?: boolean } | undefined)?.isInt === true;
  switch (issue.code) {
    case 'invalid_type': {
      if (!('input' in issue) || issue.input === undefined) {
        const about = describedAt(schema, path);
        return `required${about === undefined ? '' : ` (${about})`}`;
      }
      const expected = integer ? 'int' : issue.expected;
      return `expected ${TYPE_WORDS[expected] ?? expected}, ${got}`;
    }
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const bound = Number(big ? (issue as { maximum: number | bigint }).maximum : (issue as { minimum: number | bigint }).minimum);
      const op = big ? (issue.inclusive ? '≤' : '<') : issue.inclusive ? '≥' : '>';
      if (issue.origin === 'string') return bound === 1 && !big ? `expected non-empty text, ${got}` : `expected text of ${op} ${bound} characters, ${got}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `expected a list of ${big ? 'at most' : 'at least'} ${bound} item${bound === 1 ? '' : 's'}, ${got}`;
      return `expected ${integer ? 'an integer' : 'a number'} ${op} ${bound}, ${got}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => shown(v)).join(', ')}, ${got}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    default:
      return `${issue.message}, ${got}`;
  }
}

/** The client an LLM judge sends through; throws naming the fix when the context has no endpoint. */
export function judgeClient(judge: string, context: JudgeContext): OpenAIClient {
  if (context.endpoint === null) {
    throw new Error(
      `judge '${judge}' calls an LLM over an OpenAI-compatible API, and none is configured: pass --judge-url URL or set $BASIN_JUDGE_URL ` +
        `(and $BASIN_JUDGE_API_KEY for a hosted API); 'basin serve --model DIR' serves a local model as one`,
    );
  }
  return new OpenAIClient(context.endpoint, { cache: context.cacheDir === null ? null : new RequestCache(context.cacheDir) });
}

/**
 * Checks that the judge's server answers and serves `model`, from its model list (GET /models:
 * a server without one, or that lists none, is not checked). When the model's entry carries a
 * fingerprint (basin serve's basin_fingerprint), the client's cache keys include it from then on.
 */
export async function checkJudgeServer(judge: string, client: OpenAIClient, model: string): Promise<void> {
  let listed;
  try {
    listed = await client.listModels();
  } catch (error) {
    throw new JudgeServerError(`judge '${judge}': ${(error as Error).message}`, { cause: error });
  }
  if (listed === null) return;
  const entry = listed.find((m) => m.id === model);
  if (entry === undefined) {
    const ids = listed.map((m) => `'${m.id}'`);
    throw new JudgeServerError(
      `judge '${judge}': the server at ${client.endpoint.baseUrl} does not serve model '${model}'; it serves ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ` and ${ids.length - 10} more` : ''}. ` +
        `Set the judge's options.model to one of them (basin eval: --judge-option model=${listed[0]?.id}), or point --judge-url at the server of '${model}'`,
    );
  }
  if (typeof entry.basin_fingerprint === 'string' && entry.basin_fingerprint !== '') client.keyToFingerprint(model, entry.basin_fingerprint);
}

/** The verdict of an item whose request the server refused: not judged, the server's message (and `more`) kept in raw. */
export function judgeFailed(error: RequestRejected, more: Record<string, unknown> = {}): Verdict {
  return { label: 'JUDGE-FAILED', raw: { status: error.status, error: error.message, ...more } };
}

/** A template's text with its placeholders filled in (one pass: filled text is not rescanned). */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{|\}\}|\{(\w+)\}/g, (match, name: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    return name !== undefined && Object.hasOwn(values, name) ? (values[name] as string) : match;
  });
}

/** Throws unless the template shows the judge the answer. */
export function checkTemplate(template: string, where: string): void {
  if (!/(^|[^{])\{answer\}/.test(template)) throw new Error(`${where}: the template has no {answer} placeholder, so the judge would never see the answer; add {answer} (and {question})`);
}

/** Stand-ins a template is filled with when it is checked. */
const PLACEHOLDER = { question: '\u0000question\u0000', answer: '\u0000answer\u0000' };

/**
 * Throws unless the template fills: filled with the question and a placeholder answer it shows
 * the judge both, and every {name} in it is one the judge fills (`names`), as Python's
 * str.format, which the EM project's templates are written for, would insist.
 */
export function checkTemplateFills(template: string, where: string, names: readonly string[] = ['question', 'answer']): void {
  checkTemplate(template, where);
  const filled = fillTemplate(template, { ...Object.fromEntries(names.map((n) => [n, ''])), ...PLACEHOLDER });
  if (!filled.includes(PLACEHOLDER.question)) throw new Error(`${where}: the template has no {question} placeholder, so the judge would not see what the answer replies to; add {question}`);
  const unknown = [...template.matchAll(/\{\{|\}\}|\{(\w+)\}/g)].map((m) => m[1]).filter((n): n is string => n !== undefined && !names.includes(n));
  if (unknown.length > 0) {
    throw new Error(`${where}: the template's {${unknown[0]}} is a placeholder nothing fills (it fills ${names.map((n) => `{${n}}`).join(', ')}); fix its name, or write {{${unknown[0]}}} for literal braces`);
  }
}
