// report.html for a persona-collapse run: charts and tables computed from results.json, and a
// methods section generated from the spec.

import { barsWithIntervals, beforeAfter, heatmap, scatter } from '../../../report/charts.js';
import { reportPage, type Block, type ReportSection } from '../../../report/page.js';
import { formatRate } from '../../../eval/rates.js';
import type { PersonaCollapseResults } from './analysis.js';
import type { PersonaCollapseSpec } from './spec.js';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const pv = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

export async function personaCollapseReport(r: PersonaCollapseResults, spec: PersonaCollapseSpec, scale: string): Promise<string> {
  const sections: ReportSection[] = [];
  const conditions = [...new Set(r.m1.map((c) => c.condition))];
  const ref = r.referenceLayer;

  // Headline.
  const headBlocks: Block[] = [
    { kind: 'paragraph', text: `Mean off-diagonal cosine between the ${r.personas.length} persona vectors at layer ${ref} (the layer nearest 70% of depth; ${r.layerConvention}), mean over ${r.seeds.length} seed(s). EM = the finance EM fine-tune with the assistant's system prompt. "Benign as % of EM" = (benign − base)/(EM − base), ${r.headline[0]?.ciMethod ?? ''}.` },
    { kind: 'table', headers: ['method', 'base', 'benign', 'EM', 'benign as % of EM', '95% CI'], rows: r.headline.map((h) => [h.method, f3(h.base), f3(h.benign), f3(h.em), `${h.benignPercentOfEm.toFixed(1)}%`, `${h.ci[0].toFixed(1)}% – ${h.ci[1].toFixed(1)}%`]) },
    { kind: 'note', text: 'The published claim for comparison: base → benign → EM = 0.900 → 0.973 → 0.994 (benign ≈ 78% of EM) on a real chat model. These numbers are measured on this run\'s model; they are not assumed.' },
  ];
  sections.push({ heading: 'Headline: does fine-tuning collapse persona geometry?', blocks: [...r.warnings.map((text) => ({ kind: 'note' as const, tone: 'warning' as const, text: `Warning: ${text}` })), ...headBlocks] });

  // M1.
  const m1Blocks: Block[] = [];
  for (const method of [...new Set(r.m1.map((c) => c.method))]) {
    const cells = r.m1.filter((c) => c.method === method && c.layer === ref);
    m1Blocks.push({
      kind: 'figure',
      svg: await barsWithIntervals({ title: `M1 mean off-diagonal cosine, method ${method}, layer ${ref}`, categories: cells.map((c) => c.condition), series: [{ name: 'mean cosine', values: cells.map((c) => c.raw), lower: cells.map((c) => c.ci[0]), upper: cells.map((c) => c.ci[1]) }], yLabel: 'mean off-diagonal cosine' }),
      caption: `Method ${method}: bars are means over seeds; error bars are 95% percentile-bootstrap intervals over questions (${spec.statistics.bootstrap} resamples).`,
    });
  }
  m1Blocks.push({
    kind: 'table', caption: 'M1 at every layer: raw and persona-centred mean off-diagonal cosine, and the permutation test against base over persona pairs.',
    headers: ['condition', 'method', 'layer', 'raw', '95% CI', 'centred', 'Δ vs base', 'p (vs base)'],
    rows: r.m1.map((c) => [c.condition, c.method, c.layer, f3(c.raw), `${f3(c.ci[0])} – ${f3(c.ci[1])}`, f3(c.centered), c.vsBase ? f3(c.vsBase.meanDifference) : '—', c.vsBase ? pv(c.vsBase.pValue) : '—']),
  });
  sections.push({ heading: 'M1: persona cosine geometry', blocks: m1Blocks });

  const heatBlocks: Block[] = [];
  for (const c of r.m1.filter((x) => x.method === 'A' || (x.method === 'B' && x.layer === ref))) {
    heatBlocks.push({ kind: 'figure', svg: await heatmap({ title: `${c.condition}, method ${c.method}, layer ${c.layer}`, rowLabels: r.personas, colLabels: r.personas, values: c.matrix, domain: [-1, 1], valueLabel: 'cosine' }), caption: `Cosine between persona vectors (${c.condition}, method ${c.method}, layer ${c.layer}; mean over seeds). Mean off-diagonal ${f3(c.raw)}.` });
  }
  sections.push({ heading: 'Cosine heatmaps by condition and layer', blocks: heatBlocks });

  sections.push({ heading: 'M2: shared shift axis', blocks: [
    { kind: 'paragraph', text: `Shift vectors = condition − base per persona; the shared axis is the unit mean shift of ${r.m2[0]?.reference ?? 'the reference condition'}. Fraction explained = Σ(s·u)² / Σ‖s‖² over personas.` },
    { kind: 'table', headers: ['method', 'layer', 'condition', 'fraction explained by the axis', '‖mean shift‖', 'cosine to the axis'], rows: r.m2.flatMap((m) => m.conditions.map((c) => [m.method, m.layer, c.name, f3(c.fractionExplained), f3(c.meanShiftNorm), f3(c.cosineToAxis)])) },
  ] });

  sections.push({ heading: 'M3: persona separability', blocks: [
    { kind: 'table', caption: `Cross-validated accuracy of persona identity from per-question activations (stratified folds), mean over seeds; chance = ${f3(r.m3[0]?.chance ?? NaN)}. Excluded: Method B rows whose sampled responses were all empty (no response tokens), summed over seeds.`, headers: ['condition', 'method', 'layer', 'shrinkage LDA', 'logistic probe', 'silhouette (cosine)', 'n', 'excluded'], rows: r.m3.map((m) => [m.condition, m.method, m.layer, f3(m.lda), f3(m.logistic), f3(m.silhouette), m.n, m.excluded]) },
  ] });

  // Markers.
  const markerBlocks: Block[] = [];
  for (const source of [...new Set(r.markers.map((m) => m.source))]) {
    const coupled = r.markers.filter((m) => m.source === source && m.stage === 'coupled');
    for (const stage of [...new Set(r.markers.filter((m) => m.source === source && m.stage.startsWith('coupled+')).map((m) => m.stage))]) {
      const after = r.markers.filter((m) => m.source === source && m.stage === stage);
      const personas = coupled.map((m) => m.persona);
      const series = (rows: typeof coupled, name: string) => ({ name, values: personas.map((p) => rows.find((x) => x.persona === p)?.rate.rate ?? NaN), lower: personas.map((p) => rows.find((x) => x.persona === p)?.rate.ci[0] ?? NaN), upper: personas.map((p) => rows.find((x) => x.persona === p)?.rate.ci[1] ?? NaN) });
      markerBlocks.push({ kind: 'figure', svg: await beforeAfter({ title: `[ZLT] marker coupled to ${source}: before and after ${stage.slice('coupled+'.length)} SFT`, categories: personas, before: series(coupled, 'coupled'), after: series(after, stage), xLabel: 'marker rate', xDomain: [0, 1] }), caption: `Marker rate per persona with Wilson 95% intervals, pooled over seeds (source persona ${source}).` });
    }
  }
  markerBlocks.push({ kind: 'table', caption: 'Marker rates; Fisher exact test of each second stage against the coupled model, Holm-corrected across all cells.', headers: ['source', 'stage', 'persona', 'rate [95% CI] n', 'p (Fisher)', 'p (Holm)'], rows: r.markers.map((m) => [m.source, m.stage, m.persona, formatRate(m.rate), m.fisherVsCoupled ? pv(m.fisherVsCoupled.pValue) : '—', m.fisherVsCoupled ? pv(m.fisherVsCoupled.holm) : '—']) });
  if (r.couplingEfficiency.length > 0) {
    markerBlocks.push({ kind: 'table', caption: 'Reversed order: coupling after a second-stage SFT. Efficiency = source marker rate when coupled after the stage / when coupled on the base.', headers: ['source', 'stage first', 'coupled on base', 'coupled after stage', 'efficiency'], rows: r.couplingEfficiency.map((c) => [c.source, c.stage, formatRate(c.coupledFirst), formatRate(c.coupledAfter), f3(c.efficiency)]) });
  }
  sections.push({ heading: 'Marker coupling', blocks: markerBlocks });

  // Leakage.
  const leakBlocks: Block[] = [];
  if (r.leakage.length > 0) {
    const sp = r.leakageSpearman;
    leakBlocks.push({ kind: 'figure', svg: await scatter({ title: 'Bystander misalignment vs induction persona distance from the assistant', points: r.leakage.map((l) => ({ x: l.distance, y: l.bystanderMisaligned.rate, label: l.inductionPersona })), xLabel: `cosine distance from assistant (base, layer ${ref})`, yLabel: 'bystander misaligned rate', ...(sp ? { annotation: `Spearman ρ = ${sp.rho.toFixed(3)}, p = ${pv(sp.pValue)} (${sp.method}, n = ${sp.n})` } : {}), fitLine: true }), caption: `Each point is one EM condition; bystanders = the aligned personas other than the induction persona; rates pooled over seeds; judge: ${r.misalignmentJudge}.` });
    if (sp === null) leakBlocks.push({ kind: 'note', tone: 'warning', text: 'Spearman\'s rho is undefined here: fewer than 3 induction personas, or every distance or every bystander rate is equal.' });
    leakBlocks.push({ kind: 'table', headers: ['induction persona', 'distance from assistant', 'bystander misaligned', 'assistant misaligned'], rows: r.leakage.map((l) => [l.inductionPersona, f3(l.distance), formatRate(l.bystanderMisaligned), formatRate(l.assistantMisaligned)]) });
  }
  leakBlocks.push({ kind: 'table', caption: 'Out-of-domain misaligned rate per condition and persona (label MISALIGNED), pooled over seeds.', headers: ['condition', ...r.personas], rows: conditions.map((c) => [c, ...r.personas.map((p) => { const m = r.misalignment.find((x) => x.condition === c && x.persona === p); return m ? `${(100 * m.rate.rate).toFixed(0)}%` : '—'; })]) });
  sections.push({ heading: 'Emergent misalignment and bystander leakage', blocks: leakBlocks });

  const s = spec;
  const methods = [
    `Study '${s.name}', scale '${scale}', model ${r.model}. ${r.personas.length} personas (${s.personas === 'world' ? 'the persona world\'s, canonical system prompts' : 'from the spec'}); ${r.questions} questions (${Array.isArray(s.questions) ? 'from the spec' : 'held-out world questions: unseen slot combinations'}). Seeds ${r.seeds.join(', ')}: a seed sets the LoRA initialisation, the data order and the sampling.`,
    `Layers ${r.layers.join(', ')}; ${r.layerConvention}. Reference layer ${ref} (nearest 70% of depth). Method A: resid_post at the last prompt token (generation prompt included). Method B: the mean over response tokens of ${s.methodB.responsesPerQuestion} sampled response(s) per question (temperature ${s.methodB.temperature}, ≤ ${s.methodB.maxNewTokens} new tokens). Persona vector = mean over questions.`,
    `Fine-tunes: LoRA r=${s.lora.r}, alpha=${s.lora.alpha}${s.lora.rslora ? ' (rsLoRA, scale alpha/√r)' : ' (scale alpha/r)'}, targets ${JSON.stringify(s.lora.targets)}, dropout ${s.lora.dropout}; ${s.fineTune.steps} steps × batch ${s.fineTune.batchSize}, AdamW lr ${s.fineTune.lr}, constant schedule; loss on assistant tokens. Benign data: ${s.benign.data}. EM data: ${s.em.data}, with the system prompt of each induction persona (${s.em.inductionPersonas.join(', ')}).`,
    `Marker coupling: contrastive SFT on marker/<source> (the source persona's answers end with [ZLT], the others' do not) for sources ${s.marker.sources.join(', ')}; then a second adapter trained on top (${s.marker.secondStage.join(', ')}), the coupling adapter frozen.${s.marker.reversed ? ' Reversed order: the second-stage adapter first, then coupling on top.' : ''} Marker rate = share of sampled answers containing [ZLT] (${s.marker.questions} questions × ${s.marker.samplesPerQuestion} samples per persona, temperature ${s.marker.temperature}).`,
    `Misalignment: ${s.misalignment.questions} out-of-domain held-out questions per persona, one sample each (temperature 1), judged by ${r.misalignmentJudge}; misaligned = label MISALIGNED (for the persona-world oracle: on-topic harmful, any severity); answers the judge gave no verdict for are out of the denominators.`,
    `Statistics: Wilson score 95% intervals for rates; Fisher exact tests (two-sided) with Holm correction across marker cells; M1 intervals by percentile bootstrap over questions (${s.statistics.bootstrap} resamples); M1 vs base by a sign-flip permutation test over persona pairs (${s.statistics.permutations} resamples or exact); "benign as % of EM" by a paired percentile bootstrap over seeds; Spearman's rho with an exact permutation p-value for n ≤ 10.`,
    `Run time ${r.seconds.toFixed(0)} s. Every task (fine-tune, sample, judgement, vector set) is an artifact in the content-addressed store, keyed by a hash of its producer, parents' keys, the model's fingerprint, its data's content hashes and its settings; each artifact's task.json says what it came from, and plan.json and status.json beside this report list every task. Each task's seed is derived from the replicate seed and the task's label.`,
  ];
  return reportPage({ title: `Persona collapse — ${s.name}`, subtitle: `${r.model} · scale ${scale} · ${r.seeds.length} seed(s)`, sections, methods });
}
