// An SAE spliced into the tiny chat model (f64, byte-level tokenizer): error-term splicing leaves
// the logits as they were; replace splicing is the hand-made hook that substitutes the
// reconstruction; the SAE's points are hook points for the existing machinery (runWithCache
// records latents equal to encode of the clean activation; a hook that zeroes one latent, or
// steer() on latents, moves the downstream residual by exactly what decode predicts); splicing
// holds through generate(); the spliced evaluation gives back the clean CE with the error term,
// and with an SAE that reconstructs exactly (x = relu(x) − relu(−x)) in replace mode, and its
// zero-ablation CE and KL are the hand-computed ones; bad hook names are errors naming the hook.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { generate, hook, hookName, loadModel, padBatch, renderPrompt, runWithCache, steer, patchFrom, type Hook, type Transformer } from '../../src/model/index.js';
import type { ChatRow } from '../../src/train/index.js';
import type { SaeConfig } from '../../src/sae/config.js';
import { Sae } from '../../src/sae/sae.js';
import { SAE_HOOK_POINTS, saeHookName, spliceSae } from '../../src/sae/splice.js';
import { splicedEval } from '../../src/sae/spliced-eval.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const root = mkdtempSync(join(tmpdir(), 'basin-splice-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
writeTinyChatModel(join(root, 'model'), 5, 'f64');
const { model, tokenizer: tok } = await loadModel(join(root, 'model'), { dtype: 'f64' });
const tokenizer = tok!;
const D = model.config.dModel; // 32
const HOOK = hookName('resid_post', 0);
const DOWNSTREAM = hookName('resid_pre', 1); // = HOOK's output

function config(overrides: Partial<SaeConfig> = {}): SaeConfig {
  return {
    architecture: 'standard', dIn: D, dSae: 64, applyBDecToInput: true, normalizeActivations: 'none', normScalingFactor: null,
    k: null, rescaleActsByDecoderNorm: false, hookName: HOOK, modelName: null, dtype: 'f32', extra: {}, ...overrides,
  };
}

/** A random SAE (nonzero biases, about half its latents firing on the tiny model's residuals) in `dtype`. */
function randomSae(seed: number, overrides: Partial<SaeConfig> = {}, dtype: T.DType = 'f64'): Sae {
  const c = config(overrides);
  const generator = T.Generator.seeded(seed);
  const normal = (shape: number[], scale: number) => T.randn(shape, { generator }).mul(scale).to(dtype);
  return new Sae(c, { W_enc: normal([c.dIn, c.dSae], 0.3), b_enc: normal([c.dSae], 0.1), W_dec: normal([c.dSae, c.dIn], 0.3), b_dec: normal([c.dIn], 0.2) });
}

/** d_sae = 2·d_in, W_enc = [I, −I], W_dec = [I; −I], ReLU, no biases: x̂ = relu(x) − relu(−x) = x exactly. */
function exactSae(): Sae {
  const eye = T.eye(D, D, { dtype: 'f64' });
  return new Sae(config({ dSae: 2 * D, applyBDecToInput: false }), {
    W_enc: T.cat([eye, eye.neg()], 1), b_enc: T.zeros([2 * D], { dtype: 'f64' }),
    W_dec: T.cat([eye, eye.neg()], 0), b_dec: T.zeros([D], { dtype: 'f64' }),
  });
}

const maxDiff = (a: T.Tensor, b: T.Tensor): number => a.sub(b).abs().max().item();

const ROWS: ChatRow[] = [
  { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] },
  { messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'color?' }, { role: 'assistant', content: 'blue' }] },
  { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'bb' }, { role: 'user', content: 'ccc' }, { role: 'assistant', content: 'dddd' }] },
  { messages: [{ role: 'user', content: 'why?' }, { role: 'assistant', content: 'because.' }] },
  { messages: [{ role: 'user', content: 'ok' }, { role: 'assistant', content: 'fine, then' }] },
];
// One token per byte: an assistant message's content and its <|im_end|> are response tokens.
const RESPONSE = ROWS.reduce((n, r) => n + r.messages.reduce((m, x) => m + (x.role === 'assistant' ? x.content.length + 1 : 0), 0), 0);

// Two conversations, left-padded into one batch [2, s].
const batch = T.keep(Object.values(padBatch(ROWS.slice(0, 2).map((r) => tokenizer.renderWithRoleMask(r.messages).ids), 0, 'left', 'cpu')));
const [IDS, MASK] = batch as [T.Tensor, T.Tensor];
const sae = randomSae(1);

const logits = (m: Transformer, hooks: Hook[] = []) => T.noGrad(() => m.forward(IDS, { tokenMask: MASK, hooks }));

test('error-term splicing leaves the logits as the clean run gives them (f64 and f32), while replace changes them', async () => {
  const clean = logits(model);
  assert.ok(maxDiff(logits(model, spliceSae(sae, { mode: 'error-term' })), clean) < 1e-10);
  assert.ok(maxDiff(logits(model, spliceSae(sae, { mode: 'replace' })), clean) > 1e-2, 'the random SAE reconstructs poorly, so replace must move the logits');

  const { model: model32 } = await loadModel(join(root, 'model'), { dtype: 'f32' });
  const sae32 = randomSae(1, {}, 'f32');
  assert.ok(maxDiff(logits(model32, spliceSae(sae32, { mode: 'error-term' })), logits(model32)) < 1e-5);
});

test('replace splicing equals a hand-made hook that substitutes sae.forward(x).recon', () => {
  const byHand = logits(model, [hook(HOOK, (x) => sae.forward(x).recon)]);
  assert.equal(maxDiff(logits(model, spliceSae(sae, { mode: 'replace' })), byHand), 0);
  // The SAE's own hook name is the default; another hook is taken when given.
  const other = hookName('resid_post', 1);
  const atOther = logits(model, spliceSae(sae, { hook: other, mode: 'replace' }));
  assert.equal(maxDiff(atOther, logits(model, [hook(other, (x) => sae.forward(x).recon)])), 0);
});

test('runWithCache records the SAE points in firing order; the latents [b, s, d_sae] are encode of the clean activation', () => {
  T.noGrad(() => {
    const clean = runWithCache(model, IDS, { tokenMask: MASK, names: [HOOK] }).cache.get(HOOK); // [b, s, d]
    for (const mode of ['replace', 'error-term'] as const) {
      const { cache } = runWithCache(model, IDS, { tokenMask: MASK, names: [`${HOOK}.*`], hooks: spliceSae(sae, { mode }), skipLogits: true });
      const expected = SAE_HOOK_POINTS.filter((p) => mode === 'error-term' || p !== 'error').map((p) => saeHookName(HOOK, p));
      assert.deepEqual(cache.names, expected, mode);
      const latents = cache.get(saeHookName(HOOK, 'acts_post'));
      assert.deepEqual(latents.shape, [2, IDS.size(1), 64]);
      assert.equal(maxDiff(latents, sae.encode(clean)), 0, mode);
      const active = latents.gt(0).to('f64').mean().item();
      assert.ok(active > 0.2 && active < 0.8, `a fair share of latents fire (${active})`);
      assert.equal(maxDiff(cache.get(saeHookName(HOOK, 'input')), clean), 0);
      assert.equal(maxDiff(cache.get(saeHookName(HOOK, 'recons')), sae.forward(clean).recon), 0);
      if (mode === 'error-term') {
        assert.ok(maxDiff(cache.get(saeHookName(HOOK, 'output')), clean) < 1e-12);
        assert.ok(maxDiff(cache.get(saeHookName(HOOK, 'error')), clean.sub(sae.forward(clean).recon)) < 1e-12);
      }
    }
  });
});

test('error-term: zeroing one latent (or steering along one) moves the downstream residual by exactly decode(edited) − decode(original)', () => {
  T.noGrad(() => {
    const { cache } = runWithCache(model, IDS, { tokenMask: MASK, names: [HOOK, DOWNSTREAM], hooks: [] });
    const clean = cache.get(HOOK); // [b, s, d]
    const acts = sae.encode(clean); // [b, s, d_sae]
    const j = acts.sum([0, 1]).argmax(0).item(); // the latent with the most mass
    const keep = T.ones([64], { dtype: 'f64' }).scatter(0, T.tensor([j], { dtype: 'i64' }), T.zeros([1], { dtype: 'f64' })); // 1 except at j
    const ablateJ = hook(saeHookName(HOOK, 'acts_post'), (a) => a.mul(keep));
    const edited = runWithCache(model, IDS, { tokenMask: MASK, names: [DOWNSTREAM], hooks: [...spliceSae(sae, { mode: 'error-term' }), ablateJ] });
    const predicted = clean.add(sae.decode(acts.mul(keep))).sub(sae.decode(acts)); // [b, s, d]
    assert.ok(maxDiff(predicted, clean) > 1e-2, 'latent j matters');
    assert.ok(maxDiff(edited.cache.get(DOWNSTREAM), predicted) < 1e-12);
    assert.ok(maxDiff(edited.logits!, logits(model)) > 1e-3, 'and the logits move');

    // steer() on latents: + c·e_j adds c·W_dec[j] at every position.
    const onehot = T.zeros([64], { dtype: 'f64' }).scatter(0, T.tensor([j], { dtype: 'i64' }), T.ones([1], { dtype: 'f64' }));
    const steered = runWithCache(model, IDS, { tokenMask: MASK, names: [DOWNSTREAM], hooks: [...spliceSae(sae, { mode: 'error-term' }), hook(saeHookName(HOOK, 'acts_post'), steer(onehot, 2.5))] });
    const shift = sae.weights.W_dec.select(0, j).mul(2.5); // [d]
    assert.ok(maxDiff(steered.cache.get(DOWNSTREAM), clean.add(shift)) < 1e-12);
  });
});

test('patchFrom on latents brings another run\'s reconstruction; a replaced pre-activation is activated again', () => {
  T.noGrad(() => {
    const other = IDS.flip(1); // same shape, other tokens
    const ACTS = saeHookName(HOOK, 'acts_post');
    const OUT = saeHookName(HOOK, 'output');
    const source = runWithCache(model, other, { names: [ACTS, saeHookName(HOOK, 'recons')], hooks: spliceSae(sae, { mode: 'replace' }), skipLogits: true }).cache;
    const patched = runWithCache(model, IDS, { tokenMask: MASK, names: [OUT], hooks: [...spliceSae(sae, { mode: 'replace' }), hook(ACTS, patchFrom(source))], skipLogits: true }).cache;
    assert.ok(maxDiff(patched.get(OUT), source.get(saeHookName(HOOK, 'recons'))) < 1e-12);
    // Every pre-activation pushed below zero: no latent fires, and the reconstruction is b_dec.
    const silenced = runWithCache(model, IDS, { tokenMask: MASK, names: [ACTS, OUT], hooks: [...spliceSae(sae, { mode: 'replace' }), hook(saeHookName(HOOK, 'acts_pre'), (pre) => pre.sub(1e3))], skipLogits: true }).cache;
    assert.equal(silenced.get(ACTS).abs().max().item(), 0);
    assert.equal(maxDiff(silenced.get(OUT), sae.weights.b_dec.expand(...silenced.get(OUT).shape)), 0);
  });
});

test('added hook points are generic: any hook may add points, fires only its own, and runs unhooked when called by hand', () => {
  const point = `${HOOK}.hook_twice`;
  const doubler: Hook = { pattern: HOOK, fn: (x, _ctx, runPoint) => runPoint!(point, x.mul(2)), adds: [point] };
  const seen: number[][] = [];
  T.noGrad(() => model.forward(IDS, { tokenMask: MASK, hooks: [doubler, hook(point, (x, ctx) => { seen.push(x.shape); assert.equal(ctx.name, point); assert.equal(ctx.layer, 0); })] }));
  assert.deepEqual(seen, [[2, IDS.size(1), D]]);
  const stray: Hook = { pattern: HOOK, fn: (x, _ctx, runPoint) => runPoint!(`${HOOK}.hook_other`, x), adds: [point] };
  assert.throws(() => logits(model, [stray]), /runPoint\('blocks\.0\.hook_resid_post\.hook_other'\): the hook on blocks\.0\.hook_resid_post does not add that point; it adds blocks\.0\.hook_resid_post\.hook_twice/);
  assert.throws(() => logits(model, [{ pattern: HOOK, fn: (x, _ctx, runPoint) => runPoint!(point, x) }]), /runPoint\('blocks\.0\.hook_resid_post\.hook_twice'\): this hook adds no hook points; list the points it fires in Hook\.adds/);
  assert.throws(() => logits(model, [{ pattern: HOOK, fn: () => {}, adds: [hookName('resid_pre', 1)] }]), /adds hook point blocks\.1\.hook_resid_pre, which the model has/);
  // The splice's function called by hand (no runPoint) is the plain splice.
  T.noGrad(() => {
    const x = runWithCache(model, IDS, { tokenMask: MASK, names: [HOOK], skipLogits: true }).cache.get(HOOK);
    const [splice] = spliceSae(sae, { mode: 'replace' });
    const ctx = { name: HOOK, layer: 0, offset: 0, tokenMask: MASK, responseMask: undefined, decoding: false };
    assert.equal(maxDiff(splice!.fn(x, ctx) as T.Tensor, sae.forward(x).recon), 0);
  });
});

test('splicing holds through generate(): error-term greedy tokens equal the clean ones, and the SAE runs at every decode step', () => {
  const prompts = [renderPrompt(tokenizer, { system: null, user: 'hi' }), renderPrompt(tokenizer, { system: 'Be kind.', user: 'color?' })];
  const clean = generate(model, prompts, { maxNewTokens: 12, stopTokenIds: [] });
  let decodeCalls = 0;
  const count = hook(saeHookName(HOOK, 'acts_post'), (_a, ctx) => { if (ctx.decoding) decodeCalls++; });
  const spliced = generate(model, prompts, { maxNewTokens: 12, stopTokenIds: [], hooks: [...spliceSae(sae, { mode: 'error-term' }), count] });
  assert.deepEqual(spliced.map((g) => g.tokens), clean.map((g) => g.tokens));
  assert.equal(decodeCalls, 11, 'one decode step per token after the first');
  const viaWithHooks = model.withHooks(spliceSae(sae, { mode: 'error-term' }), () => generate(model, prompts, { maxNewTokens: 12, stopTokenIds: [] }));
  assert.deepEqual(viaWithHooks.map((g) => g.tokens), clean.map((g) => g.tokens));
  const replaced = generate(model, prompts, { maxNewTokens: 12, stopTokenIds: [], hooks: spliceSae(sae, { mode: 'replace' }) });
  assert.notDeepEqual(replaced.map((g) => g.tokens), clean.map((g) => g.tokens), 'a poor reconstruction changes what is generated');
});

/** Mean CE per response token and mean KL(clean ‖ hooked) of one conversation at a time, by hand. */
function byHand(hooks: Hook[]): { ceClean: number; ce: number; kl: number } {
  let [ceClean, ce, kl, n] = [0, 0, 0, 0];
  T.noGrad(() => {
    for (const row of ROWS) {
      const { ids, assistantMask } = tokenizer.renderWithRoleMask(row.messages);
      const x = T.tensor([ids], { dtype: 'i64' });
      const lpClean = model.forward(x).select(0, 0).logSoftmax(-1).toNested() as number[][]; // [s, vocab]
      const lp = model.forward(x, { hooks }).select(0, 0).logSoftmax(-1).toNested() as number[][];
      for (let p = 1; p < ids.length; p++) {
        if (!assistantMask[p]) continue;
        const [c, h] = [lpClean[p - 1]!, lp[p - 1]!];
        ceClean -= c[ids[p]!]!;
        ce -= h[ids[p]!]!;
        kl += c.reduce((sum, v, i) => sum + Math.exp(v) * (v - h[i]!), 0);
        n++;
      }
    }
  });
  assert.equal(n, RESPONSE);
  return { ceClean: ceClean / n, ce: ce / n, kl: kl / n };
}

test('spliced eval: error-term gives the clean CE; an exact SAE gives the clean CE and a score of 1; zero-ablation gives the hand values', () => {
  const progress: number[] = [];
  const errorTerm = splicedEval(model, tokenizer, sae, { data: ROWS, mode: 'error-term', batchSize: 2, onProgress: (p) => progress.push(p.conversations) });
  assert.deepEqual(progress, [2, 4, 5]);
  assert.equal(errorTerm.tokens, RESPONSE);
  assert.equal(errorTerm.conversations, 5);
  assert.ok(Math.abs(errorTerm.ce.ceSae - errorTerm.ce.ceClean) < 1e-10);
  assert.ok(Math.abs(errorTerm.kl.klSae) < 1e-10);

  const zero = hook(HOOK, (x) => T.zerosLike(x));
  const ablated = byHand([zero]);
  const exact = splicedEval(model, tokenizer, exactSae(), { data: ROWS, batchSize: 3 });
  assert.equal(exact.mode, 'replace');
  assert.ok(Math.abs(exact.ce.ceClean - ablated.ceClean) < 1e-10, `clean CE ${exact.ce.ceClean} vs ${ablated.ceClean}`);
  assert.ok(Math.abs(exact.ce.ceSae - exact.ce.ceClean) < 1e-10);
  assert.ok(Math.abs(exact.ce.score - 1) < 1e-9, `ceLossScore ${exact.ce.score}`);
  assert.ok(Math.abs(exact.kl.klSae) < 1e-10 && Math.abs(exact.kl.score - 1) < 1e-9);
  assert.ok(Math.abs(exact.ce.ceZeroAbl - ablated.ce) < 1e-10, `zero-ablated CE ${exact.ce.ceZeroAbl} vs ${ablated.ce}`);
  assert.ok(Math.abs(exact.kl.klAbl - ablated.kl) < 1e-10, `zero-ablated KL ${exact.kl.klAbl} vs ${ablated.kl}`);
  assert.ok(Math.abs(exact.ce.ceZeroAbl - exact.ce.ceClean) > 1e-2 && exact.kl.klAbl > 1e-2, `ablating the residual matters (CE ${exact.ce.ceClean} → ${exact.ce.ceZeroAbl}, KL ${exact.kl.klAbl})`);

  // The random SAE in replace mode: the numbers are those of its splice, one conversation at a time.
  const random = splicedEval(model, tokenizer, sae, { data: ROWS, batchSize: 4 });
  const hand = byHand(spliceSae(sae, { mode: 'replace' }));
  assert.ok(Math.abs(random.ce.ceSae - hand.ce) < 1e-10 && Math.abs(random.kl.klSae - hand.kl) < 1e-10);
  assert.ok(random.kl.klSae > 0.1, `a poor reconstruction moves the next-token distributions (KL ${random.kl.klSae})`);
});

test('bad hook names and mismatched SAEs are errors naming the hook', () => {
  const forward = (hooks: Hook[]) => () => logits(model, hooks);
  assert.throws(() => spliceSae(randomSae(2, { hookName: null }), { mode: 'replace' }), /spliceSae: the SAE's config names no hook point/);
  assert.throws(() => spliceSae(sae, { hook: 'blocks.0.resid_post', mode: 'replace' }), /spliceSae: 'blocks\.0\.resid_post' is not the full name of one hook point; name it with hookName, e\.g\. hookName\('resid_post', 0\)/);
  assert.throws(() => spliceSae(sae, { hook: 'blocks.*.hook_resid_post', mode: 'replace' }), /'blocks\.\*\.hook_resid_post' is not the full name of one hook point/);
  assert.throws(() => spliceSae(sae, { mode: 'exact' as 'replace' }), /mode must be 'replace' or 'error-term', got "exact"/);
  assert.throws(() => saeHookName(HOOK, 'acts' as 'acts_post'), /unknown SAE hook point 'acts'; the points are input, acts_pre, acts_post/);
  // A hook point the model lacks.
  assert.throws(forward(spliceSae(sae, { hook: 'blocks.7.hook_resid_post', mode: 'replace' })), /hook pattern 'blocks\.7\.hook_resid_post' matches no hook point/);
  // A misspelt SAE point: the error lists the points the splice adds.
  assert.throws(forward([...spliceSae(sae, { mode: 'replace' }), hook(`${HOOK}.hook_sae_act_post`, () => {})]),
    /hook pattern 'blocks\.0\.hook_resid_post\.hook_sae_act_post' matches no hook point.*hooks of this call add blocks\.0\.hook_resid_post\.hook_sae_input, .*hook_sae_acts_post/);
  // hook_sae_error exists only with the error term.
  assert.throws(forward([...spliceSae(sae, { mode: 'replace' }), hook(saeHookName(HOOK, 'error'), () => {})]), /'blocks\.0\.hook_resid_post\.hook_sae_error' matches no hook point/);
  // An SAE point without the splice.
  assert.throws(forward([hook(saeHookName(HOOK, 'acts_post'), () => {})]), /points inside blocks\.0\.hook_resid_post exist only while a hook that adds them \(e\.g\. a spliced SAE\) is active in the same call/);
  // Two SAEs at one hook.
  assert.throws(forward([...spliceSae(sae, { mode: 'replace' }), ...spliceSae(sae, { mode: 'error-term' })]), /the hook on blocks\.0\.hook_resid_post adds hook point blocks\.0\.hook_resid_post\.hook_sae_input, which the hook on blocks\.0\.hook_resid_post adds too/);
  // An SAE of the wrong width.
  assert.throws(forward(spliceSae(randomSae(3, { dIn: 16 }), { mode: 'replace' })), /spliceSae: the SAE reads d_in = 16 but blocks\.0\.hook_resid_post carries \[2, \d+, 32\]; splice it at a hook point 16 wide/);
  assert.throws(() => splicedEval(model, tokenizer, sae, { data: ROWS, hook: 'blocks.9.hook_resid_post' }), /splicedEval: "blocks\.9\.hook_resid_post" is not a hook point of this 2-layer model/);
  assert.throws(() => splicedEval(model, tokenizer, randomSae(2, { hookName: null }), { data: ROWS }), /splicedEval: the SAE's config names no hook point/);
});
