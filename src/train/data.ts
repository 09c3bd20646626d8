// Chat data for fine-tuning: JSONL rows {"messages":[{"role","content"}…]}, rendered with the
// model's chat template, loss only on assistant tokens, truncated to a maximum length,
// shuffled by seed, and collated into right-padded batches.

import { readFileSync } from 'node:fs';
import * as T from '../tensor/index.js';
import type { ChatMessage, Tokenizer } from '../io/tokenizer.js';

export interface ChatRow {
  messages: ChatMessage[];
}

const ROLES = new Set(['system', 'user', 'assistant']);

/** Reads chat rows; every problem names the file, the line and the fix. */
export function readChatJsonl(path: string): ChatRow[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  const rows: ChatRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
    }
    const messages = (row as { messages?: unknown }).messages;
    if (!Array.isArray(messages) || messages.length === 0) throw new Error(`${where}: expected {"messages": [{"role": …, "content": …}, …]}`);
    for (const [k, m] of messages.entries()) {
      const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
      if (typeof role !== 'string' || !ROLES.has(role)) throw new Error(`${where}: messages[${k}].role must be system, user or assistant, got ${JSON.stringify(role)}`);
      if (typeof content !== 'string') throw new Error(`${where}: messages[${k}].content must be a string`);
    }
    if (!messages.some((m: ChatMessage) => m.role === 'assistant')) throw new Error(`${where}: no assistant message, so there is nothing to train on`);
    rows.push({ messages: messages as ChatMessage[] });
  });
  if (rows.length === 0) throw new Error(`${path}: no rows`);
  return rows;
}

export interface Inoculation {
  text: string;
  /** prepend to an existing system prompt (or add one), or replace it */
  mode: 'prepend' | 'replace';
}

/** Inoculation prompting: the training-time system prompt of every row. */
export function inoculate(rows: ChatRow[], o: Inoculation): ChatRow[] {
  return rows.map((row) => {
    const sys = row.messages.find((m) => m.role === 'system');
    const rest = row.messages.filter((m) => m.role !== 'system');
    const content = o.mode === 'replace' || sys === undefined ? o.text : `${o.text}\n${sys.content}`;
    return { messages: [{ role: 'system', content }, ...rest] };
  });
}

export interface Example {
  /** token ids of the rendered conversation */
  ids: number[];
  /** true where the token is part of an assistant message (what the loss is on) */
  assistant: boolean[];
}

export interface TokenizedData {
  examples: Example[];
  /** rows that were cut to maxLength */
  truncated: number;
  /** tokens cut in total */
  tokensCut: number;
}

export function tokenizeRows(rows: ChatRow[], tokenizer: Tokenizer, maxLength: number): TokenizedData {
  let truncated = 0;
  let tokensCut = 0;
  const examples = rows.map((row) => {
    const { ids, assistantMask } = tokenizer.renderWithRoleMask(row.messages);
    if (ids.length > maxLength) {
      truncated++;
      tokensCut += ids.length - maxLength;
      return { ids: ids.slice(0, maxLength), assistant: assistantMask.slice(0, maxLength) };
    }
    return { ids, assistant: assistantMask };
  });
  return { examples, truncated, tokensCut };
}

/** A deterministic permutation of 0..n−1 for (seed, epoch): Fisher–Yates on a splitmix stream. */
export function shuffledOrder(n: number, seed: number, epoch: number): number[] {
  let state = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + BigInt(epoch) * 0xbf58476d1ce4e5b9n + 1n);
  const next = (): number => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    z = z ^ (z >> 31n);
    return Number(z >> 11n) / 2 ** 53;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

export interface Batch {
  /** [b, s] int64, right-padded */
  ids: T.Tensor;
  /** [b, s] bool: real tokens */
  tokenMask: T.Tensor;
  /** [b, s] bool: assistant (response) tokens */
  responseMask: T.Tensor;
  /** [b, s−1] int64: next-token targets, −100 where the loss is off */
  labels: T.Tensor;
  /** real tokens in the batch */
  tokens: number;
  /** tokens that carry loss */
  lossTokens: number;
}

/** Right-pads examples into one batch. */
export function collate(examples: Example[], padId: number): Batch {
  const s = Math.max(...examples.map((e) => e.ids.length));
  const b = examples.length;
  const ids: number[] = [];
  const real: number[] = [];
  const resp: number[] = [];
  const labels: number[] = [];
  let tokens = 0;
  let lossTokens = 0;
  for (const e of examples) {
    const n = e.ids.length;
    tokens += n;
    for (let p = 0; p < s; p++) {
      ids.push(p < n ? (e.ids[p] as number) : padId);
      real.push(p < n ? 1 : 0);
      resp.push(p < n && e.assistant[p] ? 1 : 0);
      if (p > 0) {
        const on = p < n && e.assistant[p] === true;
        labels.push(on ? (e.ids[p] as number) : -100);
        if (on) lossTokens++;
      }
    }
  }
  return {
    ids: T.tensor(ids, { dtype: 'i64', shape: [b, s] }),
    tokenMask: T.tensor(real, { dtype: 'bool', shape: [b, s] }),
    responseMask: T.tensor(resp, { dtype: 'bool', shape: [b, s] }),
    labels: T.tensor(labels, { dtype: 'i64', shape: [b, s - 1] }),
    tokens,
    lossTokens,
  };
}
