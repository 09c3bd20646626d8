// The latent dashboard page: one self-contained report (page.ts) with a section per SAE latent —
// its density, its top contexts as text whose tokens are shaded by the latent's activation, a
// histogram of its activations, the tokens its decoder direction promotes and suppresses through
// the unembedding, and its mean activation and AUROCs by label. It takes plain data declared here
// (report/ knows no SAE: src/sae/dashboard.ts computes objects of this shape, and the caller
// connects the two).

import type { TopLevelSpec } from 'vega-lite';
import { barsWithIntervals } from './charts.js';
import { escapeHtml, formatNumber, reportPage, trustedHtml, type Block, type ReportSection, type TableCell } from './page.js';
import { renderVegaLite } from './render-vega-lite.js';

/** A token and how much a direction moves its logit. */
export interface DashboardTokenEffect {
  token: string;
  value: number;
}

export interface DashboardLogitEffects {
  /** largest first */
  promoted: readonly DashboardTokenEffect[];
  /** smallest first */
  suppressed: readonly DashboardTokenEffect[];
}

/** A window of tokens around one of the latent's largest activations. */
export interface DashboardContext {
  conversation: number;
  activation: number;
  /** [window] */
  tokens: readonly string[];
  /** the latent's activation at each token [window] */
  activations: readonly number[];
  /** index of the peak token in the window */
  peak: number;
  labels: Readonly<Record<string, string>> | null;
}

export interface DashboardLabelRow {
  key: string;
  value: string;
  turns: number;
  mean: number;
  lower: number;
  upper: number;
  firing: number;
  auroc: number | null;
}

export interface DashboardSplitRow {
  name: string;
  positiveTurns: number;
  negativeTurns: number;
  positiveMean: number | null;
  negativeMean: number | null;
  auroc: number | null;
}

export interface DashboardLatent {
  latent: number;
  density: number;
  activeTokens: number;
  maxActivation: number;
  meanActivation: number;
  topContexts: readonly DashboardContext[];
  /** edges [bins + 1] and counts [bins] of the non-zero activations; both empty when it never fires */
  histogram: { edges: readonly number[]; counts: readonly number[] };
  logits: { direct: DashboardLogitEffects; throughFinalNorm: DashboardLogitEffects } | null;
  labels: readonly DashboardLabelRow[];
  splits: readonly DashboardSplitRow[];
}

export interface LatentDashboardPageData {
  hook: string;
  tokenSelection: 'response' | 'prompt' | 'all';
  conversations: number;
  truncated: number;
  tokens: number;
  turns: number;
  turnScore: 'max' | 'mean';
  finalNorm: string;
  latents: readonly DashboardLatent[];
}

export interface LatentDashboardPageOptions {
  /** default 'SAE latents at <hook>' */
  title?: string;
  /** e.g. the SAE's and the model's names */
  subtitle?: string;
}

/** Shading of tokens by activation: Okabe–Ito orange, opacity = activation / the latent's largest shown. */
const SHADE_RGB = '230, 159, 0';
const PEAK_OUTLINE = '#D55E00';
const CONTEXT_STYLE = 'display:block;margin:0.35rem 0;font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:0.85rem;line-height:1.7;white-space:pre-wrap;word-break:break-all';
const CONTEXT_VALUE_STYLE = 'display:inline-block;min-width:5.5em;color:#444;font-weight:600';
const CONTEXT_LABEL_STYLE = 'color:#555;font-size:0.85em;font-family:var(--font)';
const TOKEN_KINDS: Record<string, string> = { response: 'response (assistant) tokens', prompt: 'prompt tokens', all: 'tokens' };

/** Builds the page as one HTML document string. */
export async function latentDashboardPage(data: LatentDashboardPageData, options: LatentDashboardPageOptions = {}): Promise<string> {
  if (data.latents.length === 0) throw new RangeError('latentDashboardPage: no latents to show');
  const kind = TOKEN_KINDS[data.tokenSelection] ?? data.tokenSelection;
  const splitNames = data.latents[0]!.splits.map((s) => s.name);
  const overview: Block[] = [
    { kind: 'paragraph', text: `${data.latents.length} latents read at ${data.hook} over ${data.conversations} conversations: ${data.tokens} ${kind} and ${data.turns} labelled assistant turns.` },
    ...(data.truncated > 0 ? [{ kind: 'note' as const, tone: 'warning' as const, text: `${data.truncated} conversations were cut to the maximum length; their later tokens and turns are not counted.` }] : []),
    {
      kind: 'table',
      headers: ['latent', 'density', 'max activation', 'mean activation', ...splitNames.map((n) => `AUROC ${n}`)],
      rows: data.latents.map((l) => [l.latent, l.density, l.maxActivation, l.meanActivation, ...l.splits.map((s) => s.auroc)]),
      format: [undefined, percent, undefined, undefined, ...splitNames.map(() => 3)],
      caption: `Each latent's share of ${kind} where it is non-zero, its largest and mean activation there, and the AUROC of its turn scores for each split.`,
    },
  ];
  const sections: ReportSection[] = [{ heading: 'Latents', blocks: overview }];
  for (const latent of data.latents) sections.push({ heading: `Latent ${latent.latent}`, blocks: await latentBlocks(latent, data, kind) });
  return reportPage({
    title: options.title ?? `SAE latents at ${data.hook}`,
    ...(options.subtitle !== undefined ? { subtitle: options.subtitle } : {}),
    sections,
    methods: methods(data, kind),
  });
}

async function latentBlocks(l: DashboardLatent, data: LatentDashboardPageData, kind: string): Promise<Block[]> {
  const blocks: Block[] = [
    {
      kind: 'paragraph',
      text: `Non-zero on ${l.activeTokens} of ${data.tokens} ${kind} (density ${percent(l.density)}); largest activation ${formatNumber(l.maxActivation)}, mean ${formatNumber(l.meanActivation)} (zeros included).`,
    },
  ];
  blocks.push(l.topContexts.length === 0
    ? { kind: 'note', text: `Latent ${l.latent} is never positive on ${kind}: no contexts to show.` }
    : { kind: 'paragraph', text: trustedHtml(`<strong>Top contexts</strong> (activation, then the tokens shaded by activation, the peak outlined):${contextsHtml(l)}`) });
  if (l.histogram.counts.length > 0) {
    blocks.push({ kind: 'figure', svg: await activationHistogram(l), caption: `Latent ${l.latent}: the ${l.activeTokens} non-zero activations on ${kind}, in ${l.histogram.counts.length} equal bins (the ${data.tokens - l.activeTokens} zeros are left out).` });
  }
  if (l.logits !== null) {
    blocks.push(
      effectsTable(l.logits.throughFinalNorm, `Latent ${l.latent}: tokens whose logits its decoder direction raises and lowers most, through the final norm's weight (W_U·(γ ⊙ W_dec[i])).`),
      effectsTable(l.logits.direct, `Latent ${l.latent}: the same without the final norm (W_U·W_dec[i]).`),
    );
  }
  if (l.labels.length > 0) {
    blocks.push({
      kind: 'table',
      headers: ['label', 'value', 'turns', `mean ${data.turnScore}`, '95% interval', 'firing', 'AUROC vs rest'],
      rows: l.labels.map((r): TableCell[] => [r.key, r.value, r.turns, r.mean, `${formatNumber(r.lower)} – ${formatNumber(r.upper)}`, r.firing, r.auroc]),
      format: [undefined, undefined, undefined, undefined, undefined, percent, 3],
      caption: `Latent ${l.latent} by label: each assistant turn scored by the ${data.turnScore} of its activations; firing = share of turns where it is non-zero at some token; AUROC of the value against the label's other values (— when there are none).`,
    });
  }
  // A latent silent on every turn gets the table alone: its chart would be bars of height 0.
  if (l.labels.some((r) => r.firing > 0)) {
    blocks.push({
      kind: 'figure',
      svg: await barsWithIntervals({
        title: `Latent ${l.latent}: mean turn score by label`,
        categories: l.labels.map((r) => `${r.key}: ${r.value}`),
        series: [{ name: `mean ${data.turnScore} activation`, values: l.labels.map((r) => r.mean), lower: l.labels.map((r) => r.lower), upper: l.labels.map((r) => r.upper) }],
        yLabel: `mean turn score (${data.turnScore})`,
      }),
      caption: `Latent ${l.latent}: mean turn score for each label value, with Student-t 95% intervals over turns.`,
    });
  }
  if (l.splits.length > 0) {
    blocks.push({
      kind: 'table',
      headers: ['split', 'positive turns', 'negative turns', 'mean positive', 'mean negative', 'AUROC'],
      rows: l.splits.map((s) => [s.name, s.positiveTurns, s.negativeTurns, s.positiveMean, s.negativeMean, s.auroc]),
      format: [undefined, undefined, undefined, undefined, undefined, 3],
      caption: `Latent ${l.latent}: AUROC of turn scores, positive against negative turns of each split (— when a side has no turns).`,
    });
  }
  return blocks;
}

/** The top contexts as lines of shaded token spans (text escaped; whitespace shown as ↵ and ⇥). */
function contextsHtml(l: DashboardLatent): string {
  const scale = Math.max(l.maxActivation, ...l.topContexts.flatMap((c) => c.activations));
  return l.topContexts.map((c) => {
    const tokens = c.tokens.map((token, k) => {
      const a = c.activations[k]!;
      const alpha = scale > 0 ? Math.min(1, Math.max(0, a) / scale) : 0;
      const peak = k === c.peak;
      const style = `background-color:rgba(${SHADE_RGB}, ${alpha.toFixed(3)})${peak ? `;outline:1.5px solid ${PEAK_OUTLINE};outline-offset:-1px` : ''}`;
      return `<span class="token" data-activation="${a}"${peak ? ' data-peak="true"' : ''} title="${escapeHtml(`${JSON.stringify(token)}: ${formatNumber(a)}`)}" style="${style}">${escapeHtml(visible(token))}</span>`;
    }).join('');
    const labels = [`conversation ${c.conversation}`, ...Object.entries(c.labels ?? {}).map(([k, v]) => `${k} ${v}`)].join(' · ');
    return `<span class="context" style="${CONTEXT_STYLE}"><span style="${CONTEXT_VALUE_STYLE}">${escapeHtml(formatNumber(c.activation))}</span>${tokens} <span style="${CONTEXT_LABEL_STYLE}">${escapeHtml(labels)}</span></span>`;
  }).join('');
}

function effectsTable(effects: DashboardLogitEffects, caption: string): Block {
  const n = Math.max(effects.promoted.length, effects.suppressed.length);
  const rows = Array.from({ length: n }, (_, r): TableCell[] => {
    const p = effects.promoted[r];
    const s = effects.suppressed[r];
    return [p === undefined ? null : JSON.stringify(p.token), p?.value ?? null, s === undefined ? null : JSON.stringify(s.token), s?.value ?? null];
  });
  return { kind: 'table', headers: ['promoted', 'logit change', 'suppressed', 'logit change'], rows, caption };
}

/** Bars over pre-binned counts: bin b spans [edges[b], edges[b + 1]). */
async function activationHistogram(l: DashboardLatent): Promise<string> {
  const { edges, counts } = l.histogram;
  const spec: TopLevelSpec = {
    title: `Latent ${l.latent}: activation histogram`,
    data: { values: counts.map((count, b) => ({ start: edges[b], end: edges[b + 1], count })) },
    width: 420,
    height: 200,
    name: 'bars',
    mark: { type: 'bar', color: '#0072B2', binSpacing: 1 },
    encoding: {
      x: { field: 'start', type: 'quantitative', bin: { binned: true }, title: 'activation (non-zero)' },
      x2: { field: 'end' },
      y: { field: 'count', type: 'quantitative', title: 'tokens' },
    },
  };
  return renderVegaLite(spec);
}

function methods(data: LatentDashboardPageData, kind: string): string[] {
  const norm = data.finalNorm === 'layernorm' ? 'γ ⊙ (W_dec[i] − mean W_dec[i]), as LayerNorm centres' : 'γ ⊙ W_dec[i]';
  return [
    `The model ran on ${data.conversations} chat conversations (rendered with its chat template); the SAE encoded its activations at ${data.hook} at every token. Density, the largest and mean activation, the histogram and the top contexts count only ${kind}.`,
    'Top contexts are the tokens with the largest positive activations (ties: the earlier conversation and position first), each shown with the tokens around it (of any role) shaded by the latent\'s activation at that token: opacity = activation / the largest activation shown for the latent. Tokens are decoded one at a time, so a character split across tokens shows as �.',
    `Logit changes: the decoder row W_dec[i] times the unembedding W_U (lm_head.weight), over the tokenizer's vocabulary: directly, and through the final norm's weight γ as ${norm} (the direction as the final norm passes it on, up to the per-token 1/rms scale); the lm_head bias, the same for every direction, is left out.`,
    `Labels: each assistant turn (its message's tokens and end-of-turn token) is scored by the ${data.turnScore} of the latent's activations over its tokens. Means carry Student-t 95% intervals over turns. The AUROC is P(score of a positive turn > score of a negative turn) + ½·P(equal), from average ranks (the Mann–Whitney U over n₊·n₋): 0.5 is chance, 1 puts every positive turn above every negative one, 0 below.`,
  ];
}

/** Whitespace a reader can see: newlines ↵, tabs ⇥, an empty token ∅. */
function visible(token: string): string {
  return token === '' ? '∅' : token.replace(/\n/g, '↵').replace(/\t/g, '⇥');
}

function percent(value: number): string {
  return `${(100 * value).toFixed(value > 0 && value < 0.01 ? 2 : 1)}%`;
}
