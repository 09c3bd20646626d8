// How a value read from a file, a flag or a judge's options is quoted in an error: as JSON, but
// numbers JSON cannot write (1e309 parses to Infinity) as written, Infinity rather than null,
// and long values cut to 60 characters.

/** The value as an error quotes it. */
export function shown(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const s = JSON.stringify(v, (_, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
