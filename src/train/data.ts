// Chat data for fine-tuning: JSONL rows {"messages":[{"role","content"}…]}, rendered with the
// model's chat template, loss only on assistant tokens, truncated to a maximum length,
// shuffled by seed, and collated into right-padded batches on the model's device.

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as T from '../tensor/index.js';
import type { ChatMessage, Tokenizer } from '../io/tokenizer.js';
import { createRng } from '../util/rng.js';
import type { BatchSource } from './loop.js';

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

/**
 * A deterministic permutation of 0..n−1 for (seed, epoch): a Fisher–Yates shuffle drawn from
 * the stream `createRng(seed).fork('train/order/epoch-<epoch>')`, so each epoch's order depends
 * only on the seed and the epoch.
 */
export function shuffledOrder(n: number, seed: number, epoch: number): number[] {
  return createRng(seed).fork(`train/order/epoch-${epoch}`).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** Examples per mega-batch (in batches) that lengthGroupedOrder sorts by length. */
export const LENGTH_GROUP_BATCHES = 50;

/**
 * An epoch's order in which each run of `batchSize` examples has similar lengths (what Hugging
 * Face calls group_by_length): shuffledOrder cut into mega-batches of LENGTH_GROUP_BATCHES
 * batches, each sorted by length and cut into batches, the epoch's full batches shuffled and
 * its one partial batch (if any) last. Padding falls from about a third of a batch's positions
 * to about 1% on the persona-world corpus; every example is still seen once per epoch.
 */
export function lengthGroupedOrder(lengths: readonly number[], seed: number, epoch: number, batchSize: number): number[] {
  const order = shuffledOrder(lengths.length, seed, epoch);
  const mega = batchSize * LENGTH_GROUP_BATCHES;
  const full: number[][] = [];
  let partial: number[] = [];
  for (let i = 0; i < order.length; i += mega) {
    const sorted = order.slice(i, i + mega).sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
    for (let k = 0; k < sorted.length; k += batchSize) {
      const batch = sorted.slice(k, k + batchSize);
      if (batch.length === batchSize) full.push(batch);
      else partial = batch;
    }
  }
  return [...createRng(seed).fork(`train/length-groups/epoch-${epoch}`).shuffle(full).flat(), ...partial];
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

/** Right-pads examples into one batch, every tensor on `device`. */
export function collate(examples: Example[], padId: number, device: T.Device): Batch {
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
    ids: T.tensor(ids, { dtype: 'i64', shape: [b, s], device }),
    tokenMask: T.tensor(real, { dtype: 'bool', shape: [b, s], device }),
    responseMask: T.tensor(resp, { dtype: 'bool', shape: [b, s], device }),
    labels: T.tensor(labels, { dtype: 'i64', shape: [b, s - 1], device }),
    tokens,
    lossTokens,
  };
}

/** sha256 (16 hex digits) over every example's token ids and loss mask: the data's content hash. */
export function examplesHash(examples: Example[]): string {
  const h = createHash('sha256');
  for (const e of examples) h.update(Int32Array.from(e.ids)).update(Uint8Array.from(e.assistant, Number));
  return h.digest('hex').slice(0, 16);
}

/**
 * Micro-batches of `batchSize` examples drawn in shuffledOrder(seed, epoch), epoch after epoch
 * (an epoch's leftover examples start the next batch), collated on `device`. Its position is
 * {epoch, cursor}: where it stands in that epoch's order.
 */
export function exampleBatches(examples: Example[], o: { batchSize: number; seed: number; padId: number; device: T.Device; groupByLength?: boolean }): BatchSource<Batch> {
  if (examples.length === 0) throw new Error('train: no examples');
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`train: batchSize (${o.batchSize}) must be a positive integer`);
  const lengths = examples.map((e) => e.ids.length);
  const orderOf = (epoch: number) => (o.groupByLength === true ? lengthGroupedOrder(lengths, o.seed, epoch, o.batchSize) : shuffledOrder(examples.length, o.seed, epoch));
  let epoch = 0;
  let cursor = 0;
  let order = orderOf(epoch);
  return {
    next() {
      const picked: Example[] = [];
      while (picked.length < o.batchSize) {
        if (cursor >= examples.length) {
          order = orderOf(++epoch);
          cursor = 0;
        }
        picked.push(examples[order[cursor++] as number] as Example);
      }
      return collate(picked, o.padId, o.device);
    },
    tokens: (batch) => batch.tokens,
    position: () => ({ epoch, cursor }),
    seek(p) {
      if (!Number.isInteger(p.epoch) || !Number.isInteger(p.cursor)) throw new Error(`train: the checkpoint's data position ${JSON.stringify(p)} has no integer epoch and cursor`);
      epoch = p.epoch as number;
      cursor = p.cursor as number;
      order = orderOf(epoch);
    },
    describe: () => ({
      examples: examples.length, sha256: examplesHash(examples), batchSize: o.batchSize, padId: o.padId,
      order: o.groupByLength === true ? `mulberry32, forked per epoch, grouped by length in mega-batches of ${LENGTH_GROUP_BATCHES} batches` : 'mulberry32, forked per epoch',
    }),
  };
}
