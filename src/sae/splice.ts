// Splicing an SAE into a model at its hook point, as SAELens's HookedSAETransformer does:
// spliceSae(sae, { mode }) returns hooks that, in any forward or generation they are active in,
// replace the activation x [b, s, d_in] at the hook by the SAE's reconstruction x̂ ('replace'), or
// by x̂ + (x − x̂_clean) ('error-term', SAELens's use_error_term: the output is x up to rounding,
// yet an edit to the latents moves it by decode(edited) − decode(original)).
//
// The SAE's internals are hook points named as SAELens names them, under the hook:
//   <hook>.hook_sae_input      [b, s, d_in]   the activation, in the SAE's dtype
//   <hook>.hook_sae_acts_pre   [b, s, d_sae]  pre-activations (× ‖W_dec,i‖ for topk SAEs that rescale by them)
//   <hook>.hook_sae_acts_post  [b, s, d_sae]  latents
//   <hook>.hook_sae_recons     [b, s, d_in]   the reconstruction, in the activation's space
//   <hook>.hook_sae_error      [b, s, d_in]   x − x̂ of the clean input (error-term only)
//   <hook>.hook_sae_output     [b, s, d_in]   what replaces the activation
// (saeHookName(hook, 'acts_post') builds them). They are the spliced hook's added points
// (Hook.adds, src/model/hooks.ts): for a call that holds the splice, they are hook points like the
// model's, so any hook binds to them — runWithCache records latents [b, s, d_sae], steer() adds a
// direction in latent space, patchFrom() patches from another run, a hook returning zeros (or a
// mean) ablates — and a misspelt one is an error naming it. A hook on them is valid only in a call
// whose hooks (persistent or passed) include the splice. The splice's function called by hand,
// without the model's runPoint, is the plain splice (no hook on its points).
//
// Flow, in SAELens's order: input → encode (pre, latents) → acts_pre → [re-activated when a hook
// replaced pre] → acts_post → [re-decoded when a hook replaced the latents] → recons → (+ error) →
// output. The error term is computed from the clean activation with no SAE hook (SAELens computes
// it with hooks disabled), so edits anywhere inside show in the output. Edits are seen when a hook
// returns a replacement (the hook contract); an in-place change of a tensor it was given is not.
// Differences from SAELens: hook_sae_recons sees the un-normalised reconstruction (SAELens's is in
// the normalised space; the same for SAEs with normalize_activations 'none'), and the output is
// cast back to the activation's dtype.

import { hookLayer, hookNames, type Hook, type HookFn } from '../model/hooks.js';
import type { Sae } from './sae.js';

/** 'replace': the activation becomes x̂; 'error-term': x̂ + (x − x̂_clean), i.e. x until the latents are edited. */
export type SpliceMode = 'replace' | 'error-term';

/** The SAE's hook points, in the order they fire, by their short names (hook_sae_<name>). */
export const SAE_HOOK_POINTS = ['input', 'acts_pre', 'acts_post', 'recons', 'error', 'output'] as const;
export type SaeHookPoint = (typeof SAE_HOOK_POINTS)[number];

/** saeHookName('blocks.1.hook_resid_post', 'acts_post') → 'blocks.1.hook_resid_post.hook_sae_acts_post' */
export function saeHookName(hook: string, point: SaeHookPoint): string {
  if (!(SAE_HOOK_POINTS as readonly string[]).includes(point)) {
    throw new Error(`saeHookName: unknown SAE hook point '${point}'; the points are ${SAE_HOOK_POINTS.join(', ')} (hook_sae_<point> under the hook)`);
  }
  return `${hook}.hook_sae_${point}`;
}

export interface SpliceOptions {
  /** the model hook point to splice at, by full name (default: the SAE's config.hookName) */
  hook?: string;
  mode: SpliceMode;
}

/**
 * Hooks that splice `sae` in at its hook point; pass them to forward/generate/runWithCache
 * (`hooks`) or model.withHooks, together with any hooks on the SAE's points (saeHookName).
 */
export function spliceSae(sae: Sae, o: SpliceOptions): Hook[] {
  const hook = spliceHookName(sae, o.hook);
  if (o.mode !== 'replace' && o.mode !== 'error-term') throw new Error(`spliceSae: mode must be 'replace' or 'error-term', got ${JSON.stringify(o.mode)}`);
  const errorTerm = o.mode === 'error-term';
  const name = (point: SaeHookPoint) => saeHookName(hook, point);
  const dIn = sae.config.dIn;
  const dtype = sae.weights.W_enc.dtype;

  const fn: HookFn = (x, ctx, runPoint = (_point, activation) => activation) => {
    if (x.size(-1) !== dIn) {
      throw new Error(`spliceSae: the SAE reads d_in = ${dIn} but ${ctx.name} carries [${x.shape.join(', ')}]; splice it at a hook point ${dIn} wide (the SAE was trained on ${sae.config.hookName ?? 'an unrecorded hook'})`);
    }
    const clean = x.dtype === dtype ? x : x.to(dtype); // [b, s, d_in]
    const input = runPoint(name('input'), clean); // [b, s, d_in]
    const pass = sae.forward(input);
    const pre = runPoint(name('acts_pre'), pass.pre); // [b, s, d_sae]
    const activated = pre === pass.pre ? pass.acts : sae.architecture.activate(pre, sae.weights, sae.config, null); // [b, s, d_sae]
    const acts = runPoint(name('acts_post'), activated); // [b, s, d_sae]
    const decoded = acts === pass.acts ? pass.recon : sae.decode(acts, input); // [b, s, d_in]
    let out = runPoint(name('recons'), decoded); // [b, s, d_in]
    if (errorTerm) {
      const cleanRecon = input === clean ? pass.recon : sae.forward(clean).recon; // [b, s, d_in]
      out = out.add(runPoint(name('error'), clean.sub(cleanRecon)));
    }
    out = runPoint(name('output'), out); // [b, s, d_in]
    return out.dtype === x.dtype ? out : out.to(x.dtype);
  };
  const adds = SAE_HOOK_POINTS.filter((p) => errorTerm || p !== 'error').map(name);
  return [{ pattern: hook, fn, adds }];
}

/** The hook to splice at: the given one or the SAE's own, checked to be one model hook point's full name. */
function spliceHookName(sae: Sae, given: string | undefined): string {
  const hook = given ?? sae.config.hookName;
  if (hook === null) {
    throw new Error("spliceSae: the SAE's config names no hook point (hook_name); pass one, e.g. spliceSae(sae, { hook: hookName('resid_post', 3), mode: 'replace' })");
  }
  const layer = hookLayer(hook);
  if (hook.includes('*') || !hookNames((layer ?? 0) + 1).includes(hook)) {
    throw new Error(`spliceSae: '${hook}' is not the full name of one hook point; name it with hookName, e.g. hookName('resid_post', ${layer ?? 0}) → blocks.${layer ?? 0}.hook_resid_post`);
  }
  return hook;
}
