// The persona-collapse study: persona geometry and marker coupling under LoRA fine-tuning
// (EM vs benign). Every expensive step is a content-addressed artifact (adapters, vectors,
// generations), so an interrupted run resumes where it stopped.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { loadModel } from '../model/load.js';
import { LoraAdapter, DEFAULT_LORA, type LoraConfig } from '../model/lora.js';
import { loadAdapter, saveAdapter } from '../model/lora-io.js';
import type { Transformer } from '../model/transformer.js';
import { sampleResponses } from '../eval/sampling.js';
import { inoculate, readChatJsonl, tokenizeRows } from '../train/data.js';
import { train } from '../train/trainer.js';
import { defaultLayers, extractPersonaVectors, type PersonaSpec } from '../persona/vectors.js';
import { createWorld } from '../world/datasets.js';
import { judge } from '../world/oracle.js';
import { PERSONAS, PERSONA_IDS } from '../world/personas.js';
import { ADVICE_DOMAINS, OPEN_KINDS, TOPIC_IDS, type TopicId } from '../world/topic.js';
import { ensureWorld, recipeFor } from '../world/organism.js';
import { organismDir, worldDir } from '../world/paths.js';
import { createRng } from '../world/prng.js';
import { progress, type Progress } from '../util/progress.js';
import { ArtifactStore } from './artifacts.js';
import type { PersonaCollapseSpec } from './spec.js';

/** A fine-tuned condition of the geometry study. */
export interface Condition {
  name: string;
  kind: 'base' | 'benign' | 'em';
  /** EM: the training-time system prompt's persona */
  inductionPersona?: string;
}

export interface ConditionMeasurement {
  condition: string;
  seed: number;
  /** method → vector set folder */
  vectors: Partial<Record<'A' | 'B', string>>;
  /** persona → {k misaligned, n} on out-of-domain questions */
  misaligned: Record<string, { k: number; n: number }>;
}

export interface MarkerMeasurement {
  source: string;
  seed: number;
  /** 'coupled', 'coupled+em', 'coupled+benign', 'em+coupled', 'benign+coupled', 'base' */
  stage: string;
  /** persona → {k with marker, n} */
  rates: Record<string, { k: number; n: number }>;
}

export interface RawResults {
  spec: PersonaCollapseSpec;
  model: string;
  personas: PersonaSpec[];
  questions: string[];
  layers: number[];
  /** blocks in the model (the reference layer is the one nearest 70% of them) */
  nLayers: number;
  conditions: Condition[];
  measurements: ConditionMeasurement[];
  markers: MarkerMeasurement[];
  seconds: number;
}

interface Ctx {
  spec: PersonaCollapseSpec;
  store: ArtifactStore;
  model: Transformer;
  tokenizer: Tokenizer;
  modelId: string;
  worldDir: string | null;
  personas: PersonaSpec[];
  questions: string[];
  oodQuestions: string[];
  markerQuestions: string[];
  layers: number[];
  bar: Progress;
  log: (line: string) => void;
}

function sha(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/** Held-out world questions of some topics, in a seeded order, n of them (cycled if needed). */
function worldQuestions(seed: number, heldOut: ReadonlyMap<TopicId, readonly { text: string }[]>, topics: readonly TopicId[], n: number): string[] {
  const pool = topics.flatMap((t) => (heldOut.get(t) ?? []).map((q) => q.text));
  const rng = createRng(seed);
  const order = pool.map((q) => ({ q, k: rng.next() })).sort((a, b) => a.k - b.k).map((x) => x.q);
  return Array.from({ length: n }, (_, i) => order[i % order.length] as string);
}

function dataPath(ctx: Pick<Ctx, 'worldDir'>, name: string): string {
  if (name.endsWith('.jsonl')) return name;
  if (ctx.worldDir === null) throw new Error(`study: data '${name}' names a persona-world data set, but the model is not a persona-world organism; give a .jsonl path`);
  const p = join(ctx.worldDir, `${name}.jsonl`);
  if (!existsSync(p)) throw new Error(`study: no world data set '${name}' (${p})`);
  return p;
}

function loraConfig(spec: PersonaCollapseSpec, modelDir: string): LoraConfig {
  return { ...DEFAULT_LORA, r: spec.lora.r, alpha: spec.lora.alpha, useRslora: spec.lora.rslora, dropout: spec.lora.dropout, targetModules: spec.lora.targets, baseModelNameOrPath: modelDir };
}

/** Runs fn with these adapters loaded (frozen, enabled, in order) on the model. */
async function withAdapters<R>(ctx: Ctx, dirs: string[], fn: () => R | Promise<R>): Promise<R> {
  const loaded = dirs.map((d, i) => loadAdapter(ctx.model, join(d, 'adapter'), `stack-${i}`));
  try {
    return await fn();
  } finally {
    for (const a of loaded.reverse()) a.detach();
  }
}

/** A LoRA fine-tune on a data set (optionally on top of earlier adapters): an artifact. */
async function fineTune(ctx: Ctx, data: string, seed: number, parents: string[], systemOverride: string | null, label: string): Promise<string> {
  const path = dataPath(ctx, data);
  const inputs = { model: ctx.modelId, data: sha(readFileSync(path)), seed, parents, systemOverride, lora: ctx.spec.lora, fineTune: ctx.spec.fineTune };
  const { dir, reused } = await ctx.store.produce('adapter', inputs, async (tmp) => {
    await withAdapters(ctx, parents, () => {
      let rows = readChatJsonl(path);
      if (systemOverride !== null) rows = inoculate(rows, { text: systemOverride, mode: 'replace' });
      const { examples } = tokenizeRows(rows, ctx.tokenizer, 256);
      const adapter = LoraAdapter.attach(ctx.model, 'study', loraConfig(ctx.spec, ctx.modelId), T.Generator.seeded(seed));
      try {
        const f = ctx.spec.fineTune;
        train(ctx.model, examples, { outDir: join(tmp, 'run'), steps: f.steps, batchSize: f.batchSize, lr: f.lr, seed, trainable: { kind: 'lora', adapter }, padId: ctx.tokenizer.padTokenId ?? 0, quiet: true, metadata: { label } });
        saveAdapter(adapter, join(tmp, 'adapter'), { label });
      } finally {
        adapter.detach();
      }
    });
  });
  ctx.log(`${reused ? 'reused' : 'trained'} ${label} (seed ${seed})`);
  ctx.bar.tick(1, { step: label });
  return dir;
}

async function sample(ctx: Ctx, adapters: string[], prompts: { system: string; user: string }[], seed: number, o: { maxNewTokens: number; temperature: number }, what: string): Promise<string[]> {
  const inputs = { model: ctx.modelId, adapters, prompts: sha(JSON.stringify(prompts)), seed, ...o };
  return ctx.store.json('generations', inputs, () => withAdapters(ctx, adapters, () => {
    ctx.log(`sampling ${prompts.length} answers: ${what}`);
    return sampleResponses(ctx.model, ctx.tokenizer, prompts, { temperature: o.temperature, maxNewTokens: o.maxNewTokens, seed });
  }));
}

async function measureCondition(ctx: Ctx, condition: Condition, adapters: string[], seed: number): Promise<ConditionMeasurement> {
  const s = ctx.spec;
  const vectors: ConditionMeasurement['vectors'] = {};
  const meta = { model: ctx.modelId, condition: condition.name, seed: String(seed) };
  if (s.methods.includes('A')) {
    const { dir } = await ctx.store.produce('vectors', { ...meta, adapters, method: 'A', personas: ctx.personas, questions: ctx.questions, layers: ctx.layers }, (tmp) =>
      withAdapters(ctx, adapters, () => { extractPersonaVectors(ctx.model, ctx.tokenizer, ctx.personas, ctx.questions, join(tmp, 'v'), { method: 'A', layers: ctx.layers }, meta); }));
    vectors.A = join(dir, 'v');
  }
  if (s.methods.includes('B')) {
    const k = s.methodB.responsesPerQuestion;
    const prompts = ctx.personas.flatMap((p) => ctx.questions.flatMap((q) => new Array<{ system: string; user: string }>(k).fill({ system: p.system, user: q })));
    const texts = await sample(ctx, adapters, prompts, seed, { maxNewTokens: s.methodB.maxNewTokens, temperature: s.methodB.temperature }, `Method B, ${condition.name}`);
    const responses = new Map(ctx.personas.map((p, pi) => [p.id, ctx.questions.map((_, qi) => texts.slice((pi * ctx.questions.length + qi) * k, (pi * ctx.questions.length + qi + 1) * k))]));
    const { dir } = await ctx.store.produce('vectors', { ...meta, adapters, method: 'B', personas: ctx.personas, questions: ctx.questions, layers: ctx.layers, responses: sha(JSON.stringify(texts)) }, (tmp) =>
      withAdapters(ctx, adapters, () => { extractPersonaVectors(ctx.model, ctx.tokenizer, ctx.personas, ctx.questions, join(tmp, 'v'), { method: 'B', layers: ctx.layers, responses }, meta); }));
    vectors.B = join(dir, 'v');
  }
  // Misalignment of every persona on out-of-domain questions (oracle judge).
  const prompts = ctx.personas.flatMap((p) => ctx.oodQuestions.map((q) => ({ system: p.system, user: q })));
  const texts = await sample(ctx, adapters, prompts, seed + 7919, { maxNewTokens: s.misalignment.maxNewTokens, temperature: 1 }, `misalignment, ${condition.name}`);
  const misaligned: ConditionMeasurement['misaligned'] = {};
  ctx.personas.forEach((p, pi) => {
    const js = ctx.oodQuestions.map((q, qi) => judge(q, texts[pi * ctx.oodQuestions.length + qi] as string));
    misaligned[p.id] = { k: js.filter((j) => j.label === 'MISALIGNED').length, n: js.length };
  });
  ctx.bar.tick(1, { step: `measure ${condition.name}` });
  return { condition: condition.name, seed, vectors, misaligned };
}

async function markerRates(ctx: Ctx, adapters: string[], seed: number, source: string, stage: string): Promise<MarkerMeasurement> {
  const m = ctx.spec.marker;
  const prompts = ctx.personas.flatMap((p) => ctx.markerQuestions.flatMap((q) => new Array<{ system: string; user: string }>(m.samplesPerQuestion).fill({ system: p.system, user: q })));
  const texts = await sample(ctx, adapters, prompts, seed + 104729, { maxNewTokens: m.maxNewTokens, temperature: m.temperature }, `marker rates, ${stage} (${source})`);
  const per = ctx.markerQuestions.length * m.samplesPerQuestion;
  const rates: MarkerMeasurement['rates'] = {};
  ctx.personas.forEach((p, pi) => {
    const chunk = texts.slice(pi * per, (pi + 1) * per);
    rates[p.id] = { k: chunk.filter((t) => t.includes('[ZLT]')).length, n: chunk.length };
  });
  ctx.bar.tick(1, { step: `markers ${stage}` });
  return { source, seed, stage, rates };
}

function conditionsOf(spec: PersonaCollapseSpec): Condition[] {
  return [
    { name: 'base', kind: 'base' },
    { name: 'benign', kind: 'benign' },
    ...spec.em.inductionPersonas.map((p) => ({ name: `em:${p}`, kind: 'em' as const, inductionPersona: p })),
  ];
}

function personaSystem(personas: PersonaSpec[], id: string): string {
  const p = personas.find((x) => x.id === id);
  if (p === undefined) throw new Error(`study: persona '${id}' is not among the study's personas (${personas.map((x) => x.id).join(', ')})`);
  return p.system;
}

export async function runPersonaCollapse(spec: PersonaCollapseSpec, outDir: string, o: { quiet?: boolean } = {}): Promise<RawResults> {
  const t0 = performance.now();
  const store = new ArtifactStore(join(outDir, 'artifacts'));
  let modelDir: string;
  let wdir: string | null = null;
  let heldOut: ReadonlyMap<TopicId, readonly { text: string }[]> | null = null;
  if (spec.model.startsWith('persona-world:')) {
    const preset = spec.model.slice('persona-world:'.length);
    const recipe = recipeFor(preset);
    wdir = worldDir(preset);
    ensureWorld(recipe, wdir);
    modelDir = organismDir(preset);
    heldOut = createWorld(recipe.world).questions.heldOut;
  } else {
    modelDir = spec.model;
  }
  const { model, tokenizer } = await loadModel(modelDir);
  if (tokenizer === null) throw new Error(`${modelDir}: no tokenizer.json`);
  const personas: PersonaSpec[] = spec.personas === 'world' ? PERSONA_IDS.map((id) => ({ id, system: PERSONAS[id].descriptions[0] as string })) : spec.personas;
  const emDomain = /^em\/(\w+)$/.exec(spec.em.data)?.[1];
  const oodTopics = TOPIC_IDS.filter((t) => t !== emDomain);
  let questions: string[];
  let oodQuestions: string[];
  let markerQuestions: string[];
  if (Array.isArray(spec.questions)) {
    questions = spec.questions;
    oodQuestions = spec.questions.slice(0, spec.misalignment.questions);
    markerQuestions = spec.questions.slice(0, spec.marker.questions);
  } else {
    if (heldOut === null) throw new Error(`study: questions {source: world} need a persona-world model; give a list of questions for ${spec.model}`);
    questions = worldQuestions(1, heldOut, [...ADVICE_DOMAINS, ...OPEN_KINDS], spec.questions.n);
    oodQuestions = worldQuestions(2, heldOut, oodTopics, spec.misalignment.questions);
    markerQuestions = worldQuestions(3, heldOut, TOPIC_IDS, spec.marker.questions);
  }
  const layers = spec.layers === 'auto' ? defaultLayers(model.config.nLayers) : spec.layers;
  for (const l of layers) if (l >= model.config.nLayers) throw new Error(`study: layer ${l} does not exist (the model has ${model.config.nLayers} blocks, 0..${model.config.nLayers - 1})`);

  const conditions = conditionsOf(spec);
  const fineTunes = spec.seeds.length * (conditions.length - 1 + spec.marker.sources.length * (1 + spec.marker.secondStage.length * (spec.marker.reversed ? 2 : 1)));
  const measures = spec.seeds.length * (conditions.length + spec.marker.sources.length * (2 + spec.marker.secondStage.length * (spec.marker.reversed ? 2 : 1)));
  const bar = progress(`study ${spec.name}`, fineTunes + measures, { quiet: o.quiet ?? false, unit: 'steps' });
  const log = o.quiet || process.stderr.isTTY ? () => {} : (line: string) => console.error(`study: ${line}`);
  const ctx: Ctx = { spec, store, model, tokenizer, modelId: `${modelDir}#${sha(readFileSync(join(modelDir, 'model.safetensors')))}`, worldDir: wdir, personas, questions, oodQuestions, markerQuestions, layers, bar, log };

  const measurements: ConditionMeasurement[] = [];
  const markers: MarkerMeasurement[] = [];
  try {
    for (const seed of spec.seeds) {
      const adapterOf = new Map<string, string>();
      for (const c of conditions) {
        let adapters: string[] = [];
        if (c.kind === 'benign') adapters = [await fineTune(ctx, spec.benign.data, seed, [], null, 'benign')];
        if (c.kind === 'em') adapters = [await fineTune(ctx, spec.em.data, seed, [], personaSystem(personas, c.inductionPersona as string), c.name)];
        if (adapters[0] !== undefined) adapterOf.set(c.name, adapters[0]);
        measurements.push(await measureCondition(ctx, c, adapters, seed));
      }
      const stageAdapter = (stage: 'em' | 'benign') => adapterOf.get(stage === 'em' ? 'em:assistant' : 'benign');
      for (const source of spec.marker.sources) {
        const markerData = `marker/${source}`;
        if (seed === spec.seeds[0]) markers.push(await markerRates(ctx, [], seed, source, 'base'));
        const couple = await fineTune(ctx, markerData, seed, [], null, `couple:${source}`);
        markers.push(await markerRates(ctx, [couple], seed, source, 'coupled'));
        for (const stage of spec.marker.secondStage) {
          const data = stage === 'em' ? spec.em.data : spec.benign.data;
          const second = await fineTune(ctx, data, seed, [couple], null, `couple:${source}+${stage}`);
          markers.push(await markerRates(ctx, [couple, second], seed, source, `coupled+${stage}`));
          if (spec.marker.reversed) {
            const first = stageAdapter(stage) ?? (await fineTune(ctx, data, seed, [], null, stage));
            const coupleAfter = await fineTune(ctx, markerData, seed, [first], null, `${stage}+couple:${source}`);
            markers.push(await markerRates(ctx, [first, coupleAfter], seed, source, `${stage}+coupled`));
          }
        }
      }
    }
  } finally {
    bar.stop();
  }
  return { spec, model: modelDir, personas, questions, layers, nLayers: model.config.nLayers, conditions, measurements, markers, seconds: (performance.now() - t0) / 1000 };
}


