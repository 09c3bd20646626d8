// Where LLM judges find their server, from flags or the environment:
//   base URL   --judge-url,  else $BASIN_JUDGE_URL,  else $OPENAI_BASE_URL
//   API key    $BASIN_JUDGE_API_KEY, else $OPENAI_API_KEY (none for a local server)
//   concurrency, time-out, retries: $BASIN_JUDGE_CONCURRENCY (8), $BASIN_JUDGE_TIMEOUT_S (60 s),
//     $BASIN_JUDGE_RETRIES (5); basin eval's --judge-concurrency and --judge-timeout override the first two
// The request cache is CACHE/judge-requests unless $BASIN_JUDGE_CACHE names another folder
// ('off' disables it). Keys never enter a study's task keys: the judge's identity (its model
// name, templates, sampling settings) does, the server it is reached at does not.

import { join } from 'node:path';
import { CACHE } from '../util/config.js';
import type { JudgeContext, JudgeEndpoint } from './judge.js';

/** Bounds on requests in flight and on the per-request time-out (seconds), from a flag or the environment. */
export const JUDGE_LIMITS = { concurrency: { min: 1, max: 256 }, timeoutS: { min: 1, max: 3600 } } as const;

export interface EndpointOverrides {
  baseUrl?: string;
  concurrency?: number;
  timeoutS?: number;
}

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`$${name}=${v}: expected an integer in ${min}..${max}`);
  return n;
}

/** The base URL checked: http(s), no trailing slash. */
export function checkBaseUrl(url: string, where: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${where} ${url}: not a URL; give the server's OpenAI-compatible base, e.g. http://127.0.0.1:8000/v1`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${where} ${url}: use an http:// or https:// URL`);
  return url.replace(/\/+$/, '');
}

/** The endpoint from overrides and the environment, or null when no base URL is configured. */
export function judgeEndpoint(o: EndpointOverrides = {}): JudgeEndpoint | null {
  const raw = o.baseUrl ?? process.env.BASIN_JUDGE_URL ?? process.env.OPENAI_BASE_URL;
  if (raw === undefined || raw === '') return null;
  const where = o.baseUrl !== undefined ? '--judge-url' : process.env.BASIN_JUDGE_URL ? '$BASIN_JUDGE_URL' : '$OPENAI_BASE_URL';
  return {
    baseUrl: checkBaseUrl(raw, where),
    apiKey: process.env.BASIN_JUDGE_API_KEY || process.env.OPENAI_API_KEY || null,
    concurrency: o.concurrency ?? envNumber('BASIN_JUDGE_CONCURRENCY', 8, JUDGE_LIMITS.concurrency.min, JUDGE_LIMITS.concurrency.max),
    timeoutMs: 1000 * (o.timeoutS ?? envNumber('BASIN_JUDGE_TIMEOUT_S', 60, JUDGE_LIMITS.timeoutS.min, JUDGE_LIMITS.timeoutS.max)),
    maxRetries: envNumber('BASIN_JUDGE_RETRIES', 5, 0, 20),
  };
}

/** The request cache folder, or null when $BASIN_JUDGE_CACHE=off. */
export function judgeCacheDir(): string | null {
  const v = process.env.BASIN_JUDGE_CACHE;
  if (v === 'off') return null;
  return v !== undefined && v !== '' ? v : join(CACHE, 'judge-requests');
}

/** The context judges run in, from overrides and the environment. */
export function judgeContext(o: EndpointOverrides = {}): JudgeContext {
  return { endpoint: judgeEndpoint(o), cacheDir: judgeCacheDir() };
}
