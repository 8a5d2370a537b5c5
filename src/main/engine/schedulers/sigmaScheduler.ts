/**
 * What the k-diffusion-style schedulers (Euler, Euler ancestral, Heun, LMS) share in diffusers: a
 * sigma per timestep entry, inputs scaled by 1/sqrt(sigma^2 + 1), noise added as `x + sigma * noise`,
 * and a step counter that starts from the timestep's position or from `set_begin_index`.
 */
import type { Rng } from '../rng/Rng';
import {
  at,
  f32,
  indexForTimestep,
  item,
  requireSameLength,
  sigmasFromAlphasCumprod,
  type PredictionType,
  type TimestepSpacing,
} from './common';
import type { Scheduler, SchedulerName } from './Scheduler';

export abstract class SigmaScheduler implements Scheduler {
  abstract readonly order: number;
  timesteps: readonly number[];
  /** One sigma per `timesteps` entry, then the final sigma (float32 values). */
  protected sigmas: readonly number[];
  protected stepIndex: number | null = null;
  protected beginIndex: number | null = null;
  denoised: Float32Array | null = null;

  protected constructor(
    readonly name: SchedulerName,
    protected readonly numTrainTimesteps: number,
    protected readonly alphasCumprod: Float64Array,
    protected readonly predictionType: PredictionType,
    protected readonly timestepSpacing: TimestepSpacing,
  ) {
    // Before setTimesteps, diffusers holds the full training schedule.
    const trainSigmas = sigmasFromAlphasCumprod(alphasCumprod);
    this.sigmas = [...Array.from(trainSigmas).reverse(), 0];
    this.timesteps = Array.from({ length: numTrainTimesteps }, (_, i) => numTrainTimesteps - 1 - i);
  }

  get initNoiseSigma(): number {
    const max = Math.max(...this.sigmas);
    if (this.timestepSpacing === 'linspace' || this.timestepSpacing === 'trailing') return max;
    return f32(Math.sqrt(f32(max * max) + 1));
  }

  abstract setTimesteps(numInferenceSteps: number): void;
  abstract step(modelOutput: Float32Array, timestep: number, sample: Float32Array, rng: Rng): Float32Array;

  setBeginIndex(beginIndex: number): void {
    this.beginIndex = beginIndex;
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    const sigma = this.sigmaAt(this.currentIndex(timestep));
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = (sample[i] as number) * scale;
    return out;
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    requireSameLength(original, noise, 'addNoise');
    // begin_index is unset outside img2img; after the first step (inpainting) the counter is current.
    const index =
      this.beginIndex === null ? indexForTimestep(this.timesteps, timestep) : (this.stepIndex ?? this.beginIndex);
    const sigma = this.sigmaAt(index);
    const out = new Float32Array(original.length);
    for (let i = 0; i < original.length; i++) out[i] = (original[i] as number) + (noise[i] as number) * sigma;
    return out;
  }

  /** The step counter, initialised from the timestep (or the begin index) on first use. */
  protected currentIndex(timestep: number): number {
    if (this.stepIndex === null) {
      this.stepIndex = this.beginIndex ?? indexForTimestep(this.timesteps, timestep);
    }
    return this.stepIndex;
  }

  protected sigmaAt(index: number): number {
    return item(this.sigmas, index);
  }

  protected resetSchedule(timesteps: readonly number[], sigmas: readonly number[]): void {
    this.timesteps = timesteps;
    this.sigmas = sigmas.map(f32);
    this.stepIndex = null;
    this.beginIndex = null;
    this.denoised = null;
  }

  /** The final sigma diffusers appends for `final_sigmas_type: "sigma_min"`. */
  protected trainingSigmaMin(): number {
    const a = at(this.alphasCumprod, 0);
    return f32(Math.sqrt(f32(f32(1 - a) / a)));
  }

  /** x0 from the model output at noise level `sigma`, per `prediction_type` (k-diffusion's c_skip/c_out). */
  protected predictOriginal(modelOutput: Float32Array, sample: Float32Array, sigma: number): Float32Array {
    requireSameLength(modelOutput, sample, 'step');
    if (this.predictionType === 'sample') return modelOutput.slice();
    const out = new Float32Array(sample.length);
    if (this.predictionType === 'epsilon') {
      for (let i = 0; i < out.length; i++) out[i] = (sample[i] as number) - sigma * (modelOutput[i] as number);
    } else {
      const cOut = -sigma / Math.sqrt(sigma * sigma + 1);
      const cSkip = 1 / (sigma * sigma + 1);
      for (let i = 0; i < out.length; i++) out[i] = (modelOutput[i] as number) * cOut + (sample[i] as number) * cSkip;
    }
    return out;
  }
}
