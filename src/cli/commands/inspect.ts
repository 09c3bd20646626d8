// `basin inspect DIR`: what a Hugging Face model folder holds.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { TOKENIZER_FILE } from '../../io/files.js';
import { openCheckpoint } from '../../io/safetensors-checkpoint.js';
import { readHfConfig } from '../../model/config.js';
import { familyFor } from '../../model/families/registry.js';
import { BLOCK_HOOKS, hookName, hookNames } from '../../model/hooks.js';
import { parse, UsageError, type Command } from '../command.js';

const usage = `basin inspect DIR [--json] [--hooks]

Reads DIR's config.json and safetensors headers (no weights are loaded) and reports the
architecture, parameter count, dtypes, layers and hook points. Layer numbering: block L's
resid_post equals Hugging Face hidden_states[L+1].

  --hooks   list every hook point (default: the per-block pattern only)
  --json    one JSON object on stdout`;

export const inspect: Command = {
  name: 'inspect',
  summary: 'architecture, parameters, dtypes and hook points of an HF model folder',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, { hooks: { type: 'boolean' } });
    if (help) {
      console.log(usage);
      return 0;
    }
    const dir = positionals[0];
    if (dir === undefined) throw new UsageError('missing DIR (a Hugging Face model folder)');
    const config = await readHfConfig(dir);
    const family = familyFor(config, dir);
    const tensors = openCheckpoint(dir);
    const dtypes: Record<string, number> = {};
    let params = 0;
    for (const { entry } of tensors.values()) {
      const n = entry.shape.reduce((a, b) => a * b, 1);
      params += n;
      dtypes[entry.dtype] = (dtypes[entry.dtype] ?? 0) + n;
    }
    let hasTokenizer = false;
    try { hasTokenizer = statSync(join(dir, TOKENIZER_FILE)).isFile(); } catch { /* absent */ }
    const names = hookNames(config.nLayers);
    const info = {
      dir, family: config.family, parameters: params, tensors: tensors.size, dtypes,
      layers: config.nLayers, dModel: config.dModel, heads: config.nHeads, kvHeads: config.nKvHeads, headDim: config.headDim,
      dMlp: config.dMlp, vocab: config.vocabSize, norm: family.norm, mlp: family.mlp, positional: config.positional,
      tiedEmbeddings: config.tiedEmbeddings, tokenizer: hasTokenizer,
      layerConvention: 'blocks.L.hook_resid_post = HF hidden_states[L+1]',
      hookPoints: values.hooks ? names : [hookName('embed'), ...BLOCK_HOOKS.map((h) => hookName(h, '*').replace('*', '{L}')), hookName('normalized')],
    };
    if (values.json) {
      console.log(JSON.stringify(info));
      return 0;
    }
    const fmt = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`);
    console.log(`${dir}: ${config.family}, ${fmt(params)} parameters in ${tensors.size} tensors (${Object.entries(dtypes).map(([d, n]) => `${d} ${fmt(n)}`).join(', ')})`);
    console.log(`  ${config.nLayers} layers, d_model ${config.dModel}, ${config.nHeads} heads (${config.nKvHeads} kv, head dim ${config.headDim}), MLP ${config.dMlp} ${family.mlp}, vocab ${config.vocabSize}`);
    console.log(`  ${family.norm}, ${config.positional.kind === 'rope' ? `RoPE θ=${config.positional.theta}${config.positional.scaling.type !== 'none' ? ` (${config.positional.scaling.type} scaling)` : ''}` : 'learned positions'}, ${config.tiedEmbeddings ? 'tied' : 'separate'} embeddings; tokenizer: ${hasTokenizer ? 'yes' : 'none'}`);
    console.log(`  hook points (${names.length}; ${info.layerConvention}):`);
    for (const n of info.hookPoints) console.log(`    ${n}`);
    return 0;
  },
};
