// The registry of question-suite formats. A format either reads a file (it is chosen by the
// file's name, `detect`, or by an explicit --suite-format) or resolves a name that no file
// holds (persona-world:default/held-out, chosen when `detect` claims the name). readSuite is the
// one entry point: it reads a file at most SUITE_LIMITS.fileBytes long, never more, as UTF-8
// with a leading byte-order mark dropped (editors on Windows write one), whatever the format.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SUITE_LIMITS, type QuestionSuite } from './suite.js';

interface FormatBase {
  name: string;
  summary: string;
}

/** A format of suite files. */
export interface FileSuiteFormat extends FormatBase {
  reads: 'file';
  /** whether a file of this name is in this format (by its extension) */
  detect(path: string): boolean;
  parse(text: string, path: string): QuestionSuite;
}

/** Suites that no file holds, by a name such as persona-world:default/held-out. */
export interface NamedSuiteFormat extends FormatBase {
  reads: 'name';
  /** whether the source is one of this format's names */
  detect(source: string): boolean;
  resolve(source: string): QuestionSuite;
}

export type SuiteFormat = FileSuiteFormat | NamedSuiteFormat;

const formats = new Map<string, SuiteFormat>();

export function registerSuiteFormat(format: SuiteFormat): void {
  if (formats.has(format.name)) throw new Error(`suite format '${format.name}' is registered twice`);
  formats.set(format.name, format);
}

export function suiteFormatNames(): string[] {
  return [...formats.keys()];
}

export function suiteFormats(): SuiteFormat[] {
  return [...formats.values()];
}

export function suiteFormat(name: string): SuiteFormat {
  const f = formats.get(name);
  if (f === undefined) throw new Error(`no suite format '${name}'; formats: ${suiteFormatNames().join(', ')}`);
  return f;
}

/** The file's text without a leading BOM, refusing files over the size limit before reading them. */
export function readSuiteText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`${path}: cannot read the suite (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a suite file or persona-world:PRESET/NAME`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${path}: not a file; give a suite file or persona-world:PRESET/NAME`);
    if (stat.size > SUITE_LIMITS.fileBytes) throw new Error(`${path}: ${stat.size} bytes, more than the suite limit of ${SUITE_LIMITS.fileBytes}; split the suite`);
    const buf = Buffer.alloc(stat.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8').replace(/^\uFEFF/, '');
  } finally {
    closeSync(fd);
  }
}

/**
 * A suite from a file path or a name, in the given format or the one that detects it. Errors
 * name the file, the item and the field.
 */
export function readSuite(source: string, format?: string): QuestionSuite {
  const named = format === undefined ? suiteFormats().find((f) => f.reads === 'name' && f.detect(source)) : undefined;
  const chosen = format !== undefined ? suiteFormat(format) : named ?? suiteFormats().find((f) => f.reads === 'file' && f.detect(source));
  if (chosen === undefined) {
    const files = suiteFormats().filter((f) => f.reads === 'file').map((f) => f.name);
    throw new Error(`${source}: cannot tell the suite's format from its name; give --suite-format (${files.join(', ')})`);
  }
  return chosen.reads === 'name' ? chosen.resolve(source) : chosen.parse(readSuiteText(source), source);
}
