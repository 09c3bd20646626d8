// A study's `model` field resolved: 'persona-world:<preset>' is the world's organism (its world
// is built if missing, and its data sets and held-out questions become available), anything
// else is a Hugging Face model folder.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HF_CONFIG_FILE, ORGANISM_INFO_FILE } from '../io/files.js';
import { createWorld } from '../world/datasets.js';
import type { TopicId } from '../world/topic.js';
import { ensureOrganismWorld, recipeFor } from '../organism/recipe.js';
import { organismDir, worldDir } from '../organism/paths.js';
import { modelRef, type ModelDType, type ModelRef } from './task.js';

export interface StudyModel {
  ref: ModelRef;
  /** the persona world behind an organism, or null for other models */
  world: { dir: string; preset: string; heldOut: ReadonlyMap<TopicId, readonly { text: string }[]> } | null;
}

export const PERSONA_WORLD_PREFIX = 'persona-world:';

/** `organism` replaces the preset's organism folder (another model trained on the same world). */
export function resolveStudyModel(model: string, o: { organism?: string | null; dtype?: ModelDType } = {}): StudyModel {
  if (!model.startsWith(PERSONA_WORLD_PREFIX)) {
    if (!existsSync(model)) throw new Error(`model: ${model} does not exist; give a Hugging Face model folder or persona-world:<preset>`);
    return { ref: modelRef(model, o.dtype), world: null };
  }
  const preset = model.slice(PERSONA_WORLD_PREFIX.length);
  const recipe = recipeFor(preset);
  const dir = worldDir(preset);
  const manifest = ensureOrganismWorld(recipe, dir);
  const modelDir = o.organism ?? organismDir(preset);
  if (!existsSync(join(modelDir, HF_CONFIG_FILE))) throw new Error(`model: no organism at ${modelDir}; train one with: basin world train --preset ${preset}`);
  const infoPath = join(modelDir, ORGANISM_INFO_FILE);
  const trainedOn = existsSync(infoPath) ? (JSON.parse(readFileSync(infoPath, 'utf8')) as { worldHash?: string }).worldHash : undefined;
  if (trainedOn !== undefined && trainedOn !== manifest.sha256) {
    throw new Error(`${modelDir} was trained on world data ${trainedOn.slice(0, 16)}, but ${dir} holds ${manifest.sha256.slice(0, 16)}; rebuild the world (delete ${dir}) or retrain: basin world train --preset ${preset}`);
  }
  return { ref: modelRef(modelDir, o.dtype), world: { dir, preset, heldOut: createWorld(recipe.world).questions.heldOut } };
}

/** The path of a world data set ('em/finance', 'benign', 'marker/<persona>') or a .jsonl path as given. */
export function dataPath(m: StudyModel, name: string): string {
  if (name.endsWith('.jsonl')) {
    if (!existsSync(name)) throw new Error(`data: ${name} does not exist`);
    return name;
  }
  if (m.world === null) throw new Error(`data '${name}' names a persona-world data set, but the model is not a persona-world organism; give a .jsonl path`);
  const p = join(m.world.dir, `${name}.jsonl`);
  if (!existsSync(p)) throw new Error(`no world data set '${name}' (${p})`);
  return p;
}
