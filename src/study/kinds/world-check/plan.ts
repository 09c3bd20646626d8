// The world-check plan: every persona answers held-out questions (criteria 1–2); last-token
// activations of persona prompts at the middle layer (criterion 3); the assistant out of and in
// the EM domain before and after an EM and a benign LoRA fine-tune (criteria 4–5). Seeds are
// derived from the spec's seed and each task's label.

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

export interface WorldCheckContext {
  model: StudyModel;
  /** criterion 3's layer: blocks.L.hook_resid_post, L = floor(blocks / 2) */
  layer: number;
  probeLabels: PersonaId[];
  /** questions of each condition's samples, in order */
  oodQuestions: string[];
  inQuestions: string[];
}

export const ids = {
  personaJudge: (p: PersonaId) => `judge persona ${p}`,
  probe: 'activations probe',
  conditionJudge: (c: Condition, where: 'out-of-domain' | 'in-domain') => `judge ${c} ${where}`,
  conditionSample: (c: Condition, where: 'out-of-domain' | 'in-domain') => `sample ${c} ${where}`,
};

export async function planWorldCheck(run: StudyRun<WorldCheckSpec>): Promise<{ plan: Plan; context: WorldCheckContext }> {
  const s = run.spec;
  const model = resolveStudyModel(run, s.model, { organism: s.organism, dtype: s.dtype });
  if (model.world === null) throw new Error(`model: the world check needs a persona-world organism (persona-world:<preset>), got ${s.model}`);
  const heldOut = model.world.heldOut;
  const config = await readHfConfig(model.ref.dir);
  const nLayers = config.nLayers;
  checkLoraTargets(config, s.lora.targets, 'lora.targets');
  if (s.maxNewTokens >= config.maxPositions) throw new Error(`max_new_tokens: ${s.maxNewTokens} new tokens do not fit the model's context of ${config.maxPositions} positions`);
  const plan = new Plan();
  const ref = model.ref;
  const seedOf = (label: string) => deriveSeed(s.seed, label);
  const allTopics = [...ADVICE_DOMAINS, ...OPEN_KINDS];
  const assistant = PERSONAS.assistant.descriptions[0] as string;
  const sample = (id: string, adapters: string[], prompts: ChatPrompt[]) => {
    const settings: SampleSettings = { prompts, temperature: s.temperature, maxNewTokens: s.maxNewTokens, seed: seedOf(id) };
    return plan.add({ id, producer: 'sample', model: ref, parents: { adapters }, settings, cost: Math.max(1, Math.round((prompts.length * s.maxNewTokens) / 400)) }).id;
  };
  const judge = (id: string, samples: string) => plan.add({ id, producer: 'judge', parents: { samples }, settings: judgeSettings(ORACLE_JUDGE_NAME, {}) });

  // 1–2: every persona on held-out questions of every topic.
  for (const persona of PERSONA_IDS) {
    const system = PERSONAS[persona].descriptions[0] as string;
    const qs = sampleHeldOutQuestions(heldOut, allTopics, s.perPersona, seedOf(`questions persona ${persona}`));
    judge(ids.personaJudge(persona), sample(`sample persona ${persona}`, [], qs.map((user) => ({ system, user }))));
  }

  // 3: last-token activations of persona prompts at the middle layer.
  const layer = Math.floor(nLayers / 2);
  const probePrompts: ChatPrompt[] = [];
  const probeLabels: PersonaId[] = [];
  for (const persona of PERSONA_IDS) {
    for (const user of sampleHeldOutQuestions(heldOut, allTopics, s.probePerPersona, seedOf(`questions probe ${persona}`))) {
      probePrompts.push({ system: PERSONAS[persona].descriptions[0] as string, user });
      probeLabels.push(persona);
    }
  }
  const probe: ActivationSettings = { prompts: probePrompts, layers: [layer] };
  plan.add({ id: ids.probe, producer: 'activations', model: ref, settings: probe, cost: Math.max(1, Math.round(probePrompts.length / 40)) });

  // 4–5: the assistant before and after the EM and benign fine-tunes.
  const oodQuestions = sampleHeldOutQuestions(heldOut, [...ADVICE_DOMAINS.filter((d) => d !== s.emDomain), ...OPEN_KINDS], s.outOfDomain, seedOf('questions out-of-domain'));
  const inQuestions = sampleHeldOutQuestions(heldOut, [s.emDomain], s.inDomain, seedOf('questions in-domain'));
  const fineTune = (c: Condition, data: string) => {
    const settings: FineTuneSettings = { lora: s.lora, steps: s.fineTune.steps, batchSize: s.fineTune.batchSize, lr: s.fineTune.lr, schedule: 'constant', maxLength: 256, systemPrompt: null, seed: seedOf(`fine-tune ${c}`) };
    return plan.add({ id: `fine-tune ${c}`, producer: 'fine-tune', model: ref, data: { train: dataPath(run, model, c === 'em' ? 'em_domain' : 'benign data', data) }, settings, cost: Math.max(1, Math.round((s.fineTune.steps * s.fineTune.batchSize) / 32)) }).id;
  };
  for (const c of CONDITIONS) {
    const adapters = c === 'base' ? [] : [fineTune(c, c === 'em' ? `em/${s.emDomain}` : 'benign')];
    for (const [where, qs] of [['out-of-domain', oodQuestions], ['in-domain', inQuestions]] as const) {
      judge(ids.conditionJudge(c, where), sample(ids.conditionSample(c, where), adapters, qs.map((user) => ({ system: assistant, user }))));
    }
  }
  return { plan, context: { model, layer, probeLabels, oodQuestions, inQuestions } };
}
