// `basin study run|plan|kinds`: end-to-end experiments from declarative specs.

import { basename, join } from 'node:path';
import { CACHE } from '../../util/config.js';
import { studyKind, studyKindNames } from '../../study/kind.js';
import { LocalExecutor } from '../../study/local-executor.js';
import { runStudy } from '../../study/run-study.js';
import { readStudySpec } from '../../study/spec.js';
import { ArtifactStore } from '../../study/store.js';
import '../../study/kinds/index.js';
import { producers } from '../../study/producers/registry.js';
import { judgeKind, judgeKindNames } from '../../eval/judges/index.js';
import { checkBaseUrl } from '../../eval/endpoint.js';
import '../../study/producers/index.js';
import { deviceFlag, folderFlag, noExtraArguments, onlyFlags, parse, stringFlag, UsageError, type Command } from '../command.js';

export const DEFAULT_STORE = join(CACHE, 'artifacts');

/** The flags each subcommand takes (besides --help, --json, --verbose). */
const FLAGS = { run: ['scale', 'out', 'store', 'device', 'judge-url'], plan: ['scale', 'store', 'judge-url'], kinds: [] } as const;

const usage = `basin study run SPEC.yaml [--scale NAME] [--out DIR] [--store DIR] [--device D] [--judge-url URL] [--json]
basin study plan SPEC.yaml [--scale NAME] [--store DIR] [--judge-url URL] [--json]
basin study kinds [--json]

  run    checks the spec, plans its tasks (fine-tunes, samples, judgements, vectors, …), runs
         the ones not yet in the artifact store, then writes OUT/results.json, OUT/report.html,
         OUT/plan.json and OUT/status.json. Interrupt it and run it again: finished tasks are
         found by key and never recomputed — also from another --out or another machine's copy
         of the store (keys hash inputs, never paths).
  plan   checks the spec and lists its tasks with their keys and which are already done
         (it only reads the store: nothing is created or cleaned up)
  kinds  the registered study kinds

  --scale NAME   a scale the spec defines (e.g. quick: minutes on a laptop CPU); full: as written (default)
  --out DIR      default .basin/studies/<spec name>-<scale>
  --store DIR    the artifact store (default ${DEFAULT_STORE}; env BASIN_CACHE moves .basin)
  --device D     cpu (default), cuda or cuda:N: where models run (the spec's dtype is part of
                 every key; the device is not)
  --judge-url U  the OpenAI-compatible server LLM judges (logprob, rubric, multi) call, e.g.
                 http://127.0.0.1:8000/v1 ('basin serve' makes one); default $BASIN_JUDGE_URL,
                 else $OPENAI_BASE_URL; the key comes from $BASIN_JUDGE_API_KEY or $OPENAI_API_KEY.
                 The judge model's name and settings are part of judgement keys; the server is not

Specs: studies/*.yaml. Unknown fields, wrong types, values out of range and repeated list entries
are errors naming the field, before anything runs. A flag a subcommand does not take is an error.`;

export const study: Command = {
  name: 'study',
  summary: 'run an end-to-end study from a YAML spec (cached, resumable) and write its report',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { scale: { type: 'string' }, out: { type: 'string' }, store: { type: 'string' }, device: { type: 'string' }, 'judge-url': { type: 'string' } });
    if (help) {
      console.log(usage);
      return 0;
    }
    const [sub, ...args] = positionals;
    const takes = sub !== undefined && Object.hasOwn(FLAGS, sub) ? FLAGS[sub as keyof typeof FLAGS] : undefined;
    if (takes === undefined) throw new UsageError(`${sub === undefined ? 'no subcommand' : `unknown subcommand '${sub}'`}; expected: basin study run|plan SPEC.yaml, or basin study kinds`);
    onlyFlags(values, takes, `basin study ${sub}`);
    const json = values.json === true;
    if (sub === 'kinds') {
      noExtraArguments(args, 0, 'basin study kinds');
      const kinds = studyKindNames().map((name) => ({ name, summary: studyKind(name).summary }));
      if (json) console.log(JSON.stringify(kinds));
      else {
        const list = (rows: { name: string; summary: string }[]) => rows.map((k) => `  ${k.name.padEnd(22)} ${k.summary}`).join('\n');
        console.log(`study kinds:\n${list(kinds)}\n\nproducers (the tasks studies are made of):\n${list(producers())}\n\njudges:\n${list(judgeKindNames().map((n) => judgeKind(n)))}`);
      }
      return 0;
    }
    const path = args[0];
    if (path === undefined) throw new UsageError(`basin study ${sub} needs a spec: basin study ${sub} SPEC.yaml`);
    noExtraArguments(args, 1, `basin study ${sub} SPEC.yaml`);
    const scale = stringFlag(values, 'scale') ?? 'full';
    const storeDir = folderFlag(values, 'store', DEFAULT_STORE);
    const device = deviceFlag(values);
    const judgeUrl = stringFlag(values, 'judge-url');
    if (judgeUrl !== undefined) {
      try {
        process.env.BASIN_JUDGE_URL = checkBaseUrl(judgeUrl, '--judge-url');
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const resolved = readStudySpec(path, scale);
    if (sub === 'plan') {
      const { plan } = await resolved.kind.plan(resolved.run);
      const store = new ArtifactStore(storeDir, { readOnly: true });
      const tasks = plan.tasks.map((t) => ({ id: t.id, producer: t.producer, key: t.key, done: store.has(t.key) }));
      if (json) console.log(JSON.stringify({ study: resolved.kind.name, scale, tasks }));
      else {
        for (const t of tasks) console.log(`${t.done ? 'done   ' : 'to run '} ${t.key}  ${t.id}`);
        console.log(`${tasks.length} tasks, ${tasks.filter((t) => t.done).length} done (store ${storeDir})`);
      }
      return 0;
    }
    const name = (resolved.run.spec as { name: string }).name;
    const out = folderFlag(values, 'out', join(CACHE, 'studies', `${basename(name)}-${scale}`));
    const outcome = await runStudy(resolved, { out, store: storeDir, executor: new LocalExecutor({ device }), quiet: json });
    const e = outcome.execution;
    if (json) {
      console.log(JSON.stringify({ out, results: outcome.resultsPath, report: outcome.reportPath, headline: outcome.headline, tasks: e.tasks.length, ran: e.ran, cached: e.cached, seconds: e.seconds }));
    } else {
      console.log(`study ${name} (${resolved.kind.name}, scale ${scale}) done in ${e.seconds.toFixed(0)} s: ${e.tasks.length} tasks, ${e.ran} computed, ${e.cached} found in the store`);
      for (const line of outcome.headline) console.log(`  ${line}`);
      console.log(`  results: ${outcome.resultsPath}\n  report:  ${outcome.reportPath}`);
    }
    return 0;
  },
};
