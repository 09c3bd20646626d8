// JSON with sorted keys, so equal values hash equally whatever their key order: what run hashes
// (train/) and task keys (study/) are computed over. undefined members are left out, as
// JSON.stringify does; a non-finite number cannot be hashed and is an error naming it.

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`canonical JSON: ${value} cannot be hashed (not a finite number)`);
  return JSON.stringify(value);
}
