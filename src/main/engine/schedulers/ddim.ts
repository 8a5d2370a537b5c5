/**
 * diffusers' DDIMScheduler (Song et al. 2020, eq. 12). With eta = 0, the default and what the
 * pipelines pass unless asked, it is deterministic; eta > 0 adds noise drawn from the rng.
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

export class DDIMScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1.0;
  timesteps: readonly number[];
  denoised: Float32Array | null = null;
  private readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly predictionType: PredictionType;
  private readonly clipSample: boolean;
  private readonly clipSampleRange: number;
  private readonly timestepSpacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private numInferenceSteps: number | null = null;

  /** `eta` is the weight of the noise added per step (diffusers' `step(..., eta)`); 0 is DDIM proper. */
  constructor(
    readonly name: SchedulerName,
    raw: Readonly<Record<string, unknown>>,
    private readonly eta = 0,
  ) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
      true,
    );
    this.numTrainTimesteps = schedule.numTrainTimesteps;
    this.alphasCumprod = alphasCumprod(makeBetas(schedule));
    // The final step has no previous alpha: 1 with set_alpha_to_one, else the first alpha.
    this.finalAlphaCumprod = config.boolean('set_alpha_to_one', true) ? 1 : at(this.alphasCumprod, 0);
    this.predictionType = config.choice('prediction_type', predictionTypes, 'epsilon');
    if (config.boolean('thresholding', false)) throw unsupported('thresholding', true, 'DDIMScheduler');
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
    // DDIM finds each step from the timestep value itself.
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  /** diffusers' `_get_variance`: the DDPM posterior variance between `timestep` and `prevTimestep`. */
  variance(timestep: number, prevTimestep: number): number {
    const alphaProdT = at(this.alphasCumprod, timestep);
    const alphaProdTPrev = this.alphaCumprodOrFinal(prevTimestep);
    // In float32 as diffusers computes it: 1 - alpha_bar_t / alpha_bar_prev cancels.
    const betaProdT = f32(1 - alphaProdT);
    const betaProdTPrev = f32(1 - alphaProdTPrev);
    return f32(f32(betaProdTPrev / betaProdT) * f32(1 - f32(alphaProdT / alphaProdTPrev)));
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, rng: Rng): Float32Array {
    requireSameLength(modelOutput, sample, 'step');
    if (this.numInferenceSteps === null) {
      throw new EngineError('runtime', 'setTimesteps must be called before step.');
    }
    const prevTimestep = timestep - Math.floor(this.numTrainTimesteps / this.numInferenceSteps);
    const alphaProdT = at(this.alphasCumprod, timestep);
    const alphaProdTPrev = this.alphaCumprodOrFinal(prevTimestep);
    const betaProdT = f32(1 - alphaProdT);
    const sqrtAlpha = f32(Math.sqrt(alphaProdT));
    const sqrtBeta = f32(Math.sqrt(betaProdT));

    const predOriginal = new Float32Array(sample.length);
    const predEpsilon = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] as number;
      const m = modelOutput[i] as number;
      if (this.predictionType === 'epsilon') {
        predOriginal[i] = (x - sqrtBeta * m) / sqrtAlpha;
        predEpsilon[i] = m;
      } else if (this.predictionType === 'sample') {
        predOriginal[i] = m;
        predEpsilon[i] = (x - sqrtAlpha * m) / sqrtBeta;
      } else {
        predOriginal[i] = sqrtAlpha * x - sqrtBeta * m;
        predEpsilon[i] = sqrtAlpha * m + sqrtBeta * x;
      }
    }
    if (this.clipSample) clampInPlace(predOriginal, this.clipSampleRange);

    const stdDev = f32(this.eta * f32(Math.sqrt(this.variance(timestep, prevTimestep))));
    const directionCoefficient = f32(Math.sqrt(f32(f32(1 - alphaProdTPrev) - f32(stdDev * stdDev))));
    const sqrtAlphaPrev = f32(Math.sqrt(alphaProdTPrev));
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      prev[i] = sqrtAlphaPrev * (predOriginal[i] as number) + directionCoefficient * (predEpsilon[i] as number);
    }
    if (this.eta > 0) {
      const noise = rng.randn(sample.length);
      for (let i = 0; i < prev.length; i++) prev[i] = (prev[i] as number) + stdDev * (noise[i] as number);
    }
    this.denoised = predOriginal;
    return prev;
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseVp(this.alphasCumprod, original, noise, timestep);
  }

  private alphaCumprodOrFinal(timestep: number): number {
    return timestep >= 0 ? at(this.alphasCumprod, timestep) : this.finalAlphaCumprod;
  }
}
