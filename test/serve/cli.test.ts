// `basin serve` as a process: --json prints the OpenAI base URL (…/v1) once the model is
// loaded, stacked --adapter folders are applied in order (answers match generate() on the model
// with the same adapters loaded), SIGTERM closes it cleanly (exit 143), and bad flags — a port in
// use, a broken adapter config and an unusable API key among them — are usage errors found
// before the model loads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import * as T from '../../src/tensor/index.js';
import { DEFAULT_LORA, generate, loadAdapter, loadModel, LoraAdapter, renderPrompt, saveAdapter, stopTokenIds, type Transformer } from '../../src/model/index.js';
import { serveCommand } from '../../src/cli/commands/serve.js';
import { UsageError } from '../../src/cli/command.js';
import { writeTinyChatModel } from '../helpers/tiny-chat-model.js';

const MAIN = new URL('../../src/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'basin-serve-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const modelDir = join(dir, 'tiny-chat');
writeTinyChatModel(modelDir, 4);

/** Saves an adapter with random (non-zero) B, so it changes the model's answers. */
function writeAdapter(model: Transformer, folder: string, seed: number, targets: string[]): void {
  const g = T.Generator.seeded(seed);
  const adapter = LoraAdapter.attach(model, `a${seed}`, { ...DEFAULT_LORA, r: 2, alpha: 4, targetModules: targets }, g);
  T.noGrad(() => { for (const l of adapter.layers.values()) l.B.copy_(T.randn(l.B.shape, { generator: g }).mul(0.5)); });
  saveAdapter(adapter, folder);
  adapter.detach();
}

/** Greedy chat answer of generate() on the model with these adapters stacked. */
async function expected(adapters: string[], user: string): Promise<string> {
  const { model, tokenizer } = await loadModel(modelDir);
  adapters.forEach((a, i) => loadAdapter(model, a, `stack-${i}`));
  return generate(model, [renderPrompt(tokenizer!, { system: null, user })], {
    maxNewTokens: 16, stopTokenIds: stopTokenIds(model, tokenizer!), vocabLimit: tokenizer!.vocabSize,
    decode: (ids) => tokenizer!.decode(ids, { skipSpecialTokens: true }),
  })[0]!.text!;
}

test('basin serve --json: the URL on stdout, stacked adapters applied in order, SIGTERM closes it with 143', async () => {
  const { model } = await loadModel(modelDir);
  const adapters = [join(dir, 'first'), join(dir, 'second')];
  writeAdapter(model, adapters[0]!, 1, ['q_proj', 'v_proj']);
  writeAdapter(model, adapters[1]!, 2, ['down_proj']);
  const want = await expected(adapters, 'hello');
  assert.notEqual(want, await expected([], 'hello'), 'the adapters should change the answer');

  const child = spawn(process.execPath, [MAIN, 'serve', '--model', modelDir, '--adapter', adapters[0]!, '--adapter', adapters[1]!, '--port', '0', '--name', 'm', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const first = await Promise.race([
      new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve)),
      exited.then((code) => { throw new Error(`basin serve exited (${code}) before listening: ${stderr}`); }),
    ]);
    const { url } = JSON.parse(first) as { url: string };
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/, 'the base URL an OpenAI client (or --judge-url) takes');
    assert.ok(stderr.includes(`basin serve: m at ${url} `), stderr);
    assert.match(stderr, /2 adapter\(s\)/);
    const client = new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0 });
    const [listed] = (await client.models.list()).data as unknown as { id: string; basin_fingerprint?: string }[];
    assert.match(listed?.basin_fingerprint ?? '', /^[0-9a-f]{32}$/, 'the exact weights served (model, adapters, dtype) are named for judges\' caches');
    const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }], temperature: 0, max_tokens: 16 });
    assert.equal(r.choices[0]!.message.content, want);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 143);
  assert.match(stderr, /closed on SIGTERM/);
});

test('basin serve: flags that are wrong are usage errors naming the flag (checked before the model loads)', async () => {
  assert.match(serveCommand.usage, /POST \/v1\/chat\/completions/);
  for (const [args, message] of [
    [['--model', modelDir, '--max-batch', '0'], /--max-batch must be an integer ≥ 1, got '0'/],
    [['--model', modelDir, '--port', '70000'], /--port must be an integer in 0\.\.65535/],
    [['--model', modelDir, '--adapter', dir], /--adapter .*: no adapter_config\.json there/],
    [['--model', modelDir, '--dtype', 'f8'], /--dtype f8: use f32, bf16, f16/],
    [['--model', modelDir, 'extra'], /unexpected argument 'extra' to basin serve/],
    [['--port', '8000'], /missing --model DIR/],
  ] as const) {
    await assert.rejects(serveCommand.run([...args]), (e: unknown) => e instanceof UsageError && message.test(e.message));
  }
  // An unknown flag is node's parse error, which the CLI reports as a usage error.
  await assert.rejects(serveCommand.run(['--model', modelDir, '--steps', '3']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
});

test('basin serve: a negative number, an unusable API key, a broken adapter and a port in use are usage errors before the model loads', async () => {
  // --model names no folder, so each error below is found before loading (which would fail on it)
  const missing = join(dir, 'no-model-here');
  const broken = join(dir, 'broken-adapter');
  mkdirSync(broken);
  writeFileSync(join(broken, 'adapter_config.json'), '{"peft_type": "LORA", "r": ');
  const wrongType = join(dir, 'prefix-adapter');
  mkdirSync(wrongType);
  writeFileSync(join(wrongType, 'adapter_config.json'), '{"peft_type": "PREFIX_TUNING"}');
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    for (const [args, message] of [
      [['--port', '-1'], /^--port must be an integer in 0\.\.65535, got '-1'$/],
      [['--max-batch', '-2'], /^--max-batch must be an integer ≥ 1, got '-2'$/],
      [['--api-key', 'my key'], /^--api-key contains whitespace/],
      [['--adapter', broken], /^--adapter .*broken-adapter: .*adapter_config\.json: not valid JSON/],
      [['--adapter', wrongType], /^--adapter .*prefix-adapter: .*peft_type is "PREFIX_TUNING"; basin reads LORA adapters/],
      [['--port', String(port)], new RegExp(`^port ${port} on 127\\.0\\.0\\.1 is already in use; pick another port`)],
    ] as const) {
      await assert.rejects(serveCommand.run(['--model', missing, ...args]), (e: unknown) => {
        assert.ok(e instanceof UsageError, `${args.join(' ')}: ${String(e)}`);
        assert.match(e.message, message);
        return true;
      });
    }
    process.env.BASIN_SERVE_API_KEY = ' padded';
    await assert.rejects(serveCommand.run(['--model', missing]), (e: unknown) => e instanceof UsageError && /^\$BASIN_SERVE_API_KEY contains whitespace/.test(e.message));
  } finally {
    delete process.env.BASIN_SERVE_API_KEY;
    taken.close();
  }
  // with a free port, loading is what fails, and the port is let go (or this file would not end)
  await assert.rejects(serveCommand.run(['--model', missing, '--port', '0']), (e: unknown) => !(e instanceof UsageError) && /no-model-here/.test(String(e)));
});
