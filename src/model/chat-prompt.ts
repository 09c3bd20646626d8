// A chat prompt (system prompt, earlier turns, user message) rendered with the model's chat
// template and the generation prompt, as token ids.

import type { ChatMessage, Tokenizer } from '../io/tokenizer.js';
import type { Transformer } from './transformer.js';

export interface ChatPrompt {
  system: string | null;
  user: string;
  /** earlier turns, before this user message */
  history?: ChatMessage[];
}

export function renderPrompt(tokenizer: Tokenizer, p: ChatPrompt): number[] {
  const messages: ChatMessage[] = [
    ...(p.system !== null ? [{ role: 'system', content: p.system }] : []),
    ...(p.history ?? []),
    { role: 'user', content: p.user },
  ];
  return tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
}

/** Where a chat answer ends: the config's eos ids and the tokenizer's eos token. */
export function stopTokenIds(model: Transformer, tokenizer: Tokenizer): number[] {
  return [...new Set([...model.config.eosTokenIds, ...(tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : [])])];
}
