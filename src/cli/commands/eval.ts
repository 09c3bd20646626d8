// `basin eval`: a model (with stacked LoRA adapters) on a question suite, judged, with
// per-question and overall misalignment rates. Every flag, the suite, the adapters' folders, the
// judge and its options, the label against the labels the judge gives, and the judge's own check
// (its templates fill for every question, its server answers and serves its model) come before
// the model is loaded, so a typo costs no compute. When the rate stands on few of the answers
// (none judged, or more than a tenth not), it says so on stderr and in --json's `warnings`.

import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type * as T from '../../tensor/index.js';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_SUBDIR, TOKENIZER_FILE } from '../../io/files.js';
import { loadModel } from '../../model/load.js';
import { loadAdapter } from '../../model/lora-io.js';
import { progress } from '../../util/progress.js';
import { checkBaseUrl, JUDGE_LIMITS, judgeContext } from '../../eval/endpoint.js';
import { evaluateSuite, planSamples, type SuiteEvaluation } from '../../eval/em.js';
import { JudgeServerError } from '../../eval/openai-client.js';
import { CONFIDENCE } from '../../eval/em-rates.js';
import { createJudge, gaveLabel, judgeKind, judgeKindNames, MISALIGNED, NOT_JUDGED_LABELS, OFFLINE, type Judge, type QuestionToJudge } from '../../eval/judges/index.js';
import { readSuite, SUITE_LIMITS, suiteFormatNames, suiteFormats, type QuestionSuite } from '../../eval/suites/index.js';
import { PERSONA_WORLD_PREFIX } from '../../eval/suites/persona-world.js';
import { ORACLE_JUDGE_NAME } from '../../world/datasets.js';
import { deviceFlag, modelFolder, noExtraArguments, numberFlag, parse, seedFlag, stringFlag, UsageError, type Command } from '../command.js';

const DEFAULT_MODEL = `${PERSONA_WORLD_PREFIX}default`;
const DTYPES = ['f32', 'bf16', 'f16'];
/** The highest sampling temperature, as in study specs. */
const MAX_TEMPERATURE = 10;

/** Text wrapped at `width` columns, every line indented by `indent` spaces. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = `  ${word}`;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}

const usage = `basin eval [--model DIR] [--adapter DIR …] [--suite FILE|persona-world:PRESET/NAME]
           [--suite-format F] [--judge NAME] [--judge-option key=value …] [--judge-url URL]
           [--judge-concurrency N] [--judge-timeout S] [--label L] [--samples-per-paraphrase N]
           [--temperature T] [--top-p P] [--max-new-tokens M] [--batch-size B] [--seed S]
           [--device D] [--dtype T] [--out FILE.jsonl] [--json]

Samples answers to every paraphrase of every question of a suite (each question's system
prompt, samples_per_paraphrase answers per paraphrase), judges each answer, and reports the
share of judged answers labelled MISALIGNED per question and overall. Answers the judge gave
no verdict for (${[...NOT_JUDGED_LABELS].join(', ')}) are counted but leave the denominator. Each rate
has a Wilson score 95% interval (answers as independent); the overall rate also has one
that allows for answers to one question being alike: Wilson at the design-effect-corrected n
(Kish deff = 1 + (m − 1)·ICC, the intra-question correlation estimated by one-way ANOVA).
An answer whose judge request the server refused (JUDGE-FAILED: e.g. a prompt longer than the
judge model's context) is not judged and the rest go on; a warning says when fewer than
nine in ten answers (or none) were judged. A multi-judge's members are compared on MISALIGNED
vs not (Fleiss' kappa, Cohen's per pair); on a persona-world organism, any other judge than the
oracle is compared with the oracle too (Cohen's kappa), when the questions are the world's.
With no flags: the persona-world organism on its held-out questions, judged by its oracle.

Model
  --model DIR            Hugging Face model folder, or persona-world:PRESET for the world's
                         organism (default ${DEFAULT_MODEL})
  --adapter DIR          a PEFT LoRA adapter folder (or a basin train --out folder); repeat to
                         stack several, applied in order
  --device D             cpu (default), cuda or cuda:N
  --dtype T              ${DTYPES.join(', ')} (default f32)

Suite
  --suite SOURCE         a suite file, or persona-world:PRESET/NAME (default, for a persona-world
                         model: persona-world:PRESET/held-out)
  --suite-format F       read the file as F instead of by its extension; formats:
${suiteFormats().map((f) => wrap(`${f.name}: ${f.summary}`, 27, 96)).join('\n')}
  --samples-per-paraphrase N   answers per paraphrase, replacing the suite's own

Judge
  --judge NAME           the judge (default, for a persona-world model: ${ORACLE_JUDGE_NAME}); judges:
${wrap(judgeKindNames().join(', '), 25, 96)}
  --judge-option K=V     an option of the judge (repeat); V is read as JSON when it parses
                         (numbers, true, lists), else as text: --judge-option text=[ZLT]
  --judge-url URL        the OpenAI-compatible server LLM judges call (default $BASIN_JUDGE_URL,
                         else $OPENAI_BASE_URL)
  --judge-concurrency N  judge requests in flight at once, ${JUDGE_LIMITS.concurrency.min}..${JUDGE_LIMITS.concurrency.max} (default
                         $BASIN_JUDGE_CONCURRENCY, else 8)
  --judge-timeout S      seconds a judge request may take, ${JUDGE_LIMITS.timeoutS.min}..${JUDGE_LIMITS.timeoutS.max} (default
                         $BASIN_JUDGE_TIMEOUT_S, else 60); retries: $BASIN_JUDGE_RETRIES (5)
  --label L              the label whose rate is reported (default ${MISALIGNED}); it must be one
                         the judge gives, e.g. CONTAINS with the contains judge

Sampling
  --temperature T        0..${MAX_TEMPERATURE}, default 1 (the EM paper's)
  --top-p P              nucleus sampling, in (0, 1] (default off, as the EM paper)
  --max-new-tokens M     default 256 (the EM paper used 600 on real models)
  --batch-size B         prompts generated at once (default 64)
  --seed S               default 0

Output
  --out FILE.jsonl       every judgement, one JSON object per line (questionId, paraphraseIndex,
                         paraphrase, system, sample, answer, verdict), written atomically
  --json                 one JSON object on stdout (settings, per-question and overall rates,
                         no judgements; those go to --out), no progress bars`;

/** --judge-option key=value pairs as the judge's options object. */
function judgeOptions(raw: readonly string[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const pair of raw) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq);
    if (!/^[A-Za-z_][\w.-]*$/.test(key)) throw new UsageError(`--judge-option ${pair}: expected key=value, e.g. --judge-option text=[ZLT]`);
    if (key in options) throw new UsageError(`--judge-option ${key} is given twice`);
    const text = pair.slice(eq + 1);
    try {
      options[key] = JSON.parse(text);
    } catch {
      options[key] = text;
    }
  }
  return options;
}


/** An adapter folder: DIR itself, or DIR/adapter of a basin train run. */
function adapterFolder(dir: string): string {
  if (existsSync(join(dir, ADAPTER_CONFIG_FILE))) return dir;
  if (existsSync(join(dir, ADAPTER_SUBDIR, ADAPTER_CONFIG_FILE))) return join(dir, ADAPTER_SUBDIR);
  throw new UsageError(`--adapter ${dir}: no ${ADAPTER_CONFIG_FILE} there or in ${join(dir, ADAPTER_SUBDIR)}; give a PEFT adapter folder or a basin train --out folder`);
}

/** --out: not a folder, and no file where its folder would be. */
function outFile(path: string): string {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--out ${path}: is a folder; give a file name, e.g. ${join(path, 'judgements.jsonl')}`);
  let p = dirname(resolve(path));
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  if (!statSync(p).isDirectory()) throw new UsageError(`--out ${path}: ${p} is a file, so the folder cannot be made`);
  return path;
}

function listFlag(v: unknown): string[] {
  return v === undefined ? [] : (v as string[]);
}

const pct = (x: number | null): string => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
const range = (ci: readonly [number, number] | null): string => (ci === null ? '–' : `${(100 * ci[0]).toFixed(1)}–${(100 * ci[1]).toFixed(1)}%`);
const labelList = (labels: Record<string, number>): string => Object.entries(labels).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([l, n]) => `${l} ${n}`).join(', ');

/** The per-question table and the overall rate with both intervals. */
function report(r: SuiteEvaluation, model: string, adapters: readonly string[]): string {
  const label = r.settings.label;
  const head = ['question', 'answers', 'judged', label, 'rate', `${100 * CONFIDENCE}% CI (Wilson)`, 'labels'];
  const rows = r.questions.map((q) => [q.id, String(q.samples), String(q.judged), String(q.hits), pct(q.rate), range(q.wilson), labelList(q.labels)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  const o = r.overall;
  const notJudged = Object.entries(o.labels).filter(([l]) => NOT_JUDGED_LABELS.has(l));
  return [
    `model: ${model}${adapters.length > 0 ? ` + adapters ${adapters.join(', ')}` : ''}`,
    `suite: ${r.suite.source} (${r.suite.format}, ${r.suite.questions} questions, ${o.samples} answers; temperature ${r.settings.temperature}, max ${r.settings.maxNewTokens} new tokens, seed ${r.settings.seed})`,
    `judge: ${r.judge}`,
    '',
    line(head),
    ...rows.map(line),
    '',
    `overall ${label} rate: ${pct(o.rate)} (${o.hits} of ${o.judged} judged answers, pooled over questions; ${o.notJudged} not judged${notJudged.length > 0 ? `: ${notJudged.map(([l, n]) => `${l} ${n}`).join(', ')}` : ''})`,
    `  ${100 * CONFIDENCE}% CI, Wilson score (answers taken as independent): ${range(o.wilson)}`,
    o.clustered === null
      ? `  ${100 * CONFIDENCE}% CI, clustered by question: – (needs at least 2 questions with judged answers)`
      : `  ${100 * CONFIDENCE}% CI, Wilson at the design-effect-corrected n (${o.clustered.clusters} questions, ICC ${o.clustered.icc.toFixed(3)}, deff ${o.clustered.designEffect.toFixed(2)}, effective n ${o.clustered.effectiveN.toFixed(1)}): ${range([o.clustered.lower, o.clustered.upper])}`,
    ...agreementLines(r.agreement),
  ].join('\n');
}

/** Every paraphrase of a suite as a question to judge. */
function questionsOf(suite: QuestionSuite): QuestionToJudge[] {
  return suite.questions.flatMap((q) => q.paraphrases.map((question) => ({ question, questionId: q.id, judgePrompts: q.judgePrompts, system: q.system })));
}

/** The agreement lines: a multi-judge's members, and the judge against the oracle. */
function agreementLines(a: SuiteEvaluation['agreement']): string[] {
  const k = (x: number) => (Number.isNaN(x) ? 'undefined (one category only)' : x.toFixed(3));
  const lines: string[] = [];
  if (a.members !== null) {
    lines.push(`agreement of the judges on MISALIGNED vs not (${a.members.n} answers every judge labelled, ${a.members.excluded} left out): Fleiss' kappa ${k(a.members.members.kappa)}`);
    for (const p of a.members.pairs) lines.push(`  judges ${p.a + 1} and ${p.b + 1}: Cohen's kappa ${k(p.kappa)} (agreement ${(100 * p.observed).toFixed(1)}%)`);
  }
  if (a.reference !== null) {
    lines.push(`agreement with ${a.reference.judge} on MISALIGNED vs not (${a.reference.n} answers both labelled, ${a.reference.excluded} left out): Cohen's kappa ${k(a.reference.kappa)} (agreement ${(100 * a.reference.observed).toFixed(1)}%)`);
  }
  return lines.length === 0 ? [] : ['', ...lines];
}

function writeJudgements(path: string, r: SuiteEvaluation): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileAtomic(path, (function* () {
    for (const j of r.judgements) yield Buffer.from(JSON.stringify(j) + '\n', 'utf8');
  })());
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'sample a model on a question suite, judge the answers, report misalignment rates with intervals',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, {
      model: { type: 'string' }, adapter: { type: 'string', multiple: true }, suite: { type: 'string' }, 'suite-format': { type: 'string' },
      judge: { type: 'string' }, 'judge-option': { type: 'string', multiple: true }, 'judge-url': { type: 'string' }, label: { type: 'string' },
      'judge-concurrency': { type: 'string' }, 'judge-timeout': { type: 'string' },
      'samples-per-paraphrase': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'max-new-tokens': { type: 'string' },
      'batch-size': { type: 'string' }, seed: { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' }, out: { type: 'string' },
    });
    if (help) {
      console.log(usage);
      return 0;
    }
    noExtraArguments(positionals, 0, 'basin eval');
    const json = values.json === true;
    // flags
    const modelArg = stringFlag(values, 'model') ?? DEFAULT_MODEL;
    const temperature = numberFlag(values, 'temperature', 1, { min: 0, max: MAX_TEMPERATURE });
    const topP = values['top-p'] === undefined ? undefined : numberFlag(values, 'top-p', 1, { min: 0, max: 1 });
    if (topP === 0) throw new UsageError('--top-p must be above 0 (it keeps the smallest set of tokens whose probability reaches P)');
    const maxNewTokens = numberFlag(values, 'max-new-tokens', 256, { integer: true, min: 1, max: 100_000 });
    const batchSize = numberFlag(values, 'batch-size', 64, { integer: true, min: 1, max: 65_536 });
    const seed = seedFlag(values);
    const samples = values['samples-per-paraphrase'] === undefined ? undefined : numberFlag(values, 'samples-per-paraphrase', 1, { integer: true, min: 1, max: SUITE_LIMITS.samplesPerParaphrase });
    const device = deviceFlag(values);
    const dtype = stringFlag(values, 'dtype') ?? 'f32';
    if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype ${dtype}: use ${DTYPES.join(', ')}`);
    const label = stringFlag(values, 'label') ?? MISALIGNED;
    if (NOT_JUDGED_LABELS.has(label)) throw new UsageError(`--label ${label}: answers with that label are not judged, so they are never in a rate's denominator; count them from the label columns`);
    const format = stringFlag(values, 'suite-format');
    if (format !== undefined && !suiteFormatNames().includes(format)) throw new UsageError(`--suite-format ${format}: formats: ${suiteFormatNames().join(', ')}`);
    const out = stringFlag(values, 'out');
    if (out !== undefined) outFile(out);
    const judgeUrl = stringFlag(values, 'judge-url');
    if (judgeUrl !== undefined) {
      try {
        checkBaseUrl(judgeUrl, '--judge-url');
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const judgeConcurrency = values['judge-concurrency'] === undefined ? undefined : numberFlag(values, 'judge-concurrency', 8, { integer: true, ...JUDGE_LIMITS.concurrency });
    const judgeTimeout = values['judge-timeout'] === undefined ? undefined : numberFlag(values, 'judge-timeout', 60, { integer: true, ...JUDGE_LIMITS.timeoutS });
    // model and adapter folders (not loaded yet)
    const { dir: modelDir, preset } = modelFolder(modelArg);
    const adapters = listFlag(values.adapter).map(adapterFolder);
    // the suite, read and checked whole
    const suiteArg = stringFlag(values, 'suite') ?? (preset !== null ? `${PERSONA_WORLD_PREFIX}${preset}/held-out` : undefined);
    if (suiteArg === undefined) throw new UsageError('missing --suite FILE|persona-world:PRESET/NAME (only a persona-world model has a default suite)');
    const suite: QuestionSuite = readSuite(suiteArg, format);
    planSamples(suite, samples); // refuses an evaluation too large, before anything is loaded
    // the judge, built with its options
    const judgeName = stringFlag(values, 'judge') ?? (preset !== null ? ORACLE_JUDGE_NAME : undefined);
    if (judgeName === undefined) throw new UsageError(`missing --judge NAME (only a persona-world model has a default judge); judges: ${judgeKindNames().join(', ')}`);
    if (!judgeKindNames().includes(judgeName)) throw new UsageError(`--judge ${judgeName}: no such judge; judges: ${judgeKindNames().join(', ')}`);
    const kind = judgeKind(judgeName);
    if (!kind.usesEndpoint) {
      const serverFlag = (['judge-url', 'judge-concurrency', 'judge-timeout'] as const).find((f) => values[f] !== undefined);
      if (serverFlag !== undefined) throw new UsageError(`--${serverFlag}: judge '${judgeName}' calls no server; drop --${serverFlag} or use an LLM judge`);
    }
    let judge: Judge;
    try {
      const overrides = { ...(judgeUrl !== undefined ? { baseUrl: judgeUrl } : {}), ...(judgeConcurrency !== undefined ? { concurrency: judgeConcurrency } : {}), ...(judgeTimeout !== undefined ? { timeoutS: judgeTimeout } : {}) };
      judge = createJudge(judgeName, judgeOptions(listFlag(values['judge-option'])), kind.usesEndpoint ? judgeContext(overrides) : OFFLINE);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`--judge ${judgeName}: ${(e as Error).message}`);
    }
    if (judge.labels !== undefined && !judge.labels.includes(label)) {
      const given = judge.labels.filter((l) => gaveLabel({ label: l }));
      const list = given.length <= 1 ? given.join('') : `${given.slice(0, -1).join(', ')} or ${given.at(-1)}`;
      throw new UsageError(`--label ${label}: judge '${judgeName}' gives ${list}, so the ${label} rate would always be 0; use --label ${given.includes(MISALIGNED) ? MISALIGNED : given[0]}`);
    }
    try {
      await judge.check?.(questionsOf(suite));
    } catch (e) {
      if (e instanceof JudgeServerError) throw e; // the server, not the command line
      throw new UsageError(`--judge ${judgeName}: ${(e as Error).message}`);
    }
    // On a persona-world organism, an LLM judge is compared with the exact oracle (when the questions are the world's).
    let reference: Judge | undefined;
    if (preset !== null && judgeName !== ORACLE_JUDGE_NAME) {
      const oracle = createJudge(ORACLE_JUDGE_NAME, {}, OFFLINE);
      reference = await oracle.check?.(questionsOf(suite)).then(() => oracle, () => undefined);
    }
    // compute
    const { model, tokenizer } = await loadModel(modelDir, { device, dtype: dtype as T.DType });
    if (tokenizer === null) throw new Error(`${modelDir}: no ${TOKENIZER_FILE}, so questions cannot be encoded`);
    adapters.forEach((dir, i) => loadAdapter(model, dir, `adapter-${i}`));
    const result = await evaluateSuite(model, tokenizer, suite, judge, {
      temperature, maxNewTokens, seed, batchSize, label, ...(reference !== undefined ? { reference } : {}),
      ...(samples !== undefined ? { samplesPerParaphrase: samples } : {}), ...(topP !== undefined ? { topP } : {}),
      progress: (stage, total) => progress(`eval: ${stage}`, total, { quiet: json, unit: 'answers' }),
    });
    if (out !== undefined) writeJudgements(out, result);
    for (const w of result.warnings) console.error(`basin eval: warning: ${w}`);
    if (json) {
      console.log(JSON.stringify({ model: modelDir, adapters, ...result, judgements: undefined, out: out ?? null }));
    } else {
      console.log(report(result, modelDir, adapters));
      if (out !== undefined) console.log(`\n${result.judgements.length} judgements written to ${out}`);
    }
    return 0;
  },
};
