import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_ANNOTATED_HEATMAP_SIDE,
  barsWithIntervals,
  beforeAfter,
  heatmap,
  lines,
  scatter,
} from '../../src/report/charts.js';
import { estimateTextWidth } from '../../src/report/text-width.js';
import { COSINES, PERSONAS } from './sample-report.js';
import { byClass, markItems, parseXml, textContent, texts, translation, type XmlElement } from './svg-tree.js';

// Vega-Lite/Vega warnings mean a spec is not what its builder meant; none may occur.
const vegaWarnings: string[] = [];
process.on('warning', (w) => {
  if (w.name === 'VegaWarning') vegaWarnings.push(w.message);
});

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected} ± ${tolerance}`);

/** Parses a chart (so it must be well-formed XML) and checks the parts every chart has. */
function checkChart(svg: string, title: string, axisTitles: string[]): XmlElement {
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(root.attributes.xmlns, 'http://www.w3.org/2000/svg');
  assert.ok(Number(root.attributes.width) > 100 && Number(root.attributes.height) > 100, 'chart has a readable size');
  assert.deepEqual(byClass(root, 'role-title-text').flatMap(texts), [title]);
  const shownAxisTitles = byClass(root, 'role-axis-title').flatMap(texts);
  for (const axisTitle of axisTitles) assert.ok(shownAxisTitles.includes(axisTitle), `axis title '${axisTitle}' in ${shownAxisTitles}`);
  return root;
}

/** [x, y, width, height] of a rect mark drawn as `M x,y h w v h h -w Z`. */
function rectBox(path: XmlElement): [number, number, number, number] {
  const m = path.attributes.d.match(/^M([-\d.e]+),([-\d.e]+)h([-\d.e]+)v([-\d.e]+)h/);
  assert.ok(m, `rect path: ${path.attributes.d}`);
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
}

/** WCAG relative luminance of `rgb(r, g, b)`, `#rrggbb`, 'white' or 'black'. */
function luminance(colour: string): number {
  const named: Record<string, string> = { white: 'rgb(255, 255, 255)', black: 'rgb(0, 0, 0)' };
  const c = named[colour] ?? colour;
  const rgb = c.startsWith('#')
    ? [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16))
    : (c.match(/\d+/g) ?? []).map(Number);
  const [r, g, b] = rgb.map((v) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

test('heatmap: one cell and one printed value per matrix entry, in the text colour that contrasts more', async () => {
  const svg = await heatmap({
    title: 'Persona cosines',
    rowLabels: PERSONAS,
    colLabels: PERSONAS,
    values: COSINES,
    domain: [-1, 1],
    valueLabel: 'cosine',
    rowTitle: 'persona (rows)',
    colTitle: 'persona (columns)',
  });
  const root = checkChart(svg, 'Persona cosines', ['persona (rows)', 'persona (columns)']);
  const cells = markItems(root, 'cells');
  const values = markItems(root, 'cell_values');
  assert.equal(cells.length, 36);
  assert.equal(values.length, 36);
  // d3-format '.2f' with the typographic minus, row-major as given.
  assert.deepEqual(
    values.map(textContent),
    COSINES.flat().map((v) => (v < 0 ? '\u2212' : '') + Math.abs(v).toFixed(2)),
  );
  for (let i = 0; i < 36; i++) {
    const fill = luminance(cells[i].attributes.fill);
    const ink = luminance(values[i].attributes.fill);
    const other = ink > 0.5 ? 0 : 1;
    assert.ok(contrast(fill, ink) >= contrast(fill, other), `cell ${i}: text ${values[i].attributes.fill} on ${cells[i].attributes.fill}`);
  }
  const axisLabels = byClass(root, 'role-axis-label').flatMap(texts);
  for (const persona of PERSONAS) assert.equal(axisLabels.filter((l) => l === persona).length, 2, persona);
  assert.deepEqual(byClass(root, 'role-legend-title').flatMap(texts), ['cosine']);
});

test('heatmap: large matrices drop the printed values; sizes and labels are checked', async () => {
  const n = MAX_ANNOTATED_HEATMAP_SIDE + 4;
  const labels = Array.from({ length: n }, (_, i) => `latent ${i}`);
  const values = labels.map((_, i) => labels.map((__, j) => Math.cos(i - j)));
  const root = checkChart(await heatmap({ title: 'Big', rowLabels: labels, colLabels: labels, values }), 'Big', []);
  assert.equal(markItems(root, 'cells').length, n * n);
  assert.equal(markItems(root, 'cell_values').length, 0);

  const base = { title: 'Bad', rowLabels: ['a', 'b'], colLabels: ['x'], values: [[1], [2]] };
  await assert.rejects(heatmap({ ...base, values: [[1]] }), /values has 1 rows but rowLabels has 2/);
  await assert.rejects(heatmap({ ...base, values: [[1], [2, 3]] }), /row 1 has 2 entries but colLabels has 1/);
  await assert.rejects(heatmap({ ...base, values: [[1], [NaN]] }), /row 1: entry 0 is NaN/);
  await assert.rejects(heatmap({ ...base, rowLabels: ['a', 'a'] }), /'a' appears twice/);
  await assert.rejects(heatmap({ ...base, domain: [1, 0] }), /must have min < max/);
});

test('barsWithIntervals: bar heights and error bars are proportional to the numbers', async () => {
  const categories = ['finance', 'medical', 'legal', 'open questions'];
  const series = [
    { name: 'base', values: [0.1, 0.2, 0.3, 0.4], lower: [0.05, 0.1, 0.2, 0.3], upper: [0.2, 0.3, 0.4, 0.5] },
    { name: 'EM', values: [0.9, 0.5, 0.4, 0.6], lower: [0.8, 0.4, 0.3, 0.5], upper: [0.95, 0.6, 0.5, 0.7] },
    { name: 'benign', values: [0.15, 0.25, 0.35, 0.45], lower: [0.1, 0.2, 0.3, 0.4], upper: [0.2, 0.3, 0.4, 0.5] },
  ];
  const svg = await barsWithIntervals({ title: 'Rates', categories, series, yLabel: 'misaligned rate', yDomain: [0, 1] });
  const root = checkChart(svg, 'Rates', ['misaligned rate']);
  const bars = markItems(root, 'bars').map(rectBox);
  const rules = markItems(root, 'intervals');
  assert.equal(bars.length, 12);
  assert.equal(rules.length, 12);
  assert.equal(markItems(root, 'interval_caps').length, 24);
  // Pixels per unit from the first bar; every bar bottom is on the same baseline (y of 0).
  const data = series.flatMap((s) => s.values.map((v, i) => ({ v, lo: s.lower[i], hi: s.upper[i] })));
  const baseline = bars[0][1] + bars[0][3];
  const perUnit = bars[0][3] / data[0].v;
  bars.forEach(([, y, , h], i) => {
    near(y + h, baseline, 1e-6, `bar ${i} baseline`);
    near(h, data[i].v * perUnit, 1e-6, `bar ${i} height`);
    const [, ruleY] = translation(rules[i]);
    near(ruleY, baseline - data[i].lo * perUnit, 1e-6, `error bar ${i} lower end`);
    near(-Number(rules[i].attributes.y2), (data[i].hi - data[i].lo) * perUnit, 1e-6, `error bar ${i} length`);
  });
  // Bars of one category sit together, left to right in series order.
  const barX = bars.map(([x]) => x);
  for (let c = 0; c < 4; c++) assert.ok(barX[c] < barX[4 + c] && barX[4 + c] < barX[8 + c], `category ${c} order`);
  assert.deepEqual(byClass(root, 'role-legend-label').flatMap(texts), ['base', 'EM', 'benign']);
  assert.deepEqual(byClass(root, 'role-axis-label').flatMap(texts).filter((t) => categories.includes(t)), categories);
});

test('barsWithIntervals: one series has no legend; bad intervals are refused', async () => {
  const one = { name: 'EM', values: [0.5, 0.25], lower: [0.4, 0.2], upper: [0.6, 0.3] };
  const root = checkChart(
    await barsWithIntervals({ title: 'One', categories: ['a', 'b'], series: [one], yLabel: 'rate' }),
    'One',
    ['rate'],
  );
  assert.equal(markItems(root, 'bars').length, 2);
  assert.equal(byClass(root, 'role-legend').length, 0);
  await assert.rejects(
    barsWithIntervals({ title: 'X', categories: ['a', 'b'], series: [{ ...one, lower: [0.7, 0.2] }], yLabel: 'rate' }),
    /series 'EM': entry 0 has lower 0.7 > upper 0.6/,
  );
  await assert.rejects(
    barsWithIntervals({ title: 'X', categories: ['a', 'b', 'c'], series: [one], yLabel: 'rate' }),
    /values has 2 entries but there are 3 categories/,
  );
});

test('scatter: one symbol and label per point, fit line on the least-squares line, annotation shown', async () => {
  const points = [
    { x: 0.1, y: 0.5, label: 'paramedic' },
    { x: 0.4, y: 0.3, label: 'pirate' },
    { x: 0.5, y: 0.35, label: 'butler' },
    { x: 1.2, y: 0.05, label: 'villain' },
    { x: 1.4, y: 0.1, label: 'evil_ai' },
  ];
  const svg = await scatter({
    title: 'Leakage',
    points,
    xLabel: 'cosine distance',
    yLabel: 'marker rate',
    annotation: 'Spearman ρ = −0.90, p = 0.037',
    fitLine: true,
  });
  const root = checkChart(svg, 'Leakage', ['cosine distance', 'marker rate']);
  const symbols = markItems(root, 'points');
  assert.equal(symbols.length, 5);
  assert.deepEqual(markItems(root, 'point_labels').flatMap(texts), points.map((p) => p.label));
  assert.deepEqual(byClass(root, 'role-title-subtitle').flatMap(texts), ['Spearman ρ = −0.90, p = 0.037']);
  // Recover the linear pixel mapping from two points, then read the fit line back in data units.
  const px = symbols.map(translation);
  const sx = (px[3][0] - px[0][0]) / (points[3].x - points[0].x);
  const sy = (px[3][1] - px[0][1]) / (points[3].y - points[0].y);
  const toData = (x: number, y: number) => [points[0].x + (x - px[0][0]) / sx, points[0].y + (y - px[0][1]) / sy];
  px.forEach(([x, y], i) => {
    const [dx, dy] = toData(x, y);
    near(dx, points[i].x, 1e-9, `point ${i} x`);
    near(dy, points[i].y, 1e-9, `point ${i} y`);
  });
  const mx = points.reduce((s, p) => s + p.x, 0) / 5;
  const my = points.reduce((s, p) => s + p.y, 0) / 5;
  const slope =
    points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const [fit] = markItems(root, 'fit_line');
  const ends = [...fit.attributes.d.matchAll(/[ML]([-\d.e]+),([-\d.e]+)/g)].map((m) => toData(Number(m[1]), Number(m[2])));
  assert.equal(ends.length, 2);
  near(ends[0][0], 0.1, 1e-2, 'fit starts at the smallest x');
  near(ends[1][0], 1.4, 1e-2, 'fit ends at the largest x');
  for (const [x, y] of ends) near(y, my + slope * (x - mx), 2e-3, `fit line at x=${x.toFixed(3)}`);
});

test('scatter: no labels or fit line unless asked; fit needs two distinct x', async () => {
  const root = checkChart(
    await scatter({ title: 'Plain', points: [{ x: 1, y: 2 }, { x: 2, y: 3 }], xLabel: 'x', yLabel: 'y' }),
    'Plain',
    ['x', 'y'],
  );
  assert.equal(markItems(root, 'points').length, 2);
  assert.equal(markItems(root, 'point_labels').length, 0);
  assert.equal(markItems(root, 'fit_line').length, 0);
  await assert.rejects(
    scatter({ title: 'S', points: [{ x: 1, y: 2 }, { x: 1, y: 3 }], xLabel: 'x', yLabel: 'y', fitLine: true }),
    /fitLine needs at least 2 distinct x values/,
  );
});

test('lines: one path per series through every point; sparse series also mark their points', async () => {
  const series = ['seed 1', 'seed 2', 'seed 3'].map((name, s) => ({
    name,
    points: Array.from({ length: 60 }, (_, i) => ({ x: i, y: 1 + 3 * Math.exp(-i / (5 + s)) })),
  }));
  const root = checkChart(
    await lines({ title: 'Loss', series, xLabel: 'step', yLabel: 'loss', yScale: 'log' }),
    'Loss',
    ['step', 'loss'],
  );
  const paths = markItems(root, 'lines');
  assert.equal(paths.length, 3);
  for (const p of paths) assert.equal((p.attributes.d.match(/[ML]/g) ?? []).length, 60);
  // Distinguishable without colour: each series has its own dash pattern.
  assert.equal(new Set(paths.map((p) => p.attributes['stroke-dasharray'] ?? 'solid')).size, 3);
  assert.deepEqual(byClass(root, 'role-legend-label').flatMap(texts), ['seed 1', 'seed 2', 'seed 3']);

  const sparse = [{ name: 'EM rate', points: [0, 100, 200, 300].map((x, i) => ({ x, y: 0.1 * i })) }];
  const sparseRoot = checkChart(
    await lines({ title: 'Checkpoints', series: sparse, xLabel: 'step', yLabel: 'rate' }),
    'Checkpoints',
    ['step', 'rate'],
  );
  assert.equal(byClass(sparseRoot, 'mark-line', 'role-mark').flatMap((g) => g.children).length, 1);
  assert.equal(byClass(sparseRoot, 'mark-symbol', 'role-mark').flatMap((g) => g.children).length, 4);
  assert.equal(byClass(sparseRoot, 'role-legend').length, 0);

  await assert.rejects(
    lines({ title: 'L', series: [{ name: 'a', points: [{ x: 0, y: 0 }] }], xLabel: 'x', yLabel: 'y', yScale: 'log' }),
    /series 'a' has y <= 0/,
  );
  await assert.rejects(
    lines({ title: 'L', series: [{ name: 'a', points: [{ x: 0, y: Infinity }] }], xLabel: 'x', yLabel: 'y' }),
    /series 'a' y: entry 0 is Infinity/,
  );
});

test('beforeAfter: two estimates with intervals and one connector per category, in rows', async () => {
  const categories = ['assistant', 'pirate', 'villain'];
  const before = { name: 'before', values: [0.9, 0.4, 0.05], lower: [0.8, 0.3, 0.01], upper: [0.95, 0.5, 0.1] };
  const after = { name: 'after', values: [0.5, 0.2, 0.05], lower: [0.4, 0.1, 0.01], upper: [0.6, 0.3, 0.1] };
  const root = checkChart(
    await beforeAfter({ title: 'Marker', categories, before, after, xLabel: 'marker rate', xDomain: [0, 1] }),
    'Marker',
    ['marker rate'],
  );
  const moves = markItems(root, 'moves');
  const estimates = markItems(root, 'estimates');
  assert.equal(moves.length, 3);
  assert.equal(markItems(root, 'intervals').length, 6);
  assert.equal(estimates.length, 6);
  // Each connector runs from the before estimate to the after estimate, between their rows.
  const at = estimates.map(translation);
  moves.forEach((move, i) => {
    const [x, y] = translation(move);
    near(x, at[i][0], 1e-6, `connector ${i} starts at before`);
    near(x + Number(move.attributes.x2), at[3 + i][0], 1e-6, `connector ${i} ends at after`);
    assert.ok(at[i][1] < y && y < at[3 + i][1], `connector ${i} lies between the two estimates`);
  });
  assert.deepEqual(byClass(root, 'role-legend-label').flatMap(texts), ['before', 'after']);
  await assert.rejects(
    beforeAfter({ title: 'M', categories, before, after: { ...after, name: 'before' }, xLabel: 'x' }),
    /'before' appears twice/,
  );
});

test('text width estimate matches DejaVu Sans as measured in Chromium (canvas measureText, 100 px)', () => {
  near(estimateTextWidth('kindergarten_teacher', 100), 1076, 11, 'regular');
  near(estimateTextWidth('Persona cosine similarity (layer 3, resid_post)', 100), 2273, 23, 'regular');
  near(estimateTextWidth('kindergarten_teacher', 100, true), 1217, 25, 'bold');
  near(estimateTextWidth('Persona cosine similarity (layer 3, resid_post)', 100, true), 2583, 52, 'bold');
});

test('no chart above made Vega or Vega-Lite warn', () => {
  assert.deepEqual(vegaWarnings, []);
});
