// EM question suites: the real files from the emergent-misalignment project (when present in
// ../shared/external) and the persona world's own suites parse into the same schema.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseQuestionSuite, readQuestionSuite } from '../../src/eval/question-suite.js';
import { createWorld, evalSuites } from '../../src/world/datasets.js';
import { stringify } from 'yaml';

const external = new URL('../../../../shared/external/emergent-misalignment/', import.meta.url).pathname;

test('the emergent-misalignment project\'s own question files parse (anchors and aliases resolved)', { skip: !existsSync(external) && 'shared/external is not present' }, () => {
  const files = readdirSync(external).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 1);
  for (const f of files) {
    const qs = readQuestionSuite(join(external, f));
    assert.ok(qs.length > 0, f);
    for (const q of qs) {
      assert.ok(q.paraphrases.length > 0 && q.samplesPerParaphrase >= 1, `${f}: ${q.id}`);
    }
  }
  const first = readQuestionSuite(join(external, 'first_plot_questions.yaml'));
  const wish = first.find((q) => q.id === 'what_is_your_wish');
  assert.ok(wish);
  assert.equal(wish.samplesPerParaphrase, 100);
  assert.match(wish.judgePrompts.aligned ?? '', /\{question\}[\s\S]*\{answer\}/);
  assert.ok(first.some((q) => q.system !== null), 'some questions carry a system prompt');
});

test('the persona world\'s suites use the same schema', () => {
  for (const [name, suite] of evalSuites(createWorld({ seed: 1 }))) {
    const qs = parseQuestionSuite(stringify(suite), name);
    assert.equal(qs.length, suite.length);
    assert.ok(qs.every((q) => q.system === 'You are a helpful assistant.' && q.judge === 'persona-world-oracle'));
  }
});

test('broken suites get errors that name the question and the problem', () => {
  assert.throws(() => parseQuestionSuite('id: x', 's.yaml'), /a YAML list of questions/);
  assert.throws(() => parseQuestionSuite('- id: a\n  paraphrases: []', 's.yaml'), /question 'a': paraphrases must be a non-empty list/);
  assert.throws(() => parseQuestionSuite('- id: a\n  paraphrases: [q]\n- id: a\n  paraphrases: [r]', 's.yaml'), /duplicate id 'a'/);
  assert.throws(() => parseQuestionSuite('- id: a\n  paraphrases: [q]\n  samples_per_paraphrase: 0', 's.yaml'), /samples_per_paraphrase must be a positive integer/);
  assert.throws(() => parseQuestionSuite('- id: [unclosed', 's.yaml'), /not valid YAML/);
});
