/**
 * diffusers' EulerDiscreteScheduler (Karras et al. 2022, Algorithm 2, as in k-diffusion), with
 * s_churn = 0: deterministic, so the rng is never drawn from.
 */
import type { Rng } from '../rng/Rng';
import {
  alphasCumprod,
  at,
  checkInferenceSteps,
  exponentialSigmas,
  f32,
  interpAtIndex,
  karrasSigmas,
  makeBetas,
  predictionTypes,
  readNoiseSchedule,
  SchedulerConfig,
  sigmaSchedulerTimesteps,
  sigmasFromAlphasCumprod,
  sigmaToT,
  timestepSpacings,
  torchLinspaceF32,
  unsupported,
} from './common';
import type { SchedulerName } from './Scheduler';
import { SigmaScheduler } from './sigmaScheduler';

export class EulerDiscreteScheduler extends SigmaScheduler {
  readonly order = 1;
  private readonly interpolationType: 'linear' | 'log_linear';
  private readonly useKarrasSigmas: boolean;
  private readonly useExponentialSigmas: boolean;
  private readonly sigmaMin: number | null;
  private readonly sigmaMax: number | null;
  private readonly continuousTimesteps: boolean;
  private readonly stepsOffset: number;
  private readonly finalSigmasType: 'zero' | 'sigma_min';

  constructor(name: SchedulerName, raw: Readonly<Record<string, unknown>>) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
      true,
    );
    const alphas = alphasCumprod(makeBetas(schedule));
    // Close to 0 without being 0, so the first sigma is not infinite (fp16's smallest subnormal).
    if (schedule.rescaleBetasZeroSnr) alphas[alphas.length - 1] = 2 ** -24;
    const predictionType = config.choice('prediction_type', predictionTypes, 'epsilon');
    super(
      name,
      schedule.numTrainTimesteps,
      alphas,
      predictionType,
      config.choice('timestep_spacing', timestepSpacings, 'linspace'),
    );
    this.interpolationType = config.choice('interpolation_type', ['linear', 'log_linear'], 'linear');
    this.useKarrasSigmas = config.boolean('use_karras_sigmas', false);
    this.useExponentialSigmas = config.boolean('use_exponential_sigmas', false);
    if (config.boolean('use_beta_sigmas', false)) throw unsupported('use_beta_sigmas', true, 'EulerDiscreteScheduler');
    if (this.useKarrasSigmas && this.useExponentialSigmas) {
      throw unsupported('use_exponential_sigmas', true, 'EulerDiscreteScheduler together with use_karras_sigmas');
    }
    this.sigmaMin = config.optionalNumber('sigma_min');
    this.sigmaMax = config.optionalNumber('sigma_max');
    this.continuousTimesteps =
      config.choice('timestep_type', ['discrete', 'continuous'], 'discrete') === 'continuous' &&
      predictionType === 'v_prediction';
    this.stepsOffset = config.integer('steps_offset', 0);
    this.finalSigmasType = config.choice('final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    if (this.continuousTimesteps) {
      this.timesteps = this.sigmas.slice(0, -1).map((s) => f32(0.25 * Math.log(s)));
    }
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
    let sigmas: Float64Array =
      this.interpolationType === 'linear'
        ? Float64Array.from(timesteps, (t) => interpAtIndex(t, trainSigmas))
        : torchLinspaceF32(
            Math.log(at(trainSigmas, trainSigmas.length - 1)),
            Math.log(at(trainSigmas, 0)),
            numInferenceSteps + 1,
          ).map((l) => f32(Math.exp(l)));

    if (this.useKarrasSigmas || this.useExponentialSigmas) {
      const sigmaMin = this.sigmaMin ?? at(sigmas, sigmas.length - 1);
      const sigmaMax = this.sigmaMax ?? at(sigmas, 0);
      sigmas = (this.useKarrasSigmas ? karrasSigmas : exponentialSigmas)(sigmaMin, sigmaMax, numInferenceSteps);
      timesteps = Array.from(sigmas, (s) => f32(sigmaToT(s, logSigmas)));
    }

    const sigmaLast = this.finalSigmasType === 'sigma_min' ? this.trainingSigmaMin() : 0;
    const allSigmas = [...Array.from(sigmas, f32), sigmaLast];
    if (this.continuousTimesteps) timesteps = allSigmas.slice(0, -1).map((s) => f32(0.25 * Math.log(s)));
    this.resetSchedule(timesteps, allSigmas);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _rng: Rng): Float32Array {
    const index = this.currentIndex(timestep);
    const sigma = this.sigmaAt(index);
    const predOriginal = this.predictOriginal(modelOutput, sample, sigma);
    const dt = this.sigmaAt(index + 1) - sigma;
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      const x = sample[i] as number;
      const derivative = (x - (predOriginal[i] as number)) / sigma;
      prev[i] = x + derivative * dt;
    }
    this.denoised = predOriginal;
    this.stepIndex = index + 1;
    return prev;
  }
}
