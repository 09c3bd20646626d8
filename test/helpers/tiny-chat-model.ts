// A tiny chat model folder for tests: a byte-level tokenizer with no merges (one token per
// byte, so token positions can be checked by hand), ChatML special tokens, a ChatML chat
// template, and a randomly initialised llama with basin's own initialisation.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BYTE_TO_CHAR } from '../../src/io/byte-level.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../../src/io/files.js';
import { parseHfConfig } from '../../src/model/config.js';
import { randomModel, saveModel } from '../../src/model/index.js';

export const SPECIALS = ['<|im_start|>', '<|im_end|>', '<|endoftext|>'];
export const IM_START = 256;
export const IM_END = 257;
export const EOT = 258;

export const CHATML = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export function writeByteTokenizer(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((c, b) => (vocab[c] = b));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tok = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: SPECIALS.map((content, i) => ({ id: 256 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null, pre_tokenizer: byteLevel, post_processor: { ...byteLevel, trim_offsets: false }, decoder: { ...byteLevel },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  writeFileSync(join(dir, TOKENIZER_FILE), JSON.stringify(tok));
  writeFileSync(join(dir, TOKENIZER_CONFIG_FILE), JSON.stringify({ chat_template: CHATML, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', bos_token: null }));
}

/** Writes a tiny llama chat model (vocab 264, d_model 32, 2 layers) as an HF folder. */
export function writeTinyChatModel(dir: string, seed = 0, dtype: 'f32' | 'f64' = 'f32'): void {
  const config = parseHfConfig({
    model_type: 'llama', vocab_size: 264, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    intermediate_size: 64, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
    eos_token_id: IM_END, bos_token_id: null, torch_dtype: dtype === 'f64' ? 'float64' : 'float32',
  });
  const model = randomModel(config, seed, { std: 0.2, dtype });
  saveModel(model, dir);
  writeByteTokenizer(dir);
}
