// Every question-suite format, registered on import; import suites from here.

import './em-yaml.js';
import './trait-json.js';
import './questions-csv.js';
import './questions-jsonl.js';
import './persona-world.js';

export * from './suite.js';
export * from './registry.js';
