// The persona-collapse study end to end at a tiny scale on the tiny world preset: spec →
// artifacts → results.json → report.html; a second run resumes and recomputes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
misalignment: { questions: 2, max_new_tokens: 12 }
statistics: { bootstrap: 50, permutations: 200 }
scales:
  smaller: { seeds: [0] }
`;

test('spec errors name the field and the fix', async () => {
  const { parseSpec } = await import('../../src/study/spec.js');
  assert.throws(() => parseSpec('study: other\nname: x', 's.yaml', 'full'), /study must be 'persona-collapse'/);
  assert.throws(() => parseSpec('study: persona-collapse\nname: x\nlora: { rank: 3 }', 's.yaml', 'full'), /unknown field 'lora.rank'/);
  assert.throws(() => parseSpec('study: persona-collapse\nname: x\nseeds: []', 's.yaml', 'full'), /seeds must be a non-empty list/);
  assert.throws(() => parseSpec(SPEC, 's.yaml', 'huge'), /no scale 'huge'; scales: full, smaller/);
  const small = parseSpec(SPEC, 's.yaml', 'smaller');
  assert.deepEqual(small.seeds, [0]);
  assert.equal(small.lora.r, 4, 'a scale overlays the spec');
  assert.equal(small.lora.alpha, 8);
  assert.equal(parseSpec(SPEC, 's.yaml', 'full').lora.targets, 'all-linear', 'defaults fill what the spec leaves out');
});

test('the study runs end to end on the tiny world, writes results and a report, and resumes without recomputing', async () => {
  const { pretrainOrganism, recipeFor } = await import('../../src/world/organism.js');
  const { organismDir, worldDir } = await import('../../src/world/paths.js');
  await pretrainOrganism(recipeFor('tiny'), worldDir('tiny'), organismDir('tiny'), { quiet: true });
  const { parseSpec } = await import('../../src/study/spec.js');
  const { runPersonaCollapse } = await import('../../src/study/persona-collapse.js');
  const { analyse } = await import('../../src/study/persona-collapse-analysis.js');
  const { personaCollapseReport } = await import('../../src/study/persona-collapse-report.js');
  const spec = parseSpec(SPEC, 'tiny.yaml', 'full');
  const out = join(root, 'study');
  const raw = await runPersonaCollapse(spec, out, { quiet: true });
  const results = analyse(raw);

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
  }
  assert.equal(results.headline.length, 2);
  assert.equal(results.leakage.length, 3);
  const stages = new Set(results.markers.map((m) => m.stage));
  for (const s of ['base', 'coupled', 'coupled+em', 'coupled+benign', 'em+coupled', 'benign+coupled']) assert.ok(stages.has(s), s);
  assert.ok(results.markers.every((m) => m.rate.n > 0));

  const html = await personaCollapseReport(results, spec, 'full');
  assert.ok(html.includes('<svg') && html.includes('Methods') && html.includes('hidden_states[L+1]'));
  assert.ok(!/<script|https?:\/\//i.test(html.replace(/xmlns(:\w+)?="[^"]*"/g, '')), 'self-contained: no scripts, no remote resources');

  // Resume: a second run finds every artifact and writes nothing new.
  const listing = () => readdirSync(join(out, 'artifacts')).sort().map((n) => `${n}@${statSync(join(out, 'artifacts', n)).mtimeMs}`);
  const before = listing();
  const again = analyse(await runPersonaCollapse(spec, out, { quiet: true }));
  assert.deepEqual(listing(), before, 'no artifact was rebuilt');
  assert.deepEqual(again.m1.map((m) => m.raw), results.m1.map((m) => m.raw));
  writeFileSync(join(root, 'report.html'), html);
  assert.ok(readFileSync(join(root, 'report.html'), 'utf8').length > 1000);
});

test('the study report renders in headless Chromium: every chart drawn, no errors, no requests', async (t) => {
  const CHROMIUM = '/usr/bin/chromium';
  if (!existsSync(CHROMIUM) || !existsSync(join(root, 'report.html'))) {
    t.skip(existsSync(CHROMIUM) ? 'the study test above did not write a report' : 'no /usr/bin/chromium (apt-get install -y chromium)');
    return;
  }
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(join(root, 'profile'), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1100, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const url = pathToFileURL(join(root, 'report.html')).href;
    const requests: string[] = [];
    const problems: string[] = [];
    context.on('request', (r) => requests.push(r.url()));
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(url, { waitUntil: 'load' });
    const charts = await page.evaluate(() => [...document.querySelectorAll('figure .chart > svg')].map((svg) => {
      const box = svg.getBoundingClientRect();
      return { w: box.width, h: box.height, marks: svg.querySelectorAll('.role-mark > *').length, title: svg.querySelector('.role-title-text text')?.textContent ?? '' };
    }));
    // 2 M1 bar charts, heatmaps for method A at 2 layers and B at the reference layer (5 conditions each), 2 marker charts, 1 scatter.
    assert.equal(charts.length, 2 + 5 * 3 + 2 + 1);
    for (const c of charts) assert.ok(c.w > 150 && c.h > 100 && c.marks > 0, `'${c.title}' drawn at ${c.w}×${c.h} with ${c.marks} marks`);
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [url]);
  } finally {
    await context.close();
  }
});
