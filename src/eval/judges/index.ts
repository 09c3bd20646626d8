// Every judge kind, registered on import; import judges from here.

import './oracle.js';
import './contains.js';
import './logprob.js';
import './rubric.js';
import './multi.js';

export * from '../judge.js';
