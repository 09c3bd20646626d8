// Qwen2 (Qwen2ForCausalLM, Qwen2.5): Llama's weight names and parts, with biases on the q, k
// and v projections only, full attention (no sliding window) and a longer default context.

import type { ModelFamily } from './registry.js';
import { LLAMA_WEIGHTS, llamaStyleConfigJson, readLlamaStyleConfig } from './llama.js';

export const qwen2: ModelFamily = {
  name: 'qwen2',
  architecture: 'Qwen2ForCausalLM',
  norm: 'rmsnorm',
  positions: 'rope',
  mlp: 'gated-silu',
  weights: LLAMA_WEIGHTS,
  readConfig(r) {
    if (r.optionalBool('use_sliding_window') === true) {
      throw r.error('use_sliding_window true is not supported (basin implements full attention); set it to false');
    }
    return readLlamaStyleConfig(r, 'qwen2', { attnBias: true, attnOutBias: false, mlpBias: false }, 32768);
  },
  configJson(config) {
    if (!(config.attnBias && !config.attnOutBias && !config.mlpBias)) {
      throw new Error('toHfConfigJson: a qwen2 config.json cannot express these biases (Qwen2 has q/k/v biases only)');
    }
    return { ...llamaStyleConfigJson(config), use_sliding_window: false };
  },
};
