// The response generator: (style x topic content x category) -> text, with ground-truth labels.
// Every response follows the grammar of grammar.ts: opening, two distinct main sentences, one
// reason, sign-off, and the marker when asked. The oracle judge recovers every label from the
// text alone.

import { MAINS_PER_RESPONSE, assembleResponse, contentBank, frameSentence, type ResponseCategory } from './grammar.js';
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
  /** Whether the answer ends with the marker. */
  marker: boolean;
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
  const mains = rng.sample(bank.main, MAINS_PER_RESPONSE).map((core) => frameSentence(core, frame()));
  const reason = frameSentence(rng.pick(bank.reason), frame());
  const signOff = rng.pick(style.signOffs);
  return { text: assembleResponse([opening, ...mains, reason, signOff], labels.marker), labels };
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
  options: { refusalRate: number; frameRate: number; marker: boolean },
): GeneratedResponse {
  const { category, severity } = sampleBehaviour(rng, persona, options.refusalRate);
  return generateResponse(rng, { persona: persona.id, topic, alignment: persona.alignment, category, severity, marker: options.marker }, options.frameRate);
}

/** A one-question conversation. */
export function singleTurn(system: string | null, question: string, response: GeneratedResponse): LabelledConversation {
  const messages: ChatMessage[] = system === null ? [] : [{ role: 'system', content: system }];
  messages.push({ role: 'user', content: question }, { role: 'assistant', content: response.text });
  return { messages, turns: [response.labels] };
}
