// The study kinds end to end at a tiny scale on the tiny world preset: persona collapse (spec →
// tasks → results.json → report.html; a second run from another --out recomputes nothing) and
// the world check.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PersonaCollapseResults } from '../../src/study/kinds/persona-collapse/analysis.js';
import type { WorldCheckResults } from '../../src/study/kinds/world-check/analysis.js';

const root = mkdtempSync(join(tmpdir(), 'basin-study-'));
process.env.BASIN_CACHE = join(root, 'cache');
test.after(() => rmSync(root, { recursive: true, force: true }));

const SPEC = `
study: persona-collapse
name: tiny-study
model: persona-world:tiny
questions: { source: world, n: 4 }
seeds: [0, 1]
method_b: { responses_per_question: 1, max_new_tokens: 12 }
lora: { r: 4, alpha: 8 }
fine_tune: { steps: 3, batch_size: 4 }
em: { induction_personas: [assistant, paramedic, villain] }
marker: { sources: [villain], questions: 2, samples_per_question: 1, max_new_tokens: 12 }
misalignment: { questions: 3, bystander_questions: 1, in_domain: 2, max_new_tokens: 12 }
statistics: { bootstrap: 50, permutations: 200 }
scales:
  smaller: { seeds: [0] }
`;

test('scales overlay the spec and defaults fill the rest', async () => {
  const { parseStudySpec } = await import('../../src/study/spec.js');
  await import('../../src/study/kinds/index.js');
  assert.throws(() => parseStudySpec(SPEC, 's.yaml', 'huge'), /no scale 'huge'; scales: full, smaller/);
  const small = parseStudySpec(SPEC, 's.yaml', 'smaller').run.spec as { seeds: number[]; lora: { r: number; alpha: number; targets: string } };
  assert.deepEqual(small.seeds, [0]);
  assert.equal(small.lora.r, 4, 'a scale overlays the spec');
  assert.equal(small.lora.alpha, 8);
  assert.equal(small.lora.targets, 'all-linear', 'defaults fill what the spec leaves out');
});

test('the study runs end to end on the tiny world, writes results and a report, and resumes without recomputing', async () => {
  const { pretrainOrganism } = await import('../../src/organism/pretrain.js');
  const { recipeFor } = await import('../../src/organism/recipe.js');
  const { organismDir, worldDir } = await import('../../src/organism/paths.js');
  await pretrainOrganism(recipeFor('tiny'), worldDir('tiny'), organismDir('tiny'), { quiet: true });
  const { parseStudySpec } = await import('../../src/study/spec.js');
  const { runStudy } = await import('../../src/study/run-study.js');
  const { LocalExecutor } = await import('../../src/study/local-executor.js');
  await import('../../src/study/kinds/index.js');
  const resolved = parseStudySpec(SPEC, 'tiny.yaml', 'full');
  const out = join(root, 'study');
  const store = join(root, 'store');
  const first = await runStudy(resolved, { out, store, executor: new LocalExecutor(), quiet: true });
  const results = first.results as PersonaCollapseResults;
  // Method A on the base model has no randomness and no adapter: seeds 0 and 1 plan the same
  // task (same key), so the second is found, not recomputed.
  assert.deepEqual(first.execution.tasks.filter((t) => t.state === 'cached').map((t) => t.id), ['seed 1 · vectors A · base']);
  assert.equal(first.execution.ran, first.execution.tasks.length - 1);

  assert.deepEqual(results.personas.length, 12);
  assert.deepEqual(results.layers, [0, 1]);
  const conditions = ['base', 'benign', 'em:assistant', 'em:paramedic', 'em:villain'];
  for (const method of ['A', 'B']) for (const layer of results.layers) for (const c of conditions) {
    const cell = results.m1.find((m) => m.method === method && m.layer === layer && m.condition === c);
    assert.ok(cell, `M1 ${c} ${method} ${layer}`);
    assert.ok(cell.raw >= -1 && cell.raw <= 1 && cell.ci[0] <= cell.ci[1]);
    assert.equal(cell.matrix.length, 12);
    assert.ok(Math.abs((cell.matrix[3]?.[3] as number) - 1) < 1e-9, 'a persona has cosine 1 with itself');
    assert.equal(cell.vsBase === null, c === 'base');
    assert.equal(cell.vsBenign === null, !c.startsWith('em:'));
    assert.equal(cell.shiftCoherence === null, c === 'base');
    if (cell.vsBase) assert.ok(cell.vsBase.exact && cell.vsBase.permutations === 4096 && cell.vsBase.pValue >= 2 / 4096, 'the persona-swap test enumerates 2^12 patterns');
  }
  // The base-centred cosine of base itself is ≈ −1/(P−1) when the persona vectors have similar norms; it is not that by construction for the others.
  assert.ok(results.m1.filter((m) => m.condition === 'base').every((m) => m.baseCentred < 0.5));
  assert.equal(results.headline.length, 2);
  assert.ok(results.headline.every((h) => h.ci === null && /not estimable with 2 seeds/.test(h.ciMethod)), '"benign as % of EM" has no interval with 2 seeds');
  // Misalignment: 3 out-of-domain answers per seed for the assistant, 1 for each other persona, 2 in-domain; cluster-bootstrap intervals.
  assert.deepEqual(results.design.oodQuestions.assistant, 3);
  assert.deepEqual(results.design.oodQuestions.villain, 1);
  assert.equal(results.design.inDomain?.domain, 'finance');
  assert.equal(results.rates.length, conditions.length);
  for (const r of results.rates) {
    assert.equal(r.sampled, 2 * (3 + 11 + 2 * (r.condition === 'em:paramedic' || r.condition === 'em:villain' ? 2 : 1)), r.condition);
    if (r.focalOod.n > 0) assert.ok(r.focalOod.ci && r.focalOod.ci[0] <= r.focalOod.rate && r.focalOod.rate <= r.focalOod.ci[1] && /cluster bootstrap/.test(r.focalOod.method));
    assert.equal(r.inductionInDomain?.persona, r.condition === 'em:paramedic' ? 'paramedic' : r.condition === 'em:villain' ? 'villain' : undefined);
  }
  assert.equal(results.emCheck.condition, 'em:assistant');
  assert.ok(results.findings.length >= 6 && results.findings.every((f) => f.measured.length > 0 && f.rule.length > 0));
  assert.ok(results.time.taskSeconds > 0 && results.time.tasks === new Set(first.execution.tasks.map((t) => t.key)).size);
  assert.equal(results.leakage.length, 3);
  const stages = new Set(results.markers.map((m) => m.stage));
  for (const s of ['base', 'coupled', 'coupled+em', 'coupled+benign', 'em+coupled', 'benign+coupled']) assert.ok(stages.has(s), s);
  assert.ok(results.markers.every((m) => m.rate.n > 0));
  const status = JSON.parse(readFileSync(join(out, 'status.json'), 'utf8')) as { tasks: { state: string; seconds: number }[] };
  assert.ok(status.tasks.every((t) => t.state === 'done' || t.state === 'cached'));

  const html = readFileSync(first.reportPath, 'utf8');
  assert.ok(html.includes('<svg') && html.includes('Methods') && html.includes('hidden_states[L+1]'));
  assert.ok(!/<script|https?:\/\//i.test(html.replace(/xmlns(:\w+)?="[^"]*"/g, '')), 'self-contained: no scripts, no remote resources');

  // Resume, from another output folder: every task is found in the store, nothing is rebuilt.
  const listing = () => readdirSync(store).sort().map((n) => `${n}@${statSync(join(store, n)).mtimeMs}`);
  const before = listing();
  const again = await runStudy(resolved, { out: join(root, 'moved', 'study'), store, executor: new LocalExecutor(), quiet: true });
  assert.equal(again.execution.ran, 0);
  assert.equal(again.execution.cached, first.execution.tasks.length);
  assert.deepEqual(listing(), before, 'no artifact was rebuilt');
  assert.deepEqual((again.results as PersonaCollapseResults).m1.map((m) => m.raw), results.m1.map((m) => m.raw));
  // The resumed run computed nothing, yet reports the compute the results rest on: the same task seconds.
  const resumed = again.results as PersonaCollapseResults;
  assert.equal(resumed.time.ran, 0);
  assert.equal(resumed.time.taskSeconds, results.time.taskSeconds);
  assert.ok(resumed.seconds >= results.time.taskSeconds);
  writeFileSync(join(root, 'report.html'), html);
});

test('the world check runs as a study kind on the tiny organism: its criteria with intervals, a control arm, the marker, a report', async () => {
  const { parseStudySpec } = await import('../../src/study/spec.js');
  const { runStudy } = await import('../../src/study/run-study.js');
  const { LocalExecutor } = await import('../../src/study/local-executor.js');
  await import('../../src/study/kinds/index.js');
  const { organismDir } = await import('../../src/organism/paths.js');
  // The control arm needs a second organism of the same world: a copy of the tiny one stands in.
  const copy = join(root, 'tiny-copy');
  cpSync(organismDir('tiny'), copy, { recursive: true });
  const spec = [
    'study: world-check', 'model: persona-world:tiny', `organism: ${copy}`, 'control: persona-world:tiny',
    'per_persona: 3', 'probe_per_persona: 4', 'out_of_domain: 6', 'in_domain: 4', 'open_questions: 3', 'max_new_tokens: 24',
    'fine_tune_seeds: [0, 1]', 'fine_tune: { steps: 2, batch_size: 4 }', 'marker: { answers: 4, fine_tune: { steps: 2, batch_size: 4 } }', 'bootstrap: 50', '',
  ].join('\n');
  const resolved = parseStudySpec(spec, 'check.yaml', 'full');
  const store = join(root, 'store');
  const first = await runStudy(resolved, { out: join(root, 'check'), store, executor: new LocalExecutor(), quiet: true });
  const r = first.results as WorldCheckResults;
  assert.equal(r.criteria.length, 12);
  for (const c of r.criteria) {
    assert.ok(Number.isFinite(c.value) && c.pass === (c.direction === 'at least' ? c.value >= c.threshold : c.value <= c.threshold), c.name);
    if (c.ci !== null) assert.ok(c.ci[0] <= c.value + 1e-9 && c.value <= c.ci[1] + 1e-9 || /smallest over seeds/.test(c.name), `${c.name}: ${c.value} outside [${c.ci}]`);
  }
  // Base: one sampling run; EM and benign: one per fine-tune seed, pooled.
  assert.deepEqual(r.conditions.map((c) => [c.arm, c.name, c.where['out-of-domain'].misaligned.n, c.where['in-domain'].misaligned.n, c.where.open.misaligned.n, c.where['out-of-domain'].misaligned.seeds]),
    [['organism', 'base', 6, 4, 3, 1], ['organism', 'em', 12, 8, 6, 2], ['organism', 'benign', 12, 8, 6, 2], ['control', 'base', 6, 4, 3, 1], ['control', 'em', 12, 8, 6, 2]]);
  assert.equal(r.marker.sourceRate.n, 8);
  assert.equal(r.marker.bystanderRate.n, 8);
  assert.equal(r.separability.prompts, 12 * 4);
  assert.equal(Object.keys(r.perPersona).length, 12);
  assert.ok(r.conditions.every((c) => c.examples.every((e) => e.label.length > 0)), 'every example answer carries its oracle label');
  const html = readFileSync(first.reportPath, 'utf8');
  assert.ok(html.includes('Persona-world check') && html.includes('cluster bootstrap') && html.includes('evaluation pool') && /(PASS|FAIL)/.test(html));
  const again = await runStudy(resolved, { out: join(root, 'check-again'), store, executor: new LocalExecutor(), quiet: true });
  assert.equal(again.execution.ran, 0, 'a second check finds every task in the store');
  assert.deepEqual((again.results as WorldCheckResults).criteria, r.criteria);
  // The control must be another organism.
  const self = parseStudySpec('study: world-check\nmodel: persona-world:tiny\ncontrol: persona-world:tiny\n', 'self.yaml', 'full');
  await assert.rejects(runStudy(self, { out: join(root, 'check-self'), store, executor: new LocalExecutor(), quiet: true }), /control: persona-world:tiny is the organism under check itself/);
});

test('the study reports render in headless Chromium: every chart drawn, no errors, no requests', async (t) => {
  const CHROMIUM = '/usr/bin/chromium';
  // 2 M1 bar charts, heatmaps for method A at 2 layers and B at the reference layer (5 conditions each), 2 marker charts, 1 scatter;
  // the world check: answers in character, and the out-of-domain misaligned rate by arm and condition.
  const reports = [{ path: join(root, 'report.html'), charts: 2 + 5 * 3 + 2 + 1 }, { path: join(root, 'check', 'report.html'), charts: 2 }];
  if (!existsSync(CHROMIUM) || !reports.every((r) => existsSync(r.path))) {
    t.skip(existsSync(CHROMIUM) ? 'the study tests above did not write their reports' : 'no /usr/bin/chromium (apt-get install -y chromium)');
    return;
  }
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(join(root, 'profile'), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1100, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // Printed, every table of the persona-collapse report (the M1 table has 11 columns, the
    // per-persona rates 13) fits the width of an A4 page (~700 CSS px inside 12 mm margins): no column is cut off.
    const page = await context.newPage();
    await page.setViewportSize({ width: 700, height: 900 });
    await page.goto(pathToFileURL(reports[0]!.path).href, { waitUntil: 'load' });
    await page.emulateMedia({ media: 'print' });
    const tables = await page.evaluate(() => [...document.querySelectorAll('table')].map((t) => ({ columns: t.rows[0]?.cells.length ?? 0, right: t.getBoundingClientRect().right, page: document.body.getBoundingClientRect().right })));
    assert.ok(tables.some((t) => t.columns >= 13), 'the per-persona table is there');
    for (const [i, t] of tables.entries()) assert.ok(t.right <= t.page + 1, `printed table ${i + 1} (${t.columns} columns) ends at ${t.right} px, past the page's ${t.page} px`);
    await page.close();
    for (const report of reports) {
      const url = pathToFileURL(report.path).href;
      const requests: string[] = [];
      const problems: string[] = [];
      const page = await context.newPage();
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(url, { waitUntil: 'load' });
      const charts = await page.evaluate(() => [...document.querySelectorAll('figure .chart > svg')].map((svg) => {
        const box = svg.getBoundingClientRect();
        return { w: box.width, h: box.height, marks: svg.querySelectorAll('.role-mark > *').length, title: svg.querySelector('.role-title-text text')?.textContent ?? '' };
      }));
      assert.equal(charts.length, report.charts, report.path);
      for (const c of charts) assert.ok(c.w > 150 && c.h > 100 && c.marks > 0, `'${c.title}' drawn at ${c.w}×${c.h} with ${c.marks} marks`);
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [url]);
      await page.close();
    }
  } finally {
    await context.close();
  }
});
