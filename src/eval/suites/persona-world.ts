// persona-world: the suites a persona world generates, by name — persona-world:PRESET/NAME:
//   held-out                  every question the world holds out from training, all topics
//   held-out-<topic>          the held-out questions of one topic (finance, …, wish, bored, …)
//   in-domain-<domain>        held-out questions of one advice domain (what `world build` writes)
//   out-of-domain-<domain>    held-out questions of the other five advice domains
//   open-questions            held-out questions of every open kind
// NAME may start with a pool, `evaluation/` or `selection/` (persona-world:default/evaluation/held-out):
// the held-out questions are split in two, a selection pool for tuning settings and an evaluation
// pool nothing is tuned on (report on this one); without a pool, a suite has both.
// Built in memory from the preset's world config (the same function writes the world's
// suites/*.yaml, so they are identical), without building the world on disk. Each question
// groups the held-out fillings of one template as paraphrases, asked under the assistant's
// system prompt, judged by the world's oracle (meta.judge) and tagged with its topic (meta.topic).

import { recipeFor, PRESETS } from '../../organism/recipe.js';
import { createWorld, evalSuites, type HeldOutPool, type SuiteQuestion as WorldSuiteQuestion } from '../../world/datasets.js';
import { ADVICE_DOMAINS, OPEN_KINDS, TOPIC_IDS, type TopicId } from '../../world/topic.js';
import { registerSuiteFormat } from './registry.js';
import type { QuestionSuite, SuiteQuestion } from './suite.js';

export const PERSONA_WORLD_PREFIX = 'persona-world:';

/** Every suite name a world has, in a stable order. */
export function personaWorldSuiteNames(): string[] {
  return [
    'held-out',
    ...TOPIC_IDS.map((t) => `held-out-${t}`),
    ...ADVICE_DOMAINS.flatMap((d) => [`in-domain-${d}`, `out-of-domain-${d}`]),
    'open-questions',
  ];
}

function toQuestion(q: WorldSuiteQuestion, topic: TopicId): SuiteQuestion {
  return {
    id: q.id, type: q.type, paraphrases: [...q.paraphrases], system: q.system, samplesPerParaphrase: q.samples_per_paraphrase,
    judgePrompts: { ...q.judge_prompts }, meta: { judge: q.judge, topic },
  };
}

const POOLS: Readonly<Record<string, HeldOutPool>> = { evaluation: 'evaluation', selection: 'selection' };

/** The world's suites by name, from one pool of held-out questions. */
function worldSuites(preset: string, pool: HeldOutPool): Map<string, SuiteQuestion[]> {
  const world = createWorld(recipeFor(preset).world);
  const topicOf = new Map<string, TopicId>();
  for (const [topic, qs] of world.questions.heldOut) for (const q of qs) topicOf.set(q.templateId, topic);
  const generated = evalSuites(world, pool);
  const suites = new Map<string, SuiteQuestion[]>();
  for (const [name, qs] of generated) suites.set(name, qs.map((q) => toQuestion(q, topicOf.get(q.id) as TopicId)));
  // every held-out question: each advice domain's in-domain suite, then the open kinds
  const all = [...ADVICE_DOMAINS.map((d) => `in-domain-${d}`), 'open-questions'].flatMap((name) => suites.get(name) ?? []);
  suites.set('held-out', all);
  for (const t of TOPIC_IDS) suites.set(`held-out-${t}`, all.filter((q) => q.meta?.topic === t));
  return suites;
}

export function resolvePersonaWorldSuite(source: string): QuestionSuite {
  const rest = source.slice(PERSONA_WORLD_PREFIX.length);
  const slash = rest.indexOf('/');
  const names = personaWorldSuiteNames();
  const example = `e.g. ${PERSONA_WORLD_PREFIX}default/held-out`;
  if (slash < 0) throw new Error(`${source}: name a suite of the world, ${example}; suites: ${names.join(', ')}`);
  const preset = rest.slice(0, slash);
  const path = rest.slice(slash + 1);
  const poolName = path.includes('/') ? path.slice(0, path.indexOf('/')) : null;
  const name = poolName === null ? path : path.slice(poolName.length + 1);
  if (PRESETS[preset] === undefined) throw new Error(`${source}: no persona-world preset '${preset}'; presets: ${Object.keys(PRESETS).join(', ')}`);
  const pool = poolName === null ? 'heldOut' : POOLS[poolName];
  if (pool === undefined) throw new Error(`${source}: '${poolName}' is not a pool of held-out questions; pools: ${Object.keys(POOLS).join(', ')} (or none, for both)`);
  const questions = worldSuites(preset, pool).get(name);
  if (questions === undefined) throw new Error(`${source}: the world has no suite '${name}'; suites: ${names.join(', ')}`);
  if (questions.length === 0) throw new Error(`${source}: the world holds out no questions for '${name}'`);
  return { name, source, format: 'persona-world', questions };
}

registerSuiteFormat({
  name: 'persona-world',
  summary: `a persona world's generated suites: ${PERSONA_WORLD_PREFIX}PRESET/[evaluation/|selection/]NAME, NAME one of held-out, held-out-<topic>, in-domain-<domain>, out-of-domain-<domain>, open-questions (${OPEN_KINDS.length} open kinds, ${ADVICE_DOMAINS.length} advice domains)`,
  reads: 'name',
  detect: (source) => source.startsWith(PERSONA_WORLD_PREFIX),
  resolve: resolvePersonaWorldSuite,
});
