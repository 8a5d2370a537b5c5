/**
 * diffusers' `denoising_start` / `denoising_end` (SDXL's "ensemble of expert denoisers"): a base model
 * runs the high-noise part of the schedule and hands its latents, un-decoded, to a refiner that runs the
 * rest. Both cut the same `numSteps` schedule at a discrete timestep:
 * `cutoff = round(num_train_timesteps - fraction * num_train_timesteps)` (Python's round, half to even).
 */
import { EngineError } from '../EngineError';
import { roundHalfEven } from './common';
import type { Scheduler } from './Scheduler';

export interface DenoisingRange {
  /** Fraction of the schedule already done by another model (the refiner's `denoising_start`), in (0, 1). */
  start?: number;
  /** Fraction of the schedule after which to stop (the base's `denoising_end`), in (0, 1). */
  end?: number;
}

/** The discrete timestep where a fraction of `numTrainTimesteps` is done. */
export function discreteTimestepCutoff(fraction: number, numTrainTimesteps: number): number {
  return roundHalfEven(numTrainTimesteps - fraction * numTrainTimesteps);
}

/**
 * Sets `numSteps` timesteps and returns the part of them `range` keeps, as the SDXL pipelines do:
 * `start` keeps the timesteps below the cutoff (for a second-order scheduler one more, so the cut never
 * falls between a step's two model calls) and calls `setBeginIndex` so step counting starts there;
 * `end` then keeps those at or above its cutoff. Without `start` the schedule starts where `timesteps`
 * (e.g. `timestepsForStrength`'s result) does.
 */
export function timestepsForDenoisingRange(
  scheduler: Scheduler,
  numSteps: number,
  range: DenoisingRange,
  numTrainTimesteps: number,
  timesteps?: readonly number[],
): readonly number[] {
  for (const [name, value] of Object.entries(range)) {
    if (value !== undefined && !(value > 0 && value < 1)) {
      throw new EngineError('input', `denoising ${name} must be between 0 and 1 (exclusive), got ${String(value)}.`);
    }
  }
  if (range.start !== undefined && range.end !== undefined && range.start >= range.end) {
    throw new EngineError('input', `denoising start (${range.start}) must come before its end (${range.end}).`);
  }
  let kept: readonly number[];
  if (range.start !== undefined) {
    scheduler.setTimesteps(numSteps);
    const all = scheduler.timesteps;
    const cutoff = discreteTimestepCutoff(range.start, numTrainTimesteps);
    let count = all.filter((t) => t < cutoff).length;
    if (scheduler.order === 2 && count % 2 === 0 && count < all.length) count += 1;
    const tStart = all.length - count;
    scheduler.setBeginIndex(tStart);
    kept = all.slice(tStart);
  } else if (timesteps) {
    kept = timesteps;
  } else {
    scheduler.setTimesteps(numSteps);
    kept = scheduler.timesteps;
  }
  if (range.end !== undefined) {
    const cutoff = discreteTimestepCutoff(range.end, numTrainTimesteps);
    kept = kept.slice(0, kept.filter((t) => t >= cutoff).length);
  }
  return kept;
}
