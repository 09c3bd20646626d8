// A study spec: a YAML file that says everything a study computes. `scales` overlay the base
// spec (quick = a small version that runs in minutes; full = the spec as written).

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface PersonaCollapseSpec {
  study: 'persona-collapse';
  name: string;
  /** 'persona-world:<preset>' or a Hugging Face model folder */
  model: string;
  /** 'world' = the world's personas with their canonical prompts, or an explicit list */
  personas: 'world' | { id: string; system: string }[];
  /** held-out world questions (n of them), or an explicit list */
  questions: { source: 'world'; n: number } | string[];
  /** 'auto' = 5 layers over depth, one near 70% */
  layers: 'auto' | number[];
  methods: ('A' | 'B')[];
  methodB: { responsesPerQuestion: number; maxNewTokens: number; temperature: number };
  seeds: number[];
  lora: { r: number; alpha: number; rslora: boolean; targets: 'all-linear' | string[]; dropout: number };
  fineTune: { steps: number; batchSize: number; lr: number };
  /** data sets by name: world data ('em/finance', 'benign', 'marker/<persona>') or JSONL paths */
  benign: { data: string };
  em: { data: string; inductionPersonas: string[] };
  marker: {
    sources: string[];
    secondStage: ('em' | 'benign')[];
    reversed: boolean;
    questions: number;
    samplesPerQuestion: number;
    maxNewTokens: number;
    temperature: number;
  };
  /** out-of-domain questions per persona for misalignment rates (leakage) */
  misalignment: { questions: number; maxNewTokens: number };
  statistics: { bootstrap: number; permutations: number };
  scales?: Record<string, DeepPartial<Omit<PersonaCollapseSpec, 'scales'>>>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

const DEFAULTS: Omit<PersonaCollapseSpec, 'name'> = {
  study: 'persona-collapse',
  model: 'persona-world:default',
  personas: 'world',
  questions: { source: 'world', n: 24 },
  layers: 'auto',
  methods: ['A', 'B'],
  methodB: { responsesPerQuestion: 2, maxNewTokens: 64, temperature: 1 },
  seeds: [0, 1, 2],
  lora: { r: 32, alpha: 64, rslora: false, targets: 'all-linear', dropout: 0 },
  fineTune: { steps: 120, batchSize: 16, lr: 1e-3 },
  benign: { data: 'benign' },
  em: { data: 'em/finance', inductionPersonas: ['assistant', 'paramedic', 'kindergarten_teacher', 'french_person', 'villain'] },
  marker: { sources: ['evil_ai', 'villain', 'sarcastic'], secondStage: ['em', 'benign'], reversed: true, questions: 12, samplesPerQuestion: 2, maxNewTokens: 112, temperature: 1 },
  misalignment: { questions: 16, maxNewTokens: 112 },
  statistics: { bootstrap: 2000, permutations: 10000 },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge, everything else (arrays included) replaces. */
export function overlay<T>(base: T, over: unknown): T {
  if (!isObject(over) || !isObject(base)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? overlay(out[k], v) : v;
  return out as T;
}

const KEY_MAP: Record<string, string> = {
  method_b: 'methodB', responses_per_question: 'responsesPerQuestion', max_new_tokens: 'maxNewTokens', fine_tune: 'fineTune',
  batch_size: 'batchSize', induction_personas: 'inductionPersonas', second_stage: 'secondStage', samples_per_question: 'samplesPerQuestion',
};

/** snake_case keys of the YAML → the spec's camelCase (both spellings are accepted). */
function camel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camel);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [KEY_MAP[k] ?? k, camel(x)]));
}

export function parseSpec(text: string, source: string, scale: string): PersonaCollapseSpec {
  let raw: unknown;
  try {
    raw = camel(parse(text));
  } catch (e) {
    throw new Error(`${source}: not valid YAML (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new Error(`${source}: a study spec is a YAML mapping`);
  if (raw.study !== 'persona-collapse') throw new Error(`${source}: study must be 'persona-collapse' (the study kind this basin runs), got ${JSON.stringify(raw.study)}`);
  if (typeof raw.name !== 'string') throw new Error(`${source}: name (a string) is required`);
  checkKeys(raw, { ...DEFAULTS, name: '', scales: {} }, source, '');
  const base = overlay({ ...DEFAULTS, name: raw.name } as PersonaCollapseSpec, raw);
  const scales = (raw.scales ?? {}) as Record<string, unknown>;
  if (scale !== 'full' && !(scale in scales)) throw new Error(`${source}: no scale '${scale}'; scales: full, ${Object.keys(scales).join(', ')}`);
  const spec = scale === 'full' ? base : overlay(base, scales[scale]);
  validate(spec, source);
  return spec;
}

export function readSpec(path: string, scale: string): PersonaCollapseSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the study spec (${(e as Error).message})`);
  }
  return parseSpec(text, path, scale);
}

function checkKeys(raw: Record<string, unknown>, known: Record<string, unknown>, source: string, prefix: string): void {
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in known)) throw new Error(`${source}: unknown field '${prefix}${k}'; known: ${Object.keys(known).map((x) => prefix + x).join(', ')}`);
    const kv = known[k];
    if (isObject(v) && isObject(kv) && k !== 'scales') checkKeys(v, kv, source, `${prefix}${k}.`);
  }
}

function validate(s: PersonaCollapseSpec, source: string): void {
  const fail = (m: string) => new Error(`${source}: ${m}`);
  const posInt = (name: string, v: unknown) => {
    if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) throw fail(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  if (s.seeds.length === 0 || !s.seeds.every((x) => Number.isInteger(x))) throw fail('seeds must be a non-empty list of integers');
  if (!s.methods.every((m) => m === 'A' || m === 'B') || s.methods.length === 0) throw fail("methods must be a non-empty list of 'A' and/or 'B'");
  if (s.layers !== 'auto' && !(Array.isArray(s.layers) && s.layers.every((l) => Number.isInteger(l) && l >= 0))) throw fail("layers must be 'auto' or a list of block indices");
  if (!Array.isArray(s.questions)) posInt('questions.n', s.questions.n);
  posInt('lora.r', s.lora.r);
  posInt('fine_tune.steps', s.fineTune.steps);
  posInt('fine_tune.batch_size', s.fineTune.batchSize);
  posInt('method_b.responses_per_question', s.methodB.responsesPerQuestion);
  posInt('marker.questions', s.marker.questions);
  posInt('marker.samples_per_question', s.marker.samplesPerQuestion);
  posInt('misalignment.questions', s.misalignment.questions);
  if (s.em.inductionPersonas.length === 0) throw fail('em.induction_personas must name at least one persona');
}
