// `basin serve`: an OpenAI-compatible HTTP server for a model folder (plus stacked adapters).
// Everything a flag can get wrong is found before the model loads (which takes minutes for a
// large one): the flags, the API key, every adapter's config, and the port, which is bound first
// and answers 503 until the model is ready.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type * as T from '../../tensor/index.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_SUBDIR, ADAPTER_WEIGHTS_FILE, TOKENIZER_FILE } from '../../io/files.js';
import { modelFingerprint } from '../../io/fingerprint.js';
import { loadModel } from '../../model/load.js';
import { loadAdapter, readPeftConfig } from '../../model/lora-io.js';
import { apiKeyProblem, DEFAULT_MAX_BATCH, listen } from '../../serve/server.js';
import { MAX_N, MAX_TOP_LOGPROBS } from '../../serve/schema.js';
import { deviceFlag, noExtraArguments, numberFlag, parse, stringFlag, UsageError, type Command } from '../command.js';

const API_KEY_ENV = 'BASIN_SERVE_API_KEY';

const usage = `basin serve --model DIR [--adapter DIR ...] [--port N] [--host H] [--name ID]
            [--api-key TOKEN] [--device D] [--dtype T] [--max-batch N] [--json]

Serves the model over HTTP with OpenAI's API, so OpenAI clients and tools can sample from it:

  GET  /v1/models             the one model, under its id (--name)
  POST /v1/chat/completions   messages rendered with the model's chat template; n (1..${MAX_N}),
                              temperature (0..2, 0 = greedy, default 1), top_p, max_tokens or
                              max_completion_tokens (default: the rest of the context), stop (a
                              string or a list), seed, logprobs + top_logprobs (0..${MAX_TOP_LOGPROBS}), stream
                              (server-sent events; stream_options.include_usage)
  POST /v1/completions        raw prompt (a string or a list); the same fields, with logprobs
                              an integer (0..${MAX_TOP_LOGPROBS}) as in the legacy API; max_tokens default 16

Concurrent requests are decoded together in shared steps (up to --max-batch rows; a request
with n=k is k rows); requests that arrive while a batch runs join it at the next step. Every
row samples from its own generator, seeded from its request's seed (choice 0 with the seed
itself, as \`basin generate\` samples), so an answer does not depend on what else is in its
batch; without a seed, a random one. logprobs are the raw model's (temperature 1, no top_p).
Fields clients send that change nothing here (user, metadata, ...) are ignored; penalties,
logit_bias, tools and echo are accepted only at their neutral values; other fields are errors.
An assistant message sent back as history may carry the fields OpenAI's answers have (refusal,
tool_calls, ...) at null or [], and content null. HEAD and CORS preflights (OPTIONS) are answered.

  --model DIR          Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --adapter DIR        a PEFT LoRA adapter folder (or a fine-tune artifact holding one in
                       ${ADAPTER_SUBDIR}/); repeat to stack adapters, applied in the order given, frozen
  --port N             default 8000; 0 picks a free port
  --host H             default 127.0.0.1 (this machine only); 0.0.0.0 listens on every interface
  --name ID            the model id clients send (default: the model folder's name)
  --api-key TOKEN      require "Authorization: Bearer TOKEN" (default: $${API_KEY_ENV}; none if unset);
                       printable ASCII without spaces
  --device D           cpu (default), cuda or cuda:N
  --dtype T            compute dtype of the weights: f32 (default), bf16, f16
  --max-batch N        most rows decoded together (default ${DEFAULT_MAX_BATCH})
  --json               print {"url": ...} on stdout once the model is loaded: the base URL
                       OpenAI clients take (http://HOST:PORT/v1)

Binds the port before loading the model and answers 503 (model loading) until it is ready;
prints the URL on stderr then. Ctrl-C (or SIGTERM) closes the server.
Example:  basin serve --model organisms/default --port 8000
          curl localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
            -d '{"model": "default", "messages": [{"role": "user", "content": "hello"}]}'`;

const DTYPES = ['f32', 'bf16', 'f16'];

/** The PEFT folder of an --adapter value (the folder itself, or its adapter/ subfolder), its config read and checked. */
function adapterFolder(dir: string): string {
  const folder = existsSync(join(dir, ADAPTER_CONFIG_FILE)) ? dir : existsSync(join(dir, ADAPTER_SUBDIR, ADAPTER_CONFIG_FILE)) ? join(dir, ADAPTER_SUBDIR) : null;
  if (folder === null) throw new UsageError(`--adapter ${dir}: no ${ADAPTER_CONFIG_FILE} there or in ${join(dir, ADAPTER_SUBDIR)}; give a PEFT LoRA adapter folder`);
  try {
    readPeftConfig(folder);
  } catch (e) {
    throw new UsageError(`--adapter ${dir}: ${(e as Error).message}`);
  }
  if (!existsSync(join(folder, ADAPTER_WEIGHTS_FILE))) throw new UsageError(`--adapter ${dir}: no ${ADAPTER_WEIGHTS_FILE} in ${folder} (basin reads safetensors adapters; convert adapter_model.bin first)`);
  return folder;
}

/** The flags that take numbers, whose values may start with '-' (node's parseArgs refuses `--port -1` as ambiguous). */
const NUMBER_FLAGS = ['--port', '--max-batch'];

/** `--port -1` as `--port=-1`, so the number reaches the range check and its message. */
function joinNegativeNumbers(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    if (NUMBER_FLAGS.includes(a) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** --api-key, or $BASIN_SERVE_API_KEY when not given; null for none. */
function apiKeyFlag(values: Record<string, unknown>): string | null {
  const flag = stringFlag(values, 'api-key');
  const key = flag ?? (process.env[API_KEY_ENV] || null);
  const problem = key === null ? null : apiKeyProblem(key);
  if (problem !== null) throw new UsageError(`${flag !== undefined ? '--api-key' : `$${API_KEY_ENV}`} ${problem}`);
  return key;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'an OpenAI-compatible HTTP server for a model folder, batching concurrent requests',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(joinNegativeNumbers(argv), {
      model: { type: 'string' }, adapter: { type: 'string', multiple: true }, port: { type: 'string' }, host: { type: 'string' },
      name: { type: 'string' }, 'api-key': { type: 'string' }, device: { type: 'string' }, dtype: { type: 'string' }, 'max-batch': { type: 'string' },
    });
    if (help) {
      console.log(usage);
      return 0;
    }
    noExtraArguments(positionals, 0, 'basin serve');
    const modelDir = stringFlag(values, 'model');
    if (modelDir === undefined) throw new UsageError('missing --model DIR');
    const port = numberFlag(values, 'port', 8000, { integer: true, min: 0, max: 65535 });
    const maxBatch = numberFlag(values, 'max-batch', DEFAULT_MAX_BATCH, { integer: true, min: 1 });
    const host = stringFlag(values, 'host') ?? '127.0.0.1';
    const name = stringFlag(values, 'name') ?? basename(resolve(modelDir));
    const apiKey = apiKeyFlag(values);
    const device = deviceFlag(values);
    const dtype = stringFlag(values, 'dtype') ?? 'f32';
    if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype ${dtype}: use ${DTYPES.join(', ')}`);
    const adapters = ((values.adapter ?? []) as unknown as string[]).map(adapterFolder);

    // A port in use (or a host that is not this machine's) is a flag error, found before the model loads.
    const server = await listen({ apiKey, host, port }).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    const baseUrl = `${server.url}/v1`;
    console.error(`basin serve: listening at ${baseUrl}; loading ${modelDir} (requests get 503 until it is loaded)`);
    try {
      const { model, tokenizer } = await loadModel(modelDir, { device, dtype: dtype as T.DType });
      if (tokenizer === null) throw new Error(`${modelDir}: no ${TOKENIZER_FILE}, so requests cannot be tokenized`);
      adapters.forEach((dir, i) => loadAdapter(model, dir, `stack-${i}`));
      server.serve({ model, tokenizer, name, maxBatch, fingerprint: servedFingerprint(modelDir, adapters, dtype) });
    } catch (e) {
      await server.close();
      throw e;
    }
    console.error(`basin serve: ${name} at ${baseUrl} (${device}, ${dtype}${adapters.length ? `, ${adapters.length} adapter(s)` : ''}, max batch ${maxBatch}${apiKey ? ', API key required' : ''}); Ctrl-C to stop`);
    if (values.json) console.log(JSON.stringify({ url: baseUrl }));

    const signal = await new Promise<NodeJS.Signals>((done) => {
      const on = (s: NodeJS.Signals) => {
        process.off('SIGINT', on);
        process.off('SIGTERM', on);
        done(s);
      };
      process.on('SIGINT', on);
      process.on('SIGTERM', on);
    });
    await server.close();
    console.error(`basin serve: closed on ${signal}`);
    return signal === 'SIGINT' ? 130 : 143;
  },
};

/** What is served: the model's fingerprint, every adapter file's content, the dtype (sha256, 32 hex digits). */
function servedFingerprint(modelDir: string, adapters: readonly string[], dtype: string): string {
  const h = createHash('sha256').update(`${modelFingerprint(modelDir).fingerprint}\n${dtype}`);
  for (const dir of adapters) {
    for (const file of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) h.update(`\n${file}\n`).update(readFileSync(join(dir, file)));
  }
  return h.digest('hex').slice(0, 32);
}
