// A spec's LoRA targets checked against the model before anything runs: every named module must
// match some linear layer of the model (PEFT's suffix rule), so a typo fails the plan rather
// than the first fine-tune, possibly hours in.

import type { ModelConfig } from '../io/hf-config.js';
import { blockModules, familyFor } from '../model/families/registry.js';
import { isTargeted } from '../model/lora.js';

export function checkLoraTargets(config: ModelConfig, targets: 'all-linear' | string[], field: string): void {
  if (targets === 'all-linear') return;
  const family = familyFor(config);
  const linears: string[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    const { ln1: _ln1, ln2: _ln2, ...modules } = blockModules(family, l);
    linears.push(...Object.values(modules));
  }
  linears.push('lm_head');
  const unmatched = targets.filter((t) => !linears.some((path) => isTargeted(path, { targetModules: [t] })));
  if (unmatched.length > 0) {
    const names = [...new Set(linears.map((p) => p.split('.').at(-1) as string))];
    throw new Error(`${field}: ${unmatched.map((t) => `'${t}'`).join(', ')} ${unmatched.length === 1 ? 'matches' : 'match'} no linear layer of this ${config.family} model; its linear modules are ${names.join(', ')}`);
  }
}
