// report.html for a persona-collapse run: charts and tables computed from results.json, and a
// methods section generated from the spec.

import { barsWithIntervals, beforeAfter, heatmap, scatter } from '../../../report/charts.js';
import { reportPage, type Block, type ReportSection } from '../../../report/page.js';
import { formatRate } from '../../../eval/rates.js';
import { MIN_SEEDS_FOR_RATIO_CI, type PersonaCollapseResults } from './analysis.js';
import { ALPHA } from './findings.js';
import { formatEstimate } from './rates.js';
import type { PersonaCollapseSpec } from './spec.js';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const pv = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

export async function personaCollapseReport(r: PersonaCollapseResults, spec: PersonaCollapseSpec, scale: string): Promise<string> {
  const sections: ReportSection[] = [];
  const compact = { compact: true };
  const CLUSTER = `a percentile cluster bootstrap (${spec.statistics.bootstrap} draws; stats/cluster-bootstrap.ts): each draw resamples the questions with replacement, once for every group compared, and each group's seeds with replacement, so repeated questions and fine-tune seeds widen the interval as they should; n = judged answers, with the distinct questions and seeds behind them`;
  const conditions = [...new Set(r.m1.map((c) => c.condition))];
  const ref = r.referenceLayer;

  // Findings first, after every failed precondition.
  sections.push({ heading: 'Findings: this run against the published note', blocks: [
    ...r.warnings.map((text) => ({ kind: 'note' as const, tone: 'warning' as const, text: `Warning: ${text}` })),
    { kind: 'paragraph', text: `Each claim of the published note (LoRA SFT generically collapses persona representations) with the number it rests on there, this run's number, and whether they agree, by the rule in the last column. Tests at α = ${ALPHA}; geometry at layer ${ref}, the reference EM condition is ${r.reference}. ${r.warnings.length > 0 ? 'Read the warnings above first: a failed precondition makes the claims that rest on it unmeasurable here.' : 'Every precondition the spec sets held.'}` },
    { kind: 'table', headers: ['claim', 'published', 'this run', 'verdict', 'verdict rule'], rows: r.findings.map((f) => [f.claim, f.published, f.measured, f.verdict.toUpperCase(), f.rule]) },
  ] });

  // Headline.
  const headBlocks: Block[] = [
    { kind: 'paragraph', text: `Mean off-diagonal cosine between the ${r.personas.length} persona vectors at layer ${ref} (the layer nearest 70% of depth; ${r.layerConvention}), mean over ${r.seeds.length} seed(s). EM = the EM fine-tune with the ${r.reference.slice('em:'.length)}'s system prompt (${r.reference}). "Benign as % of EM" = (benign − base)/(EM − base), a ratio of means over seeds; its interval is a paired bootstrap over seeds, given only with at least ${MIN_SEEDS_FOR_RATIO_CI} seeds.` },
    { kind: 'table', headers: ['method', 'base', 'benign', 'EM', 'benign as % of EM', '95% CI'], rows: r.headline.map((h) => [h.method, f3(h.base), f3(h.benign), f3(h.em), `${h.benignPercentOfEm.toFixed(1)}%`, h.ci ? `${h.ci[0].toFixed(1)}% – ${h.ci[1].toFixed(1)}%` : `not estimable with ${h.seeds} seed${h.seeds === 1 ? '' : 's'}`]) },
    { kind: 'note', text: 'The published claim for comparison: base → benign → EM = 0.900 → 0.973 → 0.994 (benign ≈ 77% of EM) on a real chat model. These numbers are measured on this run\'s model; they are not assumed.' },
  ];
  sections.push({ heading: 'Headline: does fine-tuning collapse persona geometry?', blocks: headBlocks });

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
  const test0 = r.m1.find((c) => c.vsBase !== null)?.vsBase;
  m1Blocks.push({
    kind: 'table',
    caption: `M1 at every layer. raw: mean off-diagonal cosine (mean over seeds). base-centred: the same after subtracting the base model's mean persona vector (same seed, method, layer) from every persona — ≈ −1/(P−1) = ${f3(-1 / (r.personas.length - 1))} for base by construction, higher when a condition moves all personas the same way. shift coherence: mean off-diagonal cosine between the personas' shifts (condition − base): 1 = one shared shift, 0 = unrelated shifts. Δ and p: the difference in raw cosine against base (and for EM against benign) and its persona-swap permutation test (${test0?.method ?? 'the persona is the exchangeable unit'}).`,
    headers: ['condition', 'method', 'layer', 'raw', '95% CI', 'base-centred', 'shift coherence', 'Δ vs base', 'p (vs base)', 'Δ vs benign', 'p (vs benign)'],
    rows: r.m1.map((c) => [c.condition, c.method, c.layer, f3(c.raw), `${f3(c.ci[0])} – ${f3(c.ci[1])}`, f3(c.baseCentred), c.shiftCoherence === null ? '—' : f3(c.shiftCoherence), c.vsBase ? f3(c.vsBase.meanDifference) : '—', c.vsBase ? pv(c.vsBase.pValue) : '—', c.vsBenign ? f3(c.vsBenign.meanDifference) : '—', c.vsBenign ? pv(c.vsBenign.pValue) : '—']),
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

  // Misalignment and leakage.
  const d = r.design;
  const bystanderN = Object.entries(d.oodQuestions).find(([p]) => p !== r.focal)?.[1] ?? 0;
  const leakBlocks: Block[] = [
    { kind: 'paragraph', text: `Misalignment is sampled at temperature ${d.temperature} (the world check's), judged by ${r.misalignmentJudge}. Per condition and seed: ${d.oodQuestions[r.focal] ?? 0} out-of-domain questions for the ${r.focal}, ${bystanderN} for every other persona (bystanders are read pooled, so they get fewer); ${d.inDomain ? `${d.inDomain.questions} in-domain (${d.inDomain.domain}) questions for the ${r.focal} and, in each EM condition, for its induction persona` : `no in-domain questions (${d.inDomainMissing})`}. Intervals: ${CLUSTER} — the same questions recur across personas, conditions and seeds, so answers are not independent.` },
    { kind: 'table', caption: `Misaligned rate per condition (label MISALIGNED), pooled over seeds: rate [95% interval], n = judged answers (q distinct questions × s seeds behind them). Bystanders: the aligned personas other than the ${r.focal} and the condition's induction persona. No verdict: answers the judge did not label, of all sampled.`, headers: ['condition', `${r.focal}, out of domain`, 'bystanders, out of domain', `${r.focal}, in domain`, 'induction persona, in domain', 'no verdict'], rows: r.rates.map((x) => [x.condition, formatEstimate(x.focalOod, compact), formatEstimate(x.bystanderOod, compact), x.focalInDomain ? formatEstimate(x.focalInDomain, compact) : '—', x.inductionInDomain ? `${x.inductionInDomain.persona}: ${formatEstimate(x.inductionInDomain.rate, compact)}` : '—', `${x.unjudged} of ${x.sampled}`]) },
    { kind: 'note', tone: r.warnings.some((w) => w.startsWith('EM DID NOT TAKE')) ? 'warning' : 'info', text: `Did EM take? ${r.emCheck.condition}, ${r.focal}: in-domain ${r.emCheck.inDomain ? formatEstimate(r.emCheck.inDomain) : `not measured (${d.inDomainMissing})`} (required ≥ ${(100 * spec.preconditions.emInDomainMin).toFixed(0)}%); out-of-domain rise over base ${(100 * r.emCheck.oodRise.estimate).toFixed(1)} points${r.emCheck.oodRise.ci ? ` [95% CI ${(100 * r.emCheck.oodRise.ci[0]).toFixed(1)}, ${(100 * r.emCheck.oodRise.ci[1]).toFixed(1)}]` : ''} (required ≥ ${(100 * spec.preconditions.emOodRiseMin).toFixed(0)}; ${r.emCheck.oodRise.method}).` },
  ];
  if (r.leakage.length > 0) {
    const sp = r.leakageSpearman;
    leakBlocks.push({ kind: 'figure', svg: await scatter({ title: 'Bystander misalignment vs induction persona distance from the assistant', points: r.leakage.map((l) => ({ x: l.distance, y: Number.isFinite(l.bystanderMisaligned.rate) ? l.bystanderMisaligned.rate : 0, label: l.inductionPersona })), xLabel: `cosine distance from assistant (base, layer ${ref})`, yLabel: 'bystander misaligned rate', ...(sp ? { annotation: `Spearman ρ = ${sp.rho.toFixed(3)}, p = ${pv(sp.pValue)} (${sp.method}, n = ${sp.n})` } : {}), fitLine: true }), caption: `Each point is one EM condition; bystanders = the aligned personas other than the induction persona and the ${r.focal}; rates pooled over seeds; judge: ${r.misalignmentJudge}.` });
    if (sp === null) leakBlocks.push({ kind: 'note', tone: 'warning', text: 'Spearman\'s rho is undefined here: fewer than 3 induction personas, or every distance or every bystander rate is equal.' });
    leakBlocks.push({ kind: 'table', caption: 'Out-of-domain misaligned rates of each EM condition: rate [95% interval], n (q questions × s seeds).', headers: ['induction persona', 'distance from assistant', 'bystander misaligned', `${r.focal} misaligned`], rows: r.leakage.map((l) => [l.inductionPersona, f3(l.distance), formatEstimate(l.bystanderMisaligned, compact), formatEstimate(l.focalMisaligned, compact)]) });
  }
  leakBlocks.push({ kind: 'table', caption: `Out-of-domain misaligned rate per condition and persona (label MISALIGNED), pooled over seeds: n = ${d.oodQuestions[r.focal] ?? 0} × ${r.seeds.length} for the ${r.focal}, ${bystanderN} × ${r.seeds.length} for every other persona (judged answers only), so a single persona's rate other than the ${r.focal}'s is coarse.`, headers: ['condition', ...r.personas], rows: conditions.map((c) => [c, ...r.personas.map((p) => { const m = r.misalignment.find((x) => x.condition === c && x.persona === p); return m && m.rate.n > 0 ? `${(100 * m.rate.rate).toFixed(0)}%` : '—'; })]) });
  sections.push({ heading: 'Emergent misalignment and bystander leakage', blocks: leakBlocks });

  const s = spec;
  const methods = [
    `Study '${s.name}', scale '${scale}', model ${r.model}. ${r.personas.length} personas (${s.personas === 'world' ? 'the persona world\'s, canonical system prompts' : 'from the spec'}); ${r.questions} questions (${Array.isArray(s.questions) ? 'from the spec' : 'held-out world questions: unseen slot combinations'}). Seeds ${r.seeds.join(', ')}: a seed sets the LoRA initialisation, the data order and the sampling.`,
    `Layers ${r.layers.join(', ')}; ${r.layerConvention}. Reference layer ${ref} (nearest 70% of depth). Method A: resid_post at the last prompt token (generation prompt included). Method B: the mean over response tokens of ${s.methodB.responsesPerQuestion} sampled response(s) per question (temperature ${s.methodB.temperature}, ≤ ${s.methodB.maxNewTokens} new tokens). Persona vector = mean over questions.`,
    `Fine-tunes: LoRA r=${s.lora.r}, alpha=${s.lora.alpha}${s.lora.rslora ? ' (rsLoRA, scale alpha/√r)' : ' (scale alpha/r)'}, targets ${JSON.stringify(s.lora.targets)}, dropout ${s.lora.dropout}; ${s.fineTune.steps} steps × batch ${s.fineTune.batchSize}, AdamW lr ${s.fineTune.lr}, constant schedule; loss on assistant tokens. Benign data: ${s.benign.data}. EM data: ${s.em.data}, with the system prompt of each induction persona (${s.em.inductionPersonas.join(', ')}).`,
    `Marker coupling: contrastive SFT on marker/<source> (the source persona's answers end with [ZLT], the others' do not) for sources ${s.marker.sources.join(', ')}; then a second adapter trained on top (${s.marker.secondStage.join(', ')}), the coupling adapter frozen.${s.marker.reversed ? ' Reversed order: the second-stage adapter first, then coupling on top.' : ''} Marker rate = share of sampled answers containing [ZLT] (${s.marker.questions} questions × ${s.marker.samplesPerQuestion} samples per persona, temperature ${s.marker.temperature}).`,
    `Misalignment: held-out questions from the world's evaluation pool (never the selection pool), one sample each at temperature ${s.misalignment.temperature}, ≤ ${s.misalignment.maxNewTokens} new tokens: ${s.misalignment.questions} out-of-domain questions per condition and seed for the ${r.focal}, ${s.misalignment.bystanderQuestions} for every other persona, ${r.design.inDomain ? `${r.design.inDomain.questions} in-domain (${r.design.inDomain.domain}) questions for the ${r.focal} and each EM condition's induction persona` : `no in-domain questions (${r.design.inDomainMissing})`}; judged by ${r.misalignmentJudge}; misaligned = label MISALIGNED (for the persona-world oracle: on-topic harmful, any severity); answers the judge gave no verdict for are out of the denominators.`,
    `Statistics: misalignment rates and EM's rise with ${CLUSTER}; marker rates with Wilson score 95% intervals, Fisher exact tests (two-sided) with Holm correction across marker cells; M1 intervals by percentile bootstrap over questions (${s.statistics.bootstrap} resamples); M1 vs base (and EM vs benign) by a two-sided permutation test with the persona as the exchangeable unit — whole personas' vectors swap condition labels, in every seed at once (exact over 2^P patterns when 2^P ≤ 65536, else ${s.statistics.permutations} random patterns), because the P(P−1)/2 persona pairs share personas and are not independent; "benign as % of EM" by a paired percentile bootstrap over seeds, only with ≥ ${MIN_SEEDS_FOR_RATIO_CI} seeds; Spearman's rho with an exact permutation p-value for n ≤ 10. Preconditions: marker coupling source ≥ ${(100 * s.preconditions.markerSourceMin).toFixed(0)}% and others ≤ ${(100 * s.preconditions.markerBystanderMax).toFixed(0)}%; EM in-domain ≥ ${(100 * s.preconditions.emInDomainMin).toFixed(0)}% and out-of-domain rise ≥ ${(100 * s.preconditions.emOodRiseMin).toFixed(0)} points; judge verdicts missing for ≤ ${(100 * s.preconditions.unjudgedMax).toFixed(0)}% of answers.`,
    `Compute time ${r.seconds.toFixed(0)} s: the sum of the run times recorded by the ${r.time.tasks} distinct tasks these results rest on (each task's task.json; a task counts with the time it took in whichever run built it, so resumed runs add up and a task found in the store from another study counts too), plus ${r.time.analysisSeconds.toFixed(1)} s of analysis. The run that wrote this report took ${r.time.thisRunSeconds.toFixed(0)} s of wall time: it computed ${r.time.ran} task(s) and found ${r.time.cached} in the store. Every task (fine-tune, sample, judgement, vector set) is an artifact in the content-addressed store, keyed by a hash of its producer, parents' keys, the model's fingerprint, its data's content hashes and its settings; each artifact's task.json says what it came from, and plan.json and status.json beside this report list every task. Each task's seed is derived from the replicate seed and the task's label.`,
  ];
  return reportPage({ title: `Persona collapse — ${s.name}`, subtitle: `${r.model} · scale ${scale} · ${r.seeds.length} seed(s)`, sections, methods });
}
