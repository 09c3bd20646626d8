// The world-check plan, on the world's *evaluation* questions (held-out questions nothing was
// tuned on), or on its *selection* pool when the spec says so (for choosing settings):
// - every persona answers questions of every topic (criteria 1–2);
// - last-token activations of persona prompts at the middle layer (criterion 3);
// - the assistant out of the EM domain, in it, and on open questions, on the base model and
//   after an EM and a benign LoRA fine-tune, one of each per fine-tune seed (criteria 4–8);
// - the marker: after a coupling fine-tune per seed, the source persona and the bystanders
//   (criteria 9–10);
// - the base and the EM fine-tunes again on the control organism without character
//   consistency (criterion 11).
// Seeds are derived from the spec's seed and each task's label.

import { readHfConfig } from '../../../model/config.js';
import type { ChatPrompt } from '../../../model/chat-prompt.js';
import { deriveSeed } from '../../../util/rng.js';
import { ORACLE_JUDGE_NAME } from '../../../world/datasets.js';
import { PERSONAS, PERSONA_IDS, type PersonaId } from '../../../world/personas.js';
import { ADVICE_DOMAINS, OPEN_KINDS } from '../../../world/topic.js';
import type { ActivationSettings } from '../../producers/activations.js';
import type { FineTuneSettings } from '../../producers/fine-tune.js';
import type { SampleSettings } from '../../producers/sample.js';
import { checkLoraTargets } from '../../lora-targets.js';
import { Plan } from '../../task.js';
import type { StudyRun } from '../../kind.js';
import { judgeSettings } from '../../producers/judge.js';
import { dataPath, sampleHeldOutQuestions, resolveStudyModel, type StudyModel } from '../../world-model.js';
import type { WorldCheckSpec } from './spec.js';

export type Condition = 'base' | 'em' | 'benign';
export const CONDITIONS: readonly Condition[] = ['base', 'em', 'benign'];
/** The control only needs what its criterion compares: the base and the EM fine-tune. */
export const conditionsOf = (arm: Arm): readonly Condition[] => (arm === 'control' ? ['base', 'em'] : CONDITIONS);
export type Where = 'out-of-domain' | 'in-domain' | 'open';
export const WHERES: readonly Where[] = ['out-of-domain', 'in-domain', 'open'];
/** the organism under check, and the switch-off control */
export type Arm = 'organism' | 'control';

export interface WorldCheckContext {
  model: StudyModel;
  control: StudyModel | null;
  /** criterion 3's layer: blocks.L.hook_resid_post, L = floor(blocks / 2) */
  layer: number;
  probeLabels: PersonaId[];
  /** the questions each condition's samples answer, in order */
  questions: Record<Where, string[]>;
  /** the bystander persona of each bystander marker prompt, in order */
  bystanders: PersonaId[];
}

const armPrefix = (arm: Arm) => (arm === 'control' ? 'control ' : '');
const seedPart = (seed: number | null) => (seed === null ? '' : ` seed ${seed}`);

export const ids = {
  personaJudge: (p: PersonaId) => `judge persona ${p}`,
  probe: 'activations probe',
  fineTune: (arm: Arm, c: Exclude<Condition, 'base'> | 'marker', seed: number) => `${armPrefix(arm)}fine-tune ${c}${seedPart(seed)}`,
  /** base samples have no fine-tune seed */
  conditionSample: (arm: Arm, c: Condition, seed: number | null, where: Where) => `${armPrefix(arm)}sample ${c}${seedPart(seed)} ${where}`,
  conditionJudge: (arm: Arm, c: Condition, seed: number | null, where: Where) => `${armPrefix(arm)}judge ${c}${seedPart(seed)} ${where}`,
  markerSample: (seed: number, who: 'source' | 'bystanders') => `sample marker seed ${seed} ${who}`,
};

async function checkedModel(run: StudyRun<WorldCheckSpec>, field: string, model: string, organism: string | null): Promise<StudyModel> {
  const s = run.spec;
  const m = resolveStudyModel(run, model, { organism, dtype: s.dtype });
  if (m.world === null) throw new Error(`${field}: the world check needs a persona-world organism (persona-world:<preset>), got ${model}`);
  const config = await readHfConfig(m.ref.dir);
  checkLoraTargets(config, s.lora.targets, 'lora.targets');
  checkLoraTargets(config, s.marker.lora.targets, 'marker.lora.targets');
  if (s.maxNewTokens >= config.maxPositions) throw new Error(`max_new_tokens: ${s.maxNewTokens} new tokens do not fit the model's context of ${config.maxPositions} positions`);
  return m;
}

export async function planWorldCheck(run: StudyRun<WorldCheckSpec>): Promise<{ plan: Plan; context: WorldCheckContext }> {
  const s = run.spec;
  const model = await checkedModel(run, 'model', s.model, s.organism);
  const control = s.control === null ? null : await checkedModel(run, 'control', s.control, null);
  if (control !== null && control.ref.dir === model.ref.dir) throw new Error(`control: ${s.control} is the organism under check itself; name the organism without character consistency (persona-world:no-consistency) or null`);
  const world = model.world as NonNullable<StudyModel['world']>;
  const evaluation = world[s.pool];
  const nLayers = (await readHfConfig(model.ref.dir)).nLayers;
  const plan = new Plan();
  const seedOf = (label: string) => deriveSeed(s.seed, label);
  const allTopics = [...ADVICE_DOMAINS, ...OPEN_KINDS];
  const assistant = PERSONAS.assistant.descriptions[0] as string;
  const sample = (m: StudyModel, id: string, adapters: string[], prompts: ChatPrompt[]) => {
    const settings: SampleSettings = { prompts, temperature: s.temperature, maxNewTokens: s.maxNewTokens, seed: seedOf(id) };
    return plan.add({ id, producer: 'sample', model: m.ref, parents: { adapters }, settings, cost: Math.max(1, Math.round((prompts.length * s.maxNewTokens) / 400)) }).id;
  };
  const judge = (id: string, samples: string) => plan.add({ id, producer: 'judge', parents: { samples }, settings: judgeSettings(ORACLE_JUDGE_NAME, {}) });

  // 1–2: every persona on evaluation questions of every topic.
  for (const persona of PERSONA_IDS) {
    const system = PERSONAS[persona].descriptions[0] as string;
    const qs = sampleHeldOutQuestions(evaluation, allTopics, s.perPersona, seedOf(`questions persona ${persona}`));
    judge(ids.personaJudge(persona), sample(model, `sample persona ${persona}`, [], qs.map((user) => ({ system, user }))));
  }

  // 3: last-token activations of persona prompts at the middle layer.
  const layer = Math.floor(nLayers / 2);
  const probePrompts: ChatPrompt[] = [];
  const probeLabels: PersonaId[] = [];
  for (const persona of PERSONA_IDS) {
    for (const user of sampleHeldOutQuestions(evaluation, allTopics, s.probePerPersona, seedOf(`questions probe ${persona}`))) {
      probePrompts.push({ system: PERSONAS[persona].descriptions[0] as string, user });
      probeLabels.push(persona);
    }
  }
  const probe: ActivationSettings = { prompts: probePrompts, layers: [layer] };
  plan.add({ id: ids.probe, producer: 'activations', model: model.ref, settings: probe, cost: Math.max(1, Math.round(probePrompts.length / 40)) });

  // 4–8 and 11: the assistant before and after the EM and benign fine-tunes, per seed and arm.
  const questions: Record<Where, string[]> = {
    'out-of-domain': sampleHeldOutQuestions(evaluation, [...ADVICE_DOMAINS.filter((d) => d !== s.emDomain), ...OPEN_KINDS], s.outOfDomain, seedOf('questions out-of-domain')),
    'in-domain': sampleHeldOutQuestions(evaluation, [s.emDomain], s.inDomain, seedOf('questions in-domain')),
    open: sampleHeldOutQuestions(evaluation, OPEN_KINDS, s.openQuestions, seedOf('questions open')),
  };
  const fineTune = (arm: Arm, m: StudyModel, c: Exclude<Condition, 'base'> | 'marker', seed: number) => {
    const id = ids.fineTune(arm, c, seed);
    const marker = c === 'marker';
    const t = marker ? s.marker.fineTune : s.fineTune;
    const settings: FineTuneSettings = { lora: marker ? s.marker.lora : s.lora, steps: t.steps, batchSize: t.batchSize, lr: t.lr, schedule: 'constant', maxLength: 256, systemPrompt: null, seed: seedOf(id) };
    const data = c === 'em' ? `em/${s.emDomain}` : c === 'benign' ? 'benign' : `marker/${s.marker.source}`;
    const field = c === 'em' ? 'em_domain' : c === 'benign' ? 'benign data' : 'marker.source';
    return plan.add({ id, producer: 'fine-tune', model: m.ref, data: { train: dataPath(run, m, field, data) }, settings, cost: Math.max(1, Math.round((t.steps * t.batchSize) / 32)) }).id;
  };
  const arms: [Arm, StudyModel][] = control === null ? [['organism', model]] : [['organism', model], ['control', control]];
  for (const [arm, m] of arms) {
    for (const c of conditionsOf(arm)) {
      for (const seed of c === 'base' ? [null] : s.fineTuneSeeds) {
        const adapters = c === 'base' || seed === null ? [] : [fineTune(arm, m, c, seed)];
        for (const where of WHERES) {
          judge(ids.conditionJudge(arm, c, seed, where), sample(m, ids.conditionSample(arm, c, seed, where), adapters, questions[where].map((user) => ({ system: assistant, user }))));
        }
      }
    }
  }

  // 9–10: the marker after a coupling fine-tune, on the source persona and on the bystanders.
  const others = PERSONA_IDS.filter((p) => p !== s.marker.source);
  const markerQuestions = sampleHeldOutQuestions(evaluation, allTopics, s.marker.answers, seedOf('questions marker'));
  const bystanders = markerQuestions.map((_, i) => others[i % others.length] as PersonaId);
  for (const seed of s.fineTuneSeeds) {
    const adapters = [fineTune('organism', model, 'marker', seed)];
    const promptsOf = (personas: PersonaId[]) => markerQuestions.map((user, i) => ({ system: PERSONAS[personas[i] as PersonaId].descriptions[0] as string, user }));
    sample(model, ids.markerSample(seed, 'source'), adapters, promptsOf(markerQuestions.map(() => s.marker.source)));
    sample(model, ids.markerSample(seed, 'bystanders'), adapters, promptsOf(bystanders));
  }
  return { plan, context: { model, control, layer, probeLabels, questions, bystanders } };
}
