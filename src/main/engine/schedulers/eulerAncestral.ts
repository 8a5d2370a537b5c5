/**
 * diffusers' EulerAncestralDiscreteScheduler (k-diffusion's `sample_euler_ancestral`): an Euler step
 * down to sigma_down, then fresh noise of std sigma_up, drawn from the rng on every step (the last
 * included, where sigma_up is 0), as diffusers draws it.
 */
import type { Rng } from '../rng/Rng';
import {
  alphasCumprod,
  checkInferenceSteps,
  interpAtIndex,
  makeBetas,
  readNoiseSchedule,
  SchedulerConfig,
  sigmaSchedulerTimesteps,
  sigmasFromAlphasCumprod,
  timestepSpacings,
} from './common';
import type { SchedulerName } from './Scheduler';
import { SigmaScheduler } from './sigmaScheduler';

export class EulerAncestralDiscreteScheduler extends SigmaScheduler {
  readonly order = 1;
  private readonly stepsOffset: number;

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
    const predictionType = config.choice('prediction_type', ['epsilon', 'v_prediction'], 'epsilon');
    super(
      name,
      schedule.numTrainTimesteps,
      alphas,
      predictionType,
      config.choice('timestep_spacing', timestepSpacings, 'linspace'),
    );
    this.stepsOffset = config.integer('steps_offset', 0);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps);
    const timesteps = sigmaSchedulerTimesteps(
      this.timestepSpacing,
      this.numTrainTimesteps,
      numInferenceSteps,
      this.stepsOffset,
    );
    const trainSigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    this.resetSchedule(timesteps, [...timesteps.map((t) => interpAtIndex(t, trainSigmas)), 0]);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, rng: Rng): Float32Array {
    const index = this.currentIndex(timestep);
    const sigmaFrom = this.sigmaAt(index);
    const sigmaTo = this.sigmaAt(index + 1);
    const predOriginal = this.predictOriginal(modelOutput, sample, sigmaFrom);
    const sigmaUp = Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2);
    const sigmaDown = Math.sqrt(sigmaTo ** 2 - sigmaUp ** 2);
    const dt = sigmaDown - sigmaFrom;
    const noise = rng.randn(sample.length);
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      const x = sample[i] as number;
      const derivative = (x - (predOriginal[i] as number)) / sigmaFrom;
      prev[i] = Math.fround(x + derivative * dt) + (noise[i] as number) * sigmaUp;
    }
    this.denoised = predOriginal;
    this.stepIndex = index + 1;
    return prev;
  }
}
