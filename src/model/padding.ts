// Token rows of different lengths as one padded batch on a device (the model's): ids [b, n]
// int64 and a token mask [b, n] bool (true at real tokens). Prompts are left-padded (so every
// row ends at the last column, where generation continues); teacher-forced sequences are
// right-padded.

import * as T from '../tensor/index.js';

export function padBatch(rows: readonly number[][], pad: number, side: 'left' | 'right', device: T.Device): { ids: T.Tensor; mask: T.Tensor } {
  const n = Math.max(...rows.map((r) => r.length));
  const ids: number[] = [];
  const mask: number[] = [];
  for (const r of rows) {
    const fill = new Array<number>(n - r.length);
    if (side === 'left') {
      ids.push(...fill.fill(pad), ...r);
      mask.push(...fill.fill(0), ...new Array<number>(r.length).fill(1));
    } else {
      ids.push(...r, ...fill.fill(pad));
      mask.push(...new Array<number>(r.length).fill(1), ...fill.fill(0));
    }
  }
  return {
    ids: T.tensor(ids, { dtype: 'i64', shape: [rows.length, n], device }),
    mask: T.tensor(mask, { dtype: 'bool', shape: [rows.length, n], device }),
  };
}
