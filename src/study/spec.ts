// Reading a study spec: one YAML mapping with `study: <kind>`, `name`, the kind's fields and
// optional `scales` (named overlays: quick = a small version that runs in minutes; full = the
// spec as written, so no scale may be called full). YAML keys are snake_case (camelCase is
// accepted too, but not both spellings of one key). Every field is checked against the kind's
// schema before anything runs — unknown keys, wrong types, values out of range, repeated list
// entries and missing required fields are errors that name the field, in the base spec and in
// every scale. A union field (`layers: auto | [ints]`) reports the issue of the branch the value
// got furthest into (`layers[0]: expected an integer`), not "invalid input".

import { readFileSync } from 'node:fs';
import { parseAllDocuments, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { studyKind, studyKindNames, type StudyKind, type StudyRun } from './kind.js';

type Issue = z.core.$ZodIssue;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A value as an error message shows it: JSON-like, with NaN and Infinity as such, cut at 120 characters. */
function show(v: unknown): string {
  const text = (x: unknown): string => {
    if (typeof x === 'number') return String(x);
    if (Array.isArray(x)) return `[${x.map(text).join(', ')}]`;
    if (isObject(x)) return `{${Object.entries(x).map(([k, y]) => `${snake(k)}: ${text(y)}`).join(', ')}}`;
    return JSON.stringify(x) ?? String(x);
  };
  const s = text(v);
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
}

/**
 * snake_case keys → camelCase, recursively (values untouched). `field` names the mapping in
 * errors: two spellings of one key in one mapping are an error, never a silent merge.
 */
function camelKeys(v: unknown, source: string, field: string): unknown {
  if (Array.isArray(v)) return v.map((x, i) => camelKeys(x, source, `${field}[${i}]`));
  if (!isObject(v)) return v;
  const out = new Map<string, { key: string; value: unknown }>();
  for (const [key, x] of Object.entries(v)) {
    const c = camel(key);
    const twin = out.get(c);
    if (twin !== undefined) throw new Error(`${source}: ${field ? `${field}: ` : ''}'${twin.key}' and '${key}' are one field spelled two ways; keep one (${snake(c)})`);
    out.set(c, { key, value: camelKeys(x, source, field ? `${field}.${key}` : key) });
  }
  return Object.fromEntries([...out].map(([c, { value }]) => [c, value]));
}

/** Deep merge: mappings merge, everything else (lists included) replaces. */
function overlay<T>(base: T, over: unknown): T {
  if (!isObject(over) || !isObject(base)) return (over === undefined ? base : over) as T;
  const out = new Map(Object.entries(base));
  for (const [k, v] of Object.entries(over)) out.set(k, out.has(k) ? overlay(out.get(k), v) : v);
  return Object.fromEntries(out) as T;
}

const defOf = (s: unknown) => (s as { _zod?: { def?: Record<string, unknown> } })._zod?.def;

/** The object schema's keys at a path, looking through defaults, optionals, unions and lists (best effort). */
function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  const unwrap = (s: unknown): unknown[] => {
    const def = defOf(s);
    if (def === undefined) return [];
    if (def.type === 'object' || def.type === 'array') return [s];
    if ('innerType' in def) return unwrap(def.innerType);
    if (def.type === 'union') return (def.options as unknown[]).flatMap(unwrap);
    if (def.type === 'pipe') return unwrap(def.in);
    return [];
  };
  let candidates = unwrap(schema);
  for (const p of path) {
    candidates = candidates.flatMap((c) => {
      const def = defOf(c) as Record<string, unknown>;
      if (typeof p === 'number') return def.type === 'array' ? unwrap(def.element) : [];
      const shape = def.type === 'object' ? (def.shape as Record<string, unknown>) : {};
      return typeof p === 'string' && Object.hasOwn(shape, p) ? unwrap(shape[p]) : [];
    });
  }
  const shape = candidates.map(defOf).find((d) => d?.type === 'object')?.shape as Record<string, unknown> | undefined;
  return shape ? Object.keys(shape).map(snake) : [];
}

function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let x = v;
  for (const p of path) x = (isObject(x) || Array.isArray(x)) && Object.hasOwn(x, p) ? (x as Record<PropertyKey, unknown>)[p] : undefined;
  return x;
}

function fieldName(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : snake(String(p)))).join('.').replace(/\.\[/g, '[');
}

/** What an issue at the root of a union branch expected ("world", a list, …). */
function expectation(issue: Issue): string {
  if (issue.code === 'invalid_value') return issue.values.map((v) => JSON.stringify(v)).join(' or ');
  if (issue.code === 'invalid_type') return ({ array: 'a list', object: 'a mapping', string: 'a string', number: 'a number', boolean: 'true or false' } as Record<string, string>)[issue.expected] ?? issue.expected;
  return issue.message;
}

/**
 * The issues to report, with paths from the spec's root. A union's failure becomes the issues
 * of the branch the value got furthest into: the deepest issue path (a wrong type at the
 * branch's root counts as not entering it), then the fewest issues; when no branch took the
 * value's type, one issue listing what each branch expected.
 */
function flatten(issues: readonly Issue[], at: PropertyKey[]): Issue[] {
  return issues.flatMap((issue): Issue[] => {
    const path = [...at, ...issue.path];
    if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [{ ...issue, path }];
    const progress = (branch: Issue[]) => Math.max(...branch.map((i) => (i.path.length > 0 ? i.path.length : i.code === 'invalid_type' || i.code === 'invalid_value' ? -1 : 0)));
    const best = [...issue.errors].sort((a, b) => progress(b) - progress(a) || a.length - b.length)[0] as Issue[];
    if (progress(best) >= 0) return flatten(best, path);
    return [{ ...issue, path, message: `expected ${issue.errors.map((b) => expectation(b[0] as Issue)).join(' or ')}` }];
  });
}

/** One readable line per problem the schema found (the last one zod reports for a field: `1e20` is over the limit, not just no safe integer). */
function describeIssues(error: z.ZodError, input: unknown, schema: z.ZodType, prefix: string): string[] {
  const byField = new Map(flatten(error.issues, []).map((issue) => [issue.code === 'unrecognized_keys' ? `${fieldName(issue.path)} keys` : fieldName(issue.path), issue]));
  return [...byField.values()].flatMap((issue) => {
    const field = `${prefix}${fieldName(issue.path)}`;
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path);
      return issue.keys.map((k) => `unknown field '${prefix}${fieldName([...issue.path, k])}'${known.length ? `; known here: ${known.join(', ')}` : ''}`);
    }
    const value = valueAt(input, issue.path);
    if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) return [`missing required field '${field}' (${expectation(issue)})`];
    if (issue.code === 'custom') return [`${field}: ${issue.message}`];
    const message = typeof value === 'number' && !Number.isFinite(value) ? 'expected a finite number' : issue.message.replace(/^Invalid (input|option): /, '');
    return [`${field}: ${message}, got ${show(value)}`];
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

/** A YAML error in one line: the yaml library's first line (which has the line and column), or the line appended. */
function yamlError(e: YAMLError | Error): string {
  const first = e.message.split('\n')[0]?.replace(/:$/, '') ?? '';
  const line = (e as YAMLError).linePos?.[0].line;
  return line === undefined || /\bline \d+/.test(first) ? first : `${first} (line ${line})`;
}

/** The one YAML document of a spec, as plain data. */
function parseYaml(text: string, source: string): unknown {
  const docs = parseAllDocuments(text);
  for (const doc of docs) if (doc.errors[0] !== undefined) throw new Error(`${source}: not valid YAML: ${yamlError(doc.errors[0])}`);
  if (docs.length > 1) throw new Error(`${source}: holds ${docs.length} YAML documents (separated by ---); a study spec is one`);
  try {
    return docs[0]?.toJS();
  } catch (e) {
    throw new Error(`${source}: not valid YAML: ${yamlError(e as Error)}`);
  }
}

export interface ResolvedSpec {
  kind: StudyKind;
  run: StudyRun<unknown>;
  /** every scale the spec defines, besides full */
  scales: string[];
}

/** Parses and validates a spec (all scales), and resolves it at `scale`. */
export function parseStudySpec(text: string, source: string, scale: string): ResolvedSpec {
  const doc = parseYaml(text, source);
  if (!isObject(doc)) {
    const holds = doc === undefined || doc === null ? 'this one is empty' : Array.isArray(doc) ? 'this one is a list' : `this one is ${show(doc)}`;
    throw new Error(`${source}: a study spec is a YAML mapping with at least 'study' and 'name'; ${holds}`);
  }
  const kinds = studyKindNames().join(', ');
  if (doc.study === undefined || doc.study === null) throw new Error(`${source}: missing required field 'study' (one of: ${kinds})`);
  if (typeof doc.study !== 'string') throw new Error(`${source}: study: expected a study kind name (${kinds}), got ${show(doc.study)}`);
  let kind: StudyKind;
  try {
    kind = studyKind(doc.study);
  } catch (e) {
    throw new Error(`${source}: study: ${(e as Error).message}`);
  }
  const { scales: rawScales, ...rest } = doc;
  if (rawScales !== undefined && !isObject(rawScales)) throw new Error(`${source}: scales: expected a mapping of scale name → overrides, got ${show(rawScales)}`);
  if (rawScales !== undefined && Object.hasOwn(rawScales, 'full')) throw new Error(`${source}: scales.full: full is the spec as written; name the scale something else`);
  const base = camelKeys(rest, source, '');
  const resolved = new Map<string, unknown>([['full', validate(kind, base, source, '')]]);
  const scales = Object.keys(rawScales ?? {});
  for (const name of scales) {
    const over = (rawScales as Record<string, unknown>)[name];
    if (!isObject(over)) throw new Error(`${source}: scales.${name}: expected a mapping of overrides, got ${show(over)}`);
    resolved.set(name, validate(kind, overlay(base, camelKeys(over, source, `scales.${name}`)), source, `scales.${name}.`));
  }
  if (!resolved.has(scale)) throw new Error(`${source}: no scale '${scale}'; scales: ${['full', ...scales].join(', ')}`);
  return { kind, run: { spec: resolved.get(scale), scale, source }, scales };
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
