// Persona vectors. For P personas × Q questions, per layer (resid_post of block L, = HF
// hidden_states[L+1]):
//   Method A — the residual at the last input token (the end of the rendered prompt,
//              generation prompt included);
//   Method B — the mean over response tokens of k sampled responses per question.
// The persona vector is the mean over questions. Per-question activations are written to disk
// persona by persona (one safetensors file each, [Q, d] per layer), never all held at once.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as T from '../tensor/index.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { PERSONA_MEANS_FILE, PERSONA_VECTORS_INDEX_FILE, personaActivationsFile } from '../io/files.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors-tensors.js';
import type { Transformer } from '../model/transformer.js';
import { renderPrompt, type ChatPrompt } from '../model/chat-prompt.js';
import { runWithCache } from '../model/activation-cache.js';
import { hookName } from '../model/hooks.js';
import { padBatch } from '../model/padding.js';
import { lastTokenActivations } from './activations.js';

export type VectorMethod = 'A' | 'B';

export interface PersonaSpec {
  id: string;
  system: string;
}

export interface VectorSet {
  dir: string;
  method: VectorMethod;
  layers: number[];
  personas: string[];
  questions: number;
  /** layer → persona vectors [P][d] (mean over questions) */
  means: Map<number, Float64Array[]>;
}

export const LAYER_CONVENTION = 'layer L = blocks.L.hook_resid_post = Hugging Face hidden_states[L+1]';

/** 5 layers spread over depth (10%, 30%, 50%, 70%, 90%), deduplicated; one is near 70%. */
export function defaultLayers(nLayers: number): number[] {
  return [...new Set([0.1, 0.3, 0.5, 0.7, 0.9].map((f) => Math.round(f * (nLayers - 1))))];
}

/** The layer nearest 70% of depth (the headline layer). */
export function referenceLayer(nLayers: number): number {
  return Math.round(0.7 * (nLayers - 1));
}

export function promptsHash(personas: PersonaSpec[], questions: string[]): string {
  return createHash('sha256').update(JSON.stringify({ personas, questions })).digest('hex').slice(0, 16);
}

/**
 * Method B for one persona: activations averaged over the response tokens of each sampled
 * response (prompt + response re-run teacher-forced), then over the k responses of a question.
 * responses[q][k] are response texts. → layer → [Q] rows [d].
 */
function responseMeanActivations(model: Transformer, tokenizer: Tokenizer, prompts: ChatPrompt[], responses: string[][], layers: number[]): Map<number, Float64Array[]> {
  const out = new Map<number, Float64Array[]>(layers.map((l) => [l, []]));
  const d = model.config.dModel;
  const pad = tokenizer.padTokenId ?? 0;
  prompts.forEach((p, qi) => {
    const sums = new Map<number, Float64Array>(layers.map((l) => [l, new Float64Array(d)]));
    const rows = (responses[qi] ?? []).map((text) => {
      const prompt = renderPrompt(tokenizer, p);
      const answer = tokenizer.encode(text, { addSpecialTokens: false });
      return { ids: [...prompt, ...answer], promptLength: prompt.length };
    }).filter((r) => r.ids.length > r.promptLength);
    if (rows.length > 0) {
      T.noGrad(() => T.scope(() => {
        const n = Math.max(...rows.map((r) => r.ids.length));
        const { ids, mask: real } = padBatch(rows.map((r) => r.ids), pad, 'right', model.device);
        const resp = T.tensor(rows.flatMap((r) => Array.from({ length: n }, (_, i) => (i >= r.promptLength && i < r.ids.length ? 1 : 0))), { dtype: 'f32', shape: [rows.length, n], device: model.device });
        const { cache } = runWithCache(model, ids, { tokenMask: real, names: layers.map((l) => hookName('resid_post', l)), skipLogits: true });
        for (const l of layers) {
          const acts = cache.get('resid_post', l); // [k, n, d]
          const w = resp.unsqueeze(2); // [k, n, 1]
          const mean = acts.mul(w).sum(1).div(w.sum(1)).mean(0); // [d]: per-response mean, then mean over responses
          const v = mean.to('f64').data() as Float64Array;
          (sums.get(l) as Float64Array).set(v);
        }
      }));
    }
    for (const l of layers) out.get(l)?.push(sums.get(l) as Float64Array);
  });
  return out;
}

export interface ExtractOptions {
  method: VectorMethod;
  layers: number[];
  /** Method B: the sampled responses per persona → [Q][k] texts */
  responses?: Map<string, string[][]>;
}

/**
 * Extracts per-question activations for every persona into dir (persona-<i>.safetensors, one
 * [Q, d] tensor per layer) and the persona vectors (means.safetensors). A finished dir
 * (index.json present) is read back instead of recomputed.
 */
export function extractPersonaVectors(model: Transformer, tokenizer: Tokenizer, personas: PersonaSpec[], questions: string[], dir: string, o: ExtractOptions, metadata: Record<string, string> = {}): VectorSet {
  const indexPath = join(dir, PERSONA_VECTORS_INDEX_FILE);
  if (existsSync(indexPath)) return readPersonaVectors(dir);
  const tmp = `${dir}.partial`;
  mkdirSync(tmp, { recursive: true });
  const d = model.config.dModel;
  const means = new Map<number, Float64Array[]>(o.layers.map((l) => [l, []]));
  personas.forEach((p, pi) => {
    const file = join(tmp, personaActivationsFile(pi));
    let perLayer: Map<number, Float64Array[]>;
    if (existsSync(file)) {
      const { tensors } = loadSafetensors(file, 'f64');
      perLayer = new Map(o.layers.map((l) => {
        const t = tensors.get(`layer.${l}`) as T.Tensor;
        const flat = t.data() as Float64Array;
        t.dispose();
        return [l, Array.from({ length: questions.length }, (_, q) => flat.slice(q * d, (q + 1) * d))];
      }));
    } else {
      const prompts = questions.map((q) => ({ system: p.system, user: q }));
      perLayer = o.method === 'A'
        ? lastTokenActivations(model, tokenizer, prompts, o.layers)
        : responseMeanActivations(model, tokenizer, prompts, o.responses?.get(p.id) ?? [], o.layers);
      T.scope(() => saveSafetensors(file, new Map(o.layers.map((l) => [`layer.${l}`, T.tensor(concat(perLayer.get(l) as Float64Array[]), { dtype: 'f32', shape: [questions.length, d], device: 'cpu' })])), { persona: p.id }));
    }
    for (const l of o.layers) (means.get(l) as Float64Array[]).push(meanRows(perLayer.get(l) as Float64Array[]));
  });
  T.scope(() => saveSafetensors(join(tmp, PERSONA_MEANS_FILE), new Map(o.layers.map((l) => [`layer.${l}`, T.tensor(concat(means.get(l) as Float64Array[]), { dtype: 'f64', shape: [personas.length, d], device: 'cpu' })])), {
    method: o.method, layers: o.layers.join(','), layer_convention: LAYER_CONVENTION, prompts_hash: promptsHash(personas, questions), ...metadata,
  }));
  writeFileAtomic(join(tmp, PERSONA_VECTORS_INDEX_FILE), JSON.stringify({ method: o.method, layers: o.layers, personas: personas.map((p) => p.id), questions: questions.length, dModel: d, layerConvention: LAYER_CONVENTION, promptsHash: promptsHash(personas, questions), ...metadata }, null, 1));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return readPersonaVectors(dir);
}

export function readPersonaVectors(dir: string): VectorSet {
  const index = JSON.parse(readFileSync(join(dir, PERSONA_VECTORS_INDEX_FILE), 'utf8')) as { method: VectorMethod; layers: number[]; personas: string[]; questions: number; dModel: number };
  const { tensors } = loadSafetensors(join(dir, PERSONA_MEANS_FILE), 'f64');
  const means = new Map<number, Float64Array[]>();
  for (const l of index.layers) {
    const t = tensors.get(`layer.${l}`) as T.Tensor;
    const flat = t.data() as Float64Array;
    means.set(l, index.personas.map((_, p) => flat.slice(p * index.dModel, (p + 1) * index.dModel)));
    t.dispose();
  }
  return { dir, method: index.method, layers: index.layers, personas: index.personas, questions: index.questions, means };
}

/** Per-question activations of every persona at one layer: rows [P·Q][d] with persona labels. */
export function perQuestionActivations(set: VectorSet, layer: number): { rows: Float64Array[]; labels: string[] } {
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  set.personas.forEach((p, pi) => {
    const { tensors } = loadSafetensors(join(set.dir, personaActivationsFile(pi)), 'f64');
    const t = tensors.get(`layer.${layer}`) as T.Tensor;
    const [q, d] = t.shape as [number, number];
    const flat = t.data() as Float64Array;
    for (let i = 0; i < q; i++) {
      rows.push(flat.slice(i * d, (i + 1) * d));
      labels.push(p);
    }
    for (const x of tensors.values()) x.dispose();
  });
  return { rows, labels };
}

function concat(rows: Float64Array[]): Float64Array {
  const d = rows[0]?.length ?? 0;
  const out = new Float64Array(rows.length * d);
  rows.forEach((r, i) => out.set(r, i * d));
  return out;
}

function meanRows(rows: Float64Array[]): Float64Array {
  const d = rows[0]?.length ?? 0;
  const m = new Float64Array(d);
  for (const r of rows) for (let i = 0; i < d; i++) m[i] = (m[i] as number) + (r[i] as number) / rows.length;
  return m;
}
