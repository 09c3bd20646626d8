// A producer whose output is one JSON value writes it to value.json in its artifact folder;
// `TaskOutputs.json(id)` reads it back.

import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { TASK_VALUE_FILE } from '../../io/files.js';

export function writeValue(dir: string, value: unknown): void {
  writeFileAtomic(join(dir, TASK_VALUE_FILE), JSON.stringify(value));
}
