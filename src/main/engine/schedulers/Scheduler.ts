/**
 * The scheduler interface every sampler implements, after diffusers' `SchedulerMixin`: set the
 * timesteps, then for each entry of `timesteps` scale the model input, run the model, and `step`.
 * Latents are NCHW float32 tensors, flat; the schedulers are element-wise, so shape never matters.
 */
import type { Rng } from '../rng/Rng';

export const schedulerNames = [
  'pndm',
  'ddim',
  'euler',
  'euler_a',
  'dpmpp_2m',
  'dpmpp_2m_karras',
  'dpmpp_sde_karras',
  'heun',
  'lms',
  'ddpm',
  'lcm',
  'unipc',
] as const;

export type SchedulerName = (typeof schedulerNames)[number];

export interface Scheduler {
  readonly name: SchedulerName;
  /**
   * After `setTimesteps`: the timestep to pass the model for each model call, in order. Second-order
   * schedulers repeat entries as diffusers does (Heun calls the model twice per step). These are the
   * values diffusers passes the UNet as `t` (integers, or float32 values for the sigma schedulers).
   */
  readonly timesteps: readonly number[];
  /** Standard deviation of the initial noise: multiply `randn` latents by it before the first step. */
  readonly initNoiseSigma: number;
  /** Model calls per denoising step (2 for Heun), as diffusers' `scheduler.order`. */
  readonly order: number;
  /**
   * The denoised prediction (x0) of the last `step`: LCM's `denoised`, the others'
   * `pred_original_sample`; null before the first step or where diffusers exposes none (PNDM).
   */
  readonly denoised: Float32Array | null;
  setTimesteps(numInferenceSteps: number): void;
  /**
   * diffusers' `set_begin_index`: the index into `timesteps` where denoising starts (img2img), so
   * schedulers that count steps, rather than look timesteps up, start at the right sigma. A no-op
   * for schedulers that look the timestep up (DDIM, DDPM, PNDM).
   */
  setBeginIndex(beginIndex: number): void;
  /** May return `sample` itself when the scheduler does not scale its input. */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  /** One denoising step; returns prev_sample. Ancestral and SDE noise comes only from `rng`. */
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, rng: Rng): Float32Array;
  /** Noises `original` to the level of `timestep` (an entry of `timesteps`), for img2img and inpainting. */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array;
}

/**
 * Sets `numSteps` timesteps and returns the last `strength` of them, the ones img2img runs, as
 * diffusers' `get_timesteps` does (init_timestep = min(int(numSteps * strength), numSteps)), and
 * calls `setBeginIndex` so step counting starts mid-way. Noise the init latents with
 * `addNoise(init, noise, timesteps[0])` after this call. `strength` is in [0, 1]; a low strength can
 * leave no timesteps at all.
 */
export function timestepsForStrength(scheduler: Scheduler, numSteps: number, strength: number): readonly number[] {
  if (!(strength >= 0 && strength <= 1)) throw new RangeError(`strength must be in [0, 1], got ${strength}`);
  scheduler.setTimesteps(numSteps);
  const initTimestep = Math.min(Math.trunc(numSteps * strength), numSteps);
  const tStart = Math.max(numSteps - initTimestep, 0);
  scheduler.setBeginIndex(tStart * scheduler.order);
  return scheduler.timesteps.slice(tStart * scheduler.order);
}
