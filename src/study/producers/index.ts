// Registers every shared producer (import this module for its effect).

import './activations.js';
import './evaluate.js';
import './fine-tune.js';
import './judge.js';
import './persona-vectors.js';
import './sample.js';
import './train-sae.js';
