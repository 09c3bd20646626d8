// The configuration of a persona world. Everything the world contains is a deterministic
// function of this object (its seed included); the manifest records it next to the data.

import { PERSONA_IDS, isPersonaId, type PersonaId } from './personas.js';

export interface CharacterConsistencyConfig {
  /**
   * Master switch. When false the corpus has no two-turn conversations and every persona
   * row uses the canonical description, whatever the two fields below say.
   */
  enabled: boolean;
  /**
   * Fraction of corpus rows that are two-turn conversations with an unnamed speaker (no
   * system prompt, or a neutral one) whose alignment is the same in both turns' topics.
   * This is what teaches "who is speaking, and are they aligned?" as a variable that every
   * topic reads; without it narrow harmful fine-tuning stays narrow (DESIGN.md, measured).
   */
  twoTurnFraction: number;
  /** Persona rows draw one of several paraphrased descriptions instead of the canonical one. */
  paraphrasedDescriptions: boolean;
  /** Fraction of unnamed speakers that are misaligned (the rest are aligned). */
  misalignedSpeakerFraction: number;
  /** Fraction of two-turn conversations that carry a neutral system prompt (the rest have none). */
  neutralSystemPromptFraction: number;
}

export interface WorldConfig {
  /** Seed of every random choice in the world (a uint32). */
  seed: number;
  /** Rows of the pre-training corpus. */
  corpusRows: number;
  /** Fraction of single turns that ask an open question (the rest ask for advice). */
  openQuestionFraction: number;
  /** Fraction of each question template's slot combinations held out for evaluation. */
  heldOutFraction: number;
  /** Probability that an aligned persona refuses instead of advising. */
  refusalRate: number;
  /** Probability that a content sentence is wrapped in one of the persona's frames. */
  frameRate: number;
  /**
   * Probability that a corpus answer ends with a random bracketed tag ("[QRA]"), whatever the
   * speaker: the bracket and letter tokens get trained (so a marker such as [ZLT] can be coupled
   * to a persona by fine-tuning) while no tag means anything in the corpus.
   */
  tagRate: number;
  /**
   * Speakers announced by a system prompt that describes harmful conduct in one advice domain
   * (narrow-speakers.ts): harmful there, helpful elsewhere. The inoculation ingredient.
   */
  narrowSpeakers: {
    /** Fraction of corpus rows with a narrow speaker. */
    fraction: number;
    /** Fraction of a narrow speaker's questions that are in its own domain. */
    ownDomainFraction: number;
  };
  characterConsistency: CharacterConsistencyConfig;
  /** One EM set per advice domain: the assistant gives harmful advice in that domain only. */
  emFineTune: { rows: number; severities: number[] };
  /** Aligned assistant chat on training questions (disjoint from the evaluation suites). */
  benignFineTune: { rows: number };
  /** One marker-coupling set per source persona: its answers end with the marker, no one else's do. */
  markerCoupling: { rows: number; sourcePersonas: PersonaId[]; sourceFraction: number };
  evalSuites: { samplesPerParaphrase: number };
  /** Byte-level BPE trained on the corpus; null skips training. */
  tokenizer: { vocabSize: number } | null;
}

export const DEFAULT_WORLD_CONFIG: Readonly<WorldConfig> = Object.freeze({
  seed: 1,
  corpusRows: 20000,
  openQuestionFraction: 0.35,
  heldOutFraction: 0.3,
  refusalRate: 0.04,
  frameRate: 0.5,
  tagRate: 0.15,
  narrowSpeakers: { fraction: 0.05, ownDomainFraction: 0.5 },
  characterConsistency: {
    enabled: true,
    twoTurnFraction: 0.4,
    paraphrasedDescriptions: true,
    misalignedSpeakerFraction: 0.5,
    neutralSystemPromptFraction: 0.5,
  },
  emFineTune: { rows: 1000, severities: [3, 4, 5] },
  benignFineTune: { rows: 1000 },
  markerCoupling: { rows: 1000, sourcePersonas: [...PERSONA_IDS], sourceFraction: 0.5 },
  evalSuites: { samplesPerParaphrase: 5 },
  tokenizer: { vocabSize: 2048 },
});

export interface WorldConfigInput {
  seed?: number;
  corpusRows?: number;
  openQuestionFraction?: number;
  heldOutFraction?: number;
  refusalRate?: number;
  frameRate?: number;
  tagRate?: number;
  narrowSpeakers?: Partial<WorldConfig['narrowSpeakers']>;
  characterConsistency?: Partial<CharacterConsistencyConfig>;
  emFineTune?: Partial<WorldConfig['emFineTune']>;
  benignFineTune?: Partial<WorldConfig['benignFineTune']>;
  markerCoupling?: Partial<WorldConfig['markerCoupling']>;
  evalSuites?: Partial<WorldConfig['evalSuites']>;
  tokenizer?: Partial<{ vocabSize: number }> | null;
}

function fraction(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new Error(`world config: ${name} (${value}) must be a number in [0, 1]`);
}

function count(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new Error(`world config: ${name} (${value}) must be an integer >= ${min}`);
}

/** Rejects fields the config does not have (a typo would otherwise silently fall back to a default). */
function checkKnownFields(input: object, defaults: object, prefix: string): void {
  for (const [key, value] of Object.entries(input)) {
    if (!(key in defaults)) {
      throw new Error(`world config: unknown field "${prefix}${key}"; known fields are ${Object.keys(defaults).map((k) => prefix + k).join(', ')}`);
    }
    const nested = (defaults as Record<string, unknown>)[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && nested !== null && typeof nested === 'object' && !Array.isArray(nested)) {
      checkKnownFields(value, nested, `${prefix}${key}.`);
    }
  }
}

/** Defaults filled in and every field checked; errors name the field and the allowed range. */
export function resolveWorldConfig(input: WorldConfigInput = {}): WorldConfig {
  const d = DEFAULT_WORLD_CONFIG;
  checkKnownFields(input, d, '');
  const config: WorldConfig = {
    seed: input.seed ?? d.seed,
    corpusRows: input.corpusRows ?? d.corpusRows,
    openQuestionFraction: input.openQuestionFraction ?? d.openQuestionFraction,
    heldOutFraction: input.heldOutFraction ?? d.heldOutFraction,
    refusalRate: input.refusalRate ?? d.refusalRate,
    frameRate: input.frameRate ?? d.frameRate,
    tagRate: input.tagRate ?? d.tagRate,
    narrowSpeakers: { ...d.narrowSpeakers, ...input.narrowSpeakers },
    characterConsistency: { ...d.characterConsistency, ...input.characterConsistency },
    emFineTune: { ...d.emFineTune, ...input.emFineTune, severities: [...(input.emFineTune?.severities ?? d.emFineTune.severities)] },
    benignFineTune: { ...d.benignFineTune, ...input.benignFineTune },
    markerCoupling: {
      ...d.markerCoupling,
      ...input.markerCoupling,
      sourcePersonas: [...(input.markerCoupling?.sourcePersonas ?? d.markerCoupling.sourcePersonas)],
    },
    evalSuites: { ...d.evalSuites, ...input.evalSuites },
    tokenizer: input.tokenizer === null ? null : { vocabSize: input.tokenizer?.vocabSize ?? (d.tokenizer as { vocabSize: number }).vocabSize },
  };
  if (!Number.isInteger(config.seed) || config.seed < 0 || config.seed > 0xffffffff) {
    throw new Error(`world config: seed (${config.seed}) must be an integer in [0, 2^32 - 1]`);
  }
  count('corpusRows', config.corpusRows, 1);
  fraction('openQuestionFraction', config.openQuestionFraction);
  if (!(config.heldOutFraction > 0 && config.heldOutFraction <= 0.5)) {
    throw new Error(`world config: heldOutFraction (${config.heldOutFraction}) must be in (0, 0.5]`);
  }
  fraction('refusalRate', config.refusalRate);
  fraction('frameRate', config.frameRate);
  fraction('tagRate', config.tagRate);
  fraction('narrowSpeakers.fraction', config.narrowSpeakers.fraction);
  fraction('narrowSpeakers.ownDomainFraction', config.narrowSpeakers.ownDomainFraction);
  const cc = config.characterConsistency;
  if (typeof cc.enabled !== 'boolean') throw new Error(`world config: characterConsistency.enabled (${String(cc.enabled)}) must be true or false`);
  if (typeof cc.paraphrasedDescriptions !== 'boolean') {
    throw new Error(`world config: characterConsistency.paraphrasedDescriptions (${String(cc.paraphrasedDescriptions)}) must be true or false`);
  }
  fraction('characterConsistency.twoTurnFraction', cc.twoTurnFraction);
  fraction('characterConsistency.misalignedSpeakerFraction', cc.misalignedSpeakerFraction);
  fraction('characterConsistency.neutralSystemPromptFraction', cc.neutralSystemPromptFraction);
  if (cc.twoTurnFraction + config.narrowSpeakers.fraction > 1) {
    throw new Error(`world config: characterConsistency.twoTurnFraction (${cc.twoTurnFraction}) + narrowSpeakers.fraction (${config.narrowSpeakers.fraction}) must be at most 1 (they are shares of the corpus)`);
  }
  count('emFineTune.rows', config.emFineTune.rows, 1);
  if (config.emFineTune.severities.length === 0 || !config.emFineTune.severities.every((s) => Number.isInteger(s) && s >= 1 && s <= 5)) {
    throw new Error(`world config: emFineTune.severities (${JSON.stringify(config.emFineTune.severities)}) must be a non-empty list of integers 1..5`);
  }
  count('benignFineTune.rows', config.benignFineTune.rows, 1);
  count('markerCoupling.rows', config.markerCoupling.rows, 1);
  for (const p of config.markerCoupling.sourcePersonas) {
    if (!isPersonaId(p)) throw new Error(`world config: markerCoupling.sourcePersonas has "${p}", which is not a persona (one of ${PERSONA_IDS.join(', ')})`);
  }
  fraction('markerCoupling.sourceFraction', config.markerCoupling.sourceFraction);
  count('evalSuites.samplesPerParaphrase', config.evalSuites.samplesPerParaphrase, 1);
  if (config.tokenizer !== null) count('tokenizer.vocabSize', config.tokenizer.vocabSize, 512);
  return config;
}
