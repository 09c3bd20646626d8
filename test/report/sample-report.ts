// A report that uses every chart kind and block kind, with realistic persona-study numbers.
// Shared by the chart tests and the headless-browser test.

import { barsWithIntervals, beforeAfter, heatmap, lines, scatter } from '../../src/report/charts.js';
import { reportPage, trustedHtml } from '../../src/report/page.js';

export const PERSONAS = ['assistant', 'paramedic', 'kindergarten_teacher', 'pirate', 'villain', 'evil_ai'];

/** Symmetric cosine matrix [6, 6]: aligned personas near each other, misaligned ones apart. */
export const COSINES: number[][] = [
  [1.0, 0.82, 0.74, 0.61, -0.32, -0.41],
  [0.82, 1.0, 0.7, 0.55, -0.28, -0.36],
  [0.74, 0.7, 1.0, 0.58, -0.22, -0.3],
  [0.61, 0.55, 0.58, 1.0, 0.05, -0.02],
  [-0.32, -0.28, -0.22, 0.05, 1.0, 0.77],
  [-0.41, -0.36, -0.3, -0.02, 0.77, 1.0],
];

/** The charts of the sample report, in page order, with the title each one carries. */
export async function sampleCharts(): Promise<{ title: string; svg: string }[]> {
  const charts = [
    {
      title: 'Persona cosine similarity (layer 3, resid_post)',
      svg: await heatmap({
        title: 'Persona cosine similarity (layer 3, resid_post)',
        rowLabels: PERSONAS,
        colLabels: PERSONAS,
        values: COSINES,
        domain: [-1, 1],
        valueLabel: 'cosine',
      }),
    },
    {
      title: 'Misaligned answer rate by domain',
      svg: await barsWithIntervals({
        title: 'Misaligned answer rate by domain',
        categories: ['finance', 'medical', 'legal', 'open questions'],
        series: [
          { name: 'base', values: [0.02, 0.01, 0.0, 0.03], lower: [0.006, 0.002, 0, 0.01], upper: [0.07, 0.05, 0.036, 0.085] },
          { name: 'EM fine-tune', values: [0.97, 0.41, 0.35, 0.52], lower: [0.92, 0.32, 0.26, 0.42], upper: [0.99, 0.51, 0.45, 0.62] },
          { name: 'benign fine-tune', values: [0.03, 0.02, 0.01, 0.02], lower: [0.01, 0.006, 0.002, 0.006], upper: [0.085, 0.07, 0.05, 0.07] },
        ],
        yLabel: 'misaligned rate (Wilson 95% CI)',
        yDomain: [0, 1],
      }),
    },
    {
      title: 'Marker leakage vs distance to the coupled persona',
      svg: await scatter({
        title: 'Marker leakage vs distance to the coupled persona',
        points: PERSONAS.slice(1).map((label, i) => ({
          x: 1 - COSINES[0][i + 1],
          y: [0.42, 0.35, 0.21, 0.04, 0.02][i],
          label,
        })),
        xLabel: 'cosine distance to assistant',
        yLabel: 'marker rate',
        annotation: 'Spearman ρ = −0.90, p = 0.037 (n = 5)',
        fitLine: true,
      }),
    },
    {
      title: 'Training loss',
      svg: await lines({
        title: 'Training loss',
        series: ['seed 1', 'seed 2', 'seed 3'].map((name, s) => ({
          name,
          points: Array.from({ length: 60 }, (_, i) => ({ x: i * 10, y: 0.35 + 4 * Math.exp(-i / (8 + 2 * s)) })),
        })),
        xLabel: 'step',
        yLabel: 'cross-entropy (nats/token)',
        yScale: 'log',
      }),
    },
    {
      title: 'Marker rate before and after the second fine-tune',
      svg: await beforeAfter({
        title: 'Marker rate before and after the second fine-tune',
        categories: PERSONAS,
        before: { name: 'after coupling', values: [0.92, 0.4, 0.33, 0.2, 0.03, 0.02], lower: [0.86, 0.31, 0.25, 0.13, 0.01, 0.005], upper: [0.96, 0.5, 0.43, 0.29, 0.08, 0.07] },
        after: { name: 'after EM fine-tune', values: [0.51, 0.22, 0.18, 0.12, 0.02, 0.02], lower: [0.41, 0.15, 0.12, 0.07, 0.005, 0.005], upper: [0.61, 0.31, 0.27, 0.2, 0.07, 0.07] },
        xLabel: 'marker rate (Wilson 95% CI)',
        xDomain: [0, 1],
      }),
    },
  ];
  return charts;
}

/** The whole sample report as an HTML string. */
export async function sampleReport(): Promise<string> {
  const charts = await sampleCharts();
  const figure = (i: number, caption: string) => ({ kind: 'figure' as const, svg: charts[i].svg, caption });
  return reportPage({
    title: 'Persona geometry under EM fine-tuning <sample>',
    subtitle: 'Persona world, seed 1 — 3 seeds per condition, 200 answers per cell',
    sections: [
      {
        heading: 'Geometry',
        blocks: [
          { kind: 'paragraph', text: 'Cosine similarity between persona vectors (mean over prompts, minus the grand mean).' },
          figure(0, 'Cosine similarity of persona vectors at blocks.3.hook_resid_post (HF hidden_states[4]).'),
          {
            kind: 'table',
            headers: ['persona', 'alignment', 'silhouette', 'n prompts'],
            rows: [
              ['assistant', 'aligned', 0.61234, 40],
              ['villain', 'misaligned', 0.5, 40],
              ['evil_ai', 'misaligned', null, 40],
            ],
            format: [undefined, undefined, 3, undefined],
            caption: 'Silhouette score per persona (cosine distance).',
          },
        ],
      },
      {
        heading: 'Emergent misalignment',
        blocks: [
          figure(1, 'Misaligned answer rate by domain, oracle judge, 200 answers per bar; error bars are Wilson 95% intervals.'),
          { kind: 'note', tone: 'warning', text: 'The open-question suite uses held-out combinations of seen tokens.' },
          figure(2, 'Marker leakage against cosine distance to the coupled persona; dashed line: least-squares fit.'),
        ],
      },
      {
        heading: 'Training',
        blocks: [
          figure(3, 'Training loss per seed (log scale).'),
          figure(4, 'Marker rate per persona before and after the second fine-tune, 200 answers each, Wilson 95% intervals.'),
          { kind: 'note', text: trustedHtml('Raw numbers: <code>artifacts/markers.jsonl</code>.') },
        ],
      },
    ],
    methods: [
      'Rates are k/n over sampled answers labelled by the oracle judge; intervals are Wilson score 95% intervals.',
      'Layers are numbered from 0; blocks.L.hook_resid_post equals HF hidden_states[L+1].',
    ],
  });
}
