// JSON with sorted keys, so equal values hash equally whatever their key order: what run hashes
// (train/) and task keys (study/) are computed over. undefined object members are left out, as
// JSON.stringify does; what JSON cannot say exactly (a non-finite number, undefined in a list,
// a Map, a Set, a Date, a typed array, a function) is an error rather than a silent collision.

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    if (value.some((v) => v === undefined)) throw new Error('canonical JSON: undefined in a list cannot be hashed');
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new Error(`canonical JSON: a ${(value as object).constructor?.name ?? 'non-plain object'} cannot be hashed; convert it to plain JSON first`);
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`canonical JSON: ${value} cannot be hashed (not a finite number)`);
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint' || value === undefined) throw new Error(`canonical JSON: a ${typeof value} cannot be hashed`);
  return JSON.stringify(value);
}
