// The activations producer: the residual stream at the last prompt token (Method A) for a list
// of chat prompts, at some layers (L = blocks.L.hook_resid_post = HF hidden_states[L+1]).
// Output: value.json { "<layer>": number[][] } — one row per prompt, [prompts, d_model].

import { lastTokenActivations } from '../../persona/activations.js';
import type { ChatPrompt } from '../../model/chat-prompt.js';
import { writeValue } from './value.js';
import { registerProducer } from './registry.js';

export interface ActivationSettings {
  prompts: ChatPrompt[];
  layers: number[];
}

export type ActivationRows = Record<string, number[][]>;

registerProducer<ActivationSettings>({
  name: 'activations',
  version: 1,
  summary: 'residual-stream activations at the last prompt token',
  async run(task, io) {
    const { model, tokenizer } = await io.model();
    const acts = await io.models.withAdapters(model, io.parents('adapters'), () => lastTokenActivations(model, tokenizer, task.settings.prompts, task.settings.layers));
    const out: ActivationRows = {};
    for (const [layer, rows] of acts) out[String(layer)] = rows.map((r) => Array.from(r));
    io.progress(1);
    writeValue(io.dir, out);
  },
});
