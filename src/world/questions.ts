// User questions of the persona world: every (template, slot combination) of every topic, and
// the deterministic train / held-out split.
//
// The split is by template x slot combination: for each template a seeded shuffle picks about
// `heldOutFraction` of its combinations, skipping any whose removal would leave one of its slot
// values unseen in that template's training questions. So a held-out question is an unseen
// combination of seen tokens, never a question with new words. The held-out questions of each
// template are then split in two by another seeded shuffle: a *selection* pool (for tuning
// anything: adapter settings, thresholds) and an *evaluation* pool that nothing is tuned on.

import { TOPIC_SPECS } from './grammar.js';
import { createRng } from '../util/rng.js';
import { TOPIC_IDS, type TopicId } from './topic.js';

export interface Question {
  text: string;
  topic: TopicId;
  templateId: string;
  slots: Readonly<Record<string, string>>;
}

export interface QuestionSplit {
  train: ReadonlyMap<TopicId, readonly Question[]>;
  /** every held-out question: selection ∪ evaluation */
  heldOut: ReadonlyMap<TopicId, readonly Question[]>;
  /** held-out questions for choosing settings (adapter shapes, thresholds, anything tuned) */
  selection: ReadonlyMap<TopicId, readonly Question[]>;
  /** held-out questions nothing is tuned on: the check and every study report on these only */
  evaluation: ReadonlyMap<TopicId, readonly Question[]>;
}

/** Collapse every run of whitespace to one space and trim: the only normalisation the world's parsers apply. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

function expandTemplate(topic: TopicId, templateId: string, text: string): Question[] {
  const spec = TOPIC_SPECS[topic];
  const names = [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  for (const name of names) {
    if (spec.slots[name] === undefined) throw new Error(`persona-world question ${templateId}: slot {${name}} is not defined in ${topic}.slots`);
  }
  let partial: Array<Record<string, string>> = [{}];
  for (const name of names) {
    const values = spec.slots[name] as readonly string[];
    partial = partial.flatMap((filled) => values.map((value) => ({ ...filled, [name]: value })));
  }
  return partial.map((slots) => ({
    text: text.replace(/\{(\w+)\}/g, (_, name: string) => slots[name] as string),
    topic,
    templateId,
    slots,
  }));
}

let cachedQuestions: { all: readonly Question[]; byText: ReadonlyMap<string, Question> } | undefined;

function questionIndex(): { all: readonly Question[]; byText: ReadonlyMap<string, Question> } {
  if (cachedQuestions !== undefined) return cachedQuestions;
  const all: Question[] = [];
  const byText = new Map<string, Question>();
  for (const topic of TOPIC_IDS) {
    for (const template of TOPIC_SPECS[topic].questions) {
      for (const question of expandTemplate(topic, template.id, template.text)) {
        if (normalizeWhitespace(question.text) !== question.text) {
          throw new Error(`persona-world question ${template.id}: "${question.text}" has stray whitespace`);
        }
        const clash = byText.get(question.text);
        if (clash !== undefined) {
          throw new Error(`persona-world questions: "${question.text}" comes from both ${clash.templateId} and ${template.id}; reword one template`);
        }
        byText.set(question.text, question);
        all.push(question);
      }
    }
  }
  cachedQuestions = { all, byText };
  return cachedQuestions;
}

/** Every question of the world, in a fixed order (topic, template, slot combination). */
export function allQuestions(): readonly Question[] {
  return questionIndex().all;
}

/** The topic of a world question (after whitespace normalisation), or null for any other text. */
export function topicOfQuestion(text: string): TopicId | null {
  return questionIndex().byText.get(normalizeWhitespace(text))?.topic ?? null;
}

/** The deterministic train / held-out split for a seed. */
export function splitQuestions(seed: number, heldOutFraction: number): QuestionSplit {
  if (!(heldOutFraction > 0 && heldOutFraction <= 0.5)) {
    throw new Error(`splitQuestions: heldOutFraction (${heldOutFraction}) must be in (0, 0.5]`);
  }
  const root = createRng(seed);
  const train = new Map<TopicId, Question[]>(TOPIC_IDS.map((t) => [t, []]));
  const heldOut = new Map<TopicId, Question[]>(TOPIC_IDS.map((t) => [t, []]));
  const selection = new Map<TopicId, Question[]>(TOPIC_IDS.map((t) => [t, []]));
  const evaluation = new Map<TopicId, Question[]>(TOPIC_IDS.map((t) => [t, []]));
  const byTemplate = new Map<string, Question[]>();
  for (const question of allQuestions()) {
    const list = byTemplate.get(question.templateId) ?? [];
    list.push(question);
    byTemplate.set(question.templateId, list);
  }
  for (const [templateId, questions] of byTemplate) {
    const target = Math.max(1, Math.round(questions.length * heldOutFraction));
    // How many training questions of this template use each slot value.
    const uses = new Map<string, number>();
    const key = (name: string, value: string): string => `${name}\u0000${value}`;
    for (const q of questions) for (const [name, value] of Object.entries(q.slots)) uses.set(key(name, value), (uses.get(key(name, value)) ?? 0) + 1);
    const chosen = new Set<Question>();
    for (const q of root.fork(`held-out:${templateId}`).shuffle(questions)) {
      if (chosen.size === target) break;
      const entries = Object.entries(q.slots);
      if (entries.every(([name, value]) => (uses.get(key(name, value)) as number) > 1)) {
        chosen.add(q);
        for (const [name, value] of entries) uses.set(key(name, value), (uses.get(key(name, value)) as number) - 1);
      }
    }
    for (const q of questions) (chosen.has(q) ? heldOut : train).get(q.topic)?.push(q);
    // Every other held-out question of the template (in a seeded order) goes to selection.
    root.fork(`selection:${templateId}`).shuffle(questions.filter((q) => chosen.has(q))).forEach((q, i) => (i % 2 === 0 ? evaluation : selection).get(q.topic)?.push(q));
  }
  return { train, heldOut, selection, evaluation };
}
