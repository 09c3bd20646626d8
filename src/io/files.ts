// Every file name of every on-disk format basin reads or writes, in one place (as SAELens keeps
// its constants): Hugging Face model folders, PEFT adapters, SAELens SAEs, basin's own records.

/** Hugging Face model folder */
export const HF_CONFIG_FILE = 'config.json';
export const SAFETENSORS_WEIGHTS_FILE = 'model.safetensors';
/** a sharded checkpoint's index: { metadata, weight_map: { tensor name → shard file } } */
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';

/** Hugging Face tokenizer files (a model folder's or a tokenizer folder's) */
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const SPECIAL_TOKENS_MAP_FILE = 'special_tokens_map.json';
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';
/** every file that defines how text becomes token ids and back */
export const TOKENIZER_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_MAP_FILE, CHAT_TEMPLATE_FILE, GENERATION_CONFIG_FILE] as const;

/** PEFT LoRA adapter folder */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** SAELens SAE folder */
export const SAE_CONFIG_FILE = 'cfg.json';
export const SAE_WEIGHTS_FILE = 'sae_weights.safetensors';
export const SAE_SPARSITY_FILE = 'sparsity.safetensors';
/** an SAE training run's folder: the trained SAE (SAELens layout) and its evaluation */
export const SAE_SUBDIR = 'sae';
export const SAE_EVAL_FILE = 'metrics.json';
/** an SAE activation cache folder: its record of what its key covers, and one shard per unit of conversations */
export const ACTIVATION_CACHE_RECORD_FILE = 'cache.json';
export function activationShardFile(index: number): string {
  return `unit-${String(index).padStart(6, '0')}.safetensors`;
}

/** inside a torch.save zip archive (.pth / .pt): <root>/data.pkl, <root>/data/<storage key>, <root>/byteorder */
export const TORCH_PICKLE_FILE = 'data.pkl';
export const TORCH_STORAGE_DIR = 'data';
export const TORCH_BYTEORDER_FILE = 'byteorder';

/** basin's own records */
export const ORGANISM_INFO_FILE = 'organism.json';
export const WORLD_MANIFEST_FILE = 'manifest.json';
export const TRAIN_RUN_FILE = 'run.json';
/** one JSON line per optimizer step, beside run.json */
export const TRAIN_METRICS_FILE = 'metrics.jsonl';
/** a training checkpoint folder: checkpoint-<step>/ with these three files */
export const CHECKPOINT_DIR_PREFIX = 'checkpoint-';
export const CHECKPOINT_TRAINABLE_FILE = 'trainable.safetensors';
export const CHECKPOINT_OPTIMIZER_FILE = 'optimizer.safetensors';
export const CHECKPOINT_STATE_FILE = 'state.json';
/** state a training loop keeps besides parameters and optimizer (SAE dead-latent counters, a BatchTopK threshold) */
export const CHECKPOINT_EXTRA_STATE_FILE = 'extra-state.safetensors';
/** where a fine-tune puts its output: a PEFT adapter, or a whole model (an HF folder) */
export const ADAPTER_SUBDIR = 'adapter';
export const MODEL_SUBDIR = 'model';
/** a study task's record inside its artifact folder: producer, key inputs, timings */
export const TASK_RECORD_FILE = 'task.json';
/** a task whose output is one JSON value writes it here */
export const TASK_VALUE_FILE = 'value.json';
/** a study's output folder */
export const STUDY_LOCK_FILE = '.basin-lock';
export const STUDY_OUTPUT_FILES = { results: 'results.json', report: 'report.html', plan: 'plan.json', status: 'status.json' } as const;
/** a persona-vector set's folder: its index, the persona vectors, and per-persona activations */
export const PERSONA_VECTORS_INDEX_FILE = 'index.json';
export const PERSONA_MEANS_FILE = 'means.safetensors';
/** the per-question activations of the i-th persona: one [questions, d] tensor per layer */
export function personaActivationsFile(index: number): string {
  return `persona-${index}.safetensors`;
}
