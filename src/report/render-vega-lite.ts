// Server-side chart rendering: a Vega-Lite spec is compiled to Vega, run headless in Node
// (renderer 'none': no canvas, no DOM) and serialised to a standalone SVG string that can be
// inlined into an HTML report. Nothing is fetched: every chart carries its data inline.

import { logger, parse, View, Warn } from 'vega';
import { compile, type Config, type TopLevelSpec } from 'vega-lite';
import { useEstimatedTextWidths } from './text-width.js';

/** Font stack shared by the charts and the report page; all are local system fonts. */
export const FONT_STACK =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif';

/**
 * Okabe & Ito (2008) categorical palette, ordered for contrast on white: distinguishable under
 * protanopia, deuteranopia and tritanopia. Yellow (#F0E442) is left out: it vanishes on white.
 */
export const CATEGORY_COLOURS = [
  '#0072B2', // blue
  '#E69F00', // orange
  '#009E73', // bluish green
  '#D55E00', // vermillion
  '#CC79A7', // reddish purple
  '#56B4E9', // sky blue
  '#000000', // black
] as const;

/** Colour schemes for continuous values; both are built to be readable with colour-vision deficiencies. */
export const SEQUENTIAL_SCHEME = 'viridis';
export const DIVERGING_SCHEME = 'blueorange';

/** Dark grey used for error bars, connectors and other ink that carries no category. */
export const NEUTRAL_INK = '#333333';

/** Axis tick labels, px; chart builders use it to decide whether labels fit horizontally. */
export const AXIS_LABEL_SIZE = 11;

const THEME: Config = {
  background: 'white',
  padding: 12,
  font: FONT_STACK,
  title: {
    fontSize: 15,
    fontWeight: 600,
    anchor: 'start',
    offset: 12,
    color: '#1a1a1a',
    subtitleFontSize: 12,
    subtitleColor: '#444444',
    subtitleFontStyle: 'italic',
    subtitlePadding: 4,
  },
  axis: {
    labelFontSize: AXIS_LABEL_SIZE,
    labelColor: '#333333',
    titleFontSize: 12,
    titleFontWeight: 600,
    titleColor: '#1a1a1a',
    titlePadding: 8,
    gridColor: '#e8e8e8',
    domainColor: '#888888',
    tickColor: '#888888',
    labelLimit: 180,
  },
  // About one tick per 70 px across (Vega's default, one per 40 px, crowds decimal labels).
  axisX: { tickCount: { expr: 'ceil(width / 70)' } },
  legend: {
    labelFontSize: 11,
    labelColor: '#333333',
    titleFontSize: 12,
    titleFontWeight: 600,
    titleColor: '#1a1a1a',
    labelLimit: 220,
  },
  view: { stroke: null },
  range: { category: [...CATEGORY_COLOURS] },
};

/**
 * Vega-Lite and Vega warnings (a conflicting scale, an unknown field) mean a chart is not
 * what its builder meant. They go to Node's process warnings, type 'VegaWarning', so that
 * they show on stderr once and tests can listen for them, without failing a finished study.
 */
const WARNING_LOGGER = logger(Warn, 'warn', (_method, _level, args) => {
  process.emitWarning(args.map(String).join(' '), 'VegaWarning');
});

/** Renders a Vega-Lite spec (the shared theme applied) to an SVG string `<svg …>…</svg>`. */
export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  useEstimatedTextWidths();
  const vegaSpec = compile(spec, { config: THEME, logger: WARNING_LOGGER }).spec;
  const view = new View(parse(vegaSpec), { renderer: 'none', logger: WARNING_LOGGER });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
