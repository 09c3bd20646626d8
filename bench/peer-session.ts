// A long-lived PyTorch peer process that answers one JSON request per line with one JSON reply
// per line. Benchmarks use it to interleave their trials with the peer's (ours, peer, ours, …),
// so both sides run under the same background load on a shared machine.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { PEER_PYTHON } from './peer-process.js';

export class PeerSession {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #pending: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  #stderr = '';
  #exited: Error | undefined;

  constructor(readonly script: string, args: string[]) {
    this.#child = spawn(PEER_PYTHON, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-4000); });
    this.#lines = createInterface({ input: this.#child.stdout });
    this.#lines.on('line', (line) => {
      const waiter = this.#pending.shift();
      if (waiter === undefined) return;
      let reply: Record<string, unknown>;
      try {
        reply = JSON.parse(line) as Record<string, unknown>;
      } catch {
        waiter.reject(new Error(`peer ${script}: a reply that is not JSON: ${line.slice(0, 200)}`));
        return;
      }
      if (typeof reply.error === 'string') waiter.reject(new Error(`peer ${script}: ${reply.error}`));
      else waiter.resolve(reply);
    });
    const fail = (why: string) => {
      this.#exited = new Error(`peer ${script} ${why}: ${this.#stderr.slice(-2000)}\n` +
        `The PyTorch peer needs ${PEER_PYTHON} with torch (Debian: apt-get install python3-torch).`);
      for (const w of this.#pending.splice(0)) w.reject(this.#exited);
    };
    this.#child.on('error', (e) => fail(`could not start (${e.message})`));
    this.#child.on('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal})`));
  }

  /** Sends one request and waits for its reply (requests are answered in order). */
  request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#exited !== undefined) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#child.stdin.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Ends the peer (closes its stdin; kills it if it does not exit within a few seconds). */
  async close(): Promise<void> {
    if (this.#exited !== undefined) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
