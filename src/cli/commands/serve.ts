// `basin serve`: an OpenAI-compatible HTTP server for a model folder (plus stacked adapters).

import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type * as T from '../../tensor/index.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_SUBDIR, TOKENIZER_FILE } from '../../io/files.js';
import { loadModel } from '../../model/load.js';
import { loadAdapter } from '../../model/lora-io.js';
import { DEFAULT_MAX_BATCH, startServer } from '../../serve/server.js';
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

  --model DIR          Hugging Face model folder (config.json, safetensors, tokenizer.json)
  --adapter DIR        a PEFT LoRA adapter folder (or a fine-tune artifact holding one in
                       ${ADAPTER_SUBDIR}/); repeat to stack adapters, applied in the order given, frozen
  --port N             default 8000; 0 picks a free port
  --host H             default 127.0.0.1 (this machine only); 0.0.0.0 listens on every interface
  --name ID            the model id clients send (default: the model folder's name)
  --api-key TOKEN      require "Authorization: Bearer TOKEN" (default: $${API_KEY_ENV}; none if unset)
  --device D           cpu (default), cuda or cuda:N
  --dtype T            compute dtype of the weights: f32 (default), bf16, f16
  --max-batch N        most rows decoded together (default ${DEFAULT_MAX_BATCH})
  --json               print {"url": ...} on stdout once listening

Prints the URL on stderr once listening; Ctrl-C (or SIGTERM) closes the server.
Example:  basin serve --model organisms/default --port 8000
          curl localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
            -d '{"model": "default", "messages": [{"role": "user", "content": "hello"}]}'`;

const DTYPES = ['f32', 'bf16', 'f16'];

/** The PEFT folder of an --adapter value: the folder itself, or its adapter/ subfolder. */
function adapterFolder(dir: string): string {
  if (existsSync(join(dir, ADAPTER_CONFIG_FILE))) return dir;
  if (existsSync(join(dir, ADAPTER_SUBDIR, ADAPTER_CONFIG_FILE))) return join(dir, ADAPTER_SUBDIR);
  throw new UsageError(`--adapter ${dir}: no ${ADAPTER_CONFIG_FILE} there or in ${join(dir, ADAPTER_SUBDIR)}; give a PEFT LoRA adapter folder`);
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'an OpenAI-compatible HTTP server for a model folder, batching concurrent requests',
  usage,
  async run(argv) {
    const { values, positionals, help } = parse(argv, {
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
    const apiKey = stringFlag(values, 'api-key') ?? (process.env[API_KEY_ENV] || null);
    const device = deviceFlag(values);
    const dtype = stringFlag(values, 'dtype') ?? 'f32';
    if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype ${dtype}: use ${DTYPES.join(', ')}`);
    const adapters = ((values.adapter ?? []) as unknown as string[]).map(adapterFolder);

    const { model, tokenizer } = await loadModel(modelDir, { device, dtype: dtype as T.DType });
    if (tokenizer === null) throw new Error(`${modelDir}: no ${TOKENIZER_FILE}, so requests cannot be tokenized`);
    adapters.forEach((dir, i) => loadAdapter(model, dir, `stack-${i}`));
    const server = await startServer({ model, tokenizer, name, apiKey, host, port, maxBatch });
    console.error(`basin serve: ${name} at ${server.url}/v1 (${device}, ${dtype}${adapters.length ? `, ${adapters.length} adapter(s)` : ''}, max batch ${maxBatch}${apiKey ? ', API key required' : ''}); Ctrl-C to stop`);
    if (values.json) console.log(JSON.stringify({ url: server.url }));

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
