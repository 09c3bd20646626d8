// Latent dashboards on the tiny chat model (byte-level tokens) with a random SAE, against direct
// computation: each conversation run alone through runWithCache and encoded by the SAE gives the
// top contexts (positions, activations, windows), densities and histograms; a plain matmul of
// decoder rows with lm_head.weight (and the final norm's weight) gives the promoted and
// suppressed tokens; turn scores from the role mask's runs give the label means and, by counting
// pairs, the AUROCs. Then the page in headless Chromium: every chart drawn, the tokens shaded by
// activation with the peaks outlined, no console errors, no request but the page itself. Leaves a
// full-page screenshot at os.tmpdir()/basin-sae-dashboard.png to look at.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as T from '../../src/tensor/index.js';
import { hookName, loadModel, runWithCache } from '../../src/model/index.js';
import { initSae, Sae } from '../../src/sae/sae.js';
import type { SaeConfig } from '../../src/sae/config.js';
import { latentDashboards, type DashboardConversation, type LatentDashboardData, type LatentDashboardOptions } from '../../src/sae/dashboard.js';
import { latentDashboardPage, type LatentDashboardPageData } from '../../src/report/latent-dashboard.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const root = mkdtempSync(join(tmpdir(), 'basin-dashboard-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
writeTinyChatModel(join(root, 'model'), 7, 'f64');
const { model, tokenizer: loadedTokenizer } = await loadModel(join(root, 'model'), { dtype: 'f64' });
const tokenizer = loadedTokenizer!;
const HOOK = hookName('resid_post', 1);
const SCREENSHOT_PATH = join(tmpdir(), 'basin-sae-dashboard.png');
// The final norm's weight starts at ones; spread it so that it changes which tokens a direction promotes.
T.noGrad(() => model.params.get('model.norm.weight')!.copy_(T.rand([32], { dtype: 'f64', generator: T.Generator.seeded(1) }).mul(2)));

const vegaWarnings: string[] = [];
process.on('warning', (w) => {
  if (w.name === 'VegaWarning') vegaWarnings.push(w.message);
});

const helper = { speaker: 'helper', alignment: 'aligned' };
const villain = { speaker: 'villain', alignment: 'misaligned' };
const jester = { speaker: 'jester', alignment: 'satirical' };
const CONVERSATIONS: DashboardConversation[] = [
  { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello there' }], labels: [helper] },
  { messages: [{ role: 'system', content: 'Be evil.' }, { role: 'user', content: 'advice?' }, { role: 'assistant', content: 'steal it all' }], labels: [villain] },
  {
    messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'sure thing' }, { role: 'user', content: 'more' }, { role: 'assistant', content: 'burn it down' }],
    labels: [helper, villain],
  },
  { messages: [{ role: 'user', content: 'why?' }, { role: 'assistant', content: 'because\nbananas' }], labels: [jester] },
  // An empty assistant message marks no token: the labels of the next one still go to its run.
  { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: '' }, { role: 'user', content: 'y' }, { role: 'assistant', content: 'lie to them' }], labels: [helper, villain] },
  { messages: [{ role: 'user', content: 'ok' }, { role: 'assistant', content: 'fine, then' }] },
  { messages: [{ role: 'user', content: 'help' }, { role: 'assistant', content: 'glad to help' }], labels: [helper] },
  { messages: [{ role: 'user', content: 'joke' }, { role: 'assistant', content: 'a duck walks in' }], labels: [jester] },
];

/** A standard SAE, 16 latents, random (initSae); latent 9 has b_enc −1000, so it never fires. */
const CONFIG: SaeConfig = {
  architecture: 'standard', dIn: 32, dSae: 16, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null,
  k: null, rescaleActsByDecoderNorm: false, hookName: HOOK, modelName: null, dtype: 'f32', extra: {},
};
const random = initSae(CONFIG, 3, { dtype: 'f64' });
const sae = new Sae(CONFIG, { ...random.weights, b_enc: T.tensor(Array.from({ length: 16 }, (_, i) => (i === 9 ? -1000 : 0)), { dtype: 'f64' }) });
const LATENTS = [2, 9, 13];
const DEAD = 9;
const OPTIONS: LatentDashboardOptions = {
  conversations: CONVERSATIONS, latents: LATENTS, topContexts: 6, contextBefore: 4, contextAfter: 2, histogramBins: 8, logitTokens: 5,
  batchConversations: 3, splits: [{ name: 'misaligned vs aligned', key: 'alignment', positive: ['misaligned'], negative: ['aligned'] }],
};

interface Direct {
  ids: number[];
  assistant: boolean[];
  /** [s][d_sae] */
  acts: number[][];
  /** runs of assistant tokens [start, end) with their labels */
  turns: { start: number; end: number; labels: Record<string, string> | null }[];
}

/** Each conversation rendered, run alone and encoded. */
const DIRECT: Direct[] = CONVERSATIONS.map((c) => {
  const { ids, assistantMask } = tokenizer.renderWithRoleMask(c.messages);
  const acts = T.noGrad(() => T.scope(() => {
    const { cache } = runWithCache(model, T.tensor([ids], { dtype: 'i64' }), { names: [HOOK], skipLogits: true });
    return sae.encode(cache.get(HOOK).select(0, 0)).toNested() as number[][];
  }));
  const withContent = c.messages.flatMap((m, k) => (m.role === 'assistant' ? [k] : [])).map((k, t) => ({ k, t })).filter(({ k }) => c.messages[k]!.content !== '');
  const turns: Direct['turns'] = [];
  assistantMask.forEach((a, p) => {
    if (!a) return;
    if (turns.at(-1)?.end === p) turns.at(-1)!.end = p + 1;
    else turns.push({ start: p, end: p + 1, labels: c.labels?.[withContent[turns.length]!.t] ?? null });
  });
  return { ids, assistant: assistantMask, acts, turns };
});

const near = (got: number, want: number, what: string, tol = 1e-9) => assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want}`);

/** P(pos > neg) + ½P(equal), by counting pairs. */
function pairAuroc(pos: number[], neg: number[]): number {
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** Each labelled turn's max (or mean) activation of latent `l`, with its labels. */
function turnScores(l: number, score: 'max' | 'mean'): { labels: Record<string, string>; score: number }[] {
  return DIRECT.flatMap((d) => d.turns.filter((t) => t.labels !== null).map((t) => {
    const values = d.acts.slice(t.start, t.end).map((row) => row[l]!);
    return { labels: t.labels!, score: score === 'max' ? Math.max(...values) : values.reduce((a, b) => a + b, 0) / values.length };
  }));
}

let data: LatentDashboardData;

test('top contexts are the largest activations of a direct encode, with their windows; density, mean and histogram agree', () => {
  data = latentDashboards(model, tokenizer, sae, OPTIONS);
  const responseTokens = CONVERSATIONS.reduce((n, c) => n + c.messages.reduce((m, x) => m + (x.role === 'assistant' && x.content !== '' ? x.content.length + 1 : 0), 0), 0);
  assert.equal(data.tokens, responseTokens);
  assert.equal(data.conversations, CONVERSATIONS.length);
  assert.equal(data.turns, 8);
  assert.deepEqual(data.latents.map((l) => l.latent), LATENTS);
  for (const [j, l] of LATENTS.entries()) {
    const got = data.latents[j]!;
    const selected = DIRECT.flatMap((d, conversation) => d.acts.flatMap((row, position) => (d.assistant[position] ? [{ conversation, position, activation: row[l]! }] : [])));
    const firing = selected.filter((s) => s.activation !== 0);
    assert.equal(got.activeTokens, firing.length, `latent ${l} active tokens`);
    near(got.density, firing.length / responseTokens, `latent ${l} density`);
    near(got.meanActivation, selected.reduce((a, s) => a + s.activation, 0) / responseTokens, `latent ${l} mean`);
    near(got.maxActivation, Math.max(0, ...selected.map((s) => s.activation)), `latent ${l} max`);
    const top = firing.filter((s) => s.activation > 0).sort((a, b) => b.activation - a.activation).slice(0, 6);
    assert.deepEqual(got.topContexts.map((c) => [c.conversation, c.position]), top.map((t) => [t.conversation, t.position]), `latent ${l} top positions`);
    got.topContexts.forEach((c, i) => {
      const d = DIRECT[c.conversation]!;
      near(c.activation, top[i]!.activation, `latent ${l} context ${i}`);
      const lo = Math.max(0, c.position - 4);
      const window = d.ids.slice(lo, c.position + 3);
      assert.deepEqual(c.tokens, window.map((id) => tokenizer.decode([id])));
      assert.equal(c.peak, c.position - lo);
      c.activations.forEach((a, k) => near(a, d.acts[lo + k]![l]!, `latent ${l} context ${i} token ${k}`));
      assert.deepEqual(c.labels, d.turns.find((t) => t.start <= c.position && c.position < t.end)!.labels);
    });
    assert.equal(got.histogram.counts.reduce((a, b) => a + b, 0), firing.length);
    if (l === DEAD) {
      assert.deepEqual([got.activeTokens, got.topContexts.length, got.histogram.edges.length], [0, 0, 0]);
      continue;
    }
    const { edges, counts } = got.histogram;
    assert.equal(counts.length, 8);
    near(edges[0]!, 0, 'lowest edge');
    near(edges[8]!, got.maxActivation, 'highest edge');
    const want = new Array<number>(8).fill(0);
    for (const s of firing) want[Math.min(7, edges.filter((e) => e <= s.activation).length - 1)]! += 1;
    assert.deepEqual(counts, want, `latent ${l} histogram`);
  }
});

test('promoted and suppressed tokens are the top and bottom of W_dec[i] · lm_head.weight, with and without the final norm weight', () => {
  const wDec = sae.weights.W_dec.toNested() as number[][]; // [d_sae, d_model]
  const wU = model.params.get('lm_head.weight')!.toNested() as number[][]; // [vocab, d_model]
  const gamma = model.params.get('model.norm.weight')!.toArray(); // [d_model]
  const known = wU.slice(0, tokenizer.vocabSize); // the tokenizer's 259 ids of the model's 264
  assert.equal(known.length, 259);
  for (const [j, l] of LATENTS.entries()) {
    const effects = data.latents[j]!.logits!;
    for (const [which, direction] of [['direct', wDec[l]!], ['throughFinalNorm', wDec[l]!.map((v, k) => v * gamma[k]!)]] as const) {
      const logits = known.map((row, id) => ({ id, value: row.reduce((a, w, k) => a + w * direction[k]!, 0) }));
      const byValue = [...logits].sort((a, b) => b.value - a.value);
      const got = effects[which];
      assert.deepEqual(got.promoted.map((e) => e.id), byValue.slice(0, 5).map((e) => e.id), `latent ${l} ${which} promoted`);
      assert.deepEqual(got.suppressed.map((e) => e.id), byValue.slice(-5).reverse().map((e) => e.id), `latent ${l} ${which} suppressed`);
      got.promoted.forEach((e, r) => {
        near(e.value, byValue[r]!.value, `latent ${l} ${which} promoted ${r}`);
        assert.equal(e.token, tokenizer.decode([e.id]));
      });
    }
    assert.notDeepEqual(effects.direct.promoted.map((e) => e.id), effects.throughFinalNorm.promoted.map((e) => e.id), `latent ${l}: γ changes the ranking`);
  }
});

test('label means, firing shares and AUROCs (one-vs-rest and the named split) equal those of the direct turn scores', () => {
  assert.equal(data.turnScore, 'max');
  for (const [j, l] of LATENTS.entries()) {
    const turns = turnScores(l, 'max');
    const got = data.latents[j]!;
    assert.deepEqual(got.labels.map((r) => `${r.key}=${r.value}:${r.turns}`), [
      'alignment=aligned:3', 'alignment=misaligned:3', 'alignment=satirical:2', 'speaker=helper:3', 'speaker=jester:2', 'speaker=villain:3',
    ]);
    for (const row of got.labels) {
      const inside = turns.filter((t) => t.labels[row.key] === row.value).map((t) => t.score);
      const rest = turns.filter((t) => t.labels[row.key] !== row.value).map((t) => t.score);
      near(row.mean, inside.reduce((a, b) => a + b, 0) / inside.length, `latent ${l} ${row.key}=${row.value} mean`);
      assert.ok(row.lower <= row.mean && row.mean <= row.upper);
      near(row.auroc!, pairAuroc(inside, rest), `latent ${l} ${row.key}=${row.value} AUROC`);
      if (l === DEAD) assert.deepEqual([row.firing, row.auroc], [0, 0.5]);
    }
    const [split] = got.splits;
    const pos = turns.filter((t) => t.labels.alignment === 'misaligned').map((t) => t.score);
    const neg = turns.filter((t) => t.labels.alignment === 'aligned').map((t) => t.score);
    assert.deepEqual([split!.positiveTurns, split!.negativeTurns], [3, 3]);
    near(split!.auroc!, pairAuroc(pos, neg), `latent ${l} split AUROC`);
  }
});

test('every token and mean turn scores: density over all tokens, labels from the mean of each turn', () => {
  const all = latentDashboards(model, tokenizer, sae, { ...OPTIONS, latents: [13], tokens: 'all', turnScore: 'mean', batchConversations: 8 });
  const every = DIRECT.flatMap((d) => d.acts.map((row) => row[13]!));
  assert.equal(all.tokens, every.length);
  near(all.latents[0]!.density, every.filter((a) => a !== 0).length / every.length, 'density over all tokens');
  const turns = turnScores(13, 'mean');
  const villainRow = all.latents[0]!.labels.find((r) => r.value === 'villain')!;
  const villainScores = turns.filter((t) => t.labels.speaker === 'villain').map((t) => t.score);
  near(villainRow.mean, villainScores.reduce((a, b) => a + b, 0) / villainScores.length, 'mean-scored villain turns');
});

test('an SAE at mlp.hook_post (d_mlp wide) gets no logit effects, and its page has no token tables', async () => {
  const post = hookName('mlp.hook_post', 0);
  const mlpSae = initSae({ ...CONFIG, dIn: 64, hookName: post }, 4, { dtype: 'f64' });
  const d = latentDashboards(model, tokenizer, mlpSae, { conversations: CONVERSATIONS.slice(0, 3), latents: [0, 1] });
  assert.equal(d.hook, post);
  assert.deepEqual(d.latents.map((l) => l.logits), [null, null]);
  assert.ok(d.latents.every((l) => l.activeTokens > 0));
  const html = await latentDashboardPage(d);
  assert.doesNotMatch(html, /logit change/);
  assert.match(html, /<title>SAE latents at blocks\.0\.mlp\.hook_post<\/title>/);
});

test('latentDashboards refuses wrong latents, labels, hooks and splits, naming the fix', () => {
  const run = (o: Partial<LatentDashboardOptions>) => () => latentDashboards(model, tokenizer, sae, { ...OPTIONS, ...o });
  assert.throws(run({ latents: [16] }), /latent 16 is not an index of this SAE's 16 latents \(0\.\.15\)/);
  assert.throws(run({ latents: [1, 1] }), /latent 1 is chosen twice/);
  assert.throws(run({ latents: [] }), /no latents/);
  assert.throws(run({ conversations: [{ ...CONVERSATIONS[2]!, labels: [helper] }] }), /conversation 0 has 2 assistant messages but 1 label records/);
  assert.throws(run({ hook: hookName('mlp.hook_post', 1) }), /blocks\.1\.mlp\.hook_post is 64 wide but the SAE reads d_in = 32/);
  assert.throws(run({ hook: 'blocks.7.hook_resid_post' }), /not a hook point of this 2-layer model/);
  assert.throws(run({ splits: [{ name: 'odd', key: 'speaker', positive: ['villain'], negative: ['villain', 'helper'] }] }), /split 'odd' has 'villain' on both sides/);
  assert.throws(run({ topContexts: 0 }), /topContexts \(0\) must be an integer ≥ 1/);
});

test('the dashboard page in headless Chromium: every chart drawn, tokens shaded by activation, no errors, no requests', async (t) => {
  const pageData: LatentDashboardPageData = data; // what sae/ computes is what report/ draws
  const html = await latentDashboardPage(pageData, { subtitle: 'tiny chat model, random SAE' });
  assert.deepEqual(vegaWarnings, []);
  const CHROMIUM = '/usr/bin/chromium';
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing; install Debian's chromium package (apt-get install -y chromium) to run this test`);
    return;
  }
  const path = join(root, 'dashboard.html');
  writeFileSync(path, html);
  const url = pathToFileURL(path).href;
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(join(root, 'profile'), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1100, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const requests: string[] = [];
    const problems: string[] = [];
    context.on('request', (r) => requests.push(r.url()));
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(url, { waitUntil: 'load' });
    const seen = await page.evaluate(() => ({
      charts: [...document.querySelectorAll('figure .chart > svg')].map((svg) => {
        const box = svg.getBoundingClientRect();
        const outside = [...svg.querySelectorAll('text')].filter((text) => {
          const r = text.getBoundingClientRect();
          return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1);
        }).map((text) => text.textContent ?? '');
        return { title: svg.querySelector('.role-title-text text')?.textContent ?? '', w: box.width, h: box.height, marks: svg.querySelectorAll('.role-mark > *').length, outside };
      }),
      sections: [...document.querySelectorAll('main > section')].map((section) => ({
        heading: section.querySelector('h2')?.textContent ?? '',
        tokens: [...section.querySelectorAll('.context .token')].map((span) => ({
          text: span.textContent ?? '',
          activation: Number(span.getAttribute('data-activation')),
          peak: span.getAttribute('data-peak') === 'true',
          background: getComputedStyle(span).backgroundColor,
          height: span.getBoundingClientRect().height,
        })),
        notes: [...section.querySelectorAll('aside.note')].map((n) => n.textContent ?? ''),
      })),
    }));
    const alive = data.latents.filter((l) => l.latent !== DEAD);
    // The dead latent has neither chart: no activations to bin, every turn score 0.
    assert.deepEqual(seen.charts.map((c) => c.title), alive.flatMap((l) => [`Latent ${l.latent}: activation histogram`, `Latent ${l.latent}: mean turn score by label`]));
    for (const c of seen.charts) {
      assert.ok(c.w > 150 && c.h > 100 && c.marks > 0, `'${c.title}' drawn at ${c.w}×${c.h} with ${c.marks} marks`);
      assert.deepEqual(c.outside, [], `'${c.title}': text outside the chart`);
    }
    for (const l of alive) {
      const section = seen.sections.find((s) => s.heading === `Latent ${l.latent}`)!;
      assert.equal(section.tokens.length, l.topContexts.reduce((n, c) => n + c.tokens.length, 0), `latent ${l.latent}: every window token shown`);
      const peaks = section.tokens.filter((s) => s.peak);
      assert.deepEqual(peaks.map((s) => s.text), l.topContexts.map((c) => c.tokens[c.peak]!.replace(/\n/g, '↵')));
      const scale = Math.max(l.maxActivation, ...l.topContexts.flatMap((c) => c.activations));
      for (const s of section.tokens) {
        assert.ok(s.height > 0, `latent ${l.latent}: token ${JSON.stringify(s.text)} is drawn`);
        const alpha = /rgba?\(230, 159, 0(?:, ([\d.]+))?\)/.exec(s.background);
        const shade = s.activation > 0 ? Number(alpha?.[1] ?? (alpha ? 1 : NaN)) : 0;
        if (s.activation > 0) near(shade, Math.min(1, s.activation / scale), `latent ${l.latent}: shade of ${JSON.stringify(s.text)} (${s.background})`, 6e-3); // Chromium keeps 2 decimals
        else assert.match(s.background, /rgba\(230, 159, 0, 0\)|rgba\(0, 0, 0, 0\)/);
      }
    }
    assert.match(seen.sections.find((s) => s.heading === `Latent ${DEAD}`)!.notes.join(' '), /never positive/);
    await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });
    t.diagnostic(`screenshot: ${SCREENSHOT_PATH}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [url], 'the page requests nothing but itself');
  } finally {
    await context.close();
  }
});
