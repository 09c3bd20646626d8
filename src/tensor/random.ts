// Random number generators. Every random function takes an optional Generator; without one
// it uses libtorch's global CPU generator, seeded by manualSeed(). Random tensors are drawn
// on the CPU and then moved, so a seed gives the same numbers on every device.

import { native, type GeneratorHandle } from './native.js';

export class Generator {
  readonly handle: GeneratorHandle;

  private constructor(handle: GeneratorHandle) {
    this.handle = handle;
  }

  /** A new independent CPU generator (Philox/MT19937 as in torch.Generator().manual_seed(seed)). */
  static seeded(seed: number): Generator {
    return new Generator(native.generatorNew(seed) as GeneratorHandle);
  }

  /** The global generator that manualSeed() seeds. */
  static global(): Generator {
    return new Generator(native.globalGenerator() as GeneratorHandle);
  }

  /** The full generator state, for exact checkpoint and resume. */
  getState(): Uint8Array {
    return new Uint8Array(native.generatorGetState(this.handle) as Uint8Array);
  }

  setState(state: Uint8Array): void {
    native.generatorSetState(this.handle, state);
  }
}

/** Seeds libtorch's global generator (torch.manual_seed). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
