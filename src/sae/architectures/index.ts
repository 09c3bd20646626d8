// Every SAE architecture, registered on import; import architectures from here.

import './standard.js';
import './topk.js';
import './batchtopk.js';
import './jumprelu.js';

export * from './registry.js';
