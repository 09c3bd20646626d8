// The judge producer: verdicts for a parent sample task's answers (role `samples`), by a judge
// from the eval layer's registry. Output: value.json, one verdict per answer, in order.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createJudge } from '../../eval/judges.js';
import type { Sample } from './sample.js';
import { VALUE_FILE, writeValue } from './value.js';
import { registerProducer } from './registry.js';

export interface JudgeSettings {
  judge: string;
  options: Record<string, unknown>;
}

registerProducer<JudgeSettings>({
  name: 'judge',
  version: 1,
  summary: 'verdicts for sampled answers by a registered judge (oracle, substring, …)',
  async run(task, io) {
    const judge = createJudge(task.settings.judge, task.settings.options);
    const samples = JSON.parse(readFileSync(join(io.parent('samples'), VALUE_FILE), 'utf8')) as Sample[];
    const verdicts = await judge.judge(samples.map((s) => ({ question: s.user, answer: s.answer })));
    io.progress(1);
    writeValue(io.dir, verdicts);
  },
});
