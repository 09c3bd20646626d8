// A producer whose output is one JSON value writes it to value.json in its artifact folder;
// producers read a parent's with `readValue`, analyses with `TaskOutputs.json(id)`.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { TASK_VALUE_FILE } from '../../io/files.js';

/** The value a parent task wrote, from its artifact folder. */
export function readValue<T>(dir: string): T {
  return JSON.parse(readFileSync(join(dir, TASK_VALUE_FILE), 'utf8')) as T;
}

export function writeValue(dir: string, value: unknown): void {
  writeFileAtomic(join(dir, TASK_VALUE_FILE), JSON.stringify(value));
}
