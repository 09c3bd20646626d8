// Study spec validation through the registered kinds, without a model: every bad spec is one
// error naming the field (or the YAML line) and what to write instead — typos, wrong types,
// ranges and upper bounds, repeated list entries, union fields, both spellings of one key,
// scales, YAML that is not one mapping — and the committed specs pass at every scale.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStudySpec } from '../../src/study/spec.js';
import '../../src/study/kinds/index.js';

const PC = 'study: persona-collapse\nname: t\n';
const WC = 'study: world-check\n';
const errorOf = (yaml: string, scale = 'full'): string => {
  try {
    parseStudySpec(yaml, 's.yaml', scale);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`no error for:\n${yaml}`);
};
const check = (yaml: string, pattern: RegExp, scale = 'full') => assert.match(errorOf(yaml, scale), pattern);

test('spec errors name the field: typos, wrong types, ranges, missing fields, scales, unknown kinds', () => {
  check('study: nope\nname: x', /s\.yaml: study: no study kind 'nope'; kinds: persona-collapse, world-check/);
  check('name: x', /missing required field 'study'/);
  check('study: persona-collapse', /missing required field 'name'/);
  check(`${PC}lora: { rank: 3 }`, /unknown field 'lora\.rank'; known here: r, alpha, rslora, targets, dropout/);
  check(`${PC}fine_tune: { steps: 10, batch_size: 4, lr: fast }`, /fine_tune\.lr: expected number, received string, got "fast"/);
  check(`${PC}fine_tune: { steps: 1.5, batch_size: 4, lr: 0.001 }`, /fine_tune\.steps: expected an integer, got 1\.5/);
  check(`${PC}fine_tune: { steps: 0, batch_size: 4, lr: 0.001 }`, /fine_tune\.steps: expected a positive integer, got 0/);
  check(`${PC}seeds: "0"`, /seeds: expected array, received string, got "0"/);
  check(`${PC}seeds: []`, /seeds: expected at least one seed/);
  check(`${PC}seeds: [1, 1]`, /seeds: entries must be distinct; 1 appears more than once/);
  check(`${PC}method_b: { temperature: -1 }`, /method_b\.temperature: expected a temperature ≥ 0, got -1/);
  check(`${PC}em: { induction_personas: [assistant, astronaut] }`, /em\.induction_personas: 'astronaut' is not a persona of this study/);
  check(`${PC}scales:\n  quick: { fine_tune: { stepz: 3 } }`, /unknown field 'scales\.quick\.fine_tune\.stepz'; known here: steps, batch_size, lr/);
  check(`${PC}scales:\n  quick: { seeds: [-1] }`, /scales\.quick\.seeds\[0\]: expected a seed ≥ 0/);
  check(`${PC}scales:\n  quick: { seeds: [0] }`, /no scale 'huge'; scales: full, quick/, 'huge');
  check(`${WC}per_persona: 0`, /per_persona: expected a positive integer, got 0/);
  check(`${WC}em_domain: space`, /em_domain: expected one of "finance"\|.*, got "space"/);
  check(`${PC}a: 1\nb: 2`, /2 problems:\n {2}unknown field 'a'.*\n {2}unknown field 'b'/s);
  // Defaults fill what the spec leaves out; a scale overlays the spec.
  const r = parseStudySpec(`${PC}lora: { r: 4, alpha: 8 }\nscales:\n  quick: { seeds: [0], fine_tune: { steps: 3, batch_size: 2, lr: 0.01 } }`, 's.yaml', 'quick');
  const spec = r.run.spec as { seeds: number[]; lora: { r: number; alpha: number; targets: string }; fineTune: { steps: number }; methodB: { temperature: number } };
  assert.deepEqual(spec.seeds, [0]);
  assert.equal(spec.lora.r, 4);
  assert.equal(spec.lora.targets, 'all-linear');
  assert.equal(spec.fineTune.steps, 3);
  assert.equal(spec.methodB.temperature, 1);
  assert.deepEqual(r.scales, ['quick']);
});

test('repeated list entries are errors naming the field and the repeat', () => {
  check(`${PC}marker: { second_stage: [em, em] }`, /^s\.yaml: marker\.second_stage: entries must be distinct; "em" appears more than once$/);
  check(`${PC}em: { induction_personas: [villain, villain] }`, /em\.induction_personas: entries must be distinct; "villain" appears more than once/);
  check(`${PC}methods: [A, A]`, /methods: entries must be distinct; "A" appears more than once/);
  check(`${PC}marker: { sources: [x, x] }`, /marker\.sources: entries must be distinct; "x" appears more than once/);
  check(`${PC}personas: [{ id: a, system: A }, { id: a, system: B }]`, /personas: persona ids must be distinct; "a" appears more than once/);
  check(`${PC}layers: [0, 0, 1, 1]`, /layers: entries must be distinct; 0, 1 appear more than once/);
  check(`${PC}lora: { targets: [q_proj, q_proj] }`, /lora\.targets: entries must be distinct; "q_proj" appears more than once/);
  check(`${PC}scales:\n  quick: { methods: [B, B] }`, /scales\.quick\.methods: entries must be distinct/);
});

test('every count has an upper bound, and the error names it', () => {
  check(`${WC}per_persona: 30000000`, /per_persona: expected an integer ≤ 100000, got 30000000/);
  check(`${WC}max_new_tokens: 100000000`, /max_new_tokens: expected an integer ≤ 32768, got 100000000/);
  check(`${PC}questions: { source: world, n: 100000 }`, /questions\.n: expected an integer ≤ 10000, got 100000/);
  check(`${PC}statistics: { bootstrap: 1000000000000 }`, /statistics\.bootstrap: expected an integer ≤ 1000000, got 1000000000000/);
  check(`${PC}statistics: { permutations: 100000000 }`, /statistics\.permutations: expected an integer ≤ 10000000/);
  check(`${PC}fine_tune: { steps: 1000000000000000 }`, /fine_tune\.steps: expected an integer ≤ 10000000, got 1000000000000000/);
  check(`${PC}fine_tune: { steps: 1e20 }`, /^s\.yaml: fine_tune\.steps: expected an integer ≤ 10000000, got 100000000000000000000$/);
  check(`${PC}fine_tune: { batch_size: 100000 }`, /fine_tune\.batch_size: expected an integer ≤ 65536/);
  check(`${PC}lora: { r: 100000 }`, /lora\.r: expected an integer ≤ 4096, got 100000/);
  check(`${PC}lora: { dropout: 1 }`, /lora\.dropout: expected a dropout in \[0, 1\), got 1/);
  check(`${PC}method_b: { responses_per_question: 200000 }`, /method_b\.responses_per_question: expected an integer ≤ 100000/);
  check(`${PC}marker: { samples_per_question: 200000, max_new_tokens: 40000 }`, /2 problems:.*marker\.samples_per_question: expected an integer ≤ 100000.*marker\.max_new_tokens: expected an integer ≤ 32768/s);
  check(`${PC}misalignment: { questions: 20000 }`, /misalignment\.questions: expected an integer ≤ 10000/);
  // The limits themselves are accepted.
  const ok = parseStudySpec(`${WC}per_persona: 100000\nmax_new_tokens: 32768\nlora: { r: 4096, dropout: 0.99 }\nfine_tune: { steps: 10000000, batch_size: 65536 }`, 's.yaml', 'full').run.spec as { perPersona: number; lora: { r: number } };
  assert.equal(ok.perPersona, 100000);
  assert.equal(ok.lora.r, 4096);
});

test('scale names: any string is looked up as a scale, and no scale may be called full', () => {
  const spec = `${PC}scales:\n  quick: { seeds: [0] }`;
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) check(spec, new RegExp(`no scale '${name}'; scales: full, quick`), name);
  check(`${PC}scales:\n  full: { seeds: [0] }`, /scales\.full: full is the spec as written; name the scale something else/);
  check(`${PC}__proto__: { seeds: [0] }`, /unknown field '__proto__'/);
  check(`${PC}scales:\n  quick: { __proto__: { seeds: [0] } }`, /unknown field 'scales\.quick\.__proto__'/);
  check(`${PC}constructor: 1`, /unknown field 'constructor'/);
});

test('snake_case and camelCase of one key in one mapping is an error naming both', () => {
  check(`${WC}per_persona: 2\nperPersona: 5`, /^s\.yaml: 'per_persona' and 'perPersona' are one field spelled two ways; keep one \(per_persona\)$/);
  check(`${PC}fine_tune: { batch_size: 2, batchSize: 4 }`, /s\.yaml: fine_tune: 'batch_size' and 'batchSize' are one field spelled two ways/);
  check(`${PC}scales:\n  quick: { marker: { max_new_tokens: 2, maxNewTokens: 3 } }`, /scales\.quick\.marker: 'max_new_tokens' and 'maxNewTokens' are one field/);
  // One spelling in the spec and the other in a scale is an override, not a conflict.
  const r = parseStudySpec(`${WC}per_persona: 2\nscales:\n  quick: { perPersona: 5 }`, 's.yaml', 'quick');
  assert.equal((r.run.spec as { perPersona: number }).perPersona, 5);
});

test('union fields report the branch the value got into; values print as written', () => {
  check(`${PC}personas: [{ id: a }]`, /missing required field 'personas\[0\]\.system'/);
  check(`${PC}personas: [{ id: a, system: A, style: x }, { id: b, system: B }]`, /unknown field 'personas\[0\]\.style'; known here: id, system/);
  check(`${PC}layers: [1.5]`, /^s\.yaml: layers\[0\]: expected an integer, got 1\.5$/);
  check(`${PC}questions: [a, 3]`, /^s\.yaml: questions\[1\]: expected string, received number, got 3$/);
  check(`${PC}lora: { targets: [3] }`, /^s\.yaml: lora\.targets\[0\]: expected string, received number, got 3$/);
  check(`${PC}questions: {}`, /2 problems:\n  missing required field 'questions\.source' \("world"\)\n  missing required field 'questions\.n' \(a number\)$/);
  check(`${PC}layers: deep`, /^s\.yaml: layers: expected "auto" or a list, got "deep"$/);
  check(`${PC}personas: 3`, /personas: expected "world" or a list, got 3/);
  check(`${PC}fine_tune: { lr: .nan }`, /^s\.yaml: fine_tune\.lr: expected a finite number, got NaN$/);
  check(`${WC}temperature: .inf`, /temperature: expected a finite number, got Infinity/);
  check(`${PC}seeds: [0, -.inf]`, /seeds\[1\]: expected a finite number, got -Infinity/);
  check('study: 3\nname: x', /^s\.yaml: study: expected a study kind name \(persona-collapse, world-check\), got 3$/);
  check('study: [a]\nname: x', /study: expected a study kind name .*, got \["a"\]/);
});

test('a spec file is one YAML mapping; YAML errors are one line with the line number', () => {
  const syntax = errorOf(`${PC}lora: { r: 4\nseeds: [0]`);
  assert.match(syntax, /^s\.yaml: not valid YAML: .* at line \d+, column \d+$/);
  assert.ok(!syntax.includes('\n'), syntax);
  check(`${PC}name: again`, /^s\.yaml: not valid YAML: Map keys must be unique at line 3, column 1$/);
  check(`${PC}---\n${PC}`, /^s\.yaml: holds 2 YAML documents \(separated by ---\); a study spec is one$/);
  for (const [text, holds] of [['', 'empty'], ['# only a comment\n', 'empty'], ['- study: persona-collapse\n', 'a list'], ['persona-collapse', '"persona-collapse"']]) {
    check(text, new RegExp(`^s\\.yaml: a study spec is a YAML mapping with at least 'study' and 'name'; this one is ${holds}$`));
  }
});

test('the committed specs are valid at every scale', () => {
  const dir = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'studies');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const scale of ['full', ...parseStudySpec(text, f, 'full').scales]) parseStudySpec(text, f, scale);
  }
});
