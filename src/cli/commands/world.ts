// `basin world build|train|check`: the persona world and its organism.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE } from '../../util/config.js';
import { HF_CONFIG_FILE } from '../../io/files.js';
import { trainedOrganismDir, worldDir } from '../../organism/paths.js';
import { pretrainOrganism } from '../../organism/pretrain.js';
import { ensureOrganismWorld, recipeFor, PRESETS } from '../../organism/recipe.js';
import { parseStudySpec } from '../../study/spec.js';
import { runStudy } from '../../study/run-study.js';
import { LocalExecutor } from '../../study/local-executor.js';
import type { WorldCheckResults } from '../../study/kinds/world-check/analysis.js';
import { CONTROL_PRESET, QUICK_WORLD_CHECK } from '../../study/kinds/world-check/spec.js';
import '../../study/kinds/index.js';
import { DEFAULT_STORE } from './study.js';
import { deviceFlag, folderFlag, noExtraArguments, onlyFlags, parse, seedFlag, stringFlag, UsageError, type Command } from '../command.js';

/** The flags each subcommand takes (besides --help, --json, --verbose). */
const FLAGS = {
  build: ['preset', 'out', 'world'],
  train: ['preset', 'world', 'out'],
  check: ['preset', 'model', 'strict', 'quick', 'report', 'seed', 'store', 'device'],
} as const;

const usage = `basin world <build|train|check> [--preset default|no-consistency|tiny] [flags]

  build   write the world's corpus, tokenizer, fine-tuning sets and evaluation suites
          (deterministic from the preset's seed) to --out (default .basin/worlds/<preset>)
  train   pre-train the organism from scratch on the world in --world (default
          .basin/worlds/<preset>; built first if missing); writes an HF model folder to --out
          (default .basin/organisms/<preset>)
  check   measure the organism against the world's criteria on its evaluation questions, with
          n and 95% CIs over 3 fine-tune seeds; the default organism is checked beside its
          control without character consistency (organisms/no-consistency)
          --model DIR (default: the committed organisms/<preset>, or .basin/organisms/<preset>)
          --strict exits 1 when a criterion fails; --quick uses fewer samples
          --report DIR writes world-check.json, world-check.html, world-check-plan.json and
          world-check-status.json (default .basin/reports)
          --seed N: an integer in 0..2^32−1 (default 0); --device cpu|cuda|cuda:N; --store DIR: the artifact store (default .basin/artifacts) —
          a second run with the same organism and settings recomputes nothing

Presets: ${Object.keys(PRESETS).join(', ')} (default: ~1.5M parameters, 6 layers; no-consistency: the
same recipe without character consistency, the switch-off control; tiny: ≤ 60 s, for tests). --json prints one JSON object on stdout. A flag a subcommand does not
take is an error.`;

export const world: Command = {
  name: 'world',
  summary: 'build the persona world, pre-train its organism, check it against the criteria',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, {
      preset: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, world: { type: 'string' },
      strict: { type: 'boolean' }, quick: { type: 'boolean' }, report: { type: 'string' }, seed: { type: 'string' }, store: { type: 'string' }, device: { type: 'string' },
    });
    const [sub, ...extra] = positionals;
    if (help || sub === undefined) {
      console.log(usage);
      return help ? 0 : 2;
    }
    const takes = Object.hasOwn(FLAGS, sub) ? FLAGS[sub as keyof typeof FLAGS] : undefined;
    if (takes === undefined) throw new UsageError(`unknown subcommand '${sub}'; expected build, train or check`);
    onlyFlags(values, takes, `basin world ${sub}`);
    noExtraArguments(extra, 0, `basin world ${sub}`);
    const preset = stringFlag(values, 'preset') ?? 'default';
    const recipe = recipeFor(preset);
    const json = values.json === true;
    if (sub === 'build') {
      if (values.out !== undefined && values.world !== undefined) throw new UsageError('basin world build writes the world to --out (or --world: the same folder); give one of them');
      const wdir = folderFlag(values, values.world !== undefined ? 'world' : 'out', worldDir(preset));
      const t0 = performance.now();
      const m = ensureOrganismWorld(recipe, wdir);
      const out = { world: wdir, sha256: m.sha256, files: m.files.length, stats: m.stats, seconds: (performance.now() - t0) / 1000 };
      console.log(json ? JSON.stringify(out) : `world '${preset}' in ${wdir}: ${m.files.length} files, content hash ${m.sha256.slice(0, 16)}, ${m.stats.corpusDistinctWords} distinct words, ${m.stats.heldOutQuestions} held-out questions`);
      return 0;
    }
    if (sub === 'train') {
      const wdir = folderFlag(values, 'world', worldDir(preset));
      const out = folderFlag(values, 'out', trainedOrganismDir(preset));
      const info = await pretrainOrganism(recipe, wdir, out, { quiet: json });
      console.log(json ? JSON.stringify({ out, ...info }) : `organism '${preset}' in ${out}: ${info.parameters} parameters, final loss ${info.finalLoss.toFixed(4)}, ${info.seconds.toFixed(0)} s (${info.tokensPerSecond.toFixed(0)} tokens/s)`);
      return 0;
    }
    const seed = seedFlag(values);
    const reportDir = folderFlag(values, 'report', join(CACHE, 'reports'));
    const store = folderFlag(values, 'store', DEFAULT_STORE);
    const device = deviceFlag(values);
    const model = stringFlag(values, 'model');
    if (model !== undefined && !existsSync(model)) throw new Error(`--model ${model}: no such folder; give the organism's Hugging Face model folder (one with ${HF_CONFIG_FILE})`);
    if (model !== undefined && !existsSync(join(model, HF_CONFIG_FILE))) throw new Error(`--model ${model}: no ${HF_CONFIG_FILE} in this folder, so it is not a Hugging Face model folder; give the organism's folder (basin world train --out writes one)`);
    const spec = {
      study: 'world-check', name: `world-check-${preset}`, model: `persona-world:${preset}`,
      ...(model !== undefined ? { organism: model } : {}),
      ...(CONTROL_PRESET[preset] !== undefined ? { control: `persona-world:${CONTROL_PRESET[preset]}` } : {}),
      seed, ...(values.quick ? QUICK_WORLD_CHECK : {}),
    };
    const resolved = parseStudySpec(JSON.stringify(spec), 'basin world check flags', 'full');
    const outcome = await runStudy(resolved, {
      out: reportDir, store, executor: new LocalExecutor({ device }), quiet: json, label: 'world check', outFlag: '--report',
      files: { results: 'world-check.json', report: 'world-check.html', plan: 'world-check-plan.json', status: 'world-check-status.json' },
    });
    const r = outcome.results as WorldCheckResults;
    const failed = r.criteria.filter((c) => !c.pass).length;
    if (json) console.log(JSON.stringify({ criteria: r.criteria.map(({ name, value, threshold, pass }) => ({ name, value, threshold, pass })), failed, report: outcome.reportPath, seconds: r.seconds, tasks: outcome.execution.tasks.length, ran: outcome.execution.ran, cached: outcome.execution.cached }));
    else {
      const e = outcome.execution;
      console.log(`persona-world check of ${r.model} (${r.seconds.toFixed(0)} s; ${e.tasks.length} tasks, ${e.ran} computed, ${e.cached} found in the store)`);
      for (const line of outcome.headline) console.log(`  ${line}`);
      console.log(`report: ${outcome.reportPath}`);
    }
    return values.strict && failed > 0 ? 1 : 0;
  },
};
