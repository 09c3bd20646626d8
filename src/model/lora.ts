// LoRA adapters with PEFT's semantics: y = W x + b + s · B A dropout(x), A [r, in], B [out, r],
// s = alpha / r (or alpha / √r with rsLoRA). Several named adapters can sit on one model; each
// can be enabled, frozen or merged into the base weights independently.

import * as T from '../tensor/index.js';
import type { Linear, LinearAdapter } from './linear.js';
import type { Transformer } from './transformer.js';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** module names (a module matches when its path equals or ends with `.name`), one regex (full match), or 'all-linear' (every linear layer but the output head) */
  targetModules: string[] | string;
  /** only these block indices (undefined: all) */
  layersToTransform?: number[];
  useRslora: boolean;
  /** 'kaiming' (PEFT default: A ~ kaiming-uniform(a=√5), B = 0), 'gaussian' (A ~ N(0, 1/r), B = 0) */
  init: 'kaiming' | 'gaussian';
  /** recorded in adapter_config.json */
  baseModelNameOrPath?: string;
}

export const DEFAULT_LORA: LoraConfig = { r: 8, alpha: 16, dropout: 0, targetModules: 'all-linear', useRslora: false, init: 'kaiming' };

/** One adapted linear layer. */
export class LoraLayer implements LinearAdapter {
  enabled = true;
  merged = false;
  /** [r, in] */
  readonly A: T.Tensor;
  /** [out, r] */
  readonly B: T.Tensor;

  constructor(readonly name: string, readonly base: Linear, A: T.Tensor, B: T.Tensor, readonly scaling: number, readonly dropout: number) {
    this.A = T.keep(A);
    this.B = T.keep(B);
  }

  /** x [..., in] → s · B A dropout(x) [..., out] */
  delta(x: T.Tensor): T.Tensor {
    // Dropout only while training this adapter (grad on, A trainable); evaluation is deterministic.
    const input = this.dropout > 0 && this.A.requiresGrad && T.isGradEnabled() ? T.dropout(x, this.dropout, true) : x;
    return T.linear(T.linear(input, this.A), this.B).mul(this.scaling);
  }

  /** s · B A [out, in], the change this layer makes to the base weight. */
  weightDelta(): T.Tensor {
    return this.B.matmul(this.A).mul(this.scaling);
  }
}

/** Which block a module path belongs to (the last `.<list>.<index>.` in it, as PEFT finds it), or null. */
export function layerIndexOf(path: string): number | null {
  const m = /.*\.[^.]*\.(\d+)\./.exec(path);
  return m ? Number(m[1]) : null;
}

/** Whether a module path is targeted, with PEFT's matching rules. */
export function isTargeted(path: string, config: Pick<LoraConfig, 'targetModules' | 'layersToTransform'>): boolean {
  const t = config.targetModules;
  let hit: boolean;
  if (t === 'all-linear') hit = path !== 'lm_head';
  else if (typeof t === 'string') hit = new RegExp(`^(?:${t})$`).test(path);
  else hit = t.some((name) => path === name || path.endsWith(`.${name}`));
  if (!hit || config.layersToTransform === undefined) return hit;
  const layer = layerIndexOf(path);
  return layer !== null && config.layersToTransform.includes(layer);
}

export class LoraAdapter {
  readonly layers = new Map<string, LoraLayer>();
  #enabled = true;
  #merged = false;

  private constructor(readonly name: string, readonly config: LoraConfig, readonly model: Transformer) {}

  get scaling(): number {
    return this.config.useRslora ? this.config.alpha / Math.sqrt(this.config.r) : this.config.alpha / this.config.r;
  }

  /**
   * Adds a new adapter to every targeted linear layer of `model` (trainable, freshly
   * initialised from `generator`).
   */
  static attach(model: Transformer, name: string, config: LoraConfig, generator?: T.Generator): LoraAdapter {
    if (!(Number.isInteger(config.r) && config.r > 0)) throw new Error(`LoRA: r must be a positive integer, got ${config.r}`);
    if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`LoRA: dropout must be in [0, 1), got ${config.dropout}`);
    const adapter = new LoraAdapter(name, config, model);
    for (const lin of model.linears()) {
      if (!isTargeted(lin.path, config)) continue;
      if (lin.adapters.some((a) => a.name === name)) throw new Error(`LoRA: ${lin.path} already has an adapter named '${name}'`);
      const [r, inF, outF] = [config.r, lin.inFeatures, lin.outFeatures];
      const { dtype, device } = lin.weight;
      const A = config.init === 'gaussian'
        ? T.randn([r, inF], { device, ...(generator ? { generator } : {}) }).mul(1 / r)
        : T.rand([r, inF], { device, ...(generator ? { generator } : {}) }).mul(2).sub(1).mul(1 / Math.sqrt(inF)); // kaiming-uniform(a=√5): U(±1/√in)
      const layer = new LoraLayer(name, lin, A.to(dtype).requiresGrad_(), T.zeros([outF, r], { dtype, device }).requiresGrad_(), adapter.scaling, config.dropout);
      lin.adapters.push(layer);
      adapter.layers.set(lin.path, layer);
    }
    if (adapter.layers.size === 0) {
      throw new Error(`LoRA: target_modules ${JSON.stringify(config.targetModules)} matched no linear layer; module paths look like ${model.linears().slice(0, 3).map((l) => l.path).join(', ')}`);
    }
    return adapter;
  }

  /** Attaches an adapter with given A, B weights (from a file) by module path. */
  static fromWeights(model: Transformer, name: string, config: LoraConfig, weights: Map<string, { A: T.Tensor; B: T.Tensor }>): LoraAdapter {
    const adapter = new LoraAdapter(name, config, model);
    const byPath = new Map(model.linears().map((l) => [l.path, l]));
    // Check everything before attaching anything: a bad file leaves the model untouched.
    for (const [path, { A, B }] of weights) {
      const lin = byPath.get(path);
      if (lin === undefined) throw new Error(`LoRA: the adapter has weights for ${path}, which this ${model.config.family} model does not have`);
      if (A.shape.join() !== `${config.r},${lin.inFeatures}` || B.shape.join() !== `${lin.outFeatures},${config.r}`) {
        throw new Error(`LoRA: ${path} lora_A is [${A.shape}] and lora_B [${B.shape}], expected [${config.r}, ${lin.inFeatures}] and [${lin.outFeatures}, ${config.r}]`);
      }
      if (lin.adapters.some((a) => a.name === name)) throw new Error(`LoRA: ${path} already has an adapter named '${name}'`);
    }
    // Attach in the model's module order.
    for (const lin of model.linears()) {
      const w = weights.get(lin.path);
      if (w === undefined) continue;
      const { A, B } = w;
      const path = lin.path;
      const on = (t: T.Tensor) => t.to(lin.weight.dtype).to(lin.weight.device);
      const layer = new LoraLayer(name, lin, on(A).requiresGrad_(), on(B).requiresGrad_(), adapter.scaling, config.dropout);
      lin.adapters.push(layer);
      adapter.layers.set(path, layer);
    }
    return adapter;
  }

  get enabled(): boolean { return this.#enabled; }
  get merged(): boolean { return this.#merged; }

  /** Turns the adapter's effect on or off (a merged adapter stays in the weights). */
  setEnabled(on: boolean): void {
    this.#enabled = on;
    for (const l of this.layers.values()) l.enabled = on && !l.merged;
  }

  /** Trainable (requires grad) or frozen. */
  setTrainable(on: boolean): void {
    for (const l of this.layers.values()) {
      l.A.requiresGrad_(on);
      l.B.requiresGrad_(on);
    }
  }

  /** The trainable tensors [A₀, B₀, A₁, B₁, …] in module order. */
  parameters(): T.Tensor[] {
    return [...this.layers.values()].flatMap((l) => [l.A, l.B]);
  }

  /** Adds s·BA into each base weight and stops applying the adapter separately. */
  merge(): void {
    if (this.#merged) throw new Error(`LoRA '${this.name}' is already merged`);
    T.noGrad(() => T.scope(() => {
      for (const l of this.layers.values()) {
        l.base.weight.add_(l.weightDelta());
        l.merged = true;
        l.enabled = false;
      }
    }));
    this.#merged = true;
  }

  /** Subtracts s·BA from each base weight and applies the adapter separately again. */
  unmerge(): void {
    if (!this.#merged) throw new Error(`LoRA '${this.name}' is not merged`);
    T.noGrad(() => T.scope(() => {
      for (const l of this.layers.values()) {
        l.base.weight.sub_(l.weightDelta());
        l.merged = false;
        l.enabled = this.#enabled;
      }
    }));
    this.#merged = false;
  }

  /** Removes the adapter from the model (unmerging first) and frees its tensors. */
  detach(): void {
    if (this.#merged) this.unmerge();
    for (const l of this.layers.values()) {
      const i = l.base.adapters.indexOf(l);
      if (i >= 0) l.base.adapters.splice(i, 1);
      l.A.dispose();
      l.B.dispose();
    }
    this.layers.clear();
  }
}
