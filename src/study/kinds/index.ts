// Registers every study kind (import this module for its effect).

import './persona-collapse/index.js';
import './world-check/index.js';
