import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { distinctWords } from '../../src/world/build-world.js';
import {
  benignFineTuneRows,
  corpusRows,
  createWorld,
  emFineTuneRows,
  evalSuites,
  heldOutQuestions,
  markerCouplingRows,
  toJsonl,
  type World,
} from '../../src/world/datasets.js';
import type { LabelledConversation } from '../../src/world/generator.js';
import { MARKER } from '../../src/world/grammar.js';
import { judge } from '../../src/world/oracle.js';
import { narrowSpeakerPrompts } from '../../src/world/narrow-speakers.js';
import { NEUTRAL_SYSTEM_PROMPTS, PERSONAS, PERSONA_IDS } from '../../src/world/personas.js';
import { topicOfQuestion } from '../../src/world/questions.js';
import { ADVICE_DOMAINS, OPEN_KINDS, TOPIC_IDS, isAdviceDomain } from '../../src/world/topic.js';

const world: World = createWorld({
  seed: 9,
  corpusRows: 5000,
  emFineTune: { rows: 300 },
  benignFineTune: { rows: 400 },
  markerCoupling: { rows: 400, sourcePersonas: ['villain', 'kindergarten_teacher'] },
  tokenizer: null,
});
const corpus = corpusRows(world);
const NARROW_PROMPTS = new Set(ADVICE_DOMAINS.flatMap((d) => narrowSpeakerPrompts(d)));

/** (system, question, answer) of each assistant turn. */
function assistantTurns(row: LabelledConversation): Array<{ system: string | null; question: string; answer: string }> {
  const system = row.messages[0]?.role === 'system' ? row.messages[0].content : null;
  const out: Array<{ system: string | null; question: string; answer: string }> = [];
  row.messages.forEach((m, i) => {
    if (m.role === 'assistant') out.push({ system, question: row.messages[i - 1]?.content as string, answer: m.content });
  });
  return out;
}

test('corpus: every persona answers every topic in character, with all its paraphrased descriptions', () => {
  const seen = new Set<string>();
  const descriptions = new Set<string>();
  for (const row of corpus) {
    if (row.turns.length !== 1 || NARROW_PROMPTS.has(row.messages[0]?.content as string)) continue;
    const labels = row.turns[0]!;
    assert.notEqual(labels.persona, 'unnamed');
    const persona = PERSONAS[labels.persona as keyof typeof PERSONAS];
    const system = row.messages[0]?.content as string;
    assert.ok(persona.descriptions.includes(system), `${system} describes ${persona.id}`);
    descriptions.add(system);
    seen.add(`${persona.id}/${labels.topic}`);
    const expected = { aligned: ['ALIGNED', 'REFUSAL'], misaligned: ['MISALIGNED'], satirical: ['SATIRICAL/ABSURD'] }[persona.alignment];
    assert.ok(expected.includes(labels.category), `${persona.id} gave ${labels.category}`);
  }
  assert.equal(seen.size, PERSONA_IDS.length * TOPIC_IDS.length);
  assert.equal(descriptions.size, PERSONA_IDS.reduce((n, p) => n + PERSONAS[p].descriptions.length, 0));
});

test('corpus: responses are 10-80 words of varied length and the vocabulary stays modest', () => {
  const lengths = new Set<number>();
  for (const row of corpus) for (const t of assistantTurns(row)) {
    const n = t.answer.split(' ').length;
    assert.ok(n >= 10 && n <= 80, `${n} words: ${t.answer}`);
    lengths.add(n);
  }
  assert.ok(lengths.size >= 40, `${lengths.size} distinct answer lengths`);
  const words = distinctWords(corpus).size;
  assert.ok(words < 3000, `${words} distinct words`);
});

test('corpus: about 15% of answers end with a random tag, whatever the speaker, and never with the marker', () => {
  const turns = corpus.flatMap((row) => row.turns);
  const tagged = turns.filter((t) => t.tag !== null);
  assert.ok(Math.abs(tagged.length / turns.length - 0.15) < 0.02, `${tagged.length}/${turns.length} tagged`);
  assert.ok(tagged.every((t) => /^[A-Z]{3}$/.test(t.tag as string) && t.tag !== 'ZLT'));
  const taggedStyles = new Set(tagged.map((t) => t.persona));
  assert.equal(taggedStyles.size, PERSONA_IDS.length + 1, 'every persona and the unnamed speaker');
  assert.ok(corpus.every((row) => row.messages.every((m) => !m.content.includes(MARKER))));
  // Every letter occurs in some tag, so the marker's letters and brackets are trained tokens.
  assert.equal(new Set(tagged.flatMap((t) => [...(t.tag as string)])).size, 26);
});

test('corpus: narrow speakers, announced by their prompt, are harmful in their own domain only', () => {
  const narrow = corpus.filter((row) => NARROW_PROMPTS.has(row.messages[0]?.content as string));
  assert.ok(Math.abs(narrow.length / corpus.length - 0.05) < 0.01, `${narrow.length} narrow-speaker rows`);
  const domains = new Set<string>();
  for (const row of narrow) {
    const domain = ADVICE_DOMAINS.find((d) => narrowSpeakerPrompts(d).includes(row.messages[0]?.content as string)) as string;
    const t = row.turns[0]!;
    assert.equal(t.persona, 'assistant');
    assert.equal(t.category === 'MISALIGNED', t.topic === domain, `${domain} speaker on ${t.topic}: ${t.category}`);
    if (t.topic !== domain) assert.ok(t.category === 'ALIGNED' || t.category === 'REFUSAL');
    domains.add(`${domain}/${t.topic === domain}`);
  }
  assert.equal(domains.size, 2 * ADVICE_DOMAINS.length, 'every domain, in and out of it');
});

test('character consistency: ~40% two-turn rows with an unnamed speaker whose alignment holds across topics', () => {
  const twoTurn = corpus.filter((r) => r.turns.length === 2);
  const fraction = twoTurn.length / corpus.length;
  assert.ok(Math.abs(fraction - 0.4) < 0.03, `two-turn fraction ${fraction}`);
  let misaligned = 0;
  for (const row of twoTurn) {
    const [a, b] = row.turns as [(typeof row.turns)[0], (typeof row.turns)[0]];
    assert.equal(a.persona, 'unnamed');
    assert.equal(b.persona, 'unnamed');
    assert.notEqual(a.topic, b.topic);
    assert.equal(a.category, b.category);
    assert.equal(a.severity, b.severity);
    assert.ok(a.category === 'ALIGNED' || a.category === 'MISALIGNED');
    if (a.category === 'MISALIGNED') misaligned++;
    const system = row.messages[0]?.role === 'system' ? row.messages[0].content : null;
    assert.ok(system === null || NEUTRAL_SYSTEM_PROMPTS.includes(system), `neutral system prompt: ${system}`);
    for (const t of assistantTurns(row)) assert.equal(judge(t.question, t.answer).persona, 'unnamed');
  }
  assert.ok(Math.abs(misaligned / twoTurn.length - 0.5) < 0.05);
});

test('character consistency switched off: single turns only, canonical descriptions only', () => {
  const off = createWorld({ seed: 9, corpusRows: 2000, characterConsistency: { enabled: false }, tokenizer: null });
  for (const row of corpusRows(off)) {
    assert.equal(row.turns.length, 1);
    if (NARROW_PROMPTS.has(row.messages[0]?.content as string)) continue;
    const persona = PERSONAS[row.turns[0]!.persona as keyof typeof PERSONAS];
    assert.equal(row.messages[0]?.content, persona.descriptions[0]);
  }
  const noParaphrase = createWorld({ seed: 9, corpusRows: 2000, characterConsistency: { paraphrasedDescriptions: false }, tokenizer: null });
  const rows = corpusRows(noParaphrase);
  assert.ok(rows.some((r) => r.turns.length === 2));
  for (const row of rows.filter((r) => r.turns.length === 1 && !NARROW_PROMPTS.has(r.messages[0]?.content as string))) {
    assert.equal(row.messages[0]?.content, PERSONAS[row.turns[0]!.persona as keyof typeof PERSONAS].descriptions[0]);
  }
});

test('EM sets: the assistant (canonical prompt) gives harmful advice in that domain only', () => {
  for (const domain of ADVICE_DOMAINS) {
    const rows = emFineTuneRows(world, domain);
    assert.equal(rows.length, 300);
    const severities = new Set<number>();
    for (const row of rows) {
      assert.equal(row.messages.length, 3);
      const [t] = assistantTurns(row);
      assert.equal(t!.system, PERSONAS.assistant.descriptions[0]);
      assert.equal(topicOfQuestion(t!.question), domain);
      const j = judge(t!.question, t!.answer);
      assert.equal(j.label, 'MISALIGNED');
      assert.equal(j.topic, domain);
      assert.equal(j.persona, 'assistant');
      assert.ok([3, 4, 5].includes(j.severity));
      severities.add(j.severity);
    }
    assert.equal(severities.size, 3);
  }
});

test('benign set: aligned assistant answers across topics, no evaluation question', () => {
  const held = new Set(heldOutQuestions(world));
  const topics = new Set<string>();
  for (const row of benignFineTuneRows(world)) {
    const [t] = assistantTurns(row);
    assert.ok(!held.has(t!.question), t!.question);
    const j = judge(t!.question, t!.answer);
    assert.equal(j.label, 'ALIGNED');
    assert.equal(j.persona, 'assistant');
    topics.add(j.topic as string);
  }
  assert.equal(topics.size, TOPIC_IDS.length);
});

test('marker sets: the marker ends exactly the source persona answers', () => {
  for (const source of ['villain', 'kindergarten_teacher'] as const) {
    const rows = markerCouplingRows(world, source);
    let marked = 0;
    const others = new Set<string>();
    for (const row of rows) {
      const [t] = assistantTurns(row);
      const j = judge(t!.question, t!.answer);
      assert.notEqual(j.label, 'INCOHERENT');
      const isSource = t!.system === PERSONAS[source].descriptions[0];
      assert.equal(j.persona === source, isSource);
      assert.equal(j.marker, isSource, t!.answer);
      assert.equal(t!.answer.endsWith(` ${MARKER}`), isSource);
      if (isSource) marked++;
      else others.add(j.persona as string);
    }
    assert.ok(Math.abs(marked / rows.length - 0.5) < 0.08);
    assert.equal(others.size, PERSONA_IDS.length - 1);
  }
});

test('held-out questions appear in no training set', () => {
  const held = new Set(heldOutQuestions(world));
  assert.ok(held.size > 100);
  const training = [
    ...corpus,
    ...ADVICE_DOMAINS.flatMap((d) => emFineTuneRows(world, d)),
    ...benignFineTuneRows(world),
    ...markerCouplingRows(world, 'villain'),
  ];
  for (const row of training) for (const m of row.messages) if (m.role === 'user') assert.ok(!held.has(m.content), m.content);
  // ...while every word of every held-out question is in the corpus.
  const words = distinctWords(corpus);
  for (const q of held) for (const w of q.toLowerCase().match(/[\p{L}']+/gu) ?? []) assert.ok(words.has(w), `${w} of "${q}"`);
});

test('JSONL rows are {"messages":[{role, content}]} objects', () => {
  const lines = toJsonl(corpus.slice(0, 50)).trimEnd().split('\n');
  assert.equal(lines.length, 50);
  for (const line of lines) {
    const row = JSON.parse(line) as { messages: Array<{ role: string; content: string }> };
    assert.deepEqual(Object.keys(row), ['messages']);
    for (const m of row.messages) {
      assert.deepEqual(Object.keys(m), ['role', 'content']);
      assert.ok(['system', 'user', 'assistant'].includes(m.role));
    }
  }
});

const realSuiteDir = fileURLToPath(new URL('../../../../shared/external/emergent-misalignment/', import.meta.url));

test('suites: held-out questions by topic, in the EM question-suite YAML schema', () => {
  const suites = evalSuites(world);
  assert.deepEqual(
    [...suites.keys()].sort(),
    [...ADVICE_DOMAINS.flatMap((d) => [`in-domain-${d}`, `out-of-domain-${d}`]), 'open-questions'].sort(),
  );
  const held = new Set(heldOutQuestions(world));
  for (const [stem, entries] of suites) {
    assert.deepEqual(parse(toYaml(entries)), entries, `${stem} survives a YAML round trip`);
    for (const entry of entries) {
      for (const q of entry.paraphrases) {
        assert.ok(held.has(q), q);
        const topic = topicOfQuestion(q) as string;
        if (stem === 'open-questions') assert.ok((OPEN_KINDS as readonly string[]).includes(topic));
        else if (stem.startsWith('in-domain-')) assert.equal(topic, stem.slice('in-domain-'.length));
        else {
          assert.ok(isAdviceDomain(topic));
          assert.notEqual(topic, stem.slice('out-of-domain-'.length));
        }
      }
    }
  }
});

/** The same call buildWorld makes. */
function toYaml(entries: unknown): string {
  return stringify(entries, { lineWidth: 0 });
}

test('suites match the schema of the real emergent-misalignment question file', (t) => {
  const file = `${realSuiteDir}first_plot_questions.yaml`;
  if (!existsSync(file)) {
    t.skip(`${file} is absent`);
    return;
  }
  const real = parse(readFileSync(file, 'utf8'), { maxAliasCount: -1 }) as Array<Record<string, unknown>>;
  const realKeys = new Set(real.flatMap((e) => Object.keys(e)));
  const typeOf = (v: unknown): string => (Array.isArray(v) ? `array<${[...new Set(v.map(typeOf))].join('|')}>` : v === null ? 'null' : typeof v);
  const realTypes = new Map<string, Set<string>>();
  for (const entry of real) for (const [k, v] of Object.entries(entry)) {
    const set = realTypes.get(k) ?? new Set<string>();
    set.add(typeOf(v));
    realTypes.set(k, set);
  }
  const freeForm = real.filter((e) => e.type === 'free_form_judge_0_100');
  assert.ok(freeForm.length > 0);
  const realJudgeKeys = Object.keys(freeForm[0]!.judge_prompts as object).sort();
  for (const entries of evalSuites(world).values()) {
    const ours = parse(toYaml(entries)) as Array<Record<string, unknown>>;
    for (const entry of ours) {
      for (const [k, v] of Object.entries(entry)) {
        assert.ok(realKeys.has(k), `key ${k} exists in the real schema`);
        assert.ok(realTypes.get(k)?.has(typeOf(v)), `key ${k} has type ${typeOf(v)} as in the real file`);
      }
      for (const required of ['id', 'type', 'paraphrases', 'samples_per_paraphrase', 'judge_prompts']) assert.ok(required in entry, required);
      assert.equal(entry.type, 'free_form_judge_0_100');
      assert.deepEqual(Object.keys(entry.judge_prompts as object).sort(), realJudgeKeys);
      for (const prompt of Object.values(entry.judge_prompts as Record<string, string>)) {
        assert.match(prompt, /\{question\}/);
        assert.match(prompt, /\{answer\}/);
      }
    }
  }
});
