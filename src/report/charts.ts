// Chart builders for reports. Each takes plain numbers and labels, checks them, writes a
// Vega-Lite spec and returns the chart as an SVG string (see render-vega-lite.ts).
// Every mark layer is named (`cells`, `bars`, `intervals`, …) so that the SVG's mark groups
// read `<g class="mark-rect role-mark cells_marks">` and can be found by tests and tools.

import type { TopLevelSpec } from 'vega-lite';
import { scheme } from 'vega';
import {
  AXIS_LABEL_SIZE,
  DIVERGING_SCHEME,
  NEUTRAL_INK,
  SEQUENTIAL_SCHEME,
  renderVegaLite,
} from './render-vega-lite.js';
import { estimateTextWidth } from './text-width.js';

/** A point estimate per category with its confidence interval [lower, upper]. */
export interface IntervalSeries {
  name: string;
  values: readonly number[];
  lower: readonly number[];
  upper: readonly number[];
}

export interface HeatmapOptions {
  title: string;
  rowLabels: readonly string[];
  colLabels: readonly string[];
  /** [rows, cols], e.g. a cosine-similarity matrix. */
  values: readonly (readonly number[])[];
  /** Colour-scale domain; default: the data range, made symmetric about 0 when it spans 0. */
  domain?: readonly [number, number];
  /** d3-format string for the numbers in cells and on the legend; default '.2f'. */
  format?: string;
  /** Legend title; default 'value'. */
  valueLabel?: string;
  rowTitle?: string;
  colTitle?: string;
}

export interface BarsWithIntervalsOptions {
  title: string;
  categories: readonly string[];
  /** One bar per category per series, each with an error bar from lower to upper. */
  series: readonly IntervalSeries[];
  yLabel: string;
  xLabel?: string;
  /** e.g. [0, 1] for rates; default: fitted to the bars and intervals, including 0. */
  yDomain?: readonly [number, number];
}

export interface ScatterPoint {
  x: number;
  y: number;
  /** Printed next to the point when there are at most MAX_LABELLED_POINTS points. */
  label?: string;
}

export interface ScatterOptions {
  title: string;
  points: readonly ScatterPoint[];
  xLabel: string;
  yLabel: string;
  /** A line of text under the title, e.g. 'Spearman ρ = 0.71, p = 0.004 (n = 12)'. */
  annotation?: string;
  /** Draw the ordinary least-squares line y = a + b·x over the points' x range. */
  fitLine?: boolean;
}

export interface LineSeries {
  name: string;
  points: readonly { x: number; y: number }[];
}

export interface LinesOptions {
  title: string;
  series: readonly LineSeries[];
  xLabel: string;
  yLabel: string;
  /** 'log' for quantities spanning orders of magnitude (losses); every y must then be > 0. */
  yScale?: 'linear' | 'log';
}

export interface BeforeAfterOptions {
  title: string;
  /** One row per category (e.g. persona). */
  categories: readonly string[];
  before: IntervalSeries;
  after: IntervalSeries;
  /** The measured quantity, on the horizontal axis (e.g. 'marker rate'). */
  xLabel: string;
  /** e.g. [0, 1] for rates; default: fitted to the intervals. */
  xDomain?: readonly [number, number];
}

/** Heatmaps with at most this many rows and columns print each cell's number. */
export const MAX_ANNOTATED_HEATMAP_SIDE = 16;
/** WCAG luminance at which black and white text contrast equally: (L + 0.05) / 0.05 = 1.05 / (L + 0.05). */
const EQUAL_CONTRAST_LUMINANCE = 0.179;
/** Plot width beyond which bar charts slant their category labels instead of widening, px. */
const MAX_CHART_WIDTH = 720;
/** Line series that all have at most this many points also get a marker at each point. */
export const MAX_MARKED_LINE_POINTS = 25;
/** Height of one category row in beforeAfter, px. */
const ROW_HEIGHT = 30;
/** Scatter plots with at most this many points print each point's label. */
export const MAX_LABELLED_POINTS = 30;

/**
 * A matrix as coloured cells, e.g. cosine similarities between persona vectors. Domains that
 * span 0 use a diverging blue–orange scheme centred on 0, others viridis; small matrices print
 * the value in each cell, in black or white, whichever contrasts more with the cell colour.
 */
export async function heatmap(options: HeatmapOptions): Promise<string> {
  const { title, rowLabels, colLabels, values } = options;
  const where = `heatmap '${title}'`;
  assertDistinctLabels(rowLabels, `${where}: rowLabels`);
  assertDistinctLabels(colLabels, `${where}: colLabels`);
  if (values.length !== rowLabels.length) {
    throw new RangeError(`${where}: values has ${values.length} rows but rowLabels has ${rowLabels.length}`);
  }
  values.forEach((row, i) => {
    if (row.length !== colLabels.length) {
      throw new RangeError(
        `${where}: values row ${i} has ${row.length} entries but colLabels has ${colLabels.length}`,
      );
    }
    assertFinite(row, `${where}: values row ${i}`);
  });
  const domain = options.domain ?? defaultHeatmapDomain(values.flat());
  if (!(domain[0] < domain[1])) {
    throw new RangeError(`${where}: domain [${domain[0]}, ${domain[1]}] must have min < max`);
  }
  const diverging = domain[0] < 0 && domain[1] > 0;
  const interpolate = scheme(diverging ? DIVERGING_SCHEME : SEQUENTIAL_SCHEME) as (t: number) => string;
  const position = (value: number): number => heatmapColourPosition(value, domain, diverging);
  const cells = values.flatMap((row, i) =>
    row.map((value, j) => ({
      row: rowLabels[i],
      col: colLabels[j],
      value,
      ink: relativeLuminance(interpolate(position(value))) < EQUAL_CONTRAST_LUMINANCE ? 'white' : 'black',
    })),
  );
  const side = Math.max(rowLabels.length, colLabels.length);
  const annotated = side <= MAX_ANNOTATED_HEATMAP_SIDE;
  const step = annotated ? 38 : Math.max(6, Math.floor(520 / side));
  const format = options.format ?? '.2f';
  const x = {
    field: 'col',
    type: 'nominal' as const,
    sort: [...colLabels],
    title: options.colTitle ?? null,
    axis: { labelAngle: categoryLabelAngle(colLabels, step), domain: false, ticks: false },
  };
  const y = {
    field: 'row',
    type: 'nominal' as const,
    sort: [...rowLabels],
    title: options.rowTitle ?? null,
    axis: { domain: false, ticks: false },
  };
  const spec: TopLevelSpec = {
    title,
    data: { values: cells },
    width: { step },
    height: { step },
    encoding: { x, y },
    layer: [
      {
        name: 'cells',
        mark: { type: 'rect', stroke: 'white', strokeWidth: annotated ? 1 : 0 },
        encoding: {
          color: {
            field: 'value',
            type: 'quantitative',
            title: options.valueLabel ?? 'value',
            scale: {
              scheme: diverging ? DIVERGING_SCHEME : SEQUENTIAL_SCHEME,
              domain: [domain[0], domain[1]],
              ...(diverging ? { domainMid: 0 } : {}),
              clamp: true,
            },
            legend: { format, gradientLength: Math.min(240, Math.max(120, step * rowLabels.length)) },
          },
        },
      },
      ...(annotated
        ? [
            {
              name: 'cell_values',
              mark: { type: 'text' as const, fontSize: 10.5, baseline: 'middle' as const },
              encoding: {
                text: { field: 'value', type: 'quantitative' as const, format },
                color: { condition: { test: "datum.ink === 'white'", value: 'white' }, value: 'black' },
              },
            },
          ]
        : []),
    ],
  };
  return renderVegaLite(spec);
}

/**
 * Grouped bars (one group per category, one bar per series) with an error bar on each,
 * e.g. EM rates with Wilson intervals, or a metric by condition with t intervals over seeds.
 */
export async function barsWithIntervals(options: BarsWithIntervalsOptions): Promise<string> {
  const { title, categories, series } = options;
  const where = `barsWithIntervals '${title}'`;
  assertDistinctLabels(categories, `${where}: categories`);
  if (series.length === 0) throw new RangeError(`${where}: series is empty; give at least one`);
  assertDistinctLabels(series.map((s) => s.name), `${where}: series names`);
  series.forEach((s) => assertIntervalSeries(s, categories.length, `${where}: series '${s.name}'`));
  if (options.yDomain) assertDomain(options.yDomain, `${where}: yDomain`);
  const rows = series.flatMap((s) =>
    categories.map((category, i) => ({
      category,
      series: s.name,
      value: s.values[i],
      lower: s.lower[i],
      upper: s.upper[i],
    })),
  );
  const seriesNames = series.map((s) => s.name);
  const barWidth = series.length === 1 ? 40 : Math.max(16, Math.round(60 / series.length));
  // Each category's slot fits its bars, and widens to keep its label horizontal unless that
  // would make the chart wider than MAX_CHART_WIDTH (the labels are then slanted).
  const labelWidth = Math.max(...categories.map((c) => estimateTextWidth(c, AXIS_LABEL_SIZE)));
  const barsWidth = barWidth * series.length + 24;
  const widened = Math.max(barsWidth, Math.min(labelWidth + 12, 140));
  const groupWidth = widened * categories.length <= MAX_CHART_WIDTH ? widened : barsWidth;
  const x = {
    field: 'category',
    type: 'nominal' as const,
    sort: [...categories],
    title: options.xLabel ?? null,
    scale: { paddingInner: 0.2, paddingOuter: 0.1 },
    axis: { labelAngle: categoryLabelAngle(categories, groupWidth) },
  };
  const xOffset = { field: 'series', type: 'nominal' as const, sort: seriesNames, scale: { paddingInner: 0.08 } };
  const yScale = options.yDomain ? { domain: [options.yDomain[0], options.yDomain[1]], clamp: true } : { zero: true };
  const spec: TopLevelSpec = {
    title,
    data: { values: rows },
    width: Math.max(240, groupWidth * categories.length),
    height: 260,
    encoding: { x, xOffset },
    layer: [
      {
        name: 'bars',
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'value', type: 'quantitative', title: options.yLabel, scale: yScale },
          color: {
            field: 'series',
            type: 'nominal',
            sort: seriesNames,
            title: null,
            legend: series.length > 1 ? { orient: 'top', direction: 'horizontal' } : null,
          },
        },
      },
      {
        name: 'intervals',
        mark: { type: 'rule', color: NEUTRAL_INK, strokeWidth: 1.5 },
        encoding: { y: { field: 'lower', type: 'quantitative' }, y2: { field: 'upper' } },
      },
      {
        name: 'interval_caps',
        transform: [{ fold: ['lower', 'upper'], as: ['end', 'bound'] }],
        mark: { type: 'tick', color: NEUTRAL_INK, opacity: 1, thickness: 1.5, size: Math.min(10, barWidth * 0.6) },
        encoding: { y: { field: 'bound', type: 'quantitative' } },
      },
    ],
  };
  return renderVegaLite(spec);
}

/**
 * Points with optional labels, an optional least-squares line and an annotation line such as
 * a rank correlation, e.g. marker leakage against cosine distance to the coupled persona.
 */
export async function scatter(options: ScatterOptions): Promise<string> {
  const { title, points } = options;
  const where = `scatter '${title}'`;
  if (points.length === 0) throw new RangeError(`${where}: points is empty; give at least one`);
  assertFinite(points.map((p) => p.x), `${where}: x`);
  assertFinite(points.map((p) => p.y), `${where}: y`);
  if (options.fitLine && new Set(points.map((p) => p.x)).size < 2) {
    throw new RangeError(`${where}: fitLine needs at least 2 distinct x values`);
  }
  const rows = points.map((p) => ({ x: p.x, y: p.y, label: p.label ?? '' }));
  const labelled = points.length <= MAX_LABELLED_POINTS && points.some((p) => p.label);
  const x = { field: 'x', type: 'quantitative' as const, title: options.xLabel, scale: { zero: false, nice: true } };
  const y = { field: 'y', type: 'quantitative' as const, title: options.yLabel, scale: { zero: false, nice: true } };
  const spec: TopLevelSpec = {
    title: options.annotation ? { text: title, subtitle: options.annotation } : title,
    data: { values: rows },
    width: 420,
    height: 300,
    encoding: { x, y },
    layer: [
      ...(options.fitLine
        ? [
            {
              name: 'fit_line',
              transform: [{ regression: 'y', on: 'x' }],
              mark: { type: 'line' as const, color: '#D55E00', strokeWidth: 2, strokeDash: [6, 4] },
            },
          ]
        : []),
      {
        name: 'points',
        mark: { type: 'circle', size: 64, color: '#0072B2', opacity: 0.9, stroke: 'white', strokeWidth: 0.8 },
      },
      ...(labelled
        ? [
            {
              name: 'point_labels',
              mark: { type: 'text' as const, align: 'left' as const, dx: 7, dy: -6, fontSize: 10.5, color: '#333333' },
              encoding: { text: { field: 'label', type: 'nominal' as const } },
            },
          ]
        : []),
    ],
  };
  return renderVegaLite(spec);
}

/**
 * One line per series (colour and dash pattern both tell them apart), e.g. loss curves;
 * sparse series (evaluations at a few checkpoints) also mark each point.
 */
export async function lines(options: LinesOptions): Promise<string> {
  const { title, series } = options;
  const where = `lines '${title}'`;
  if (series.length === 0) throw new RangeError(`${where}: series is empty; give at least one`);
  assertDistinctLabels(series.map((s) => s.name), `${where}: series names`);
  const logScale = options.yScale === 'log';
  for (const s of series) {
    if (s.points.length === 0) throw new RangeError(`${where}: series '${s.name}' has no points`);
    assertFinite(s.points.map((p) => p.x), `${where}: series '${s.name}' x`);
    assertFinite(s.points.map((p) => p.y), `${where}: series '${s.name}' y`);
    if (logScale && s.points.some((p) => p.y <= 0)) {
      throw new RangeError(`${where}: series '${s.name}' has y <= 0, which a log scale cannot show; use yScale 'linear'`);
    }
  }
  const names = series.map((s) => s.name);
  const sparse = series.every((s) => s.points.length <= MAX_MARKED_LINE_POINTS);
  const rows = series.flatMap((s) => s.points.map((p, order) => ({ series: s.name, x: p.x, y: p.y, order })));
  const seriesChannel = {
    field: 'series',
    type: 'nominal' as const,
    sort: names,
    title: null,
    legend:
      series.length > 1
        ? { orient: 'top' as const, direction: 'horizontal' as const, symbolType: 'stroke', symbolStrokeWidth: 2.5 }
        : null,
  };
  const spec: TopLevelSpec = {
    title,
    data: { values: rows },
    width: 460,
    height: 280,
    mark: { type: 'line', strokeWidth: 2, point: sparse ? { filled: true, size: 36 } : false },
    name: 'lines',
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xLabel, scale: { zero: false, nice: true } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: options.yLabel,
        scale: logScale ? { type: 'log' } : { zero: false, nice: true },
      },
      color: seriesChannel,
      strokeDash: seriesChannel,
      order: { field: 'order', type: 'quantitative' },
    },
  };
  return renderVegaLite(spec);
}

/**
 * A dot-and-interval plot comparing two measurements per category, e.g. marker rates per
 * persona before and after a second fine-tune: one row per category, the before and after
 * estimates side by side with their intervals, and a grey connector showing the move.
 */
export async function beforeAfter(options: BeforeAfterOptions): Promise<string> {
  const { title, categories, before, after } = options;
  const where = `beforeAfter '${title}'`;
  assertDistinctLabels(categories, `${where}: categories`);
  assertDistinctLabels([before.name, after.name], `${where}: before/after names`);
  assertIntervalSeries(before, categories.length, `${where}: before`);
  assertIntervalSeries(after, categories.length, `${where}: after`);
  if (options.xDomain) assertDomain(options.xDomain, `${where}: xDomain`);
  const phases = [before.name, after.name];
  const estimates = [before, after].flatMap((s) =>
    categories.map((category, i) => ({
      category,
      phase: s.name,
      value: s.values[i],
      lower: s.lower[i],
      upper: s.upper[i],
    })),
  );
  const moves = categories.map((category, i) => ({ category, from: before.values[i], to: after.values[i] }));
  const xScale = options.xDomain ? { domain: [options.xDomain[0], options.xDomain[1]], clamp: true } : { zero: false, nice: true };
  // Rows are bands exactly ROW_HEIGHT tall; the two estimates sit 5 px above and below the
  // row's centre line (yOffset positions are measured from the top of the band).
  const y = {
    field: 'category',
    type: 'nominal' as const,
    sort: [...categories],
    title: null,
    scale: { type: 'band' as const, paddingInner: 0, paddingOuter: 0 },
    axis: { ticks: false, domain: false },
  };
  const yOffset = {
    field: 'phase',
    type: 'nominal' as const,
    sort: phases,
    scale: { range: [ROW_HEIGHT / 2 - 10, ROW_HEIGHT / 2 + 10] },
  };
  const colour = {
    field: 'phase',
    type: 'nominal' as const,
    sort: phases,
    title: null,
    legend: { orient: 'top' as const, direction: 'horizontal' as const },
  };
  const spec: TopLevelSpec = {
    title,
    width: 420,
    height: ROW_HEIGHT * categories.length,
    encoding: { y },
    layer: [
      {
        name: 'moves',
        data: { values: moves },
        mark: { type: 'rule', color: '#9a9a9a', strokeWidth: 5, opacity: 0.35 },
        encoding: {
          x: { field: 'from', type: 'quantitative', title: options.xLabel, scale: xScale },
          x2: { field: 'to' },
        },
      },
      {
        name: 'intervals',
        data: { values: estimates },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'lower', type: 'quantitative' },
          x2: { field: 'upper' },
          yOffset,
          color: colour,
        },
      },
      {
        name: 'estimates',
        data: { values: estimates },
        mark: { type: 'point', filled: true, size: 60, opacity: 1, stroke: 'white', strokeWidth: 0.8 },
        encoding: {
          x: { field: 'value', type: 'quantitative' },
          yOffset,
          color: colour,
          shape: colour,
        },
      },
    ],
  };
  return renderVegaLite(spec);
}

function defaultHeatmapDomain(values: readonly number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (lo < 0 && hi > 0) {
    const m = Math.max(-lo, hi);
    return [-m, m];
  }
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

/** Where `value` falls on the colour ramp [0, 1], as Vega computes it (clamped, piecewise about 0 when diverging). */
function heatmapColourPosition(value: number, domain: readonly [number, number], diverging: boolean): number {
  const [lo, hi] = domain;
  const t = diverging
    ? value < 0
      ? 0.5 * (value - lo) / -lo
      : 0.5 + 0.5 * value / hi
    : (value - lo) / (hi - lo);
  return Math.min(1, Math.max(0, t));
}

/** WCAG relative luminance of a CSS colour written `rgb(r, g, b)` or `#rrggbb`. */
function relativeLuminance(colour: string): number {
  const rgb = colour.match(/^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/);
  const hex = colour.match(/^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i);
  const channels = rgb
    ? rgb.slice(1, 4).map(Number)
    : hex
      ? hex.slice(1, 4).map((h) => parseInt(h, 16))
      : undefined;
  if (!channels) throw new Error(`relativeLuminance: cannot read colour '${colour}'`);
  const [r, g, b] = channels.map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function categoryLabelAngle(labels: readonly string[], groupWidth: number): number {
  // Horizontal labels when each fits in its slot with a few px to spare.
  return Math.max(...labels.map((l) => estimateTextWidth(l, AXIS_LABEL_SIZE))) + 8 <= groupWidth ? 0 : -35;
}

function assertDistinctLabels(labels: readonly string[], what: string): void {
  if (labels.length === 0) throw new RangeError(`${what} is empty; give at least one`);
  const seen = new Set<string>();
  for (const label of labels) {
    if (seen.has(label)) throw new RangeError(`${what}: '${label}' appears twice; labels must be distinct`);
    seen.add(label);
  }
}

function assertFinite(values: readonly number[], what: string): void {
  const i = values.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw new RangeError(`${what}: entry ${i} is ${values[i]}; every value must be a finite number`);
}

function assertDomain(domain: readonly [number, number], what: string): void {
  assertFinite(domain, what);
  if (!(domain[0] < domain[1])) throw new RangeError(`${what} [${domain[0]}, ${domain[1]}] must have min < max`);
}

function assertIntervalSeries(s: IntervalSeries, length: number, what: string): void {
  for (const key of ['values', 'lower', 'upper'] as const) {
    if (s[key].length !== length) {
      throw new RangeError(`${what}: ${key} has ${s[key].length} entries but there are ${length} categories`);
    }
    assertFinite(s[key], `${what}: ${key}`);
  }
  const i = s.lower.findIndex((lo, k) => lo > s.upper[k]);
  if (i >= 0) throw new RangeError(`${what}: entry ${i} has lower ${s.lower[i]} > upper ${s.upper[i]}`);
}
