// The judge producer: verdicts for a parent sample task's answers (role `samples`), by a judge
// from the eval layer's registry. Output: value.json, one verdict per answer, in order.

import { createJudge, judgeKind, OFFLINE, type Judge } from '../../eval/judges/index.js';
import { judgeContext } from '../../eval/endpoint.js';
import type { Sample, SampleSettings } from './sample.js';
import { readValue, writeValue } from './value.js';
import { registerProducer } from './registry.js';

export interface JudgeSettings {
  judge: string;
  /** the judge kind's version when planned: keys change when a judge's verdicts do */
  version: number;
  options: Record<string, unknown>;
}

/**
 * Settings for a judge task; the judge is built once here, so bad options fail the plan (an LLM
 * judge with no endpoint configured too).
 */
export function judgeSettings(judge: string, options: Record<string, unknown>): JudgeSettings {
  judgeOf({ judge, version: 0, options });
  return { judge, version: judgeKind(judge).version, options };
}

/** The judge of these settings (its `describe` says it and its settings in words, for reports). */
export function judgeOf(s: JudgeSettings): Judge {
  return createJudge(s.judge, s.options, judgeKind(s.judge).usesEndpoint ? judgeContext() : OFFLINE);
}

registerProducer<JudgeSettings>({
  name: 'judge',
  version: 1,
  summary: 'verdicts for sampled answers by a registered judge (oracle, substring, LLM judges over an OpenAI-compatible server)',
  async check(task, parent) {
    const prompts = (parent('samples').settings as SampleSettings).prompts;
    await judgeOf(task.settings).check?.(prompts.map((p) => ({ question: p.user, system: p.system })));
  },
  async run(task, io) {
    const { judge: name, version, options } = task.settings;
    if (judgeKind(name).version !== version) throw new Error(`task '${task.id}': planned for version ${version} of judge '${name}', which is now version ${judgeKind(name).version}; plan the study again`);
    const judge = createJudge(name, options, judgeContext());
    const samples = readValue<Sample[]>(io.parent('samples'));
    const items = samples.map((s) => ({ question: s.user, system: s.system, answer: s.answer }));
    // the server and its model checked once more (and, for basin serve, the served weights' fingerprint joins the request cache's keys)
    await judge.check?.(items.map(({ answer: _, ...question }) => question));
    const verdicts = await judge.judge(items);
    io.progress(1);
    writeValue(io.dir, verdicts);
  },
});
