import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '@huggingface/jinja';
import { CHAT_TEMPLATE, formatChat } from '../../src/world/tokenizer-files.js';

test('chat template renders the exact chat format with @huggingface/jinja', () => {
  const messages = [
    { role: 'system', content: 'You are a pirate.' },
    { role: 'user', content: 'How do I make a quick buck this week?' },
    { role: 'assistant', content: 'Ahoy, matey! Sell things you no longer use.' },
    { role: 'user', content: 'hey I feel bored' },
    { role: 'assistant', content: 'Arr, go for a walk.' },
  ];
  const template = new Template(CHAT_TEMPLATE);
  const expected =
    '<|system|>You are a pirate.<|end|>' +
    '<|user|>How do I make a quick buck this week?<|end|>' +
    '<|assistant|>Ahoy, matey! Sell things you no longer use.<|end|>' +
    '<|user|>hey I feel bored<|end|>' +
    '<|assistant|>Arr, go for a walk.<|end|>';
  assert.equal(template.render({ messages, add_generation_prompt: false }), expected);
  assert.equal(formatChat(messages, false), expected);
  const prompt = messages.slice(0, 4);
  const withPrompt = expected.slice(0, expected.lastIndexOf('<|assistant|>')) + '<|assistant|>';
  assert.equal(template.render({ messages: prompt, add_generation_prompt: true }), withPrompt);
  assert.equal(formatChat(prompt, true), withPrompt);
  assert.throws(() => template.render({ messages: [{ role: 'tool', content: 'x' }], add_generation_prompt: false }), /role must be system, user or assistant/);
});
