// Training: the generic loop (objective, optimizer, schedules, checkpoints, exact resume) and
// SFT with its loss terms, the fine-tune every experiment shares.

export { trainLoop, resolveLoopConfig, TrainingError, type LoopConfig, type LoopSpec, type Objective, type LossPart, type StepContext, type BatchSource, type ResolvedConfig, type RunRecord, type StepMetrics, type TrainResult } from './loop.js';
export { train, trainableParameters, modelIdentity, SFT_LOSS, type TrainConfig, type Trainable } from './trainer.js';
export { adamw, sgd, type OptimizerFactory, type OptimizerConfig } from './optimizer.js';
export { readChatJsonl, inoculate, tokenizeRows, shuffledOrder, lengthGroupedOrder, LENGTH_GROUP_BATCHES, collate, exampleBatches, examplesHash, type ChatRow, type Example, type Batch, type Inoculation, type TokenizedData } from './data.js';
export { checkLossNames, type LossTerm, type LossContext, type TermContext, type ForwardRecord } from './loss-term.js';
export { klToReference, responseKl, type KlDirection } from './kl-term.js';
export { steeringDuringTraining, ablationDuringTraining } from './hook-terms.js';
export { lrFactor, weightAt, describeWeight, type ScheduleKind, type WeightSchedule } from './schedule.js';
export { configHash, configDifferences, type Json } from './run-config.js';
export { loadLatestCheckpoint, checkpointDirs } from './checkpoint.js';
