// The sample producer: one answer per prompt (repeat a prompt for several samples), from the
// base model with the task's parent adapters attached. Output: value.json, a list of
// { system, user, answer } in prompt order.

import type { ChatPrompt } from '../../model/chat-prompt.js';
import { sampleResponses } from '../../eval/sampling.js';
import { writeValue } from './value.js';
import { registerProducer } from './registry.js';

export interface SampleSettings {
  prompts: ChatPrompt[];
  temperature: number;
  maxNewTokens: number;
  seed: number;
}

export interface Sample {
  system: string | null;
  user: string;
  answer: string;
}

registerProducer<SampleSettings>({
  name: 'sample',
  version: 1,
  summary: 'sampled chat answers (KV-cache generation, seeded) with the parent adapters attached',
  async run(task, io) {
    const s = task.settings;
    const { model, tokenizer } = await io.model();
    let done = 0;
    const answers = await io.models.withAdapters(model, io.parents('adapters'), () =>
      sampleResponses(model, tokenizer, s.prompts, {
        temperature: s.temperature, maxNewTokens: s.maxNewTokens, seed: s.seed,
        progress: { tick: (n = 1) => io.progress((done += n) / s.prompts.length), stop: () => {} },
      }));
    const samples: Sample[] = s.prompts.map((p, i) => ({ system: p.system ?? null, user: p.user, answer: answers[i] as string }));
    writeValue(io.dir, samples);
  },
});

