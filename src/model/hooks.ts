// Hook points, named as in TransformerLens. A hook is a plain function that sees an
// activation and its context and may return a replacement.
//
// Hook points and shapes (b = batch, s = positions in this call, d = d_model, h = heads,
// hd = head dim, L = block index from 0; resid_post of block L equals Hugging Face
// hidden_states[L + 1], and hidden_states[0] is hook_embed (+ positions for GPT-2)):
//   hook_embed                       [b, s, d]   token embeddings (+ learned positions for GPT-2)
//   blocks.L.hook_resid_pre          [b, s, d]   residual stream entering block L
//   blocks.L.attn.hook_q             [b, h, s, hd]  queries after RoPE
//   blocks.L.attn.hook_k             [b, kvh, s, hd] keys after RoPE (this call's positions)
//   blocks.L.attn.hook_v             [b, kvh, s, hd]
//   blocks.L.attn.hook_pattern       [b, h, s, s_total] attention probabilities (computed only when hooked)
//   blocks.L.hook_attn_out           [b, s, d]   attention output (after o_proj)
//   blocks.L.hook_resid_mid          [b, s, d]   resid_pre + attn_out
//   blocks.L.mlp.hook_post           [b, s, d_mlp] MLP hidden activation (after the nonlinearity/gating)
//   blocks.L.hook_mlp_out            [b, s, d]   MLP output
//   blocks.L.hook_resid_post         [b, s, d]   resid_mid + mlp_out
//   ln_final.hook_normalized         [b, s, d]   after the final norm, before the unembedding
//
// Build names with hookName('resid_post', L) (or a TransformerLens short name: 'q', 'post', …)
// rather than by hand.
//
// Added points: a hook may add hook points of its own while it runs (Hook.adds: full names,
// conventionally under its own, as a spliced SAE adds blocks.L.hook_resid_post.hook_sae_acts_post
// and its siblings — src/sae/splice.ts). For one forward call those names are hook points like the
// model's: other hooks of the call (persistent or passed) bind to them, runWithCache records them,
// an unknown one is still an error. The adding hook fires them through its third argument,
// runPoint(name, x), which runs the hooks bound there and returns what they leave. Two hooks of
// one call adding the same point, or a point the model has, is an error. A hook on an added point
// is valid only in a call that also holds the hook that adds it (addHooks validates its own list).

import type { Tensor } from '../tensor/index.js';

/** Hook points inside block L, named after `blocks.L.`, in forward order. */
export const BLOCK_HOOKS = [
  'hook_resid_pre', 'attn.hook_q', 'attn.hook_k', 'attn.hook_v', 'attn.hook_pattern',
  'hook_attn_out', 'hook_resid_mid', 'mlp.hook_post', 'hook_mlp_out', 'hook_resid_post',
] as const;
export type BlockHook = (typeof BLOCK_HOOKS)[number];

/** The short names TransformerLens's get_act_name takes (`resid_post`, `q`, `post`, …) → block hook. */
const BLOCK_ALIASES = {
  resid_pre: 'hook_resid_pre', q: 'attn.hook_q', k: 'attn.hook_k', v: 'attn.hook_v', pattern: 'attn.hook_pattern',
  attn_out: 'hook_attn_out', resid_mid: 'hook_resid_mid', post: 'mlp.hook_post', mlp_out: 'hook_mlp_out', resid_post: 'hook_resid_post',
} as const satisfies Record<string, BlockHook>;
export type BlockHookAlias = keyof typeof BLOCK_ALIASES;

/** Hook points outside the blocks, with their short names. */
const TOP_HOOKS = { embed: 'hook_embed', hook_embed: 'hook_embed', normalized: 'ln_final.hook_normalized', 'ln_final.hook_normalized': 'ln_final.hook_normalized' } as const;
export type TopHook = keyof typeof TOP_HOOKS;

/** A block hook point, by its full name after `blocks.L.` or its TransformerLens short name. */
export type BlockPoint = BlockHook | BlockHookAlias;

/**
 * A hook point's full name: hookName('resid_post', 3) → 'blocks.3.hook_resid_post',
 * hookName('attn.hook_q', 2) or hookName('q', 2) → 'blocks.2.attn.hook_q', hookName('embed') →
 * 'hook_embed', hookName('normalized') → 'ln_final.hook_normalized'. Layer '*' gives the glob
 * over every block (blocks.*.hook_resid_post).
 */
export function hookName(point: BlockPoint, layer: number | '*'): string;
export function hookName(point: TopHook): string;
export function hookName(point: BlockPoint | TopHook, layer?: number | '*'): string {
  if (layer === undefined) {
    const top = (TOP_HOOKS as Record<string, string>)[point];
    if (top !== undefined) return top;
    if (isBlockPoint(point)) throw new Error(`hookName('${point}'): a block hook point needs a layer, e.g. hookName('${point}', 0) → ${blockHook(point)(0)}`);
  } else {
    if (layer !== '*' && !(Number.isInteger(layer) && layer >= 0)) throw new Error(`hookName('${point}', ${layer}): the layer must be a block index (an integer ≥ 0) or '*'`);
    if (isBlockPoint(point)) return blockHook(point)(layer);
    if (point in TOP_HOOKS) throw new Error(`hookName('${point}', ${layer}): ${TOP_HOOKS[point as TopHook]} is not inside a block; call hookName('${point}') without a layer`);
  }
  throw new Error(`hookName: unknown hook point '${point}'; block points: ${[...BLOCK_HOOKS, ...Object.keys(BLOCK_ALIASES)].join(', ')}; others: ${Object.keys(TOP_HOOKS).join(', ')}`);
}

function isBlockPoint(point: string): point is BlockPoint {
  return point in BLOCK_ALIASES || (BLOCK_HOOKS as readonly string[]).includes(point);
}

function blockHook(point: BlockPoint): (layer: number | '*') => string {
  const full = (BLOCK_ALIASES as Record<string, BlockHook>)[point] ?? point;
  return (layer) => `blocks.${layer}.${full}`;
}

/** The block a hook point name belongs to (blocks.L.…), or null for hook_embed and ln_final. */
export function hookLayer(name: string): number | null {
  const m = /^blocks\.(\d+)\./.exec(name);
  return m === null ? null : Number(m[1]);
}

/** Every hook point name of a model with nLayers blocks, in forward order. */
export function hookNames(nLayers: number): string[] {
  const names = [hookName('embed')];
  for (let l = 0; l < nLayers; l++) for (const h of BLOCK_HOOKS) names.push(hookName(h, l));
  names.push(hookName('normalized'));
  return names;
}

export interface HookContext {
  /** the hook point's name, e.g. blocks.3.hook_resid_post */
  name: string;
  /** block index, or null for hook_embed / ln_final */
  layer: number | null;
  /** absolute position of this call's first position (the KV-cache length before the call) */
  offset: number;
  /** [b, s] bool: real tokens (false at padding) in this call */
  tokenMask: Tensor;
  /** [b, s] bool: response tokens (what the model says) in this call; undefined when none are marked */
  responseMask: Tensor | undefined;
  /** true when this call continues a generation (decode steps: every position is response) */
  decoding: boolean;
}

/**
 * Runs the hooks bound to one of the points the running hook adds (Hook.adds) on `activation` and
 * returns what they leave: the activation itself when none is bound or none replaces it.
 */
export type RunPoint = (name: string, activation: Tensor) => Tensor;

/**
 * Sees an activation; returns a replacement of the same shape, or nothing to leave it. A hook
 * that adds points fires them with runPoint, which the model always passes (a hook called by
 * hand may be given none: then no hook is bound to its points); other hooks ignore it.
 */
export type HookFn = (activation: Tensor, ctx: HookContext, runPoint?: RunPoint) => Tensor | void;

/** A hook bound to a name pattern: exact name, or globs with `*` (e.g. `blocks.*.hook_resid_post`). */
export interface Hook {
  pattern: string;
  fn: HookFn;
  /** full names of the hook points this hook adds while it runs (see "Added points" above) */
  adds?: readonly string[];
}

export function hook(pattern: string, fn: HookFn): Hook {
  return { pattern, fn };
}

/** The runPoint of a hook that adds no points. */
const addsNothing: RunPoint = (name) => {
  throw new Error(`runPoint('${name}'): this hook adds no hook points; list the points it fires in Hook.adds`);
};

const patternCache = new Map<string, RegExp>();

export function matchesPattern(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  let re = patternCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`);
    patternCache.set(pattern, re);
  }
  return re.test(name);
}

/**
 * The hooks active for one forward call, resolved per hook point once: the model's points plus
 * the points the hooks add. Unknown patterns are an error (a typo would otherwise silently do nothing).
 */
export class HookSet {
  readonly #byName = new Map<string, Hook[]>();

  constructor(hooks: Hook[], modelNames: string[]) {
    const added = new Map<string, string>(); // added point → the pattern of the hook that adds it
    for (const h of hooks) {
      for (const point of h.adds ?? []) {
        const by = modelNames.includes(point) ? 'the model' : added.get(point);
        if (by !== undefined) throw new Error(`the hook on ${h.pattern} adds hook point ${point}, which ${by === 'the model' ? 'the model has' : `the hook on ${by} adds too`}; one hook point, one owner (splice one module per hook point)`);
        added.set(point, h.pattern);
      }
    }
    const allNames = added.size === 0 ? modelNames : [...modelNames, ...added.keys()];
    for (const h of hooks) {
      let matched = false;
      for (const name of allNames) {
        if (!matchesPattern(h.pattern, name)) continue;
        matched = true;
        const list = this.#byName.get(name);
        if (list === undefined) this.#byName.set(name, [h]);
        else list.push(h);
      }
      if (!matched) throw new Error(unmatched(h.pattern, modelNames, [...added.keys()]));
    }
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  get empty(): boolean {
    return this.#byName.size === 0;
  }

  /** Runs the hooks for `name` in order; each sees the previous one's output. */
  run(name: string, x: Tensor, ctx: Omit<HookContext, 'name' | 'layer'>, layer: number | null): Tensor {
    const hooks = this.#byName.get(name);
    if (hooks === undefined) return x;
    const full: HookContext = { ...ctx, name, layer };
    for (const h of hooks) {
      const out = h.fn(x, full, h.adds === undefined ? addsNothing : this.#runPoint(h, ctx, layer));
      if (out !== undefined) {
        const [a, b] = [out.shape.join(','), x.shape.join(',')];
        if (a !== b) throw new Error(`hook on ${name} returned shape [${a}] but the activation is [${b}]`);
        x = out;
      }
    }
    return x;
  }

  // The runPoint handed to hook h: it fires only the points h adds, with h's context and layer.
  #runPoint(h: Hook, ctx: Omit<HookContext, 'name' | 'layer'>, layer: number | null): RunPoint {
    return (point, activation) => {
      if (!(h.adds as readonly string[]).includes(point)) {
        throw new Error(`runPoint('${point}'): the hook on ${h.pattern} does not add that point; it adds ${(h.adds as readonly string[]).join(', ')}`);
      }
      return this.run(point, activation, ctx, layer);
    };
  }
}

// The error for a pattern that matches no hook point, with what the call does offer.
function unmatched(pattern: string, modelNames: string[], added: string[]): string {
  let text = `hook pattern '${pattern}' matches no hook point; names look like hook_embed, blocks.0.hook_resid_post, blocks.*.attn.hook_pattern, ln_final.hook_normalized`;
  if (added.length > 0) text += `; hooks of this call add ${added.join(', ')}`;
  const inside = modelNames.find((n) => pattern.startsWith(`${n}.`));
  if (inside !== undefined) text += `; points inside ${inside} exist only while a hook that adds them (e.g. a spliced SAE) is active in the same call`;
  return text;
}
