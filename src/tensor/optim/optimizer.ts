// The optimizer contract: parameter groups with their own lr and weight decay, per-parameter
// state, and a state dict that saves and restores that state exactly.

import { Tensor } from '../tensor.js';
import { keep } from '../scope.js';
import { noGrad } from '../autograd.js';

export interface ParamGroupSpec {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
}

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
}

/**
 * Everything needed to resume: numbers in `scalars`, state tensors keyed
 * `<param index>.<name>` (param index counts across groups in order).
 */
export interface OptimizerState {
  kind: string;
  groups: { lr: number; weightDecay: number }[];
  scalars: Record<string, number>;
  tensors: Record<string, Tensor>;
}

export abstract class Optimizer {
  readonly groups: ParamGroup[];
  protected readonly state = new Map<Tensor, Record<string, Tensor>>();
  protected readonly steps = new Map<Tensor, number>();

  constructor(params: Tensor[] | ParamGroupSpec[], defaults: { lr: number; weightDecay: number }) {
    if (!Array.isArray(params)) throw new TypeError('optimizer: params must be an array of Tensors or of {params, lr?, weightDecay?} groups');
    const specs: ParamGroupSpec[] = params.length > 0 && params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroupSpec[]);
    this.groups = specs.map((g) => ({ params: g.params, lr: g.lr ?? defaults.lr, weightDecay: g.weightDecay ?? defaults.weightDecay }));
    for (const g of this.groups) {
      if (!Array.isArray(g.params) || g.params.some((p) => !(p instanceof Tensor))) throw new TypeError('optimizer: each param group needs params: Tensor[]');
      for (const p of g.params) if (!p.requiresGrad) throw new Error(`optimizer: a parameter ${p} does not require grad; call requiresGrad_() first`);
    }
  }

  abstract readonly kind: string;

  /** Updates one parameter given its gradient; runs under noGrad. */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup, step: number): void;

  step(): void {
    noGrad(() => {
      for (const g of this.groups) {
        for (const p of g.params) {
          const grad = p.grad;
          if (grad === null) continue;
          const step = (this.steps.get(p) ?? 0) + 1;
          this.steps.set(p, step);
          this.update(p, grad, g, step);
          grad.dispose();
        }
      }
    });
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }

  /** A state tensor for p, created zero-filled like p on first use and kept across scopes. */
  protected buffer(p: Tensor, name: string): Tensor {
    let s = this.state.get(p);
    if (s === undefined) this.state.set(p, (s = {}));
    let b = s[name];
    if (b === undefined) {
      b = keep(p.detach().clone().zero_());
      s[name] = b;
    }
    return b;
  }

  private allParams(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    const scalars: Record<string, number> = {};
    this.allParams().forEach((p, i) => {
      const step = this.steps.get(p);
      if (step !== undefined) scalars[`${i}.step`] = step;
      for (const [name, t] of Object.entries(this.state.get(p) ?? {})) tensors[`${i}.${name}`] = t;
    });
    return { kind: this.kind, groups: this.groups.map((g) => ({ lr: g.lr, weightDecay: g.weightDecay })), scalars, tensors };
  }

  loadStateDict(s: OptimizerState): void {
    if (s.kind !== this.kind) throw new Error(`optimizer state is for ${s.kind}, this optimizer is ${this.kind}`);
    if (s.groups.length !== this.groups.length) throw new Error(`optimizer state has ${s.groups.length} param groups, this optimizer has ${this.groups.length}`);
    s.groups.forEach((g, i) => Object.assign(this.groups[i] as ParamGroup, g));
    const params = this.allParams();
    this.steps.clear();
    this.state.clear();
    for (const [key, value] of Object.entries(s.scalars)) {
      const [idx, name] = key.split('.');
      const p = params[Number(idx)];
      if (p === undefined || name !== 'step') throw new Error(`optimizer state: unexpected entry '${key}'`);
      this.steps.set(p, value);
    }
    for (const [key, t] of Object.entries(s.tensors)) {
      const dot = key.indexOf('.');
      const p = params[Number(key.slice(0, dot))];
      if (p === undefined) throw new Error(`optimizer state: '${key}' names a parameter this optimizer does not have`);
      const shape = p.shape.join(',');
      if (t.shape.join(',') !== shape) throw new Error(`optimizer state: '${key}' has shape [${t.shape}] but the parameter has [${shape}]`);
      let st = this.state.get(p);
      if (st === undefined) this.state.set(p, (st = {}));
      st[key.slice(dot + 1)] = keep(t.to(p.dtype).clone());
    }
  }
}
