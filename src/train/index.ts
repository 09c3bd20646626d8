// The fine-tuning trainer shared by every experiment.

export { train, trainableParameters, TrainingError, type TrainConfig, type Trainable, type StepMetrics, type TrainResult } from './trainer.js';
export { readChatJsonl, inoculate, tokenizeRows, shuffledOrder, collate, type ChatRow, type Example, type Batch, type Inoculation, type TokenizedData } from './data.js';
export { type LossTerm, type LossContext, type ForwardRecord } from './loss-term.js';
export { klToReference, responseKl, type KlDirection } from './kl-term.js';
export { steeringDuringTraining, ablationDuringTraining } from './hook-terms.js';
export { lrFactor, type ScheduleKind } from './schedule.js';
export { loadLatestCheckpoint, checkpointDirs } from './checkpoint.js';
