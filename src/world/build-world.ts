// buildWorld(config, outDir): writes a whole persona world to disk, deterministically from the
// config's seed, every file atomically, and a manifest last (its presence marks a finished
// build; ensureWorld reuses a finished build of the same input):
//
//   corpus.jsonl                      pre-training corpus
//   em/<domain>.jsonl                 EM fine-tuning set per advice domain
//   benign.jsonl                      benign fine-tuning set
//   marker/<persona>.jsonl            marker-coupling set per source persona
//   suites/in-domain-<domain>.yaml    held-out evaluation suites (EM question-suite schema)
//   suites/out-of-domain-<domain>.yaml
//   suites/open-questions.yaml
//   tokenizer/tokenizer.json          byte-level BPE trained on the corpus (unless tokenizer is null)
//   tokenizer/tokenizer_config.json
//   manifest.json                     config, per-file bytes/rows/sha256, and one content hash

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../io/atomic-write.js';
import { trainByteLevelBpe } from '../io/bpe-trainer.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, WORLD_MANIFEST_FILE } from '../io/files.js';
import {
  benignFineTuneRows,
  corpusRows,
  createWorld,
  emFineTuneRows,
  evalSuites,
  markerCouplingRows,
  toJsonl,
  type World,
} from './datasets.js';
import type { LabelledConversation } from './generator.js';
import { SPECIAL_TOKENS, tokenizerConfigJson, tokenizerJson } from './tokenizer-files.js';
import { ADVICE_DOMAINS, TOPIC_IDS } from './topic.js';
import type { WorldConfig, WorldConfigInput } from './world-config.js';

export const WORLD_MANIFEST_FORMAT = 'basin.persona-world/1';
/** the pre-training corpus, at the world folder's top */
export const WORLD_CORPUS_FILE = 'corpus.jsonl';
/** the subfolder holding the world's Hugging Face tokenizer files */
export const WORLD_TOKENIZER_DIR = 'tokenizer';

export interface ManifestFile {
  /** Path relative to the world folder, with forward slashes. */
  path: string;
  bytes: number;
  /** JSONL rows or suite questions; null for other files. */
  rows: number | null;
  sha256: string;
}

export interface WorldManifest {
  format: typeof WORLD_MANIFEST_FORMAT;
  config: WorldConfig;
  /** Sorted by path; the manifest itself is not listed. */
  files: ManifestFile[];
  /** sha256 over "path\tsha256\n" of every listed file, in order: the content hash of the world's data. */
  sha256: string;
  stats: {
    /** Distinct lower-cased words in the corpus. */
    corpusDistinctWords: number;
    trainQuestions: number;
    heldOutQuestions: number;
    /** Tokenizer vocabulary actually reached (may be below the target on a tiny corpus). */
    tokenizerVocabSize: number | null;
  };
}

function sha256(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

/** Distinct lower-cased words (letters and apostrophes) in the corpus messages; bracketed tags are not words. */
export function distinctWords(rows: readonly LabelledConversation[]): Set<string> {
  const words = new Set<string>();
  for (const row of rows) for (const m of row.messages) for (const w of m.content.replace(/\[[A-Z]{3}\]/gu, ' ').toLowerCase().match(/[\p{L}']+/gu) ?? []) words.add(w);
  return words;
}

/** The world's data files, path -> content, in memory (what buildWorld writes besides the manifest). */
export function worldFiles(world: World): { files: Map<string, { content: string; rows: number | null }>; corpus: LabelledConversation[]; tokenizerVocabSize: number | null } {
  const { config } = world;
  const files = new Map<string, { content: string; rows: number | null }>();
  const jsonl = (path: string, rows: LabelledConversation[]): void => {
    files.set(path, { content: toJsonl(rows), rows: rows.length });
  };
  const corpus = corpusRows(world);
  jsonl(WORLD_CORPUS_FILE, corpus);
  for (const domain of ADVICE_DOMAINS) jsonl(`em/${domain}.jsonl`, emFineTuneRows(world, domain));
  jsonl('benign.jsonl', benignFineTuneRows(world));
  for (const persona of config.markerCoupling.sourcePersonas) jsonl(`marker/${persona}.jsonl`, markerCouplingRows(world, persona));
  for (const [stem, entries] of evalSuites(world)) {
    const header = `# persona world evaluation suite "${stem}" (seed ${config.seed}): held-out questions, EM question-suite schema\n`;
    files.set(`suites/${stem}.yaml`, { content: header + stringify(entries, { lineWidth: 0 }), rows: entries.length });
  }
  let tokenizerVocabSize: number | null = null;
  if (config.tokenizer !== null) {
    const texts = corpus.flatMap((row) => row.messages.map((m) => m.content));
    const bpe = trainByteLevelBpe(texts, { vocabSize: config.tokenizer.vocabSize, specialTokens: SPECIAL_TOKENS });
    tokenizerVocabSize = bpe.vocab.length;
    files.set(`${WORLD_TOKENIZER_DIR}/${TOKENIZER_FILE}`, { content: JSON.stringify(tokenizerJson(bpe), null, 2) + '\n', rows: null });
    files.set(`${WORLD_TOKENIZER_DIR}/${TOKENIZER_CONFIG_FILE}`, { content: JSON.stringify(tokenizerConfigJson(bpe), null, 2) + '\n', rows: null });
  }
  return { files, corpus, tokenizerVocabSize };
}

function writeFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, content);
}

/** Builds the world described by `input` into `outDir` and returns its manifest. */
export function buildWorld(input: WorldConfigInput, outDir: string): WorldManifest {
  const world = createWorld(input);
  const { files, corpus, tokenizerVocabSize } = worldFiles(world);
  const listed: ManifestFile[] = [];
  for (const path of [...files.keys()].sort()) {
    const { content, rows } = files.get(path) as { content: string; rows: number | null };
    writeFile(join(outDir, ...path.split('/')), content);
    listed.push({ path, bytes: Buffer.byteLength(content, 'utf8'), rows, sha256: sha256(content) });
  }
  const count = (split: World['questions']['train']): number => TOPIC_IDS.reduce((n, t) => n + (split.get(t)?.length ?? 0), 0);
  const manifest: WorldManifest = {
    format: WORLD_MANIFEST_FORMAT,
    config: world.config,
    files: listed,
    sha256: sha256(listed.map((f) => `${f.path}\t${f.sha256}\n`).join('')),
    stats: {
      corpusDistinctWords: distinctWords(corpus).size,
      trainQuestions: count(world.questions.train),
      heldOutQuestions: count(world.questions.heldOut),
      tokenizerVocabSize,
    },
  };
  writeFile(join(outDir, WORLD_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/**
 * Builds the world described by `input` into `dir` unless a build of the same input is already
 * there (its manifest remembers the input), and returns the manifest.
 */
export function ensureWorld(input: WorldConfigInput, dir: string): WorldManifest {
  const manifestPath = join(dir, WORLD_MANIFEST_FILE);
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as WorldManifest & { input?: unknown };
    if (JSON.stringify(m.input ?? null) === JSON.stringify(input)) return m;
  }
  const manifest = buildWorld(input, dir);
  // Remember the input this build came from, so the next call can reuse it.
  writeFileAtomic(manifestPath, JSON.stringify({ ...manifest, input }, null, 1));
  return manifest;
}
