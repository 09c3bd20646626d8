// `basin study run SPEC`: an end-to-end experiment from a declarative spec.

import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { readSpec } from '../../study/spec.js';
import { runPersonaCollapse } from '../../study/persona-collapse.js';
import { analyse } from '../../study/persona-collapse-analysis.js';
import { personaCollapseReport } from '../../study/persona-collapse-report.js';
import { CACHE } from '../../world/paths.js';
import { parse, UsageError, type Command } from '../command.js';

const usage = `basin study run SPEC.yaml [--scale quick|full] [--out DIR] [--json]

Runs the study the spec describes (see studies/persona-collapse.yaml), caching every adapter,
vector set and generation under OUT/artifacts by content hash. Interrupt it and run it again:
it resumes, recomputing nothing finished. Writes OUT/results.json and OUT/report.html.

  --scale quick|full   quick: the spec's small version (minutes on a laptop CPU); full: as written (default)
  --out DIR            default .basin/studies/<spec name>-<scale>`;

export const study: Command = {
  name: 'study',
  summary: 'run an end-to-end study from a YAML spec (cached, resumable) and write its report',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { scale: { type: 'string' }, out: { type: 'string' } });
    if (help) {
      console.log(usage);
      return 0;
    }
    if (positionals[0] !== 'run' || positionals[1] === undefined) throw new UsageError('usage: basin study run SPEC.yaml');
    const scale = typeof values.scale === 'string' ? values.scale : 'full';
    const spec = readSpec(positionals[1], scale);
    const out = typeof values.out === 'string' ? values.out : join(CACHE, 'studies', `${basename(spec.name)}-${scale}`);
    mkdirSync(out, { recursive: true });
    const raw = await runPersonaCollapse(spec, out, { quiet: values.json === true });
    const results = analyse(raw);
    writeFileAtomic(join(out, 'results.json'), JSON.stringify(results, null, 1));
    writeFileAtomic(join(out, 'report.html'), await personaCollapseReport(results, spec, scale));
    if (values.json) {
      console.log(JSON.stringify({ out, results: join(out, 'results.json'), report: join(out, 'report.html'), headline: results.headline, seconds: raw.seconds }));
    } else {
      console.log(`study ${spec.name} (${scale}) done in ${raw.seconds.toFixed(0)} s`);
      for (const h of results.headline) console.log(`  method ${h.method}, layer ${h.layer}: base ${h.base.toFixed(3)} → benign ${h.benign.toFixed(3)} → EM ${h.em.toFixed(3)}; benign = ${h.benignPercentOfEm.toFixed(1)}% of EM [${h.ci[0].toFixed(1)}, ${h.ci[1].toFixed(1)}]`);
      if (results.leakageSpearman) console.log(`  leakage vs distance: Spearman rho ${results.leakageSpearman.rho.toFixed(3)}, p ${results.leakageSpearman.pValue.toFixed(3)} (n ${results.leakageSpearman.n})`);
      console.log(`  results: ${join(out, 'results.json')}\n  report:  ${join(out, 'report.html')}`);
    }
    return 0;
  },
};
