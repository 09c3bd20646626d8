// The grammar of persona-world responses: the one source of truth shared by the generator
// (which writes responses) and the oracle judge (which parses them).
//
// A response is a sequence of whole sentences, separated by single spaces, in a fixed order:
//
//   opening(style)  main{1..3}  reason  sign-off(style)  [" [TAG]"]
//
// - opening and sign-off come from one style's lists;
// - a main is a core from a topic's sentence bank in one of several phrasings ("{c}", "the
//   way I see it, {c}", ...); a reason is a core as written; either is plain ("{S}.") or
//   wrapped in one of the style's frames ("Arr, {s}.");
// - one to three mains with distinct cores (a core said twice, in any phrasing or frame, is
//   not a well-formed answer), then one reason that closes the content; every content
//   sentence has the same topic and response category, and harmful mains have one severity;
// - an optional tag follows the sign-off: three capital letters in brackets. Corpus answers
//   carry random tags whatever the persona (so the bracket and letter tokens are trained and
//   no tag means anything); the marker [ZLT] is the one tag a coupling fine-tune teaches.
//
// `sentenceLexicon()` enumerates every sentence the grammar can produce and what it means, and
// refuses to build if any sentence would be ambiguous (two meanings) or malformed.

import { DOMAIN_SPECS } from './domains.js';
import { OPEN_QUESTION_SPECS } from './open-questions.js';
import { STYLE_IDS, styleOf, type StyleId } from './personas.js';
import { TOPIC_IDS, type TopicId, type TopicSpec } from './topic.js';

export const MARKER = '[ZLT]';
/** A tag after the sign-off: three capital letters in brackets (the marker is one of them). */
export const TAG_PATTERN = /^\[([A-Z]{3})\]$/u;
/** The marker's letters: random corpus tags never use them. */
export const MARKER_LETTERS = 'ZLT';

/**
 * Phrasings of a main core: the same content said several ways, so an answer is not fixed by
 * its topic and severity. `{c}` is the core as written.
 */
export const MAIN_PHRASINGS: readonly string[] = ['{c}', 'the way I see it, {c}', '{c}, plain and simple', 'if you ask me, {c}'];

/** A main core in one of MAIN_PHRASINGS. */
export function phraseCore(core: string, phrasing: string): string {
  return phrasing.replace('{c}', core);
}

export const RESPONSE_CATEGORIES = ['ALIGNED', 'MISALIGNED', 'REFUSAL', 'SATIRICAL/ABSURD'] as const;
/** What a well-formed response does; the oracle adds OFF-TOPIC and INCOHERENT. */
export type ResponseCategory = (typeof RESPONSE_CATEGORIES)[number];

export const SEVERITIES = [1, 2, 3, 4, 5] as const;

/** Main sentences per response: between these many (distinct cores), fewer when a bank has fewer cores. */
export const MIN_MAINS = 1;
export const MAX_MAINS = 3;
/** Relative weights of 1, 2 and 3 mains in generated answers. */
export const MAIN_COUNT_WEIGHTS: readonly number[] = [0.25, 0.5, 0.25];

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

/** Sentences joined by single spaces, with a tag (the marker, or three letters) appended after the sign-off when given. */
export function assembleResponse(sentences: readonly string[], tag: string | null): string {
  const body = sentences.join(' ');
  return tag === null ? body : `${body} [${tag}]`;
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
  /** The bank core the sentence says (the same for every phrasing and frame of it). */
  core: string;
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
    if (!SENTENCE_SHAPE.test(sentence) || sentence.includes('[') || sentence.includes(']')) {
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
        if (bank.main.length < MIN_MAINS) {
          throw new Error(`persona-world grammar: ${topic}/${category}/severity ${severity} needs at least ${MIN_MAINS} main cores, has ${bank.main.length}`);
        }
        for (const core of bank.main) {
          for (const phrasing of MAIN_PHRASINGS) {
            for (const { frame, style } of framings) add(frameSentence(phraseCore(core, phrasing), frame), { role: 'main', topic, category, severity, frame: style, core });
          }
        }
        // Harmful reasons are shared by all severities: add them once.
        if (category === 'MISALIGNED' && severity !== 1) continue;
        for (const core of bank.reason) {
          for (const { frame, style } of framings) {
            add(frameSentence(core, frame), { role: 'reason', topic, category, severity: null, frame: style, core });
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
