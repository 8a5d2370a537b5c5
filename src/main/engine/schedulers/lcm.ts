/**
 * diffusers' LCMScheduler (latent consistency models, Luo et al. 2023): each step maps the sample
 * straight to a denoised estimate through the consistency boundary condition, then, except on the
 * last step, re-noises it to the next timestep with fresh noise from the rng.
 */
import { EngineError } from '../EngineError';
import type { Rng } from '../rng/Rng';
import {
  addNoiseVp,
  alphasCumprod,
  at,
  clampInPlace,
  f32,
  indexForTimestep,
  item,
  makeBetas,
  npLinspace,
  predictionTypes,
  readNoiseSchedule,
  requireSameLength,
  SchedulerConfig,
  unsupported,
  type PredictionType,
} from './common';
import type { Scheduler, SchedulerName } from './Scheduler';

/** The sigma_data of the consistency-model parameterisation. */
const SIGMA_DATA = 0.5;

export class LCMScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1.0;
  timesteps: readonly number[];
  /** The denoised sample of the last step: the output to decode. */
  denoised: Float32Array | null = null;
  private readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly originalInferenceSteps: number;
  private readonly clipSample: boolean;
  private readonly clipSampleRange: number;
  private readonly predictionType: PredictionType;
  private readonly timestepScaling: number;
  private numInferenceSteps: number | null = null;
  private stepIndex: number | null = null;
  private beginIndex: number | null = null;

  constructor(
    readonly name: SchedulerName,
    raw: Readonly<Record<string, unknown>>,
  ) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
      true,
    );
    this.numTrainTimesteps = schedule.numTrainTimesteps;
    this.alphasCumprod = alphasCumprod(makeBetas(schedule));
    this.finalAlphaCumprod = config.boolean('set_alpha_to_one', true) ? 1 : at(this.alphasCumprod, 0);
    this.originalInferenceSteps = config.integer('original_inference_steps', 50);
    this.clipSample = config.boolean('clip_sample', false);
    this.clipSampleRange = config.number('clip_sample_range', 1.0);
    this.predictionType = config.choice('prediction_type', predictionTypes, 'epsilon');
    if (config.boolean('thresholding', false)) throw unsupported('thresholding', true, 'LCMScheduler');
    this.timestepScaling = config.number('timestep_scaling', 10.0);
    this.timesteps = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  /**
   * Picks `numInferenceSteps` evenly spaced timesteps from the distillation schedule (every k-th
   * training timestep, k = num_train_timesteps / original_inference_steps), highest first.
   */
  setTimesteps(numInferenceSteps: number): void {
    const originalSteps = this.originalInferenceSteps;
    if (originalSteps > this.numTrainTimesteps) {
      throw new EngineError('model', `original_inference_steps (${originalSteps}) exceeds num_train_timesteps.`);
    }
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > originalSteps) {
      throw new EngineError(
        'input',
        `LCM takes between 1 and ${originalSteps} steps (original_inference_steps), got ${numInferenceSteps}.`,
      );
    }
    const k = Math.floor(this.numTrainTimesteps / originalSteps);
    const origin = Array.from({ length: originalSteps }, (_, i) => (originalSteps - i) * k - 1);
    const indices = npLinspace(0, origin.length, numInferenceSteps, false);
    this.timesteps = Array.from(indices, (i) => item(origin, Math.floor(i)));
    this.numInferenceSteps = numInferenceSteps;
    this.stepIndex = null;
    this.beginIndex = null;
    this.denoised = null;
  }

  setBeginIndex(beginIndex: number): void {
    this.beginIndex = beginIndex;
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, rng: Rng): Float32Array {
    requireSameLength(modelOutput, sample, 'step');
    if (this.numInferenceSteps === null) throw new EngineError('runtime', 'setTimesteps must be called before step.');
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? indexForTimestep(this.timesteps, timestep);
    const index = this.stepIndex;
    const prevTimestep = index + 1 < this.timesteps.length ? item(this.timesteps, index + 1) : timestep;
    const alphaProdT = at(this.alphasCumprod, timestep);
    const alphaProdTPrev = prevTimestep >= 0 ? at(this.alphasCumprod, prevTimestep) : this.finalAlphaCumprod;
    const sqrtAlpha = f32(Math.sqrt(alphaProdT));
    const sqrtBeta = f32(Math.sqrt(f32(1 - alphaProdT)));

    // Boundary-condition scalings c_skip and c_out (float32, as the timestep tensor makes them).
    const scaledTimestep = f32(timestep * this.timestepScaling);
    const cSkip = f32(SIGMA_DATA ** 2 / f32(f32(scaledTimestep ** 2) + SIGMA_DATA ** 2));
    const cOut = f32(scaledTimestep / f32(Math.sqrt(f32(f32(scaledTimestep ** 2) + SIGMA_DATA ** 2))));

    const predOriginal = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] as number;
      const m = modelOutput[i] as number;
      if (this.predictionType === 'epsilon') predOriginal[i] = (x - sqrtBeta * m) / sqrtAlpha;
      else if (this.predictionType === 'sample') predOriginal[i] = m;
      else predOriginal[i] = sqrtAlpha * x - sqrtBeta * m;
    }
    if (this.clipSample) clampInPlace(predOriginal, this.clipSampleRange);

    const denoised = new Float32Array(sample.length);
    for (let i = 0; i < denoised.length; i++) {
      denoised[i] = cOut * (predOriginal[i] as number) + cSkip * (sample[i] as number);
    }
    this.denoised = denoised;
    this.stepIndex = index + 1;

    // No noise on the last step, so one-step sampling draws none.
    if (index === this.numInferenceSteps - 1) return denoised.slice();
    const noise = rng.randn(sample.length);
    const sqrtAlphaPrev = f32(Math.sqrt(alphaProdTPrev));
    const sqrtBetaPrev = f32(Math.sqrt(f32(1 - alphaProdTPrev)));
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      prev[i] = sqrtAlphaPrev * (denoised[i] as number) + sqrtBetaPrev * (noise[i] as number);
    }
    return prev;
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseVp(this.alphasCumprod, original, noise, timestep);
  }
}
