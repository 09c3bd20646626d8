// The report page's stylesheet, inlined into every report. Local fonts only (the --font
// variable is set by page.ts); charts keep their own white background and scale down on
// narrow screens; tables use tabular figures so numbers line up, scroll sideways on screens too
// narrow for them and shrink to the page's width in print (no column is ever cut off).

export const REPORT_CSS = `
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0 auto;
  max-width: 62rem;
  padding: 2rem 1.5rem 3rem;
  font-family: var(--font);
  font-size: 16px;
  line-height: 1.55;
  color: #1a1a1a;
  background: #fcfcfc;
}
header { border-bottom: 2px solid #0072B2; margin-bottom: 1.5rem; padding-bottom: 0.75rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 0.35rem; }
.subtitle { margin: 0; color: #4a4a4a; font-size: 1.05rem; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 0.8rem; padding-bottom: 0.25rem; border-bottom: 1px solid #e2e2e2; }
p { margin: 0 0 0.9rem; max-width: 46rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em;
  background: #f0f0f0; padding: 0.05em 0.3em; border-radius: 3px; }
a { color: #005a8f; }
nav.toc { background: #f3f6f9; border: 1px solid #dce4ec; border-radius: 6px; padding: 0.8rem 1.2rem; margin-bottom: 1.5rem; }
nav.toc h2 { font-size: 1rem; margin: 0 0 0.3rem; border: 0; padding: 0; }
nav.toc ol { margin: 0; padding-left: 1.4rem; columns: 2 16rem; }
nav.toc li { margin: 0.1rem 0; }
figure { margin: 1.2rem 0 1.6rem; }
figure .chart { overflow-x: auto; background: white; border: 1px solid #e6e6e6; border-radius: 6px;
  padding: 0.5rem; display: inline-block; max-width: 100%; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.92rem; color: #333; margin-top: 0.5rem; max-width: 46rem; }
.label { font-weight: 600; }
figure.table figcaption { margin: 0 0 0.4rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.92rem; font-variant-numeric: tabular-nums; background: white; }
th, td { padding: 0.35rem 0.75rem; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #bbb; font-weight: 600; background: #f6f6f6; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; white-space: nowrap; }
td.missing { text-align: center; color: #888; }
aside.note { margin: 1rem 0 1.4rem; padding: 0.6rem 0.9rem; border-left: 4px solid #0072B2;
  background: #eef5fb; border-radius: 0 4px 4px 0; max-width: 46rem; }
aside.note.warning { border-left-color: #D55E00; background: #fdf1ea; }
section.methods p { font-size: 0.95rem; color: #2a2a2a; }
footer { margin-top: 3rem; padding-top: 0.8rem; border-top: 1px solid #e2e2e2; font-size: 0.85rem; color: #666; }
@media print {
  @page { margin: 12mm; }
  body { background: white; max-width: none; padding: 0; }
  nav.toc { break-after: avoid; }
  figure { break-inside: avoid; }
  figure .chart { border: 0; }
  /* Wide tables: paper cannot scroll, so nothing may be clipped. Smaller type and padding,
     headers that may break anywhere (long persona names) and cells that break long words only
     when a word is wider than its column let the table shrink to the page's width; a table
     taller than a page splits between rows, its header repeated. */
  figure.table { break-inside: auto; }
  .table-wrap { overflow: visible; }
  table { max-width: 100%; font-size: 7.5pt; }
  th, td { padding: 0.15rem 0.3rem; }
  th { overflow-wrap: anywhere; }
  td { overflow-wrap: break-word; }
  td.num { white-space: normal; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
}
`;
