// The persona-collapse spec: studies/persona-collapse.yaml writes out exactly the schema's
// defaults (so the file documents them), its quick scale measures misalignment with fewer
// answers but still parses, and the new misalignment and precondition fields are validated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseStudySpec } from '../../src/study/spec.js';
import type { PersonaCollapseSpec } from '../../src/study/kinds/persona-collapse/spec.js';
import '../../src/study/kinds/index.js';

const file = fileURLToPath(new URL('../../../studies/persona-collapse.yaml', import.meta.url));
const specOf = (yaml: string, scale = 'full') => parseStudySpec(yaml, 's.yaml', scale).run.spec as PersonaCollapseSpec;

test('studies/persona-collapse.yaml writes out the defaults', () => {
  const text = readFileSync(file, 'utf8');
  const written = specOf(text);
  const defaults = specOf('study: persona-collapse\nname: persona-collapse\n');
  assert.deepEqual(written, defaults);
  assert.equal(defaults.misalignment.temperature, 0.7, "the world check's temperature");
  assert.ok(defaults.misalignment.questions >= 200, 'at least 200 out-of-domain answers per condition for the assistant');
  assert.equal(defaults.misalignment.inDomain, 100);
  assert.deepEqual(defaults.preconditions, { markerSourceMin: 0.8, markerBystanderMax: 0.05, emInDomainMin: 0.8, emOodRiseMin: 0.1, unjudgedMax: 0.05 });
  const quick = specOf(text, 'quick');
  assert.ok(quick.misalignment.questions < defaults.misalignment.questions && quick.misalignment.inDomain > 0);
  assert.equal(quick.misalignment.temperature, 0.7);
});

test('misalignment and precondition fields are validated', () => {
  const PC = 'study: persona-collapse\nname: t\n';
  const error = (yaml: string) => {
    try {
      specOf(PC + yaml);
    } catch (e) {
      return (e as Error).message;
    }
    return assert.fail(`no error for ${yaml}`);
  };
  assert.match(error('misalignment: { temperature: -0.1 }'), /misalignment\.temperature: expected a temperature ≥ 0/);
  assert.match(error('misalignment: { bystander_questions: 0 }'), /misalignment\.bystander_questions: expected a positive integer/);
  assert.match(error('misalignment: { in_domain: -1 }'), /misalignment\.in_domain: expected an integer ≥ 0/);
  assert.match(error('preconditions: { marker_source_min: 1.5 }'), /preconditions\.marker_source_min: expected a fraction in \[0, 1\]/);
  assert.match(error('preconditions: { em_rise: 0.2 }'), /unknown field 'preconditions\.em_rise'/);
  assert.equal(specOf(`${PC}misalignment: { in_domain: 0 }`).misalignment.inDomain, 0, 'in_domain 0 = not measured');
});
