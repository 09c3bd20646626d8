// Rates with their Wilson 95% intervals.

import { wilsonInterval } from '../stats/index.js';

export interface Rate {
  k: number;
  n: number;
  rate: number;
  /** Wilson score 95% interval */
  ci: [number, number];
}

export function rate(k: number, n: number): Rate {
  const ci = wilsonInterval(k, n);
  return { k, n, rate: n === 0 ? NaN : k / n, ci: [ci.lower, ci.upper] };
}

export function rateOf<T>(items: T[], hit: (t: T) => boolean): Rate {
  return rate(items.filter(hit).length, items.length);
}

/** '26.3% [95% CI 21.1–32.2], n=240' */
export function formatRate(r: Rate): string {
  return `${(100 * r.rate).toFixed(1)}% [95% CI ${(100 * r.ci[0]).toFixed(1)}–${(100 * r.ci[1]).toFixed(1)}], n=${r.n}`;
}
