// What the judge kinds that call an LLM share: checking their options (a zod schema; unknown
// options named by onlyOptions), the client for a judge context (its endpoint, its request
// cache) with the error that names the fix when no endpoint is configured, and the prompt
// templates: named placeholders ({question}, {answer}; the rubric's {labels}) are filled in,
// {{ and }} stand for literal braces (as in the EM project's Python str.format templates), other
// braces are left as they are.

import type { z } from 'zod';
import { onlyOptions, type JudgeContext } from './judge.js';
import { OpenAIClient } from './openai-client.js';
import { RequestCache } from './request-cache.js';

/** The judge's options checked against its schema, defaults filled in; throws naming each bad option. */
export function parseJudgeOptions<S extends z.ZodObject>(judge: string, schema: S, options: Record<string, unknown>): z.output<S> {
  onlyOptions(judge, options, Object.keys(schema.shape));
  const r = schema.safeParse(options);
  if (r.success) return r.data;
  throw new Error(`judge '${judge}': ${issueLines(r.error.issues, []).join('; ')}`);
}

/** One line per issue; a union's failure is reported from the branch that took the value's type. */
function issueLines(issues: readonly z.core.$ZodIssue[], at: PropertyKey[]): string[] {
  return issues.flatMap((issue) => {
    const path = [...at, ...issue.path];
    if (issue.code === 'invalid_union') {
      const entered = issue.errors.find((branch) => !branch.every((e) => e.code === 'invalid_type' && e.path.length === 0));
      if (entered !== undefined) return issueLines(entered, path);
    }
    return [`options.${path.map(String).join('.')}: ${issue.message.replace(/^Invalid (input|option): /, '')}`];
  });
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
