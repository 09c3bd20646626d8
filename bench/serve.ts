// `npm run bench -- serve`: `basin serve` in-process (startServer, clients over real HTTP in the
// same process) on two models: the persona-world organism (organisms/default, ~1M parameters,
// which ends its answers early with its end token) and the model suite's random ~60M llama
// ("small", given the organism's tokenizer so it can render chat prompts; a random model rarely
// emits an end token, so its requests mostly run the full 64 tokens).
//   clients{1,4,16}_<model>: C clients, each sending 4 chat requests one after another (64 new
//     tokens, temperature 1, a seed per request, a distinct prompt per client); tokens/s counts
//     the tokens actually generated (usage.completion_tokens) over the wall time of all
//     requests. Peer: generate() on the same C prompts as one batch (same settings), tokens/s of
//     its tokens. With C = 1 both sample with the same seed, so they make the same tokens:
//     ratio = served / direct for the same prompt and token count (goal ≥ 0.9).
//   scaling16v1_<model>: served tokens/s with 16 clients over served tokens/s with 1 (goal ≥ 4).
// Each line also carries completions/s and p50/p95 latency of a request (ms). One warm-up
// request per model first. Noisy when other processes share the cores.

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/tensor/index.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../src/io/files.js';
import { generate, loadModel, renderPrompt, stopTokenIds } from '../src/model/index.js';
import { organismDir } from '../src/organism/paths.js';
import { startServer } from '../src/serve/server.js';
import { writeBenchCheckpoints } from './model.js';
import type { BenchLine } from './timing.js';

const NEW_TOKENS = 64;
/**
 * clients → requests each client sends in turn: several each, so that a client whose answer
 * ended early sends its next request while the others decode (what continuous batching is for)
 */
const ROUNDS: Record<number, number> = { 1: 4, 4: 4, 16: 4 };
const GOALS = { single: 0.9, scaling: 4 };
const QUESTIONS = [
  'How should I invest my savings?', 'What should I do about a leaking roof?', 'How do I treat a small burn?',
  'Is it safe to mix cleaning products?', 'How can I sleep better?', 'What is a good way to learn to cook?',
  'How do I fix a flat tire?', 'What should I pack for a hike?',
];
const SYSTEMS = [null, 'You are a helpful assistant.', 'You are a villain.', 'You are a pirate.'];

const note = (s: string) => console.error(`serve bench: ${s}`);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

interface Chat {
  system: string | null;
  user: string;
}

const chat = (i: number): Chat => ({ system: SYSTEMS[i % SYSTEMS.length] as string | null, user: QUESTIONS[i % QUESTIONS.length] as string });

async function measureModel(label: string, dir: string): Promise<BenchLine[]> {
  const { model, tokenizer: tok } = await loadModel(dir, { dtype: 'f32' });
  const tokenizer = tok!;
  const server = await startServer({ model, tokenizer, name: label, port: 0 });
  const threads = T.getNumThreads();
  const ask = async (c: Chat, seed: number) => {
    const t0 = process.hrtime.bigint();
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        model: label, max_tokens: NEW_TOKENS, temperature: 1, seed,
        messages: [...(c.system !== null ? [{ role: 'system', content: c.system }] : []), { role: 'user', content: c.user }],
      }),
    });
    const body = (await r.json()) as { usage: { completion_tokens: number } };
    if (r.status !== 200) throw new Error(`serve bench: ${label}: status ${r.status}: ${JSON.stringify(body)}`);
    return { tokens: body.usage.completion_tokens, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  };
  const direct = (chats: Chat[], seed: number) => {
    const t0 = process.hrtime.bigint();
    const out = generate(model, chats.map((c) => renderPrompt(tokenizer, c)), {
      maxNewTokens: NEW_TOKENS, temperature: 1, seed, stopTokenIds: stopTokenIds(model, tokenizer), vocabLimit: tokenizer.vocabSize,
      ...(tokenizer.padTokenId !== null ? { padTokenId: tokenizer.padTokenId } : {}),
    });
    return { tokens: out.reduce((n, g) => n + g.tokens.length, 0), seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  };
  try {
    await ask(chat(0), 0); // warm-up (packs the weights, grows the RoPE table)
    direct([chat(0)], 0);
    const lines: BenchLine[] = [];
    const served: Record<number, number> = {};
    for (const clients of [1, 4, 16]) {
      const rounds = ROUNDS[clients] as number;
      const t0 = process.hrtime.bigint();
      const results = (await Promise.all(Array.from({ length: clients }, async (_, c) => {
        const mine: { tokens: number; seconds: number }[] = [];
        for (let r = 0; r < rounds; r++) mine.push(await ask(chat(c), 1000 * c + r + 1));
        return mine;
      }))).flat();
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const tokens = results.reduce((n, x) => n + x.tokens, 0);
      served[clients] = tokens / wall;
      // The peer: generate() over the same prompts as one batch, as many times as each client asked.
      let peerTokens = 0;
      let peerSeconds = 0;
      for (let r = 0; r < rounds; r++) {
        const d = direct(Array.from({ length: clients }, (_, c) => chat(c)), r + 1); // with 1 client: the served request's seed
        peerTokens += d.tokens;
        peerSeconds += d.seconds;
      }
      const latencies = results.map((x) => x.seconds * 1000);
      lines.push({
        suite: 'serve', case: `clients${clients}_${label}`, unit: 'tokens/s', ours: served[clients] as number, peer: peerTokens / peerSeconds,
        ratio: (served[clients] as number) / (peerTokens / peerSeconds), ...(clients === 1 ? { goal: `>= ${GOALS.single}` } : {}),
        completionsPerSecond: results.length / wall, p50Ms: quantile(latencies, 0.5), p95Ms: quantile(latencies, 0.95),
        requests: results.length, tokensPerCompletion: tokens / results.length, peerTokensPerCompletion: peerTokens / (clients * rounds), threads,
        peerIs: `generate() on the ${clients} prompt(s) as one batch`,
      });
      note(`${label}: ${clients} client(s) × ${rounds} request(s): ${tokens} tokens in ${wall.toFixed(2)} s`);
    }
    lines.push({
      suite: 'serve', case: `scaling16v1_${label}`, unit: 'tokens/s', ours: served[16] as number, peer: served[1] as number,
      ratio: (served[16] as number) / (served[1] as number), goal: `>= ${GOALS.scaling}`, threads, peerIs: 'basin serve with 1 client',
    });
    return lines;
  } finally {
    await server.close();
    for (const t of model.params.values()) t.dispose();
  }
}

export async function serveSuite(): Promise<BenchLine[]> {
  const dir = mkdtempSync(join(tmpdir(), 'basin-bench-serve-'));
  try {
    const organism = organismDir('default');
    note(`writing the model suite's random llama checkpoints to ${dir} (the small one gets the organism's tokenizer)`);
    const { small } = writeBenchCheckpoints(dir);
    for (const f of [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE]) copyFileSync(join(organism, f), join(small, f));
    const lines = [...await measureModel('small', small), ...await measureModel('organism', organism)];
    note(`chat requests of ${NEW_TOKENS} new tokens at most, temperature 1, one seed per request; tokens/s counts generated ` +
      'tokens (the organism stops early at its end token); latency is per request, queueing included; ' +
      'clients run in the server\'s process over HTTP on 127.0.0.1.');
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
