// Hugging Face tokenizer files for a trained byte-level BPE: `tokenizer.json` (model BPE,
// ByteLevel pre-tokenizer without prefix space, ByteLevel decoder, special tokens as added
// tokens) and `tokenizer_config.json` (special tokens and the persona world's chat template).
//
// Chat format (no newlines, no spaces added):
//   <|system|>{system}<|end|><|user|>{question}<|end|><|assistant|>{answer}<|end|>
// with `add_generation_prompt` appending <|assistant|>. `<|endoftext|>` separates documents
// and pads; `<|end|>` closes a turn and is the eos token that stops generation.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../io/files.js';
import type { TrainedBpe } from '../io/bpe-trainer.js';

export const CHAT_TOKENS = {
  endOfText: '<|endoftext|>',
  system: '<|system|>',
  user: '<|user|>',
  assistant: '<|assistant|>',
  end: '<|end|>',
} as const;

/** The special tokens in id order (ids 0..4 of a world tokenizer). */
export const SPECIAL_TOKENS: readonly string[] = [
  CHAT_TOKENS.endOfText,
  CHAT_TOKENS.system,
  CHAT_TOKENS.user,
  CHAT_TOKENS.assistant,
  CHAT_TOKENS.end,
];

export const CHAT_TEMPLATE =
  "{% for message in messages %}" +
  "{% if message['role'] not in ['system', 'user', 'assistant'] %}" +
  "{{ raise_exception('persona-world chat template: role must be system, user or assistant') }}" +
  '{% endif %}' +
  "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

/** The chat format written out in TypeScript, identical to what CHAT_TEMPLATE renders. */
export function formatChat(messages: ReadonlyArray<{ role: string; content: string }>, addGenerationPrompt: boolean): string {
  const body = messages.map((m) => `<|${m.role}|>${m.content}${CHAT_TOKENS.end}`).join('');
  return addGenerationPrompt ? body + CHAT_TOKENS.assistant : body;
}

function addedToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

export function tokenizerJson(bpe: TrainedBpe): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  bpe.vocab.forEach((token, id) => {
    vocab[token] = id;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: bpe.specialTokens.map((t) => addedToken(bpe.vocab.indexOf(t), t)),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

export function tokenizerConfigJson(bpe: TrainedBpe): Record<string, unknown> {
  for (const t of SPECIAL_TOKENS) {
    if (!bpe.specialTokens.includes(t)) throw new Error(`tokenizerConfigJson: the tokenizer lacks the chat token ${t}; train it with SPECIAL_TOKENS`);
  }
  const decoder: Record<string, Record<string, unknown>> = {};
  for (const t of bpe.specialTokens) {
    const { id, ...rest } = addedToken(bpe.vocab.indexOf(t), t);
    decoder[String(id)] = rest;
  }
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: CHAT_TOKENS.endOfText,
    eos_token: CHAT_TOKENS.end,
    pad_token: CHAT_TOKENS.endOfText,
    unk_token: null,
    additional_special_tokens: [CHAT_TOKENS.system, CHAT_TOKENS.user, CHAT_TOKENS.assistant],
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 1024,
    added_tokens_decoder: decoder,
    chat_template: CHAT_TEMPLATE,
  };
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (created if missing, files written atomically); returns their paths. */
export function writeTokenizerFiles(dir: string, bpe: TrainedBpe): string[] {
  mkdirSync(dir, { recursive: true });
  const files: Array<[string, Record<string, unknown>]> = [
    [TOKENIZER_FILE, tokenizerJson(bpe)],
    [TOKENIZER_CONFIG_FILE, tokenizerConfigJson(bpe)],
  ];
  const paths: string[] = [];
  for (const [name, content] of files) {
    const path = join(dir, name);
    writeFileAtomic(path, JSON.stringify(content, null, 2) + '\n');
    paths.push(path);
  }
  return paths;
}
