// An activation store for training and evaluating SAEs: a model's activations at one hook point
// over a chat dataset, streamed as batches of token rows [train_batch_tokens, d_in] without ever
// holding the dataset's activations at once (SAELens's ActivationsStore, for chat data).
//
// Data: JSONL rows {"messages": [...]}, rendered with the tokenizer's chat template and
// tokenized with a role mask (Tokenizer.renderWithRoleMask, as the trainer does), cut to
// maxLength tokens. Which positions become rows (`tokens`): 'response' = the positions the
// role mask marks as assistant (each assistant message's content plus the end-of-turn token
// after it); 'prompt' = every other position (system and user turns, template tokens, the
// assistant header); 'all' = every position. Conversations with no selected position are skipped.
//
// Harvesting: conversations are taken in fixed groups of storeBatchPrompts ("units", in file
// order), each group run as one right-padded batch (causal attention: the real positions' values
// equal an unpadded run) up to the hook's block only (runWithCache with skipLogits stops there).
//
// Buffer (bounded): at most capacity = nBatchesInBuffer × trainBatchTokens rows are held — the
// rows harvested and not yet handed out (rowsHeld, maxRowsHeld). Memory can reach about twice
// that: while the buffer is merged and permuted, and until the rows left after handing out
// batches are compacted at the next merge. Before a unit that would not fit is added, the
// buffer is permuted (when shuffling) and batches are handed out from its front until it is at
// most half full and the unit fits (SAELens refills at half). At the end of a pass the rest is
// permuted and handed out; the last batch may be short. A pass's order is seeded: the unit order
// and every permutation come from createRng(seed).fork('sae/activations/epoch-<epoch>'), so a
// pass is reproducible and passes differ. Unshuffled, rows come in file order.
//
// Disk cache (optional): each unit's rows are written once as a safetensors shard (tensor
// `activations` [rows, d_in], atomically) under <dir>/activations-<key>/, beside a cache.json
// record of what the key covers; a later pass or run reads a shard that is there instead of
// running the model. The key hashes the model's identity (given by the caller: the store cannot
// see which weights or adapters produced its activations), the hook, the selection, maxLength,
// storeBatchPrompts, the model's dtype and the tokenized data (ids and role masks: the data, the
// tokenizer and the template). Shuffling, the seed and the batch sizes are not in the key: shards
// hold unshuffled units, so a cached pass hands out exactly the batches a harvesting pass does.

import { existsSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { readSafetensorsHeader } from '../io/safetensors.js';
import { readTensor, saveSafetensors } from '../io/safetensors-tensors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { ACTIVATION_CACHE_RECORD_FILE, activationShardFile } from '../io/files.js';
import type { Transformer } from '../model/transformer.js';
import { runWithCache } from '../model/activation-cache.js';
import { padBatch } from '../model/padding.js';
import { examplesHash, readChatJsonl, tokenizeRows, type ChatRow, type Example } from '../train/data.js';
import { createRng, type Rng } from '../util/rng.js';
import { canonicalJson } from '../util/canonical-json.js';

/** Which token positions of a conversation become activation rows. */
export type TokenSelection = 'response' | 'prompt' | 'all';

const SHARD_TENSOR = 'activations';
const CACHE_FORMAT = 'basin.sae-activations/1';

export interface ActivationStoreProgress {
  epoch: number;
  /** units (groups of storeBatchPrompts conversations) harvested or read so far in this pass */
  units: number;
  totalUnits: number;
  /** rows (selected tokens) harvested or read so far in this pass */
  rows: number;
  totalRows: number;
  /** whether the last unit came from the disk cache */
  fromCache: boolean;
}

export interface ActivationStoreOptions {
  /** a JSONL chat file ({"messages": [{"role", "content"}, …]} per line) or rows already read */
  data: string | ChatRow[];
  /** the hook point read, by full name (hookName('resid_post', L)); any [b, s, width] point */
  hook: string;
  /** which positions become rows (default 'response') */
  tokens?: TokenSelection;
  /** rows per batch handed out (default 4096, SAELens's train_batch_size_tokens) */
  trainBatchTokens?: number;
  /** conversations per forward (default 32, SAELens's store_batch_size_prompts) */
  storeBatchPrompts?: number;
  /** the buffer holds at most nBatchesInBuffer × trainBatchTokens rows (default 20; at least 2) */
  nBatchesInBuffer?: number;
  /** conversations are cut to this many tokens (default the model's maxPositions) */
  maxLength?: number;
  /** permute units and the buffer (default true); false hands rows out in file order */
  shuffle?: boolean;
  /** seed of the pass orders (default 42, SAELens's) */
  seed?: number;
  /** where the buffer and the batches live (default the model's device) */
  device?: T.Device;
  /**
   * cache the harvested rows under `dir`. `modelId` names the weights that produce them (e.g.
   * modelFingerprint(dir).fingerprint, plus the keys of any adapters attached): it goes into the key.
   */
  cache?: { dir: string; modelId: string };
  /** called after each unit is harvested or read */
  onProgress?: (p: ActivationStoreProgress) => void;
}

interface Unit {
  /** examples (conversations) of this unit, in file order */
  examples: Example[];
  /** flat indices b·s + p of the selected positions in the unit's right-padded [b, s] batch */
  flatIndex: number[];
  rows: number;
}

export class ActivationStore {
  readonly model: Transformer;
  readonly hook: string;
  readonly tokens: TokenSelection;
  /** width of a row: d_model, or d_mlp at mlp.hook_post */
  readonly dIn: number;
  readonly trainBatchTokens: number;
  /** nBatchesInBuffer × trainBatchTokens: the most rows ever held */
  readonly capacity: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly device: T.Device;
  /** conversations that give rows, and those skipped for having no selected position */
  readonly conversations: number;
  readonly skipped: number;
  /** conversations cut to maxLength */
  readonly truncated: number;
  /** rows in one pass */
  readonly totalRows: number;
  /** the cache folder, or null without a cache */
  readonly cacheFolder: string | null;
  readonly #units: Unit[];
  readonly #padId: number;
  readonly #onProgress: ((p: ActivationStoreProgress) => void) | undefined;
  #rowsHeld = 0;
  #maxRowsHeld = 0;

  constructor(model: Transformer, tokenizer: Tokenizer, o: ActivationStoreOptions) {
    this.model = model;
    this.hook = o.hook;
    this.dIn = hookWidth(model, o.hook);
    this.tokens = o.tokens ?? 'response';
    if (!['response', 'prompt', 'all'].includes(this.tokens)) throw new Error(`ActivationStore: tokens must be 'response', 'prompt' or 'all', got ${JSON.stringify(this.tokens)}`);
    this.trainBatchTokens = positiveInt('trainBatchTokens', o.trainBatchTokens ?? 4096);
    const storeBatchPrompts = positiveInt('storeBatchPrompts', o.storeBatchPrompts ?? 32);
    const nBatches = positiveInt('nBatchesInBuffer', o.nBatchesInBuffer ?? 20);
    if (nBatches < 2) throw new Error(`ActivationStore: nBatchesInBuffer (${nBatches}) must be at least 2, so that a unit fits beside a batch being handed out`);
    this.capacity = nBatches * this.trainBatchTokens;
    const maxLength = positiveInt('maxLength', o.maxLength ?? model.config.maxPositions);
    this.shuffle = o.shuffle ?? true;
    this.seed = o.seed ?? 42;
    createRng(this.seed); // validates the seed now rather than at the first pass
    this.device = o.device ?? model.device;
    this.#padId = tokenizer.padTokenId ?? 0;
    this.#onProgress = o.onProgress;

    const rows = typeof o.data === 'string' ? readChatJsonl(o.data) : o.data;
    const tokenized = tokenizeRows(rows, tokenizer, maxLength);
    this.truncated = tokenized.truncated;
    const kept = tokenized.examples.filter((e) => e.assistant.some((a) => selected(this.tokens, a)));
    this.conversations = kept.length;
    this.skipped = tokenized.examples.length - kept.length;
    if (kept.length === 0) throw new Error(`ActivationStore: none of the ${rows.length} conversations has a ${this.tokens} token to read; check the data or choose tokens: 'all'`);
    this.#units = [];
    for (let i = 0; i < kept.length; i += storeBatchPrompts) this.#units.push(makeUnit(kept.slice(i, i + storeBatchPrompts), this.tokens));
    this.totalRows = this.#units.reduce((n, u) => n + u.rows, 0);
    const room = this.capacity - this.trainBatchTokens;
    this.#units.forEach((u, i) => {
      if (u.rows > room) {
        throw new Error(
          `ActivationStore: conversations ${i * storeBatchPrompts}–${i * storeBatchPrompts + u.examples.length - 1} of those with ${this.tokens} tokens (one forward of storeBatchPrompts = ${storeBatchPrompts}) ` +
            `have ${u.rows} ${this.tokens} tokens, more than the buffer has room for beside one batch ((nBatchesInBuffer − 1) × trainBatchTokens = ${room}); ` +
            'lower storeBatchPrompts or maxLength, or raise nBatchesInBuffer',
        );
      }
    });
    this.cacheFolder = o.cache === undefined ? null : this.#openCache(o.cache, kept, maxLength, storeBatchPrompts);
  }

  /** rows held now: harvested (or read) and not yet handed out */
  get rowsHeld(): number {
    return this.#rowsHeld;
  }
  /** the most rows held at once since the store was made (never above capacity) */
  get maxRowsHeld(): number {
    return this.#maxRowsHeld;
  }

  /**
   * One pass over the data: batches [trainBatchTokens, dIn] (the last may be shorter) on the
   * store's device, in the model's dtype. Each batch is created in the caller's tensor scope
   * (or outside any, then freed by dispose() or the GC); the store frees its buffer when the pass
   * ends or the loop is left early.
   */
  *batches(epoch = 0): Generator<T.Tensor, void, undefined> {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`ActivationStore.batches: epoch (${epoch}) must be an integer ≥ 0`);
    const rng = createRng(this.seed).fork(`sae/activations/epoch-${epoch}`);
    const inFileOrder = this.#units.map((_, i) => i);
    const order = this.shuffle ? rng.shuffle(inFileOrder) : inFileOrder;
    const buffer = new RowBuffer(this.shuffle ? rng : null, (delta) => this.#hold(delta));
    let rows = 0;
    try {
      for (const [done, u] of order.entries()) {
        const unit = this.#units[u] as Unit;
        if (buffer.rows + unit.rows > this.capacity) {
          const keepAtMost = Math.min(Math.floor(this.capacity / 2), this.capacity - unit.rows);
          buffer.permute();
          while (buffer.rows > keepAtMost) yield buffer.take(this.trainBatchTokens);
        }
        const { acts, fromCache } = this.#unitRows(u, unit);
        buffer.append(acts);
        rows += unit.rows;
        this.#onProgress?.({ epoch, units: done + 1, totalUnits: order.length, rows, totalRows: this.totalRows, fromCache });
      }
      buffer.permute();
      while (buffer.rows > 0) yield buffer.take(this.trainBatchTokens);
    } finally {
      buffer.dispose();
    }
  }

  #hold(delta: number): void {
    this.#rowsHeld += delta;
    this.#maxRowsHeld = Math.max(this.#maxRowsHeld, this.#rowsHeld);
  }

  /** A unit's rows [rows, dIn] on the store's device (kept): from its shard, or by a forward. */
  #unitRows(index: number, unit: Unit): { acts: T.Tensor; fromCache: boolean } {
    const shard = this.cacheFolder === null ? null : join(this.cacheFolder, activationShardFile(index));
    if (shard !== null && existsSync(shard)) return { acts: this.#readShard(shard, unit), fromCache: true };
    const acts = T.keep(T.noGrad(() => T.scope(() => this.#harvest(unit))));
    if (shard !== null) T.scope(() => saveSafetensors(shard, [[SHARD_TENSOR, acts.device === 'cpu' ? acts : acts.to('cpu')]], { format: CACHE_FORMAT }));
    return { acts, fromCache: false };
  }

  /** [rows, dIn]: the hook's activations at the unit's selected positions, in conversation order. */
  #harvest(unit: Unit): T.Tensor {
    const { ids, mask } = padBatch(unit.examples.map((e) => e.ids), this.#padId, 'right', this.model.device);
    const { cache } = runWithCache(this.model, ids, { tokenMask: mask, names: [this.hook], skipLogits: true });
    const acts = cache.get(this.hook); // [b, s, dIn]
    const [b, s, d] = acts.shape as [number, number, number];
    if (acts.ndim !== 3 || d !== this.dIn) throw new Error(`ActivationStore: ${this.hook} gave [${acts.shape.join(', ')}], expected [batch, positions, ${this.dIn}]`);
    const rows = acts.reshape(b * s, d).indexSelect(0, T.tensor(unit.flatIndex, { dtype: 'i64', device: acts.device })); // [rows, dIn]
    return rows.device === this.device ? rows : rows.to(this.device);
  }

  #readShard(path: string, unit: Unit): T.Tensor {
    const file = readSafetensorsHeader(path);
    const entry = file.tensors.get(SHARD_TENSOR);
    const want = `${T.DTYPES[this.model.dtype].safetensors} [${unit.rows}, ${this.dIn}]`;
    const got = entry === undefined ? 'no activations tensor' : `${entry.dtype} [${entry.shape.join(', ')}]`;
    if (got !== want) throw new Error(`${path}: holds ${got}, expected ${want} for this unit; the cache folder is stale or damaged — delete ${this.cacheFolder} to harvest again`);
    const t = readTensor(file, SHARD_TENSOR, entry as NonNullable<typeof entry>);
    if (this.device === 'cpu') return T.keep(t);
    const moved = T.keep(t.to(this.device));
    t.dispose();
    return moved;
  }

  #openCache(cache: { dir: string; modelId: string }, examples: Example[], maxLength: number, storeBatchPrompts: number): string {
    if (cache.modelId === '') throw new Error('ActivationStore: cache.modelId is empty; pass what identifies the weights, e.g. modelFingerprint(modelDir).fingerprint');
    const covers = {
      format: CACHE_FORMAT, modelId: cache.modelId, dtype: this.model.dtype, hook: this.hook, tokens: this.tokens,
      maxLength, storeBatchPrompts, data: examplesHash(examples), conversations: examples.length, rows: this.totalRows,
    };
    const key = createHash('sha256').update(canonicalJson(covers)).digest('hex').slice(0, 20);
    const folder = join(cache.dir, `activations-${key}`);
    mkdirSync(folder, { recursive: true });
    const record = join(folder, ACTIVATION_CACHE_RECORD_FILE);
    if (!existsSync(record)) writeFileAtomic(record, `${JSON.stringify({ ...covers, dIn: this.dIn, units: this.#units.map((u) => u.rows) }, null, 2)}\n`);
    return folder;
  }
}

/**
 * Rows waiting to be handed out: chunks appended whole, merged (and permuted, when shuffling)
 * on permute(), handed out from the front. Its tensors are kept (outside every scope) and freed
 * as they are handed out or replaced.
 */
class RowBuffer {
  #chunks: T.Tensor[] = [];
  #rows = 0;
  readonly #rng: Rng | null;
  readonly #hold: (delta: number) => void;

  constructor(rng: Rng | null, hold: (delta: number) => void) {
    this.#rng = rng;
    this.#hold = hold;
  }

  get rows(): number {
    return this.#rows;
  }

  /** Adds kept rows [n, d] (the buffer owns them from now on). */
  append(rows: T.Tensor): void {
    this.#chunks.push(rows);
    this.#rows += rows.size(0);
    this.#hold(rows.size(0));
  }

  /** Merges the chunks into one, its rows in a random order when shuffling. */
  permute(): void {
    if (this.#rows === 0 || (this.#rng === null && this.#chunks.length === 1)) return;
    const rng = this.#rng;
    const merged = T.keep(T.scope(() => {
      const all = this.#chunks.length === 1 ? (this.#chunks[0] as T.Tensor) : T.cat(this.#chunks, 0); // [rows, d]
      if (rng === null) return all; // a new tensor: the early return above leaves at least two chunks here
      const perm = rng.shuffle(Array.from({ length: this.#rows }, (_, i) => i));
      return all.indexSelect(0, T.tensor(perm, { dtype: 'i64', device: all.device }));
    }));
    for (const c of this.#chunks) c.dispose();
    this.#chunks = [merged];
  }

  /**
   * Hands out the first min(n, rows) rows [n, d] as a new tensor in the caller's scope. What
   * stays is a view of the merged tensor: its storage is freed at the next permute(), so memory
   * can reach about twice the rows held (as SAELens's buffer does).
   */
  take(n: number): T.Tensor {
    const first = this.#chunks[0];
    if (first === undefined) throw new Error('RowBuffer.take: the buffer is empty');
    if (this.#chunks.length > 1) throw new Error('RowBuffer.take: call permute() first, to merge the chunks');
    const k = Math.min(n, first.size(0));
    const out = T.scope(() => first.narrow(0, 0, k).clone());
    this.#chunks = k === first.size(0) ? [] : [T.keep(T.scope(() => first.narrow(0, k, first.size(0) - k)))];
    first.dispose();
    this.#rows -= k;
    this.#hold(-k);
    return out;
  }

  dispose(): void {
    for (const c of this.#chunks) c.dispose();
    this.#hold(-this.#rows);
    this.#chunks = [];
    this.#rows = 0;
  }
}

function selected(tokens: TokenSelection, assistant: boolean): boolean {
  return tokens === 'all' || (tokens === 'response') === assistant;
}

function makeUnit(examples: Example[], tokens: TokenSelection): Unit {
  const s = Math.max(...examples.map((e) => e.ids.length));
  const flatIndex: number[] = [];
  examples.forEach((e, b) => e.assistant.forEach((a, p) => {
    if (selected(tokens, a)) flatIndex.push(b * s + p);
  }));
  return { examples, flatIndex, rows: flatIndex.length };
}

/** The row width at a hook point: d_mlp at mlp.hook_post, d_model at the other [b, s, d] points. */
function hookWidth(model: Transformer, hook: string): number {
  if (!model.hookPointNames.includes(hook)) {
    throw new Error(`ActivationStore: ${JSON.stringify(hook)} is not a hook point of this ${model.config.nLayers}-layer model; name one with hookName, e.g. hookName('resid_post', ${model.config.nLayers - 1})`);
  }
  if (hook.includes('.attn.hook_')) throw new Error(`ActivationStore: ${hook} is per head ([b, h, s, …]); read a [b, s, d] point such as blocks.L.hook_attn_out or blocks.L.hook_resid_post`);
  return hook.endsWith('.mlp.hook_post') ? model.config.dMlp : model.config.dModel;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`ActivationStore: ${name} (${v}) must be a positive integer`);
  return v;
}
