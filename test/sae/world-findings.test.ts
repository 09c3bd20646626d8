// worldSaeFindings on the tiny chat model and a few persona-world conversations: it trains,
// removes the checkpoints, reports reconstruction and spliced numbers in range, and its
// per-latent AUROCs and densities agree with the latent dashboards' (an independent path:
// latentDashboards with the same turn labels and split).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';
import { loadModel } from '../../src/model/index.js';
import { corpusRows, createWorld } from '../../src/world/datasets.js';
import { readSae } from '../../src/sae/files.js';
import { Sae } from '../../src/sae/sae.js';
import { latentDashboards } from '../../src/sae/dashboard.js';
import { worldSaeFindings, worldSplits } from '../../src/sae/world-findings.js';

const root = mkdtempSync(join(tmpdir(), 'basin-world-findings-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

test('worldSaeFindings: reconstruction, spliced scores and per-split latent AUROCs that match the dashboards', async () => {
  const dir = join(root, 'model');
  writeTinyChatModel(dir, 5);
  const { model, tokenizer } = await loadModel(dir);
  const rows = corpusRows(createWorld({ seed: 3, corpusRows: 60 }));
  const heldOut = rows.slice(36);
  const outDir = join(root, 'run');
  const logged: string[] = [];
  const f = worldSaeFindings(model, tokenizer!, {
    train: rows.slice(0, 36), heldOut, outDir, top: 3, log: (l) => logged.push(l),
    settings: { hook: 'blocks.1.hook_resid_post', dSae: 64, k: 4, steps: 12, batchTokens: 256, storeBatchPrompts: 8, maxLength: 160, deadFeatureWindow: 5, warmupSteps: 2 },
  });
  assert.equal(f.settings.hook, 'blocks.1.hook_resid_post');
  assert.ok(f.heldOutConversations > 16 && f.heldOutConversations <= 24, 'conversations whose answer is cut away at maxLength are skipped');
  assert.ok(f.reconstruction.l0 > 0 && f.reconstruction.l0 <= 4 + 1e-9, `l0 ${f.reconstruction.l0}`);
  assert.ok(f.reconstruction.explainedVariance < 1 && f.reconstruction.cosine > 0);
  assert.ok(f.reconstruction.deadLatents >= 0 && f.reconstruction.deadLatents <= 64);
  assert.ok(f.spliced.tokens > 0 && Number.isFinite(f.spliced.ceLossScore) && Number.isFinite(f.spliced.klDivScore));
  assert.ok(f.spliced.ceClean > 0 && f.spliced.ceSae > 0 && f.spliced.klSae >= 0, 'a random model: no claim on which run is worse');
  assert.equal(f.splits.length, worldSplits().length);
  assert.ok(existsSync(join(f.saeDir, 'cfg.json')));
  assert.ok(!readdirSync(outDir).some((n) => n.startsWith('checkpoint-')), 'checkpoints removed');
  assert.ok(logged.length >= 3);
  for (const s of f.splits) {
    assert.ok(s.best.length <= 3);
    for (let i = 1; i < s.best.length; i++) assert.ok(s.best[i - 1]!.auroc >= s.best[i]!.auroc, `${s.name}: best first`);
    assert.ok(s.above + s.below <= 64);
  }
  const split = f.splits.find((s) => s.name === 'misaligned vs aligned speaker')!;
  assert.ok(split.positiveTurns > 0 && split.negativeTurns > 0, 'the sample has both kinds of speaker');
  assert.ok(split.positiveTurns + split.negativeTurns <= heldOut.flatMap((c) => c.turns).filter((t) => t.alignment !== 'satirical').length);

  // The same numbers by another path: the dashboards of the best latents.
  const files = readSae(f.saeDir);
  const sae = new Sae(files.config, files.weights);
  const latents = split.best.map((b) => b.latent);
  const dash = latentDashboards(model, tokenizer!, sae, {
    conversations: heldOut.map((c) => ({ messages: c.messages.map((m) => ({ ...m })), labels: c.turns.map((t) => ({ persona: t.persona, alignment: t.alignment })) })),
    latents, maxLength: 160, splits: [{ name: 'm', key: 'alignment', positive: ['misaligned'], negative: ['aligned'] }],
  });
  split.best.forEach((b, i) => {
    const d = dash.latents[i]!;
    assert.ok(Math.abs(d.splits[0]!.auroc! - b.auroc) < 1e-9, `latent ${b.latent}: AUROC ${b.auroc} vs dashboard ${d.splits[0]!.auroc}`);
    assert.ok(Math.abs(d.density - b.density) < 1e-9, `latent ${b.latent}: density ${b.density} vs dashboard ${d.density}`);
  });
});
