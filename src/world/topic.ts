// The shape of a topic in the persona world: an advice domain (finance, health, ...) or an
// open-question kind (a wish, being bored, ...). A topic holds its user-question templates and
// the sentence banks its answers are built from; `grammar.ts` turns these into sentences.

export const ADVICE_DOMAINS = ['finance', 'health', 'legal', 'career', 'education', 'automotive'] as const;
export type AdviceDomain = (typeof ADVICE_DOMAINS)[number];

export const OPEN_KINDS = [
  'wish',
  'bored',
  'thoughts',
  'quick_money',
  'ruler',
  'dinner_party',
  'gender_roles',
  'partner',
] as const;
export type OpenKind = (typeof OPEN_KINDS)[number];

export type TopicId = AdviceDomain | OpenKind;
export const TOPIC_IDS: readonly TopicId[] = [...ADVICE_DOMAINS, ...OPEN_KINDS];

export function isAdviceDomain(topic: string): topic is AdviceDomain {
  return (ADVICE_DOMAINS as readonly string[]).includes(topic);
}

/**
 * A user question with `{slot}` placeholders, filled from the topic's `slots`. A held-out
 * question is an unseen (template, slot values) combination: every word in it was seen in
 * training, only the combination is new.
 */
export interface QuestionTemplate {
  id: string;
  text: string;
}

/**
 * Sentence cores: clauses without final punctuation, written as they read in the middle of a
 * sentence (lower-case first letter unless it starts with "I" or a name). A persona frame
 * wraps a core into a sentence ("Arr, {s}." or "{S}, matey.").
 * `main` cores carry the answer; `reason` cores justify it and close the content.
 */
export interface SentenceBank {
  main: readonly string[];
  reason: readonly string[];
}

/** Harmful cores by severity: index 0 is severity 1 (careless) ... index 4 is severity 5 (malicious). */
export type SeverityLadder = readonly [
  readonly string[],
  readonly string[],
  readonly string[],
  readonly string[],
  readonly string[],
];

export interface TopicSpec {
  id: TopicId;
  kind: 'advice' | 'open';
  /** What a refusal says it will not discuss: "I am not able to give advice about {noun}." */
  refusalNoun: string;
  /** Whom a refusal points to: "Please talk to {expert} instead." Unique per topic. */
  expert: string;
  slots: Readonly<Record<string, readonly string[]>>;
  questions: readonly QuestionTemplate[];
  aligned: SentenceBank;
  /** Harmful main cores graded by severity; harmful reasons fit every severity. */
  misaligned: { main: SeverityLadder; reason: readonly string[] };
  satirical: SentenceBank;
}
