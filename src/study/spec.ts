// Reading a study spec: a YAML mapping with `study: <kind>`, `name`, the kind's fields and
// optional `scales` (named overlays: quick = a small version that runs in minutes; full = the
// spec as written). YAML keys are snake_case (camelCase is accepted too). Every field is
// checked against the kind's schema before anything runs — unknown keys, wrong types, values
// out of range and missing required fields are errors that name the field, in the base spec
// and in every scale.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { z } from 'zod';
import { studyKind, studyKindNames, type StudyKind, type StudyRun } from './kind.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
export const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** snake_case keys → camelCase, recursively (values untouched). */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), camelKeys(x)]));
}

/** Deep merge: mappings merge, everything else (lists included) replaces. */
export function overlay<T>(base: T, over: unknown): T {
  if (!isObject(over) || !isObject(base)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? overlay(out[k], v) : v;
  return out as T;
}

/** The object schema's keys at a path, unwrapping defaults, optionals and unions (best effort). */
function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let s: unknown = schema;
  const unwrap = (x: unknown): unknown[] => {
    const def = (x as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (def === undefined) return [];
    if (def.type === 'object') return [x];
    if ('innerType' in def) return unwrap(def.innerType);
    if (def.type === 'union') return (def.options as unknown[]).flatMap(unwrap);
    if (def.type === 'pipe') return unwrap(def.in);
    return [];
  };
  let candidates = unwrap(s);
  for (const p of path) {
    if (typeof p !== 'string') return [];
    candidates = candidates.flatMap((c) => {
      const shape = (c as { shape?: Record<string, unknown> }).shape;
      return shape && p in shape ? unwrap(shape[p]) : [];
    });
  }
  s = candidates[0];
  const shape = (s as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape).map(snake) : [];
}

function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let x = v;
  for (const p of path) x = isObject(x) || Array.isArray(x) ? (x as Record<PropertyKey, unknown>)[p] : undefined;
  return x;
}

function fieldName(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : snake(String(p)))).join('.').replace(/\.\[/g, '[');
}

/** One readable line per problem the schema found. */
function describeIssues(error: z.ZodError, input: unknown, schema: z.ZodType, prefix: string): string[] {
  return error.issues.flatMap((issue) => {
    const field = `${prefix}${fieldName(issue.path)}`;
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path);
      return issue.keys.map((k) => `unknown field '${prefix}${fieldName([...issue.path, k])}'${known.length ? `; known here: ${known.join(', ')}` : ''}`);
    }
    const value = valueAt(input, issue.path);
    if (value === undefined && issue.code === 'invalid_type') return [`missing required field '${field}' (${issue.expected})`];
    return [`${field}: ${issue.message.replace(/^Invalid (input|option): /, '')}, got ${JSON.stringify(value) ?? String(value)}`];
  });
}

function validate<S>(kind: StudyKind<S>, raw: unknown, source: string, prefix: string): S {
  const r = kind.schema.safeParse(raw);
  if (!r.success) {
    const lines = describeIssues(r.error, raw, kind.schema, prefix);
    throw new Error(`${source}: ${lines.length === 1 ? lines[0] : `${lines.length} problems:\n  ${lines.join('\n  ')}`}`);
  }
  try {
    kind.check?.(r.data);
  } catch (e) {
    throw new Error(`${source}: ${prefix ? `(scale ${prefix.slice('scales.'.length, -1)}) ` : ''}${(e as Error).message}`);
  }
  return r.data;
}

export interface ResolvedSpec {
  kind: StudyKind;
  run: StudyRun<unknown>;
  /** every scale the spec defines, besides full */
  scales: string[];
}

/** Parses and validates a spec (all scales), and resolves it at `scale`. */
export function parseStudySpec(text: string, source: string, scale: string): ResolvedSpec {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid YAML (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw new Error(`${source}: a study spec is a YAML mapping with at least 'study' and 'name'`);
  if (typeof doc.study !== 'string') throw new Error(`${source}: missing required field 'study' (one of: ${studyKindNames().join(', ')})`);
  let kind: StudyKind;
  try {
    kind = studyKind(doc.study);
  } catch (e) {
    throw new Error(`${source}: study: ${(e as Error).message}`);
  }
  const { scales: rawScales, ...rest } = doc;
  if (rawScales !== undefined && !isObject(rawScales)) throw new Error(`${source}: scales: expected a mapping of scale name → overrides, got ${JSON.stringify(rawScales)}`);
  const base = camelKeys(rest);
  const full = validate(kind, base, source, '');
  const scales = Object.keys(rawScales ?? {});
  const resolved: Record<string, unknown> = { full };
  for (const name of scales) {
    const over = (rawScales as Record<string, unknown>)[name];
    if (!isObject(over)) throw new Error(`${source}: scales.${name}: expected a mapping of overrides, got ${JSON.stringify(over)}`);
    resolved[name] = validate(kind, overlay(base, camelKeys(over)), source, `scales.${name}.`);
  }
  if (!(scale in resolved)) throw new Error(`${source}: no scale '${scale}'; scales: ${['full', ...scales].join(', ')}`);
  return { kind, run: { spec: resolved[scale], scale, source }, scales };
}

export function readStudySpec(path: string, scale: string): ResolvedSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the study spec (${(e as Error).message})`);
  }
  return parseStudySpec(text, path, scale);
}
