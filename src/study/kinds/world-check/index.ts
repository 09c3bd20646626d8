// The world-check study kind: does the persona-world organism behave as the world says it
// should? Five properties as seven criteria (see analysis.ts); `basin world check` runs it.

import { registerStudyKind } from '../../kind.js';
import { analyseWorldCheck, type WorldCheckResults } from './analysis.js';
import { planWorldCheck, type WorldCheckContext } from './plan.js';
import { worldCheckReport } from './report.js';
import { worldCheckSchema, type WorldCheckSpec } from './spec.js';

registerStudyKind<WorldCheckSpec, WorldCheckResults, WorldCheckContext>({
  name: 'world-check',
  summary: 'the persona-world organism against its criteria: personas in character, style, separability, EM and benign fine-tunes',
  schema: worldCheckSchema,
  plan: (run) => planWorldCheck(run),
  analyse: (run, outputs, planned, execution) => analyseWorldCheck(run.spec, planned.context, outputs, execution.seconds),
  report: (run, results, execution) => worldCheckReport(run, results, execution),
  headline: (r) => [
    ...r.criteria.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value.toFixed(1)} (${c.direction} ${c.threshold}) — ${c.detail}`),
    `judge: ${r.judge}`,
    `layers: ${r.layerConvention}`,
  ],
});
