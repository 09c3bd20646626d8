// Opens the sample report (every chart kind) in headless Chromium and checks what a reader
// would see: every chart drawn at a real size with all its text inside it, valid SVG, no
// console errors, and no request other than the report file itself. Leaves a full-page
// screenshot at os.tmpdir()/basin-report-sample.png to look at (overwritten on each run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sampleCharts, sampleReport } from './sample-report.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT_PATH = join(tmpdir(), 'basin-report-sample.png');

test('the sample report renders in headless Chromium, self-contained and without errors', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing; install Debian's chromium package (apt-get install -y chromium) to run this test`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'basin-report-'));
  const reportPath = join(dir, 'report.html');
  writeFileSync(reportPath, await sampleReport());
  const reportUrl = pathToFileURL(reportPath).href;
  const charts = await sampleCharts();

  // A fresh, empty profile: Playwright takes the user-data-dir as launchPersistentContext's argument.
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1100, height: 900 },
  });
  try {
    const requests: string[] = [];
    const problems: string[] = [];
    context.on('request', (request) => requests.push(request.url()));
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(reportUrl, { waitUntil: 'load' });

    const rendered = await page.evaluate((sources: string[]) => {
      const svgs = [...document.querySelectorAll('figure .chart > svg')] as SVGSVGElement[];
      return {
        parseErrors: sources.map((s) => new DOMParser().parseFromString(s, 'image/svg+xml').querySelector('parsererror')?.textContent ?? ''),
        charts: svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          const outside = [...svg.querySelectorAll('text')]
            .filter((text) => {
              const r = text.getBoundingClientRect();
              return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1);
            })
            .map((text) => text.textContent ?? '');
          return {
            width: box.width,
            height: box.height,
            title: svg.querySelector('.role-title-text text')?.textContent ?? '',
            marks: svg.querySelectorAll('.role-mark > *').length,
            textOutside: outside,
          };
        }),
        tocTargetsMissing: [...document.querySelectorAll('nav.toc a')]
          .map((a) => a.getAttribute('href') ?? '')
          .filter((href) => !document.querySelector(href)),
        duplicateIds: (() => {
          const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
          return ids.filter((id, i) => ids.indexOf(id) !== i);
        })(),
      };
    }, charts.map((c) => c.svg));

    assert.deepEqual(rendered.parseErrors, charts.map(() => ''), 'every chart is well-formed SVG');
    assert.equal(rendered.charts.length, charts.length);
    rendered.charts.forEach((chart, i) => {
      assert.equal(chart.title, charts[i].title);
      assert.ok(chart.width > 200 && chart.height > 150, `'${chart.title}' is drawn at ${chart.width}×${chart.height}`);
      assert.ok(chart.marks > 0, `'${chart.title}' has marks`);
      assert.deepEqual(chart.textOutside, [], `'${chart.title}': text drawn outside the chart`);
    });
    assert.deepEqual(rendered.tocTargetsMissing, []);
    assert.deepEqual(rendered.duplicateIds, []);

    await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });
    t.diagnostic(`screenshot: ${SCREENSHOT_PATH}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [reportUrl], 'the report requests nothing but itself');
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
