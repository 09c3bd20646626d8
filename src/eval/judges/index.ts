// Every judge kind, registered on import; import judges from here.

import './oracle.js';
import './contains.js';

export * from '../judge.js';
