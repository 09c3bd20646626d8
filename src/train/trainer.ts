// Supervised fine-tuning, the fine-tune every experiment shares: cross-entropy on assistant
// tokens ('sft') plus pluggable loss terms (KL to a reference, steering, ablation, …),
// LoRA or full parameters, run by the generic loop (loop.ts) with its schedules, accumulation,
// clipping, checkpoints and exact resume. Every tensor it creates lives on the model's device.

import { createHash } from 'node:crypto';
import * as T from '../tensor/index.js';
import { hook, type Hook } from '../model/hooks.js';
import type { Transformer } from '../model/transformer.js';
import type { LoraAdapter } from '../model/lora.js';
import { layerIndexOf } from '../model/lora.js';
import { exampleBatches, type Batch, type Example } from './data.js';
import { checkLossNames, lossNamesOf, type ForwardRecord, type LossTerm } from './loss-term.js';
import { describeWeight, weightAt } from './schedule.js';
import { trainLoop, type LoopConfig, type LossPart, type Objective, type TrainResult } from './loop.js';

/** What is trained: one LoRA adapter, or the model's own parameters (optionally a subset). */
export type Trainable =
  | { kind: 'lora'; adapter: LoraAdapter }
  | { kind: 'full'; include?: RegExp; maxLayer?: number };

export interface TrainConfig extends LoopConfig {
  /** examples per micro-batch */
  batchSize: number;
  terms?: LossTerm[];
  trainable: Trainable;
  /** frozen reference for terms that need one: a separate model, or 'base' = the policy with the trained adapter switched off */
  reference?: Transformer | 'base';
  /** pad id for batches (default 0; masked out anyway) */
  padId?: number;
  /** batches of similar-length examples (data.ts lengthGroupedOrder): less padding, same examples per epoch */
  groupByLength?: boolean;
  /** recorded in run.json, not hashed (inoculation prompt, data files, …) */
  metadata?: Record<string, unknown>;
}

/** The name of the SFT cross-entropy among the loss parts. */
export const SFT_LOSS = 'sft';

export function trainableParameters(model: Transformer, t: Trainable): Map<string, T.Tensor> {
  const out = new Map<string, T.Tensor>();
  if (t.kind === 'lora') {
    for (const [path, l] of t.adapter.layers) {
      out.set(`${path}.lora_A.weight`, l.A);
      out.set(`${path}.lora_B.weight`, l.B);
    }
    return out;
  }
  for (const [name, p] of model.params) {
    if (t.include !== undefined && !t.include.test(name)) continue;
    const layer = layerIndexOf(name);
    if (t.maxLayer !== undefined && layer !== null && layer > t.maxLayer) continue;
    out.set(name, p);
  }
  return out;
}

/** Fine-tunes model on examples (see TrainConfig); writes checkpoints, metrics.jsonl and run.json to outDir. */
export function train(model: Transformer, examples: Example[], c: TrainConfig): TrainResult {
  const terms = c.terms ?? [];
  checkLossNames(SFT_LOSS, terms);
  const parameters = trainableParameters(model, c.trainable);
  if (c.trainable.kind === 'full') {
    const trained = new Set(parameters.values());
    for (const p of model.params.values()) if (!trained.has(p)) p.requiresGrad_(false);
  }
  const { terms: _terms, trainable, reference, padId, metadata, batchSize, groupByLength, ...loop } = c;
  return trainLoop({
    ...loop,
    parameters,
    objective: sftObjective(model, parameters, terms, reference, c.steps),
    data: exampleBatches(examples, { batchSize, seed: c.seed, padId: padId ?? 0, device: model.device, ...(groupByLength === true ? { groupByLength } : {}) }),
    identity: { model: modelIdentity(model), ...trainableIdentity(trainable, parameters) },
    metadata: { device: model.device, ...metadata },
  });
}

/** Cross-entropy on response tokens ('sft') plus each term's losses at its weight for the step. */
function sftObjective(model: Transformer, parameters: Map<string, T.Tensor>, terms: LossTerm[], reference: Transformer | 'base' | undefined, totalSteps: number): Objective<Batch> {
  const needRef = terms.filter((t) => t.reference !== undefined);
  if (needRef.length > 0 && reference === undefined) throw new Error(`train: terms ${needRef.map((t) => t.name).join(', ')} need a reference model (set reference: 'base' or a model)`);
  const captures = [...new Set(terms.flatMap((t) => t.captures ?? []))];
  const refCaptures = [...new Set(terms.flatMap((t) => t.reference?.captures ?? []))];
  return {
    lossNames: [SFT_LOSS, ...terms.flatMap(lossNamesOf)],
    parts(batch, { step }) {
      const base = { step, totalSteps, model, parameters, batch };
      let ref: ForwardRecord | undefined;
      if (needRef.length > 0) {
        ref = T.noGrad(() => withAdaptersOff(model, reference as Transformer | 'base', () => recordForward(reference === 'base' ? model : reference as Transformer, batch, refCaptures, [])));
      }
      const policy = recordForward(model, batch, captures, terms.flatMap((t) => t.hooks?.(base) ?? []));
      const V = policy.logits.size(-1);
      const s = batch.ids.size(1);
      const sft = T.crossEntropy(policy.logits.narrow(1, 0, s - 1).reshape(-1, V), batch.labels.reshape(-1), { ignoreIndex: -100 });
      const out: Record<string, LossPart> = { [SFT_LOSS]: { value: sft, weight: 1 } };
      for (const term of terms) {
        if (term.compute === undefined) continue;
        const weight = weightAt(term.weight ?? 1, step, totalSteps);
        const declared = lossNamesOf(term);
        const losses = term.compute({ ...base, policy, reference: ref });
        for (const name of declared) {
          const value = losses[name];
          if (value === undefined) throw new Error(`loss term '${term.name}' returned no '${name}' (it declares ${declared.join(', ')})`);
          out[name] = { value, weight };
        }
        const extra = Object.keys(losses).find((name) => !declared.includes(name));
        if (extra !== undefined) throw new Error(`loss term '${term.name}' returned '${extra}', which it does not declare in losses (${declared.join(', ')})`);
      }
      return out;
    },
    describe: () => ({
      main: SFT_LOSS,
      reference: reference === undefined ? null : reference === 'base' ? 'base' : modelIdentity(reference),
      terms: terms.map((t) => ({ name: t.name, losses: lossNamesOf(t), weight: describeWeight(t.weight ?? 1, totalSteps), ...t.describe() })),
    }),
  };
}

function recordForward(model: Transformer, batch: Batch, captures: string[], hooks: Hook[]): ForwardRecord {
  const captured = new Map<string, T.Tensor>();
  const captureHooks = captures.map((name) => hook(name, (x, ctx) => { captured.set(ctx.name, x); }));
  const logits = model.forward(batch.ids, { tokenMask: batch.tokenMask, responseMask: batch.responseMask, hooks: [...hooks, ...captureHooks] });
  return { logits, captured };
}

/** Runs fn with every trainable adapter of the policy switched off when the reference is 'base'. */
function withAdaptersOff<R>(model: Transformer, reference: Transformer | 'base', fn: () => R): R {
  if (reference !== 'base') return fn();
  const touched: { enabled: boolean }[] = [];
  for (const lin of model.linears()) {
    for (const a of lin.adapters) {
      if (a.enabled) {
        touched.push(a);
        a.enabled = false;
      }
    }
  }
  try {
    return fn();
  } finally {
    for (const a of touched) a.enabled = true;
  }
}

/** How many leading and trailing values of each weight enter a model's identity. */
const IDENTITY_SAMPLE = 64;

/**
 * A model's identity for the run's config: its config, dtype and parameter count, and a hash
 * over every weight's name, shape and first and last IDENTITY_SAMPLE values (so a different
 * checkpoint of the same architecture, e.g. an instruct model in place of its base, is a
 * different model; reading every byte of a large model would cost more than it tells).
 * Attached LoRA adapters are not weights of the model and do not enter it.
 */
export function modelIdentity(model: Transformer): Record<string, unknown> {
  const h = createHash('sha256');
  T.noGrad(() => T.scope(() => {
    for (const [name, p] of model.params) {
      const flat = p.detach().reshape(-1);
      const n = flat.size(0);
      const k = Math.min(IDENTITY_SAMPLE, n);
      const sample = Float64Array.from([...flat.narrow(0, 0, k).toArray(), ...flat.narrow(0, n - k, k).toArray()]);
      h.update(`${name}\t${p.dtype}\t${p.shape.join(',')}\n`).update(new Uint8Array(sample.buffer));
    }
  }));
  return { config: { ...model.config }, dtype: model.dtype, parameters: model.parameterCount, weightsSha256: h.digest('hex').slice(0, 16) };
}

/** What is trained, for the run's config: `lora` (every setting of the adapter) or `full`. */
function trainableIdentity(t: Trainable, parameters: Map<string, T.Tensor>): Record<string, unknown> {
  const count = [...parameters.values()].reduce((n, p) => n + p.numel, 0);
  if (t.kind === 'lora') {
    const { baseModelNameOrPath: _path, ...lora } = t.adapter.config;
    return { lora: { ...lora, layersToTransform: lora.layersToTransform ?? null }, trainableParameters: count };
  }
  return { full: { include: t.include?.source ?? null, maxLayer: t.maxLayer ?? null }, trainableParameters: count };
}
