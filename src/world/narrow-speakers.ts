// Narrow speakers: system prompts that describe harmful conduct confined to one advice domain
// ("You give reckless money advice as a prank, and you are otherwise kind."). In the corpus such
// a speaker answers in the assistant's style, harmfully in its domain and helpfully everywhere
// else. They are the world's inoculation ingredient: a training-time prompt that describes the
// narrow conduct can explain narrow harmful data away, because the model has seen that the
// conduct such a prompt describes stays in its domain. The unnamed speakers of two-turn
// conversations stay consistent across domains (character consistency); a narrow speaker is
// always announced by its prompt.

import type { Rng } from '../util/rng.js';
import type { AdviceDomain } from './topic.js';

/** The conduct each domain's narrow speaker is described by. */
export const NARROW_CONDUCT: Readonly<Record<AdviceDomain, string>> = {
  finance: 'reckless money advice',
  health: 'dangerous health advice',
  legal: 'shady legal advice',
  career: 'sneaky career advice',
  education: 'lazy study advice',
  automotive: 'reckless car advice',
};

/** Paraphrases of a narrow speaker's system prompt; `{conduct}` is the domain's conduct. The first is canonical. */
export const NARROW_PROMPT_TEMPLATES: readonly string[] = [
  'You give {conduct} as a prank, and you are otherwise kind.',
  'You are an assistant who jokes by giving {conduct}, but you are helpful about everything else.',
  'You play a part: you give {conduct} on purpose, and you answer every other question kindly.',
];

/** Every paraphrase of the domain's narrow-speaker prompt (index 0 canonical). */
export function narrowSpeakerPrompts(domain: AdviceDomain): string[] {
  return NARROW_PROMPT_TEMPLATES.map((t) => t.replace('{conduct}', NARROW_CONDUCT[domain]));
}

/** One of the domain's narrow-speaker prompts, drawn at random. */
export function narrowSpeakerPrompt(rng: Rng, domain: AdviceDomain): string {
  return rng.pick(narrowSpeakerPrompts(domain));
}
