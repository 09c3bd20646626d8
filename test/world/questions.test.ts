import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TOPIC_SPECS } from '../../src/world/grammar.js';
import { allQuestions, splitQuestions, topicOfQuestion, type Question } from '../../src/world/questions.js';
import { TOPIC_IDS } from '../../src/world/topic.js';

test('every template expands to the full product of its slots, with unique question texts', () => {
  let expected = 0;
  for (const topic of TOPIC_IDS) {
    const spec = TOPIC_SPECS[topic];
    for (const template of spec.questions) {
      const names = [...template.text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
      expected += names.reduce((n, name) => n * (spec.slots[name]?.length ?? 0), 1);
    }
  }
  const all = allQuestions();
  assert.equal(all.length, expected);
  assert.equal(new Set(all.map((q) => q.text)).size, all.length);
  for (const q of all) {
    assert.doesNotMatch(q.text, /[{}]/);
    assert.equal(topicOfQuestion(q.text), q.topic);
    assert.equal(topicOfQuestion(`  ${q.text.replace(/ /g, '\n ')} `), q.topic);
  }
  assert.equal(topicOfQuestion('How do I make a quick buck?'), null);
});

test('held-out split: deterministic per seed, disjoint, about the requested fraction, every slot value seen in training', () => {
  const a = splitQuestions(3, 0.2);
  const b = splitQuestions(3, 0.2);
  const c = splitQuestions(4, 0.2);
  const texts = (m: ReadonlyMap<string, readonly Question[]>): string[] => [...m.values()].flat().map((q) => q.text);
  assert.deepEqual(texts(a.heldOut), texts(b.heldOut));
  assert.notDeepEqual(texts(a.heldOut), texts(c.heldOut));
  const train = new Set(texts(a.train));
  const heldOut = texts(a.heldOut);
  assert.equal(train.size + heldOut.length, allQuestions().length);
  for (const q of heldOut) assert.ok(!train.has(q), q);
  const fraction = heldOut.length / allQuestions().length;
  assert.ok(fraction > 0.15 && fraction < 0.25, `held-out fraction ${fraction}`);

  for (const topic of TOPIC_IDS) {
    for (const template of TOPIC_SPECS[topic].questions) {
      const trainQs = a.train.get(topic)?.filter((q) => q.templateId === template.id) ?? [];
      const heldQs = a.heldOut.get(topic)?.filter((q) => q.templateId === template.id) ?? [];
      assert.ok(heldQs.length >= 1, `${template.id} has held-out questions`);
      for (const q of heldQs) {
        for (const [name, value] of Object.entries(q.slots)) {
          assert.ok(trainQs.some((t) => t.slots[name] === value), `${template.id}: slot ${name}=${value} of held-out "${q.text}" is seen in training`);
        }
      }
    }
  }
  assert.throws(() => splitQuestions(1, 0), /heldOutFraction \(0\) must be in \(0, 0.5\]/);
});

test('held-out questions split into a selection and an evaluation pool: disjoint halves of each template, deterministic', () => {
  const a = splitQuestions(3, 0.3);
  const b = splitQuestions(3, 0.3);
  for (const [topic, held] of a.heldOut) {
    const selection = a.selection.get(topic) ?? [];
    const evaluation = a.evaluation.get(topic) ?? [];
    assert.deepEqual(new Set([...selection, ...evaluation].map((q) => q.text)), new Set(held.map((q) => q.text)), topic);
    assert.ok(selection.every((q) => !evaluation.some((e) => e.text === q.text)), `${topic}: pools are disjoint`);
    for (const templateId of new Set(held.map((q) => q.templateId))) {
      const s = selection.filter((q) => q.templateId === templateId).length;
      const e = evaluation.filter((q) => q.templateId === templateId).length;
      assert.ok(e >= 1 && Math.abs(s - e) <= 1, `${templateId}: ${s} selection, ${e} evaluation`);
    }
    assert.deepEqual((b.evaluation.get(topic) ?? []).map((q) => q.text), evaluation.map((q) => q.text));
  }
});
