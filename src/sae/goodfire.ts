// Goodfire's SAEs (e.g. Llama-3.1-8B-Instruct-SAE-l19.pth) → basin/SAELens. The file is a
// torch.save'd state_dict of two Linear layers:
//   encoder_linear.weight [d_sae, d_in], encoder_linear.bias [d_sae],
//   decoder_linear.weight [d_in, d_sae], decoder_linear.bias [d_in],
// encoding relu(encoder_linear(x)) with no b_dec subtracted first, decoding decoder_linear(z).
// In SAELens's layout that is architecture "standard" with W_enc = encoder_linear.weight.T,
// W_dec = decoder_linear.weight.T, b_enc/b_dec the biases, apply_b_dec_to_input false,
// normalize_activations "none" (the mapping of SAELens's own Goodfire loader). The file does
// not say where the SAE reads: the caller names the hook. Goodfire numbers layers by the
// decoder block whose output it reads, so "l19" is HF hidden_states[20] =
// TransformerLens blocks.19.hook_resid_post (layer L = blocks.L.hook_resid_post = HF
// hidden_states[L+1]).

import * as T from '../tensor/index.js';
import { loadTorchFile } from '../io/torch-file.js';
import type { SaeConfig, SaeWeights } from './config.js';
import { nonFiniteCount, writeSae } from './files.js';

const KEYS = ['encoder_linear.weight', 'encoder_linear.bias', 'decoder_linear.weight', 'decoder_linear.bias'] as const;

export interface GoodfireOptions {
  /** the hook the SAE reads, e.g. blocks.19.hook_resid_post for Goodfire's l19 SAE */
  hookName: string;
  /** the model it was trained on, e.g. meta-llama/Llama-3.1-8B-Instruct */
  modelName?: string | null;
  /** the weights' dtype in memory and on disk (default: the file's) */
  dtype?: SaeConfig['dtype'];
  /** where the weights go (default cpu) */
  device?: T.Device;
}

/** Reads a Goodfire .pth as an SAE in SAELens's layout. Errors name the file and the key. */
export function readGoodfireSae(path: string, o: GoodfireOptions): { config: SaeConfig; weights: SaeWeights } {
  if (typeof o.hookName !== 'string' || o.hookName === '') {
    throw new Error(`${path}: a Goodfire SAE file does not say which hook it reads; pass hookName (e.g. blocks.19.hook_resid_post for an l19 SAE)`);
  }
  const tensors = loadTorchFile(path, o.dtype === undefined ? {} : { dtype: o.dtype });
  try {
    const unexpected = [...tensors.keys()].filter((k) => !(KEYS as readonly string[]).includes(k));
    const missing = KEYS.filter((k) => !tensors.has(k));
    if (unexpected.length > 0 || missing.length > 0) {
      const problems = [missing.length > 0 ? `missing ${missing.join(', ')}` : '', unexpected.length > 0 ? `unexpected ${unexpected.map((k) => JSON.stringify(k)).join(', ')}` : ''];
      throw new Error(`${path}: not a Goodfire SAE state_dict: ${problems.filter(Boolean).join('; ')} (expected ${KEYS.join(', ')})`);
    }
    const get = (k: (typeof KEYS)[number]) => tensors.get(k) as T.Tensor;
    const encoder = get('encoder_linear.weight');
    if (encoder.shape.length !== 2) throw new Error(`${path}: encoder_linear.weight has shape [${encoder.shape.join(', ')}], expected [d_sae, d_in]`);
    const [dSae, dIn] = encoder.shape as [number, number];
    const expected: Record<(typeof KEYS)[number], number[]> = {
      'encoder_linear.weight': [dSae, dIn],
      'encoder_linear.bias': [dSae],
      'decoder_linear.weight': [dIn, dSae],
      'decoder_linear.bias': [dIn],
    };
    for (const k of KEYS) {
      const t = get(k);
      if (t.shape.join(',') !== expected[k].join(',')) {
        throw new Error(`${path}: ${k} has shape [${t.shape.join(', ')}], expected [${expected[k].join(', ')}] (d_sae ${dSae}, d_in ${dIn} from encoder_linear.weight)`);
      }
      const bad = nonFiniteCount(t);
      if (bad > 0) throw new Error(`${path}: ${k} holds ${bad} NaN or infinite value${bad === 1 ? '' : 's'} (of ${t.numel}); the file is corrupt`);
    }
    const dtype = encoder.dtype;
    if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new Error(`${path}: encoder_linear.weight has dtype ${dtype}; expected f32, f16 or bf16`);
    const config: SaeConfig = {
      architecture: 'standard',
      dIn,
      dSae,
      applyBDecToInput: false,
      normalizeActivations: 'none',
      normScalingFactor: null,
      k: null,
      rescaleActsByDecoderNorm: false,
      hookName: o.hookName,
      modelName: o.modelName ?? null,
      dtype,
      extra: {},
    };
    const weights = T.keep(
      T.scope((): SaeWeights => {
        const place = (t: T.Tensor) => (o.device === undefined || o.device === 'cpu' ? t : t.to(o.device));
        return {
          W_enc: place(encoder.transpose(0, 1).contiguous()),
          b_enc: place(get('encoder_linear.bias').clone()),
          W_dec: place(get('decoder_linear.weight').transpose(0, 1).contiguous()),
          b_dec: place(get('decoder_linear.bias').clone()),
        };
      }),
    );
    return { config, weights };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/**
 * Converts a Goodfire .pth into a SAELens folder at `outDir` (readGoodfireSae, then writeSae)
 * and returns its config; the weights are freed once written.
 */
export function importGoodfireSae(path: string, outDir: string, o: GoodfireOptions): SaeConfig {
  const { config, weights } = readGoodfireSae(path, o);
  try {
    writeSae(outDir, config, weights);
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
  return config;
}
