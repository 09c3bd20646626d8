// Progress bars for long work: a bar with rate and ETA on a TTY, silence otherwise (and
// always under --json, where machines read stdout).

import cliProgress from 'cli-progress';

export interface Progress {
  tick(n?: number, info?: Record<string, string | number>): void;
  stop(): void;
}

export function progress(label: string, total: number, options: { quiet?: boolean; unit?: string } = {}): Progress {
  if (options.quiet || !process.stderr.isTTY) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} ${options.unit ?? ''} · {rate}/s · ETA {eta_formatted} {info}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  let done = 0;
  bar.start(total, 0, { rate: '0', info: '' });
  return {
    tick(n = 1, info = {}) {
      done += n;
      const rate = done / Math.max((Date.now() - start) / 1000, 1e-3);
      const text = Object.entries(info).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toPrecision(4) : v}`).join(' ');
      bar.update(done, { rate: rate.toFixed(rate < 10 ? 2 : 0), info: text });
    },
    stop() {
      bar.stop();
    },
  };
}
