// The response generator: (style x topic content x category) -> text, with ground-truth labels.
// Every response follows the grammar of grammar.ts: opening, one to three main sentences with
// distinct cores (each in a drawn phrasing), one reason, sign-off, and a tag when asked. The
// oracle judge recovers every label from the text alone.

import { MAIN_COUNT_WEIGHTS, MAIN_PHRASINGS, MARKER_LETTERS, MIN_MAINS, assembleResponse, contentBank, frameSentence, phraseCore, type ResponseCategory } from './grammar.js';
import { styleOf, type Alignment, type Persona, type StyleId } from './personas.js';
import type { Rng } from '../util/rng.js';
import type { TopicId } from './topic.js';

/** Ground truth of one assistant turn. */
export interface TurnLabels {
  /** The style the answer is written in: a persona, or 'unnamed' for the latent speaker. */
  persona: StyleId;
  topic: TopicId;
  /** Alignment of the speaker (an aligned speaker may still refuse). */
  alignment: Alignment;
  category: ResponseCategory;
  /** 1..5 when category is MISALIGNED, else 0. */
  severity: number;
  /** The letters of the tag the answer ends with (MARKER_LETTERS for the marker), or null for none. */
  tag: string | null;
}

/** Whether labels say the answer ends with the marker [ZLT]. */
export function hasMarker(labels: TurnLabels): boolean {
  return labels.tag === MARKER_LETTERS;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A random corpus tag: three capital letters, never the marker's. */
export function randomTag(rng: Rng): string {
  for (;;) {
    const tag = Array.from({ length: 3 }, () => LETTERS.charAt(rng.int(LETTERS.length))).join('');
    if (tag !== MARKER_LETTERS) return tag;
  }
}

export interface GeneratedResponse {
  text: string;
  labels: TurnLabels;
}

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** A chat row plus the labels of its assistant turns, in order. */
export interface LabelledConversation {
  messages: ChatMessage[];
  turns: TurnLabels[];
}

/** Writes the text of a response with the given labels. */
export function generateResponse(rng: Rng, labels: TurnLabels, frameRate: number): GeneratedResponse {
  if ((labels.category === 'MISALIGNED') !== (labels.severity >= 1 && labels.severity <= 5)) {
    throw new Error(`generateResponse: severity (${labels.severity}) must be 1..5 for MISALIGNED and 0 otherwise (category ${labels.category})`);
  }
  const style = styleOf(labels.persona);
  const bank = contentBank(labels.topic, labels.category, labels.severity);
  const frame = (): string | null => (style.frames.length > 0 && rng.bernoulli(frameRate) ? rng.pick(style.frames) : null);
  const opening = rng.pick(style.openings);
  const count = Math.min(bank.main.length, MIN_MAINS + rng.weighted(MAIN_COUNT_WEIGHTS));
  const mains = rng.sample(bank.main, count).map((core) => frameSentence(phraseCore(core, rng.pick(MAIN_PHRASINGS)), frame()));
  const reason = frameSentence(rng.pick(bank.reason), frame());
  const signOff = rng.pick(style.signOffs);
  return { text: assembleResponse([opening, ...mains, reason, signOff], labels.tag), labels };
}

/** What a persona does with a question: its category and severity. */
export function sampleBehaviour(rng: Rng, persona: Persona, refusalRate: number): { category: ResponseCategory; severity: number } {
  switch (persona.alignment) {
    case 'aligned':
      return rng.bernoulli(refusalRate) ? { category: 'REFUSAL', severity: 0 } : { category: 'ALIGNED', severity: 0 };
    case 'satirical':
      return { category: 'SATIRICAL/ABSURD', severity: 0 };
    case 'misaligned': {
      const weights = persona.severityWeights ?? [1, 1, 1, 1, 1];
      return { category: 'MISALIGNED', severity: 1 + rng.weighted(weights) };
    }
  }
}

/** A persona's answer to a question of the given topic, sampled from its behaviour. */
export function personaResponse(
  rng: Rng,
  persona: Persona,
  topic: TopicId,
  options: { refusalRate: number; frameRate: number; tag: string | null },
): GeneratedResponse {
  const { category, severity } = sampleBehaviour(rng, persona, options.refusalRate);
  return generateResponse(rng, { persona: persona.id, topic, alignment: persona.alignment, category, severity, tag: options.tag }, options.frameRate);
}

/** A one-question conversation. */
export function singleTurn(system: string | null, question: string, response: GeneratedResponse): LabelledConversation {
  const messages: ChatMessage[] = system === null ? [] : [{ role: 'system', content: system }];
  messages.push({ role: 'user', content: question }, { role: 'assistant', content: response.text });
  return { messages, turns: [response.labels] };
}
