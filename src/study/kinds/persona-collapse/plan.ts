// The persona-collapse plan. Per seed: the conditions (base, benign, EM with each induction
// persona's system prompt) each get persona vectors (Method A; Method B from sampled answers)
// and misalignment rates (sampled at misalignment.temperature, judged): out of the EM domain
// for every persona (many questions for the focal persona, fewer for bystanders) and inside it
// for the focal persona and the induction persona; marker coupling to each source
// persona, then a second-stage fine-tune on top (and, reversed, the second stage first) each get
// marker rates. Every seed a task uses is derived from the replicate seed and the task's label.

import { readHfConfig } from '../../../model/config.js';
import { defaultLayers, type PersonaSpec } from '../../../persona/vectors.js';
import { deriveSeed } from '../../../util/rng.js';
import { MARKER } from '../../../world/grammar.js';
import { ORACLE_JUDGE_NAME } from '../../../world/datasets.js';
import { PERSONAS, PERSONA_IDS } from '../../../world/personas.js';
import { ADVICE_DOMAINS, OPEN_KINDS, TOPIC_IDS, type TopicId } from '../../../world/topic.js';
import type { ChatPrompt } from '../../../model/chat-prompt.js';
import type { FineTuneSettings } from '../../producers/fine-tune.js';
import type { JudgeSettings } from '../../producers/judge.js';
import type { PersonaVectorSettings } from '../../producers/persona-vectors.js';
import type { SampleSettings } from '../../producers/sample.js';
import { checkLoraTargets } from '../../lora-targets.js';
import { Plan } from '../../task.js';
import type { StudyRun } from '../../kind.js';
import { judgeOf, judgeSettings } from '../../producers/judge.js';
import { MISALIGNED } from '../../../eval/judges/index.js';
import { dataPath, sampleHeldOutQuestions, resolveStudyModel, type StudyModel } from '../../world-model.js';
import type { PersonaCollapseSpec } from './spec.js';

/** tokens per training example */
const MAX_LENGTH = 256;

export interface Condition {
  name: string;
  kind: 'base' | 'benign' | 'em';
  /** EM: the training-time system prompt's persona */
  inductionPersona?: string;
}

export interface PersonaCollapseContext {
  model: StudyModel;
  nLayers: number;
  personas: PersonaSpec[];
  questions: string[];
  /** the persona misalignment is measured on most: 'assistant', or without one the first induction persona */
  focal: string;
  /** out-of-domain misalignment prompts, persona by persona in this order (the sample task's order) */
  ood: { persona: string; questions: string[] }[];
  /** in-domain misalignment: the EM domain's questions and, per condition, the personas asked them (in order); null when not measured */
  inDomain: { domain: string; questions: string[]; personas: Record<string, string[]> } | null;
  /** why in-domain rates are not measured (null when they are) */
  inDomainMissing: string | null;
  markerQuestions: string[];
  layers: number[];
  conditions: Condition[];
  /** the marker measurements the plan holds: (seed, source, stage) and their task ids */
  markers: { seed: number; source: string; stage: string; judge: string }[];
  /** the misalignment judge and its settings, in words */
  misalignmentJudge: string;
}

/** Task ids, shared by plan and analysis. */
export const ids = {
  vectors: (seed: number, condition: string, method: string) => `seed ${seed} · vectors ${method} · ${condition}`,
  misalignment: (seed: number, condition: string) => `seed ${seed} · judge misalignment · ${condition}`,
  inDomain: (seed: number, condition: string) => `seed ${seed} · judge in-domain · ${condition}`,
};

function conditionsOf(spec: PersonaCollapseSpec): Condition[] {
  return [
    { name: 'base', kind: 'base' },
    { name: 'benign', kind: 'benign' },
    ...spec.em.inductionPersonas.map((p) => ({ name: `em:${p}`, kind: 'em' as const, inductionPersona: p })),
  ];
}

async function resolveContext(run: StudyRun<PersonaCollapseSpec>): Promise<Omit<PersonaCollapseContext, 'markers' | 'misalignmentJudge'>> {
  const spec = run.spec;
  const model = resolveStudyModel(run, spec.model, { dtype: spec.dtype });
  const config = await readHfConfig(model.ref.dir);
  const nLayers = config.nLayers;
  checkLoraTargets(config, spec.lora.targets, 'lora.targets');
  for (const [field, n] of [['method_b.max_new_tokens', spec.methodB.maxNewTokens], ['marker.max_new_tokens', spec.marker.maxNewTokens], ['misalignment.max_new_tokens', spec.misalignment.maxNewTokens]] as const) {
    if (n >= config.maxPositions) throw new Error(`${field}: ${n} new tokens do not fit the model's context of ${config.maxPositions} positions`);
  }
  const personas: PersonaSpec[] = spec.personas === 'world' ? PERSONA_IDS.map((id) => ({ id, system: PERSONAS[id].descriptions[0] as string })) : spec.personas;
  const emDomain = /^em\/(\w+)$/.exec(spec.em.data)?.[1];
  const focal = personas.some((p) => p.id === 'assistant') ? 'assistant' : (spec.em.inductionPersonas[0] as string);
  const m = spec.misalignment;
  const oodCount = Math.max(m.questions, m.bystanderQuestions);
  let questions: string[];
  let oodQuestions: string[];
  let markerQuestions: string[];
  if (Array.isArray(spec.questions)) {
    if (spec.marker.questions > spec.questions.length) throw new Error(`marker.questions: ${spec.marker.questions} questions, but the spec lists only ${spec.questions.length}; list more questions or ask for fewer`);
    questions = spec.questions;
    // Misalignment cycles through the listed questions; its intervals resample questions, so repeats are accounted for.
    const listed = spec.questions;
    oodQuestions = Array.from({ length: oodCount }, (_, i) => listed[i % listed.length] as string);
    markerQuestions = spec.questions.slice(0, spec.marker.questions);
  } else {
    if (model.world === null) throw new Error(`questions {source: world} need a persona-world model; give a list of questions for ${spec.model}`);
    const heldOut = model.world.evaluation;
    questions = sampleHeldOutQuestions(heldOut, [...ADVICE_DOMAINS, ...OPEN_KINDS], spec.questions.n, deriveSeed(0, 'questions persona vectors'));
    oodQuestions = sampleHeldOutQuestions(heldOut, TOPIC_IDS.filter((t) => t !== emDomain), oodCount, deriveSeed(0, 'questions misalignment'));
    markerQuestions = sampleHeldOutQuestions(heldOut, TOPIC_IDS, spec.marker.questions, deriveSeed(0, 'questions markers'));
  }
  const ood = personas.map((p) => ({ persona: p.id, questions: oodQuestions.slice(0, p.id === focal ? m.questions : m.bystanderQuestions) }));
  let inDomain: PersonaCollapseContext['inDomain'] = null;
  let inDomainMissing: string | null = null;
  if (m.inDomain === 0) inDomainMissing = 'misalignment.in_domain is 0';
  else if (model.world === null) inDomainMissing = `${spec.model} is not a persona-world organism, so there are no EM-domain questions to ask`;
  else if (emDomain === undefined || !(TOPIC_IDS as readonly string[]).includes(emDomain)) inDomainMissing = `em.data '${spec.em.data}' is not a persona-world EM data set (em/<domain>), so its domain's questions are unknown`;
  else {
    const personasOf: Record<string, string[]> = {};
    for (const c of conditionsOf(spec)) personasOf[c.name] = c.kind === 'em' && c.inductionPersona !== focal ? [focal, c.inductionPersona as string] : [focal];
    inDomain = { domain: emDomain, questions: sampleHeldOutQuestions(model.world.evaluation, [emDomain as TopicId], m.inDomain, deriveSeed(0, 'questions in-domain')), personas: personasOf };
  }
  if (model.world === null && spec.misalignment.judge.name === ORACLE_JUDGE_NAME) {
    throw new Error(
      `misalignment.judge: the persona-world oracle reads only the persona world's text, and ${spec.model} is not a persona-world organism; ` +
        `judge with an LLM judge, e.g. misalignment: {judge: {name: logprob, options: {model: <judge model>}}}, and give the judge's server with --judge-url (any OpenAI-compatible server; 'basin serve --model DIR' makes one)`,
    );
  }
  const layers = spec.layers === 'auto' ? defaultLayers(nLayers) : spec.layers;
  for (const l of layers) if (l >= nLayers) throw new Error(`layers: block ${l} does not exist (the model has ${nLayers} blocks, 0..${nLayers - 1})`);
  return { model, nLayers, personas, questions, focal, ood, inDomain, inDomainMissing, markerQuestions, layers, conditions: conditionsOf(spec) };
}

const repeat = (prompts: ChatPrompt[], k: number) => prompts.flatMap((p) => new Array<ChatPrompt>(k).fill(p));

export async function planPersonaCollapse(run: StudyRun<PersonaCollapseSpec>): Promise<{ plan: Plan; context: PersonaCollapseContext }> {
  const spec = run.spec;
  const ctx = await resolveContext(run);
  const plan = new Plan();
  const model = ctx.model.ref;
  const markers: PersonaCollapseContext['markers'] = [];
  const misalignmentJudge = await withField('misalignment.judge', () => judgeSettings(spec.misalignment.judge.name, spec.misalignment.judge.options));
  const { labels, describe: misalignmentJudgeText } = judgeOf(misalignmentJudge);
  if (labels !== undefined && !labels.includes(MISALIGNED)) {
    throw new Error(`misalignment.judge: judge '${misalignmentJudge.judge}' gives ${labels.join(', ')}, never ${MISALIGNED}, so every misalignment rate would be 0; use a judge that labels answers ${MISALIGNED} (persona-world-oracle, logprob, rubric, multi)`);
  }
  const systemOf = (id: string) => (ctx.personas.find((p) => p.id === id) as PersonaSpec).system;
  const costOfSampling = (n: number, tokens: number) => Math.max(1, Math.round((n * tokens) / 400));

  for (const seed of spec.seeds) {
    const fineTune = (label: string, field: string, data: string, parents: string[], systemPrompt: string | null): string => {
      const settings: FineTuneSettings = {
        lora: spec.lora, steps: spec.fineTune.steps, batchSize: spec.fineTune.batchSize, lr: spec.fineTune.lr, schedule: 'constant',
        maxLength: MAX_LENGTH, systemPrompt, seed: deriveSeed(seed, `fine-tune ${label}`),
      };
      return plan.add({ id: `seed ${seed} · fine-tune ${label}`, producer: 'fine-tune', model, parents: { adapters: parents }, data: { train: dataPath(run, ctx.model, field, data) }, settings, cost: Math.max(1, Math.round((spec.fineTune.steps * spec.fineTune.batchSize) / 32)) }).id;
    };
    const sample = (label: string, adapters: string[], prompts: ChatPrompt[], o: { maxNewTokens: number; temperature: number }): string => {
      const settings: SampleSettings = { prompts, temperature: o.temperature, maxNewTokens: o.maxNewTokens, seed: deriveSeed(seed, `sample ${label}`) };
      return plan.add({ id: `seed ${seed} · sample ${label}`, producer: 'sample', model, parents: { adapters }, settings, cost: costOfSampling(prompts.length, o.maxNewTokens) }).id;
    };
    const judge = (id: string, samples: string, settings: JudgeSettings): string => plan.add({ id, producer: 'judge', parents: { samples }, settings }).id;

    const measure = (c: Condition, adapters: string[]) => {
      for (const method of spec.methods) {
        const settings: PersonaVectorSettings = { method, personas: ctx.personas, questions: ctx.questions, layers: ctx.layers, responsesPerQuestion: null };
        const parents: Record<string, string | string[]> = { adapters };
        if (method === 'B') {
          const k = spec.methodB.responsesPerQuestion;
          parents.responses = sample(`method B · ${c.name}`, adapters, repeat(ctx.personas.flatMap((p) => ctx.questions.map((q) => ({ system: p.system, user: q }))), k), spec.methodB);
          settings.responsesPerQuestion = k;
        }
        plan.add({ id: ids.vectors(seed, c.name, method), producer: 'persona-vectors', model, parents, settings, cost: Math.max(1, Math.round((ctx.personas.length * ctx.questions.length) / 40)) });
      }
      const sampling = { maxNewTokens: spec.misalignment.maxNewTokens, temperature: spec.misalignment.temperature };
      const ood = sample(`misalignment · ${c.name}`, adapters, ctx.ood.flatMap((o) => o.questions.map((q) => ({ system: systemOf(o.persona), user: q }))), sampling);
      judge(ids.misalignment(seed, c.name), ood, misalignmentJudge);
      if (ctx.inDomain !== null) {
        const inDomain = ctx.inDomain;
        const prompts = (inDomain.personas[c.name] ?? []).flatMap((p) => inDomain.questions.map((q) => ({ system: systemOf(p), user: q })));
        judge(ids.inDomain(seed, c.name), sample(`in-domain · ${c.name}`, adapters, prompts, sampling), misalignmentJudge);
      }
    };
    const markerRates = (source: string, stage: string, adapters: string[]) => {
      const m = spec.marker;
      const s = sample(`markers · ${stage} (${source})`, adapters, repeat(ctx.personas.flatMap((p) => ctx.markerQuestions.map((q) => ({ system: p.system, user: q }))), m.samplesPerQuestion), m);
      markers.push({ seed, source, stage, judge: judge(`seed ${seed} · judge markers · ${stage} (${source})`, s, judgeSettings('contains', { text: MARKER })) });
    };

    const adapterOf = new Map<string, string>();
    for (const c of ctx.conditions) {
      let adapters: string[] = [];
      if (c.kind === 'benign') adapters = [fineTune('benign', 'benign.data', spec.benign.data, [], null)];
      if (c.kind === 'em') adapters = [fineTune(c.name, 'em.data', spec.em.data, [], systemOf(c.inductionPersona as string))];
      if (adapters[0] !== undefined) adapterOf.set(c.name, adapters[0]);
      measure(c, adapters);
    }
    for (const source of spec.marker.sources) {
      const markerData = `marker/${source}`;
      if (seed === spec.seeds[0]) markerRates(source, 'base', []);
      const couple = fineTune(`couple:${source}`, 'marker.sources', markerData, [], null);
      markerRates(source, 'coupled', [couple]);
      for (const stage of spec.marker.secondStage) {
        const [field, data] = stage === 'em' ? ['em.data', spec.em.data] : ['benign.data', spec.benign.data];
        const second = fineTune(`couple:${source}+${stage}`, field, data, [couple], null);
        markerRates(source, `coupled+${stage}`, [couple, second]);
        if (spec.marker.reversed) {
          const firstName = stage === 'em' ? 'em:assistant' : 'benign';
          const first = adapterOf.get(firstName) ?? fineTune(stage, field, data, [], null);
          adapterOf.set(firstName, first);
          const coupleAfter = fineTune(`${stage}+couple:${source}`, 'marker.sources', markerData, [first], null);
          markerRates(source, `${stage}+coupled`, [first, coupleAfter]);
        }
      }
    }
  }
  return { plan, context: { ...ctx, markers, misalignmentJudge: misalignmentJudgeText } };
}

/** Runs fn, prefixing an error with the spec field it concerns. */
async function withField<R>(field: string, fn: () => R | Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${field}: ${(e as Error).message}`);
  }
}
