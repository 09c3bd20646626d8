// `basin world build|train|check`: the persona world and its organism.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { ensureWorld, pretrainOrganism, recipeFor, PRESETS } from '../../world/organism.js';
import { CACHE, organismDir, worldDir } from '../../world/paths.js';
import { checkOrganism, CHECK_DEFAULTS, type CheckReport, type CheckSettings } from '../../world/check.js';
import { checkReportHtml } from '../../world/check-report.js';
import { numberFlag, parse, UsageError, type Command } from '../command.js';

const usage = `basin world <build|train|check> [--preset default|tiny] [flags]

  build   write the world's corpus, tokenizer, fine-tuning sets and evaluation suites
          (deterministic from the preset's seed) to --out (default .basin/worlds/<preset>)
  train   pre-train the organism from scratch on the world (builds it first if missing);
          writes an HF model folder to --out (default .basin/organisms/<preset>)
  check   measure the organism against the world's five criteria, with n and 95% CIs;
          --model DIR (default: the committed organisms/default, or .basin/organisms/<preset>)
          --strict exits 1 when a criterion fails; --quick uses fewer samples
          --report DIR writes world-check.json and world-check.html (default .basin/reports)

Presets: ${Object.keys(PRESETS).join(', ')} (default: ~1M parameters, pre-training ≤ 30 min on 2 cores;
tiny: ≤ 60 s, for tests). --json prints one JSON object on stdout.`;

export const world: Command = {
  name: 'world',
  summary: 'build the persona world, pre-train its organism, check it against the criteria',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, {
      preset: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, world: { type: 'string' },
      strict: { type: 'boolean' }, quick: { type: 'boolean' }, report: { type: 'string' }, seed: { type: 'string' },
    });
    const sub = positionals[0];
    if (help || sub === undefined) {
      console.log(usage);
      return help ? 0 : 2;
    }
    const preset = typeof values.preset === 'string' ? values.preset : 'default';
    const recipe = recipeFor(preset);
    const json = values.json === true;
    const wdir = typeof values.world === 'string' ? values.world : sub === 'build' && typeof values.out === 'string' ? values.out : worldDir(preset);
    if (sub === 'build') {
      const t0 = performance.now();
      const m = ensureWorld(recipe, wdir);
      const out = { world: wdir, sha256: m.sha256, files: m.files.length, stats: m.stats, seconds: (performance.now() - t0) / 1000 };
      console.log(json ? JSON.stringify(out) : `world '${preset}' in ${wdir}: ${m.files.length} files, content hash ${m.sha256.slice(0, 16)}, ${m.stats.corpusDistinctWords} distinct words, ${m.stats.heldOutQuestions} held-out questions`);
      return 0;
    }
    if (sub === 'train') {
      const out = typeof values.out === 'string' ? values.out : join(CACHE, 'organisms', preset);
      const info = await pretrainOrganism(recipe, wdir, out, { quiet: json });
      console.log(json ? JSON.stringify({ out, ...info }) : `organism '${preset}' in ${out}: ${info.parameters} parameters, final loss ${info.finalLoss.toFixed(4)}, ${info.seconds.toFixed(0)} s (${info.tokensPerSecond.toFixed(0)} tokens/s)`);
      return 0;
    }
    if (sub === 'check') {
      const model = typeof values.model === 'string' ? values.model : organismDir(preset);
      if (!existsSync(join(model, 'config.json'))) {
        throw new UsageError(`no organism at ${model}; train one with: basin world train --preset ${preset}`);
      }
      const manifest = ensureWorld(recipe, wdir);
      const infoPath = join(model, 'organism.json');
      if (existsSync(infoPath)) {
        const trainedOn = (JSON.parse(readFileSync(infoPath, 'utf8')) as { worldHash?: string }).worldHash;
        if (trainedOn !== undefined && trainedOn !== manifest.sha256) {
          throw new Error(`${model} was trained on world data ${trainedOn.slice(0, 16)}, but ${wdir} holds ${manifest.sha256.slice(0, 16)}; rebuild the world (delete ${wdir}) or retrain: basin world train --preset ${preset}`);
        }
      }
      const settings: CheckSettings = values.quick
        ? { ...CHECK_DEFAULTS, perPersona: 12, probePerPersona: 12, outOfDomain: 96, inDomain: 40 }
        : { ...CHECK_DEFAULTS, seed: numberFlag(values, 'seed', CHECK_DEFAULTS.seed) };
      const report = await checkOrganism(model, wdir, recipe, settings, { quiet: json, workDir: join(CACHE, 'check-runs', preset) });
      const reportDir = typeof values.report === 'string' ? values.report : join(CACHE, 'reports');
      mkdirSync(reportDir, { recursive: true });
      writeFileAtomic(join(reportDir, 'world-check.json'), JSON.stringify(report, null, 1));
      writeFileAtomic(join(reportDir, 'world-check.html'), checkReportHtml(report));
      const failed = report.criteria.filter((c) => !c.pass).length;
      if (json) console.log(JSON.stringify({ criteria: report.criteria.map(({ name, value, threshold, pass }) => ({ name, value, threshold, pass })), failed, report: join(reportDir, 'world-check.html'), seconds: report.seconds }));
      else printCheck(report, join(reportDir, 'world-check.html'));
      return values.strict && failed > 0 ? 1 : 0;
    }
    throw new UsageError(`unknown subcommand '${sub}'`);
  },
};

function printCheck(r: CheckReport, htmlPath: string): void {
  console.log(`persona-world check of ${r.model} (${r.seconds.toFixed(0)} s)`);
  for (const c of r.criteria) {
    console.log(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value.toFixed(1)} (${c.direction} ${c.threshold}) — ${c.detail}`);
  }
  console.log(`  judge: ${r.judge}`);
  console.log(`  layers: ${r.layerConvention}`);
  console.log(`report: ${htmlPath}`);
}
