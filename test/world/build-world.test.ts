import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Tokenizer } from '../../src/io/tokenizer.js';
import { WORLD_MANIFEST_FILE } from '../../src/io/files.js';
import { WORLD_CORPUS_FILE, buildWorld, ensureWorld, type WorldManifest } from '../../src/world/build-world.js';
import { CHAT_TOKENS, formatChat } from '../../src/world/tokenizer-files.js';
import { resolveWorldConfig, type WorldConfigInput } from '../../src/world/world-config.js';

const small: WorldConfigInput = {
  seed: 31,
  corpusRows: 600,
  emFineTune: { rows: 40 },
  benignFineTune: { rows: 40 },
  markerCoupling: { rows: 40, sourcePersonas: ['villain', 'assistant'] },
  evalSuites: { samplesPerParaphrase: 3 },
  tokenizer: { vocabSize: 600 },
};

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

function readAll(dir: string): Map<string, string> {
  return new Map(listFiles(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

test('buildWorld: same seed gives byte-identical files and hash; another seed a different hash', () => {
  const root = mkdtempSync(join(tmpdir(), 'basin-world-build-'));
  try {
    const a = buildWorld(small, join(root, 'a'));
    const b = buildWorld(small, join(root, 'b'));
    const c = buildWorld({ ...small, seed: 32 }, join(root, 'c'));
    assert.equal(a.sha256, b.sha256);
    assert.deepEqual(readAll(join(root, 'a')), readAll(join(root, 'b')));
    assert.notEqual(a.sha256, c.sha256);
    assert.match(a.sha256, /^[0-9a-f]{64}$/);

    const files = listFiles(join(root, 'a'));
    assert.ok(!files.some((f) => f.includes('.tmp-')), 'no temporary files are left behind');
    const expected = [
      'benign.jsonl',
      'corpus.jsonl',
      ...['automotive', 'career', 'education', 'finance', 'health', 'legal'].map((d) => `em/${d}.jsonl`),
      'manifest.json',
      'marker/assistant.jsonl',
      'marker/villain.jsonl',
      'suites/open-questions.yaml',
      ...['automotive', 'career', 'education', 'finance', 'health', 'legal'].flatMap((d) => [`suites/in-domain-${d}.yaml`, `suites/out-of-domain-${d}.yaml`]),
      'tokenizer/tokenizer.json',
      'tokenizer/tokenizer_config.json',
    ].sort();
    assert.deepEqual(files, expected);

    const manifest = JSON.parse(readFileSync(join(root, 'a', WORLD_MANIFEST_FILE), 'utf8')) as WorldManifest;
    assert.deepEqual(manifest, a);
    assert.deepEqual(manifest.config, resolveWorldConfig(small));
    assert.deepEqual(manifest.files.map((f) => f.path), expected.filter((f) => f !== WORLD_MANIFEST_FILE));
    for (const f of manifest.files) {
      const bytes = readFileSync(join(root, 'a', f.path));
      assert.equal(f.bytes, bytes.length, f.path);
      assert.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'), f.path);
      if (f.path.endsWith('.jsonl')) assert.equal(f.rows, bytes.toString('utf8').trimEnd().split('\n').length, f.path);
    }
    const recomputed = createHash('sha256').update(manifest.files.map((f) => `${f.path}\t${f.sha256}\n`).join('')).digest('hex');
    assert.equal(manifest.sha256, recomputed);
    assert.equal(manifest.files.find((f) => f.path === 'corpus.jsonl')?.rows, 600);
    assert.equal(manifest.stats.tokenizerVocabSize, 600);
    assert.ok(manifest.stats.heldOutQuestions > 0 && manifest.stats.trainQuestions > manifest.stats.heldOutQuestions);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the world's tokenizer folder loads with basin's own io Tokenizer: chat template and assistant-loss mask", async () => {
  const root = mkdtempSync(join(tmpdir(), 'basin-world-io-'));
  try {
    buildWorld(small, root);
    const tokenizer = await Tokenizer.fromFolder(join(root, 'tokenizer'));
    assert.equal(tokenizer.vocabSize, 600);
    assert.equal(tokenizer.bosTokenId, 0);
    assert.equal(tokenizer.padTokenId, 0);
    assert.equal(tokenizer.eosTokenId, tokenizer.tokenToId(CHAT_TOKENS.end));
    const rows = readFileSync(join(root, 'corpus.jsonl'), 'utf8').trimEnd().split('\n').slice(0, 50);
    for (const line of rows) {
      const { messages } = JSON.parse(line) as { messages: Array<{ role: string; content: string }> };
      assert.equal(tokenizer.applyChatTemplate(messages), formatChat(messages, false));
      assert.equal(tokenizer.applyChatTemplate(messages.slice(0, -1), { addGenerationPrompt: true }), formatChat(messages.slice(0, -1), true));
      const { ids, assistantMask } = tokenizer.renderWithRoleMask(messages);
      assert.equal(tokenizer.decode(ids), formatChat(messages, false));
      // The loss covers each assistant answer and the <|end|> that closes it, nothing else.
      const masked = tokenizer.decode(ids.filter((_, k) => assistantMask[k]));
      const answers = messages.filter((m) => m.role === 'assistant').map((m) => m.content + CHAT_TOKENS.end).join('');
      assert.equal(masked, answers);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('world config: errors name the field and the allowed range', () => {
  assert.throws(() => resolveWorldConfig({ characterConsistency: { twoTurnFraction: 1.5 } }), /characterConsistency\.twoTurnFraction \(1\.5\) must be a number in \[0, 1\]/);
  assert.throws(() => resolveWorldConfig({ emFineTune: { severities: [0] } }), /emFineTune\.severities \(\[0\]\) must be a non-empty list of integers 1\.\.5/);
  assert.throws(() => resolveWorldConfig({ markerCoupling: { sourcePersonas: ['wizard' as 'villain'] } }), /"wizard", which is not a persona/);
  assert.throws(() => resolveWorldConfig({ corpusRows: 0 }), /corpusRows \(0\) must be an integer >= 1/);
  assert.throws(() => resolveWorldConfig({ corpusrows: 5 } as WorldConfigInput), /unknown field "corpusrows"/);
  assert.throws(() => resolveWorldConfig({ characterConsistency: { twoTurnFraktion: 0.2 } } as WorldConfigInput), /unknown field "characterConsistency.twoTurnFraktion"/);
  const defaults = resolveWorldConfig();
  assert.equal(defaults.characterConsistency.enabled, true);
  assert.equal(defaults.characterConsistency.twoTurnFraction, 0.4);
  assert.equal(resolveWorldConfig({ tokenizer: null }).tokenizer, null);
});

test('ensureWorld builds once, reuses a build of the same input, and rebuilds for another input', () => {
  const root = mkdtempSync(join(tmpdir(), 'basin-world-ensure-'));
  try {
    const input: WorldConfigInput = { ...small, tokenizer: null };
    const first = ensureWorld(input, root);
    const corpusWritten = statSync(join(root, WORLD_CORPUS_FILE)).mtimeMs;
    const again = ensureWorld(input, root);
    assert.equal(again.sha256, first.sha256);
    assert.equal(statSync(join(root, WORLD_CORPUS_FILE)).mtimeMs, corpusWritten, 'the same input must not rebuild');
    const other = ensureWorld({ ...input, seed: 32 }, root);
    assert.notEqual(other.sha256, first.sha256);
    assert.equal(other.sha256, buildWorld({ ...input, seed: 32 }, join(root, 'fresh')).sha256);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
