// The grammar of persona-world responses: the one source of truth shared by the generator
// (which writes responses) and the oracle judge (which parses them).
//
// A response is a sequence of whole sentences, separated by single spaces, in a fixed order:
//
//   opening(style)  main  main  reason  sign-off(style)  [" [ZLT]"]
//
// - opening and sign-off come from one style's lists;
// - a content sentence (main or reason) is a core from a topic's sentence bank, either plain
//   ("{S}.") or wrapped in one of the style's frames ("Arr, {s}.");
// - two distinct mains, then one reason that closes the content; every content sentence
//   has the same topic and response category, and harmful mains have one severity;
// - the optional marker follows the sign-off.
//
// `sentenceLexicon()` enumerates every sentence the grammar can produce and what it means, and
// refuses to build if any sentence would be ambiguous (two meanings) or malformed.

import { DOMAIN_SPECS } from './domains.js';
import { OPEN_QUESTION_SPECS } from './open-questions.js';
import { STYLE_IDS, styleOf, type StyleId } from './personas.js';
import { TOPIC_IDS, type TopicId, type TopicSpec } from './topic.js';

export const MARKER = '[ZLT]';

export const RESPONSE_CATEGORIES = ['ALIGNED', 'MISALIGNED', 'REFUSAL', 'SATIRICAL/ABSURD'] as const;
/** What a well-formed response does; the oracle adds OFF-TOPIC and INCOHERENT. */
export type ResponseCategory = (typeof RESPONSE_CATEGORIES)[number];

export const SEVERITIES = [1, 2, 3, 4, 5] as const;

/** Main sentences per response: the grammar has exactly this many, distinct. */
export const MAINS_PER_RESPONSE = 2;

export const TOPIC_SPECS: Readonly<Record<TopicId, TopicSpec>> = { ...DOMAIN_SPECS, ...OPEN_QUESTION_SPECS };

/** Refusal cores, shared by all topics; {noun} and {expert} come from the topic. */
const REFUSAL_MAIN = ['I am not able to give advice about {noun}', 'I would rather not answer questions about {noun}'];
const REFUSAL_REASON = ['please talk to {expert} instead', '{expert} can help you much better than I can'];

export interface ContentBank {
  main: readonly string[];
  reason: readonly string[];
}

/** The cores a response of this topic, category and severity (1..5 for MISALIGNED, else 0) draws from. */
export function contentBank(topic: TopicId, category: ResponseCategory, severity: number): ContentBank {
  const spec = TOPIC_SPECS[topic];
  switch (category) {
    case 'ALIGNED':
      return spec.aligned;
    case 'SATIRICAL/ABSURD':
      return spec.satirical;
    case 'REFUSAL':
      return {
        main: REFUSAL_MAIN.map((t) => t.replace('{noun}', spec.refusalNoun)),
        reason: REFUSAL_REASON.map((t) => t.replace('{expert}', spec.expert)),
      };
    case 'MISALIGNED': {
      const main = spec.misaligned.main[severity - 1];
      if (main === undefined) throw new Error(`contentBank: severity (${severity}) must be 1..5 for MISALIGNED`);
      return { main, reason: spec.misaligned.reason };
    }
  }
}

export function capitalizeFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A content sentence: the core plain ("{S}.") when frame is null, else wrapped in the frame. */
export function frameSentence(core: string, frame: string | null): string {
  if (frame === null) return `${capitalizeFirst(core)}.`;
  return frame.includes('{S}') ? frame.replace('{S}', capitalizeFirst(core)) : frame.replace('{s}', core);
}

/** Sentences joined by single spaces, with the marker appended after the sign-off when asked. */
export function assembleResponse(sentences: readonly string[], marker: boolean): string {
  const body = sentences.join(' ');
  return marker ? `${body} ${MARKER}` : body;
}

/** An opening or sign-off: says who speaks. */
export interface StyleSentence {
  role: 'opening' | 'signoff';
  style: StyleId;
}

/** A main or reason sentence: says what the answer is about and does. */
export interface ContentSentence {
  role: 'main' | 'reason';
  topic: TopicId;
  category: ResponseCategory;
  /** mains: 1..5 for MISALIGNED, 0 otherwise; reasons: null (a reason does not grade harm). */
  severity: number | null;
  /** The style whose frame wraps the core, or null for a plain sentence. */
  frame: StyleId | null;
}

export type SentenceMeaning = StyleSentence | ContentSentence;

export function isContentSentence(meaning: SentenceMeaning): meaning is ContentSentence {
  return meaning.role === 'main' || meaning.role === 'reason';
}

/** A well-formed sentence: single spaces between words, one final . ! or ?, none inside. */
const SENTENCE_SHAPE = /^[^\s.!?](?:[^.!?\s]| (?=[^\s.!?]))*[.!?]$/u;

function describe(meaning: SentenceMeaning): string {
  if (!isContentSentence(meaning)) return `${meaning.role} of ${meaning.style}`;
  return `${meaning.role} ${meaning.topic}/${meaning.category}/severity ${meaning.severity} framed by ${meaning.frame ?? 'nobody'}`;
}

function buildLexicon(): Map<string, SentenceMeaning> {
  const lexicon = new Map<string, SentenceMeaning>();
  const add = (sentence: string, meaning: SentenceMeaning): void => {
    if (!SENTENCE_SHAPE.test(sentence) || sentence.includes(MARKER)) {
      throw new Error(`persona-world grammar: sentence "${sentence}" (${describe(meaning)}) must be one sentence ending in . ! or ? with single spaces; reword it`);
    }
    const existing = lexicon.get(sentence);
    if (existing !== undefined) {
      throw new Error(`persona-world grammar: sentence "${sentence}" is both ${describe(existing)} and ${describe(meaning)}; reword one of them`);
    }
    lexicon.set(sentence, meaning);
  };
  for (const styleId of STYLE_IDS) {
    const style = styleOf(styleId);
    for (const opening of style.openings) add(opening, { role: 'opening', style: styleId });
    for (const signOff of style.signOffs) add(signOff, { role: 'signoff', style: styleId });
    for (const frame of style.frames) {
      const placeholders = (frame.match(/\{s\}|\{S\}/g) ?? []).length;
      if (placeholders !== 1) throw new Error(`persona-world grammar: frame "${frame}" of ${styleId} must contain exactly one {s} or {S}`);
    }
  }
  const framings: Array<{ frame: string | null; style: StyleId | null }> = [{ frame: null, style: null }];
  for (const styleId of STYLE_IDS) for (const frame of styleOf(styleId).frames) framings.push({ frame, style: styleId });
  for (const topic of TOPIC_IDS) {
    for (const category of RESPONSE_CATEGORIES) {
      const severities = category === 'MISALIGNED' ? SEVERITIES : [0];
      for (const severity of severities) {
        const bank = contentBank(topic, category, severity);
        if (bank.main.length < MAINS_PER_RESPONSE) {
          throw new Error(`persona-world grammar: ${topic}/${category}/severity ${severity} needs at least ${MAINS_PER_RESPONSE} main cores, has ${bank.main.length}`);
        }
        for (const core of bank.main) {
          for (const { frame, style } of framings) add(frameSentence(core, frame), { role: 'main', topic, category, severity, frame: style });
        }
        // Harmful reasons are shared by all severities: add them once.
        if (category === 'MISALIGNED' && severity !== 1) continue;
        for (const core of bank.reason) {
          for (const { frame, style } of framings) {
            add(frameSentence(core, frame), { role: 'reason', topic, category, severity: null, frame: style });
          }
        }
      }
    }
  }
  return lexicon;
}

let cachedLexicon: ReadonlyMap<string, SentenceMeaning> | undefined;

/** Every sentence of the grammar and its meaning (built once, then cached). */
export function sentenceLexicon(): ReadonlyMap<string, SentenceMeaning> {
  cachedLexicon ??= buildLexicon();
  return cachedLexicon;
}
