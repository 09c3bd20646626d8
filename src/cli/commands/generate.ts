// `basin generate`: sample from a model folder with its chat template.

import * as T from '../../tensor/index.js';
import { TOKENIZER_FILE } from '../../io/files.js';
import { loadModel } from '../../model/load.js';
import { generate as run } from '../../model/generate.js';
import { stopTokenIds } from '../../model/chat-prompt.js';
import { deviceFlag, numberFlag, parse, UsageError, type Command } from '../command.js';

const usage = `basin generate --model DIR --prompt TEXT [--system TEXT] [--n N] [--temperature T]
               [--top-p P] [--top-k K] [--max-new-tokens M] [--seed S] [--device D] [--dtype T]
               [--raw] [--json]

Renders the prompt (and optional system prompt) with the model's chat template and the
generation prompt, then samples N completions in one batch with a KV cache.

  --model DIR          Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --prompt TEXT        the user message
  --system TEXT        a system prompt
  --n N                completions (default 1)
  --temperature T      0 = greedy (default 1)
  --top-p P, --top-k K nucleus / top-k filtering (default off)
  --max-new-tokens M   default 128
  --seed S             default 0
  --device D           cpu (default), cuda or cuda:N
  --dtype T            compute dtype of the weights: f32 (default), bf16, f16
  --raw                feed TEXT as-is, without the chat template
  --json               one JSON object per completion on stdout`;

export const generateCommand: Command = {
  name: 'generate',
  summary: 'sample completions from an HF model folder with its chat template',
  usage,
  async run(argv) {
    const { values, help } = parse(argv, {
      model: { type: 'string' }, prompt: { type: 'string' }, system: { type: 'string' }, n: { type: 'string' },
      temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'top-k': { type: 'string' },
      'max-new-tokens': { type: 'string' }, seed: { type: 'string' }, raw: { type: 'boolean' },
      device: { type: 'string' }, dtype: { type: 'string' },
    });
    if (help) {
      console.log(usage);
      return 0;
    }
    if (typeof values.model !== 'string') throw new UsageError('missing --model DIR');
    if (typeof values.prompt !== 'string') throw new UsageError('missing --prompt TEXT');
    const device = deviceFlag(values);
    const dtype = typeof values.dtype === 'string' ? values.dtype : 'f32';
    if (!['f32', 'bf16', 'f16'].includes(dtype)) throw new UsageError(`--dtype ${dtype}: use f32, bf16 or f16`);
    const { model, tokenizer } = await loadModel(values.model, { device, dtype: dtype as T.DType });
    if (tokenizer === null) throw new Error(`${values.model}: no ${TOKENIZER_FILE}, so text cannot be encoded`);
    const n = numberFlag(values, 'n', 1);
    let ids: number[];
    if (values.raw || tokenizer.chatTemplate === null) {
      ids = tokenizer.encode(values.prompt);
    } else {
      const messages = [...(typeof values.system === 'string' ? [{ role: 'system', content: values.system }] : []), { role: 'user', content: values.prompt }];
      ids = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
    }
    const stop = stopTokenIds(model, tokenizer);
    const outs = run(model, new Array<number[]>(n).fill(ids), {
      maxNewTokens: numberFlag(values, 'max-new-tokens', 128),
      temperature: numberFlag(values, 'temperature', 1),
      topP: numberFlag(values, 'top-p', 1),
      topK: numberFlag(values, 'top-k', 0),
      seed: numberFlag(values, 'seed', 0),
      stopTokenIds: stop,
      vocabLimit: tokenizer.vocabSize,
      ...(tokenizer.padTokenId !== null ? { padTokenId: tokenizer.padTokenId } : {}),
      decode: (t) => tokenizer.decode(t, { skipSpecialTokens: true }),
    });
    outs.forEach((g, i) => {
      if (values.json) console.log(JSON.stringify({ index: i, text: g.text, tokens: g.tokens, finishReason: g.finishReason }));
      else console.log(`${n > 1 ? `[${i}] ` : ''}${g.text ?? ''}${g.finishReason === 'length' ? ' …' : ''}`);
    });
    return 0;
  },
};
