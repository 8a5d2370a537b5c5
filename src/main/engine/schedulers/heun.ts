/**
 * diffusers' HeunDiscreteScheduler (Karras et al. 2022, Algorithm 1 with gamma = 0): every step
 * but the last is an Euler step to the next sigma followed by a correction that averages the two
 * derivatives, so the model is called twice per step and `timesteps` repeats each entry but the
 * first.
 */
import type { Rng } from '../rng/Rng';
import {
  alphasCumprod,
  at,
  checkInferenceSteps,
  clampInPlace,
  exponentialSigmas,
  f32,
  interpAtIndex,
  item,
  karrasSigmas,
  makeBetas,
  predictionTypes,
  readNoiseSchedule,
  SchedulerConfig,
  sigmaSchedulerTimesteps,
  sigmasFromAlphasCumprod,
  sigmaToT,
  timestepSpacings,
  unsupported,
} from './common';
import type { SchedulerName } from './Scheduler';
import { SigmaScheduler } from './sigmaScheduler';

export class HeunDiscreteScheduler extends SigmaScheduler {
  readonly order = 2;
  private readonly useKarrasSigmas: boolean;
  private readonly useExponentialSigmas: boolean;
  private readonly clipSample: boolean;
  private readonly clipSampleRange: number;
  private readonly stepsOffset: number;
  /** The first-order half of the current step; null when the next call is a first-order one. */
  private pending: { derivative: Float32Array; dt: number; sample: Float32Array } | null = null;

  constructor(name: SchedulerName, raw: Readonly<Record<string, unknown>>) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp'],
      false,
    );
    super(
      name,
      schedule.numTrainTimesteps,
      alphasCumprod(makeBetas(schedule)),
      config.choice('prediction_type', predictionTypes, 'epsilon'),
      config.choice('timestep_spacing', timestepSpacings, 'linspace'),
    );
    this.useKarrasSigmas = config.boolean('use_karras_sigmas', false);
    this.useExponentialSigmas = config.boolean('use_exponential_sigmas', false);
    if (config.boolean('use_beta_sigmas', false)) throw unsupported('use_beta_sigmas', true, 'HeunDiscreteScheduler');
    if (this.useKarrasSigmas && this.useExponentialSigmas) {
      throw unsupported('use_exponential_sigmas', true, 'HeunDiscreteScheduler together with use_karras_sigmas');
    }
    this.clipSample = config.boolean('clip_sample', false);
    this.clipSampleRange = config.number('clip_sample_range', 1.0);
    this.stepsOffset = config.integer('steps_offset', 0);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps);
    let timesteps = sigmaSchedulerTimesteps(
      this.timestepSpacing,
      this.numTrainTimesteps,
      numInferenceSteps,
      this.stepsOffset,
    );
    const trainSigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    const logSigmas = trainSigmas.map((s) => f32(Math.log(s)));
    let sigmas: Float64Array = Float64Array.from(timesteps, (t) => interpAtIndex(t, trainSigmas));
    if (this.useKarrasSigmas || this.useExponentialSigmas) {
      const convert = this.useKarrasSigmas ? karrasSigmas : exponentialSigmas;
      sigmas = convert(at(sigmas, sigmas.length - 1), at(sigmas, 0), numInferenceSteps);
      timesteps = Array.from(sigmas, (s) => f32(sigmaToT(s, logSigmas)));
    }
    const single = [...Array.from(sigmas, f32), 0];
    // [s0, s1, s1, s2, s2, ..., 0] and [t0, t1, t1, t2, t2, ...]: one entry per model call.
    const doubledSigmas = [item(single, 0), ...single.slice(1, -1).flatMap((s) => [s, s]), 0];
    const doubledTimesteps = [item(timesteps, 0), ...timesteps.slice(1).flatMap((t) => [t, t])];
    this.pending = null;
    this.resetSchedule(doubledTimesteps, doubledSigmas);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _rng: Rng): Float32Array {
    const index = this.currentIndex(timestep);
    const pending = this.pending;
    const sigma = pending === null ? this.sigmaAt(index) : this.sigmaAt(index - 1);
    const sigmaNext = pending === null ? this.sigmaAt(index + 1) : this.sigmaAt(index);
    // The correction evaluates the model at sigma_next.
    const predOriginal = this.predictOriginal(modelOutput, sample, pending === null ? sigma : sigmaNext);
    if (this.clipSample) clampInPlace(predOriginal, this.clipSampleRange);

    const prev = new Float32Array(sample.length);
    if (pending === null) {
      const derivative = new Float32Array(sample.length);
      const dt = sigmaNext - sigma;
      for (let i = 0; i < prev.length; i++) {
        const x = sample[i] as number;
        const d = (x - (predOriginal[i] as number)) / sigma;
        derivative[i] = d;
        prev[i] = x + d * dt;
      }
      this.pending = { derivative, dt, sample: sample.slice() };
    } else {
      for (let i = 0; i < prev.length; i++) {
        const d = Math.fround(((sample[i] as number) - (predOriginal[i] as number)) / sigmaNext);
        const mean = Math.fround(((pending.derivative[i] as number) + d) / 2);
        prev[i] = (pending.sample[i] as number) + mean * pending.dt;
      }
      this.pending = null;
    }
    this.denoised = predOriginal;
    this.stepIndex = index + 1;
    return prev;
  }
}
