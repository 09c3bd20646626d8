import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embeddableSvg, escapeHtml, formatNumber, reportPage, trustedHtml } from '../../src/report/page.js';

const SVG = (inner = '') => `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">${inner}</svg>`;

test('reportPage escapes every piece of text and inserts only TrustedHtml verbatim', () => {
  const hostile = `<script>alert("x")</script> & 'quotes'`;
  const html = reportPage({
    title: hostile,
    subtitle: hostile,
    sections: [
      {
        heading: hostile,
        blocks: [
          { kind: 'paragraph', text: hostile },
          { kind: 'note', text: hostile, tone: 'warning' },
          { kind: 'table', headers: [hostile], rows: [[hostile]], caption: hostile },
          { kind: 'figure', svg: SVG(), caption: hostile },
          { kind: 'paragraph', text: trustedHtml('<em>kept</em>') },
        ],
      },
    ],
    methods: [hostile],
  });
  assert.ok(!html.includes('<script'), 'no script element');
  const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;';
  // title element, h1, subtitle, TOC entry, h2, paragraph, note, header cell, data cell, two captions, methods
  assert.equal(html.split(escaped).length - 1, 12);
  assert.ok(html.includes('<p><em>kept</em></p>'));
});

test('reportPage: table of contents links to unique section ids, Methods last; figures and tables are numbered', () => {
  const html = reportPage({
    title: 'T',
    sections: [
      { heading: 'Persona geometry', blocks: [{ kind: 'figure', svg: SVG(), caption: 'a' }] },
      { heading: 'Persona geometry!', blocks: [{ kind: 'table', headers: ['h'], rows: [[1]] }] },
      { heading: '¿?', blocks: [{ kind: 'figure', svg: SVG(), caption: 'b' }] },
    ],
    methods: trustedHtml('<p>how</p>'),
  });
  const links = [...html.matchAll(/<li><a href="#([^"]+)">([^<]+)<\/a><\/li>/g)].map((m) => [m[1], m[2]]);
  assert.deepEqual(links, [
    ['sec-persona-geometry', 'Persona geometry'],
    ['sec-persona-geometry-2', 'Persona geometry!'],
    ['sec-section', '¿?'],
    ['sec-methods', 'Methods'],
  ]);
  for (const [id] of links) assert.equal(html.split(`id="${id}"`).length - 1, 1, `one element with id ${id}`);
  assert.deepEqual([...html.matchAll(/<span class="label">([^<]+)<\/span>/g)].map((m) => m[1]), [
    'Figure 1.',
    'Table 1.',
    'Figure 2.',
  ]);
  assert.ok(html.includes('<p>how</p>'));
});

test('reportPage: self-contained by construction (CSP forbids every fetch; no external references)', () => {
  const html = reportPage({ title: 'T', sections: [], methods: [] });
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  assert.doesNotMatch(html, /@import|url\(/);
});

test('table cells: numbers right-aligned and formatted per column, null shown as a dash', () => {
  const html = reportPage({
    title: 'T',
    sections: [
      {
        heading: 'S',
        blocks: [
          {
            kind: 'table',
            headers: ['name', 'rate', 'n', 'ratio'],
            rows: [
              ['a', 0.123456, 200, 1 / 3],
              ['b', null, 7, 2],
            ],
            format: [undefined, (v) => `${(v * 100).toFixed(1)}%`, undefined, 2],
          },
        ],
      },
    ],
    methods: [],
  });
  const rows = [...html.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => m[1]);
  assert.deepEqual(rows.slice(1), [
    '<td>a</td><td class="num">12.3%</td><td class="num">200</td><td class="num">0.33</td>',
    '<td>b</td><td class="missing">—</td><td class="num">7</td><td class="num">2.00</td>',
  ]);
  assert.throws(
    () => reportPage({ title: 'T', sections: [{ heading: 'S', blocks: [{ kind: 'table', headers: ['a', 'b'], rows: [[1]] }] }], methods: [] }),
    /Table 1 row 0 has 1 cells but there are 2 headers/,
  );
});

test('formatNumber: integers exactly, others to 4 significant digits', () => {
  assert.equal(formatNumber(1234567), '1234567');
  assert.equal(formatNumber(0.123456), '0.1235');
  assert.equal(formatNumber(-2.5), '-2.5');
  assert.equal(formatNumber(1.23456e-7), '1.235e-7');
  assert.equal(formatNumber(NaN), 'NaN');
  assert.equal(formatNumber(-Infinity), '−∞');
});

test('escapeHtml maps the five special characters', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('embeddableSvg prefixes ids and their references so two charts never share one', () => {
  const svg = SVG('<defs><linearGradient id="gradient_0"/></defs><rect fill="url(#gradient_0)"/><use href="#gradient_0"/>');
  const out = embeddableSvg(`<?xml version="1.0"?>\n${svg}`, 'fig2-', 'test');
  assert.ok(out.startsWith('<svg'));
  assert.ok(out.includes('id="fig2-gradient_0"'));
  assert.ok(out.includes('url(#fig2-gradient_0)'));
  assert.ok(out.includes('href="#fig2-gradient_0"'));
  assert.ok(!/[#"]gradient_0/.test(out));
});

test('embeddableSvg refuses markup that would run code or load anything', () => {
  const refuse = (svg: string, pattern: RegExp) => assert.throws(() => embeddableSvg(svg, 'p-', 'Figure 1'), pattern);
  refuse('<div>not svg</div>', /Figure 1: figure svg must be one <svg>/);
  refuse(SVG('<script>alert(1)</script>'), /script, foreignObject or embedded document/);
  refuse(SVG('<foreignObject/>'), /script, foreignObject/);
  refuse(SVG('<image href="data:image/png;base64,AAAA"/>'), /embedded document/);
  refuse(SVG('<rect onclick="alert(1)"/>'), /event handler attribute 'onclick'/);
  refuse(SVG('<a xlink:href="https://example.com"><text>x</text></a>'), /refers outside the page/);
  refuse(SVG('<rect style="fill: url(https://example.com/p.svg#g)"/>'), /refers outside the page/);
  // Text that merely mentions such things is fine.
  assert.doesNotThrow(() => embeddableSvg(SVG('<text aria-label="only = 3 &gt; 2">onload=x</text>'), 'p-', 'Figure 1'));
});
