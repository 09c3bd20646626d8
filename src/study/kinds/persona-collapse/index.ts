// The persona-collapse study kind: does LoRA fine-tuning (EM or benign) compress persona
// geometry and destroy persona-coupled behaviour? Spec → plan → collect → analyse → report.

import { PERSONA_IDS } from '../../../world/personas.js';
import { registerStudyKind } from '../../kind.js';
import { analyse, type PersonaCollapseResults } from './analysis.js';
import { collect, runTime } from './collect.js';
import { planPersonaCollapse, type PersonaCollapseContext } from './plan.js';
import { formatEstimate } from './rates.js';
import { personaCollapseReport } from './report.js';
import { checkPersonaCollapse, personaCollapseSchema, type PersonaCollapseSpec } from './spec.js';

registerStudyKind<PersonaCollapseSpec, PersonaCollapseResults, PersonaCollapseContext>({
  name: 'persona-collapse',
  summary: 'persona geometry and marker coupling before and after EM and benign LoRA fine-tunes (M1–M3, markers, leakage)',
  schema: personaCollapseSchema,
  check: (spec) => checkPersonaCollapse(spec, PERSONA_IDS),
  plan: (run) => planPersonaCollapse(run),
  analyse: (run, outputs, planned, execution) => {
    const started = performance.now();
    return analyse(collect(run.spec, planned.context, outputs, runTime(planned.plan, outputs, execution)), started);
  },
  report: (run, results) => personaCollapseReport(results, run.spec, run.scale),
  headline: (r) => [
    ...r.warnings.map((w) => `WARNING: ${w}`),
    ...r.headline.map((h) => `method ${h.method}, layer ${h.layer}: base ${h.base.toFixed(3)} → benign ${h.benign.toFixed(3)} → EM ${h.em.toFixed(3)}; benign = ${h.benignPercentOfEm.toFixed(1)}% of EM${h.ci ? ` [${h.ci[0].toFixed(1)}, ${h.ci[1].toFixed(1)}]` : `; ${h.ciMethod}`}`),
    `EM check (${r.emCheck.condition}, ${r.focal}): in-domain ${r.emCheck.inDomain ? formatEstimate(r.emCheck.inDomain) : 'not measured'}; out-of-domain rise ${(100 * r.emCheck.oodRise.estimate).toFixed(1)} points`,
    ...(r.leakageSpearman ? [`leakage vs distance: Spearman rho ${r.leakageSpearman.rho.toFixed(3)}, p ${r.leakageSpearman.pValue.toFixed(3)} (n ${r.leakageSpearman.n})`] : []),
    ...r.findings.map((f) => `finding (${f.verdict}): ${f.claim}`),
  ],
});
