// Learning-rate schedules with linear warm-up, as transformers' get_*_schedule_with_warmup:
// the optimizer step k (from 0) runs at lr · factor(k).

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export function lrFactor(kind: ScheduleKind, step: number, totalSteps: number, warmupSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (kind === 'constant') return 1;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (kind === 'linear') return Math.max(0, 1 - progress);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
