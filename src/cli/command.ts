// The shape of a CLI command, and shared flag handling: numbers, seeds, strings and folders
// checked, and the flags and arguments a subcommand does not take refused.

import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { cuda, type Device } from '../tensor/index.js';
import { HF_CONFIG_FILE } from '../io/files.js';
import { organismDir } from '../organism/paths.js';
import { PRESETS } from '../organism/recipe.js';
import { PERSONA_WORLD_PREFIX } from '../eval/suites/persona-world.js';

export interface Command {
  name: string;
  summary: string;
  /** full --help text */
  usage: string;
  run(argv: string[]): Promise<number>;
}

export type Flags = NonNullable<ParseArgsConfig['options']>;

/** Parses argv with the given flags plus --help/--json/--verbose; prints usage on --help. */
export function parse(argv: string[], flags: Flags): { values: Record<string, string | boolean | undefined>; positionals: string[]; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, ...flags },
    allowPositionals: true,
    strict: true,
  });
  return { values: values as Record<string, string | boolean | undefined>, positionals, help: values.help === true };
}

/** A number flag, checked: blank is not a number; `integer`, `min` and `max` bound it. */
export function numberFlag(values: Record<string, unknown>, name: string, fallback: number, o: { integer?: boolean; min?: number; max?: number } = {}): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  const ok = Number.isFinite(n) && (!o.integer || Number.isInteger(n)) && (o.min === undefined || n >= o.min) && (o.max === undefined || n <= o.max);
  if (!ok) {
    const range = o.min !== undefined && o.max !== undefined ? ` in ${o.min}..${o.max}` : o.min !== undefined ? ` ≥ ${o.min}` : o.max !== undefined ? ` ≤ ${o.max}` : '';
    throw new UsageError(`--${name} must be ${o.integer ? 'an integer' : 'a number'}${range}, got '${String(v)}'`);
  }
  return n;
}

/** --seed: an integer in 0..2^32−1 (default 0). */
export const seedFlag = (values: Record<string, unknown>): number => numberFlag(values, 'seed', 0, { integer: true, min: 0, max: 0xffffffff });

/** A string flag, or undefined when not given; a blank value is a usage error. */
export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} needs a value`);
  return v;
}

/** A folder flag (or `fallback` when not given): not blank, and not a file or below one, so nothing is written before that is found. */
export function folderFlag(values: Record<string, unknown>, name: string, fallback: string): string {
  const dir = stringFlag(values, name) ?? fallback;
  let p = resolve(dir);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  if (existsSync(p) && !statSync(p).isDirectory()) {
    throw new UsageError(`--${name} ${dir}: ${p === resolve(dir) ? 'is a file' : `${p} is a file`}, and --${name} is a folder; give another --${name}`);
  }
  return dir;
}

/** Rejects the flags (besides --help, --json and --verbose) that `command` does not take. */
export function onlyFlags(values: Record<string, unknown>, takes: readonly string[], command: string): void {
  const extra = Object.keys(values).filter((k) => values[k] !== undefined && !['help', 'json', 'verbose', ...takes].includes(k));
  if (extra.length === 0) return;
  const list = (names: readonly string[]) => names.map((f) => `--${f}`).join(', ');
  throw new UsageError(`${command} does not take ${list(extra)}; ${takes.length === 0 ? 'it takes no flags besides --json' : `its flags: ${list(takes)}`}`);
}

/** Rejects positional arguments beyond the `expected` ones. */
export function noExtraArguments(positionals: readonly string[], expected: number, command: string): void {
  const extra = positionals.slice(expected);
  if (extra.length > 0) throw new UsageError(`unexpected argument${extra.length === 1 ? '' : 's'} ${extra.map((a) => `'${a}'`).join(' ')} to ${command}`);
}

export class UsageError extends Error {}

/** --device: cpu (default), cuda or cuda:N — and the device must exist here. */
export function deviceFlag(values: Record<string, unknown>): Device {
  const v = values.device;
  if (v === undefined) return 'cpu';
  if (typeof v !== 'string' || !/^(cpu|cuda(:\d+)?)$/.test(v)) throw new UsageError(`--device ${String(v)}: use cpu, cuda or cuda:N`);
  if (v !== 'cpu') {
    const n = cuda.isAvailable() ? cuda.deviceCount() : 0;
    const index = v === 'cuda' ? 0 : Number(v.slice('cuda:'.length));
    if (index >= n) throw new UsageError(`--device ${v}: ${n === 0 ? 'this libtorch build sees no CUDA device (basin builds against a CUDA libtorch when one is found: pip install torch, or LIBTORCH=...)' : `only ${n} CUDA device(s) here (cuda:0..cuda:${n - 1})`}`);
  }
  return v as Device;
}

/**
 * --model: a Hugging Face model folder, or persona-world:PRESET for the world's organism (its
 * preset returned too); a usage error naming the fix otherwise.
 */
export function modelFolder(model: string): { dir: string; preset: string | null } {
  if (model.startsWith(PERSONA_WORLD_PREFIX)) {
    const preset = model.slice(PERSONA_WORLD_PREFIX.length);
    if (PRESETS[preset] === undefined) throw new UsageError(`--model ${model}: no persona-world preset '${preset}'; presets: ${Object.keys(PRESETS).join(', ')}`);
    const dir = organismDir(preset);
    if (!existsSync(join(dir, HF_CONFIG_FILE))) throw new Error(`--model ${model}: no organism at ${dir}; train one with: basin world train --preset ${preset}`);
    return { dir, preset };
  }
  if (!existsSync(join(model, HF_CONFIG_FILE))) throw new UsageError(`--model ${model}: not a Hugging Face model folder (no ${HF_CONFIG_FILE}); give a model folder or persona-world:PRESET`);
  return { dir: model, preset: null };
}
