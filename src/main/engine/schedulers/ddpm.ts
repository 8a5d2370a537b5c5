/**
 * diffusers' DDPMScheduler (Ho et al. 2020): ancestral sampling of the posterior q(x_t-1 | x_t, x0),
 * with noise from the rng on every step but t = 0. Before `setTimesteps` it walks all training
 * timesteps, as diffusers' does.
 */
import { EngineError } from '../EngineError';
import type { Rng } from '../rng/Rng';
import {
  addNoiseVp,
  alphasCumprod,
  at,
  checkInferenceSteps,
  clampInPlace,
  discreteTimesteps,
  f32,
  item,
  makeBetas,
  predictionTypes,
  readNoiseSchedule,
  requireSameLength,
  SchedulerConfig,
  timestepSpacings,
  unsupported,
  type PredictionType,
  type TimestepSpacing,
} from './common';
import type { Scheduler, SchedulerName } from './Scheduler';

type VarianceType = 'fixed_small' | 'fixed_small_log' | 'fixed_large' | 'fixed_large_log';

export class DDPMScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1.0;
  timesteps: readonly number[];
  denoised: Float32Array | null = null;
  private readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly varianceType: VarianceType;
  private readonly predictionType: PredictionType;
  private readonly clipSample: boolean;
  private readonly clipSampleRange: number;
  private readonly timestepSpacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private numInferenceSteps: number | null = null;

  constructor(
    readonly name: SchedulerName,
    raw: Readonly<Record<string, unknown>>,
  ) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'],
      true,
    );
    this.numTrainTimesteps = schedule.numTrainTimesteps;
    this.alphasCumprod = alphasCumprod(makeBetas(schedule));
    const variance = config.string('variance_type', 'fixed_small');
    if (variance === 'learned' || variance === 'learned_range') {
      throw unsupported('variance_type', variance, 'DDPMScheduler');
    }
    this.varianceType = config.choice(
      'variance_type',
      ['fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log'],
      'fixed_small',
    );
    this.predictionType = config.choice('prediction_type', predictionTypes, 'epsilon');
    if (config.boolean('thresholding', false)) throw unsupported('thresholding', true, 'DDPMScheduler');
    this.clipSample = config.boolean('clip_sample', true);
    this.clipSampleRange = config.number('clip_sample_range', 1.0);
    this.timestepSpacing = config.choice('timestep_spacing', timestepSpacings, 'leading');
    this.stepsOffset = config.integer('steps_offset', 0);
    this.timesteps = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps);
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = discreteTimesteps(
      this.timestepSpacing,
      this.numTrainTimesteps,
      numInferenceSteps,
      this.stepsOffset,
    );
    this.denoised = null;
  }

  setBeginIndex(_beginIndex: number): void {
    // DDPM finds each step from the timestep value itself.
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  /** diffusers' `previous_timestep`: the next entry of the schedule, -1 after the last. */
  previousTimestep(timestep: number): number {
    if (this.numInferenceSteps === null) {
      return timestep - 1;
    }
    const index = this.timesteps.indexOf(timestep);
    if (index < 0) throw new EngineError('input', `Timestep ${timestep} is not in the scheduler's schedule.`);
    return index === this.timesteps.length - 1 ? -1 : item(this.timesteps, index + 1);
  }

  /**
   * diffusers' `_get_variance` for the configured `variance_type`. In float32 like diffusers:
   * `1 - alpha_bar_t / alpha_bar_prev` cancels badly near t = 0, and the rounding shows.
   */
  variance(timestep: number): number {
    const { alphaProdT, alphaProdTPrev, currentBetaT } = this.alphas(timestep);
    // For t > 0, compute the predicted variance βt (see formulas (6) and (7) of the DDPM paper).
    const posterior = Math.max(f32(f32(f32(1 - alphaProdTPrev) / f32(1 - alphaProdT)) * currentBetaT), 1e-20);
    switch (this.varianceType) {
      case 'fixed_small':
        return posterior;
      case 'fixed_small_log':
        return f32(Math.exp(f32(0.5 * f32(Math.log(posterior)))));
      case 'fixed_large':
        return currentBetaT;
      case 'fixed_large_log':
        return f32(Math.log(currentBetaT));
    }
  }

  private alphas(timestep: number): { alphaProdT: number; alphaProdTPrev: number; currentBetaT: number } {
    const prevT = this.previousTimestep(timestep);
    const alphaProdT = at(this.alphasCumprod, timestep);
    const alphaProdTPrev = prevT >= 0 ? at(this.alphasCumprod, prevT) : 1;
    return { alphaProdT, alphaProdTPrev, currentBetaT: f32(1 - f32(alphaProdT / alphaProdTPrev)) };
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, rng: Rng): Float32Array {
    requireSameLength(modelOutput, sample, 'step');
    const { alphaProdT, alphaProdTPrev, currentBetaT } = this.alphas(timestep);
    const betaProdT = f32(1 - alphaProdT);
    const betaProdTPrev = f32(1 - alphaProdTPrev);
    const currentAlphaT = f32(alphaProdT / alphaProdTPrev);
    const sqrtAlpha = f32(Math.sqrt(alphaProdT));
    const sqrtBeta = f32(Math.sqrt(betaProdT));

    const predOriginal = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] as number;
      const m = modelOutput[i] as number;
      if (this.predictionType === 'epsilon') predOriginal[i] = (x - sqrtBeta * m) / sqrtAlpha;
      else if (this.predictionType === 'sample') predOriginal[i] = m;
      else predOriginal[i] = sqrtAlpha * x - sqrtBeta * m;
    }
    if (this.clipSample) clampInPlace(predOriginal, this.clipSampleRange);

    // The posterior mean µ_t (formula (7) of the DDPM paper).
    const originalCoefficient = f32(f32(f32(Math.sqrt(alphaProdTPrev)) * currentBetaT) / betaProdT);
    const sampleCoefficient = f32(f32(f32(Math.sqrt(currentAlphaT)) * betaProdTPrev) / betaProdT);
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      prev[i] = originalCoefficient * (predOriginal[i] as number) + sampleCoefficient * (sample[i] as number);
    }
    if (timestep > 0) {
      const noise = rng.randn(sample.length);
      const variance = this.variance(timestep);
      const std = this.varianceType === 'fixed_small_log' ? variance : f32(Math.sqrt(variance));
      for (let i = 0; i < prev.length; i++) prev[i] = (prev[i] as number) + std * (noise[i] as number);
    }
    this.denoised = predOriginal;
    return prev;
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseVp(this.alphasCumprod, original, noise, timestep);
  }
}
