// A study's `model` field resolved: 'persona-world:<preset>' is the world's organism (its world
// is built if missing, and its data sets and held-out questions become available), anything
// else is a Hugging Face model folder. Relative paths in a spec (model folders, .jsonl data)
// are relative to the spec file's folder. Data files are read once here, so a malformed file
// fails the plan, not a task hours later.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { HF_CONFIG_FILE, ORGANISM_INFO_FILE } from '../io/files.js';
import { readChatJsonl } from '../train/data.js';
import { createRng } from '../util/rng.js';
import { createWorld } from '../world/datasets.js';
import type { TopicId } from '../world/topic.js';
import { ensureOrganismWorld, recipeFor } from '../organism/recipe.js';
import { organismDir, worldDir } from '../organism/paths.js';
import type { StudyRun } from './kind.js';
import { modelRef, type ModelDType, type ModelRef } from './task.js';

export interface StudyModel {
  ref: ModelRef;
  /** the persona world behind an organism, or null for other models */
  world: {
    dir: string; preset: string;
    /** held-out questions every study reports on (nothing is tuned on them) */
    evaluation: ReadonlyMap<TopicId, readonly { text: string }[]>;
    /** held-out questions for tuning settings; disjoint from `evaluation` */
    selection: ReadonlyMap<TopicId, readonly { text: string }[]>;
  } | null;
}

const PERSONA_WORLD_PREFIX = 'persona-world:';

/** A path from a spec: relative ones are relative to the spec file's folder (or the working folder for specs built from flags). */
function specPath(run: Pick<StudyRun<unknown>, 'source'>, p: string): string {
  if (isAbsolute(p)) return p;
  return existsSync(run.source) ? resolve(dirname(run.source), p) : resolve(p);
}

/** `organism` replaces the preset's organism folder (another model trained on the same world). */
export function resolveStudyModel(run: Pick<StudyRun<unknown>, 'source'>, model: string, o: { organism?: string | null; dtype?: ModelDType } = {}): StudyModel {
  if (!model.startsWith(PERSONA_WORLD_PREFIX)) {
    const dir = specPath(run, model);
    if (!existsSync(join(dir, HF_CONFIG_FILE))) throw new Error(`model: ${dir} is not a Hugging Face model folder (no ${HF_CONFIG_FILE}); give a model folder or persona-world:<preset>`);
    return { ref: modelRef(dir, o.dtype), world: null };
  }
  const preset = model.slice(PERSONA_WORLD_PREFIX.length);
  const recipe = recipeFor(preset);
  const dir = worldDir(preset);
  const manifest = ensureOrganismWorld(recipe, dir);
  const modelDir = o.organism ? specPath(run, o.organism) : organismDir(preset);
  if (!existsSync(join(modelDir, HF_CONFIG_FILE))) {
    throw new Error(o.organism ? `organism: ${modelDir} is not a model folder (no ${HF_CONFIG_FILE})` : `model: no organism at ${modelDir}; train one with: basin world train --preset ${preset}`);
  }
  const infoPath = join(modelDir, ORGANISM_INFO_FILE);
  const trainedOn = existsSync(infoPath) ? (JSON.parse(readFileSync(infoPath, 'utf8')) as { worldHash?: string }).worldHash : undefined;
  if (trainedOn !== undefined && trainedOn !== manifest.sha256) {
    throw new Error(`${modelDir} was trained on world data ${trainedOn.slice(0, 16)}, but ${dir} holds ${manifest.sha256.slice(0, 16)}; rebuild the world (delete ${dir}) or retrain: basin world train --preset ${preset}`);
  }
  const { questions } = createWorld(recipe.world);
  return { ref: modelRef(modelDir, o.dtype), world: { dir, preset, evaluation: questions.evaluation, selection: questions.selection } };
}

/**
 * The path of a data set named in the spec field `field`: a world data set ('em/finance',
 * 'benign', 'marker/<persona>') or a .jsonl path. The file is parsed here (chat rows).
 */
export function dataPath(run: Pick<StudyRun<unknown>, 'source'>, m: StudyModel, field: string, name: string): string {
  let path: string;
  if (name.endsWith('.jsonl')) {
    path = specPath(run, name);
    if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`${field}: ${path} is not a file`);
  } else {
    if (m.world === null) throw new Error(`${field}: '${name}' names a persona-world data set, but the model is not a persona-world organism; give a .jsonl path`);
    path = join(m.world.dir, `${name}.jsonl`);
    if (!existsSync(path)) throw new Error(`${field}: the persona world has no data set '${name}' (${path})`);
  }
  let rows: unknown[];
  try {
    rows = readChatJsonl(path);
  } catch (e) {
    throw new Error(`${field}: ${(e as Error).message}`);
  }
  if (rows.length === 0) throw new Error(`${field}: ${path} has no rows`);
  return path;
}

/** n held-out world questions of some topics in a seeded order (cycled if the pool is smaller). */
export function sampleHeldOutQuestions(heldOut: ReadonlyMap<TopicId, readonly { text: string }[]>, topics: readonly TopicId[], n: number, seed: number): string[] {
  const pool = topics.flatMap((t) => (heldOut.get(t) ?? []).map((q) => q.text));
  if (pool.length === 0) throw new Error(`the persona world has no held-out questions for ${topics.join(', ')}`);
  const rng = createRng(seed);
  const order = pool.map((q) => ({ q, k: rng.next() })).sort((a, b) => a.k - b.k).map((x) => x.q);
  return Array.from({ length: n }, (_, i) => order[i % order.length] as string);
}
