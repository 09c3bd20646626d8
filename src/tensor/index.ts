// basin's tensor engine: TypeScript over libtorch.

export { Tensor, type Device, type Operand, type Dims, type Reduction } from './tensor.js';
export { type DType, DTYPES, dtypeFromSafetensors, isDType, type TypedArray } from './dtype.js';
export * from './create.js';
export * from './functional.js';
export * from './attention.js';
export { scope, keep, unkeep, scopeDepth } from './scope.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd.js';
export { Generator, manualSeed } from './random.js';
export { PackedLinear } from './packed-linear.js';
import { initThreads as initThreadsAtLoad, initLargeBlockCache } from "./runtime.js";
initThreadsAtLoad();
initLargeBlockCache();
export { setNumThreads, getNumThreads, withKernelThreads, largeBlockCache, type LargeBlockCacheStats, cuda, runtimeInfo, describeRuntime, initThreads, liveTensors, type RuntimeInfo } from './runtime.js';
export { Optimizer, type ParamGroupSpec, type ParamGroup, type OptimizerState } from './optim/optimizer.js';
export { AdamW, type AdamWOptions } from './optim/adamw.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export { clipGradNorm } from './optim/clip.js';
