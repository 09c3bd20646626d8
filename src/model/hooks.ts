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

import type { Tensor } from '../tensor/index.js';

export const BLOCK_HOOKS = [
  'hook_resid_pre', 'attn.hook_q', 'attn.hook_k', 'attn.hook_v', 'attn.hook_pattern',
  'hook_attn_out', 'hook_resid_mid', 'mlp.hook_post', 'hook_mlp_out', 'hook_resid_post',
] as const;

/** Every hook point name of a model with nLayers blocks, in forward order. */
export function hookNames(nLayers: number): string[] {
  const names = ['hook_embed'];
  for (let l = 0; l < nLayers; l++) for (const h of BLOCK_HOOKS) names.push(`blocks.${l}.${h}`);
  names.push('ln_final.hook_normalized');
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

/** Sees an activation; returns a replacement of the same shape, or nothing to leave it. */
export type HookFn = (activation: Tensor, ctx: HookContext) => Tensor | void;

/** A hook bound to a name pattern: exact name, or globs with `*` (e.g. `blocks.*.hook_resid_post`). */
export interface Hook {
  pattern: string;
  fn: HookFn;
}

export function hook(pattern: string, fn: HookFn): Hook {
  return { pattern, fn };
}

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
 * The hooks active for one forward call, resolved per hook point once.
 * Unknown patterns are an error (a typo would otherwise silently do nothing).
 */
export class HookSet {
  readonly #byName = new Map<string, HookFn[]>();

  constructor(hooks: Hook[], allNames: string[]) {
    for (const h of hooks) {
      let matched = false;
      for (const name of allNames) {
        if (!matchesPattern(h.pattern, name)) continue;
        matched = true;
        const list = this.#byName.get(name);
        if (list === undefined) this.#byName.set(name, [h.fn]);
        else list.push(h.fn);
      }
      if (!matched) {
        throw new Error(`hook pattern '${h.pattern}' matches no hook point; names look like hook_embed, blocks.0.hook_resid_post, blocks.*.attn.hook_pattern, ln_final.hook_normalized`);
      }
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
    const fns = this.#byName.get(name);
    if (fns === undefined) return x;
    const full: HookContext = { ...ctx, name, layer };
    for (const fn of fns) {
      const out = fn(x, full);
      if (out !== undefined) {
        const [a, b] = [out.shape.join(','), x.shape.join(',')];
        if (a !== b) throw new Error(`hook on ${name} returned shape [${a}] but the activation is [${b}]`);
        x = out;
      }
    }
    return x;
  }
}
