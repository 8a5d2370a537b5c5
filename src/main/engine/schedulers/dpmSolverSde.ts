/**
 * diffusers' DPMSolverSDEScheduler (k-diffusion's `sample_dpmpp_sde`, "DPM++ SDE"): a second-order
 * stochastic step in log-sigma through a midpoint, two model calls per step, with ancestral noise
 * from a Brownian motion over sigma so the two halves of a step see correlated noise.
 *
 * diffusers draws that Brownian motion from a `torchsde.BrownianTree` seeded by
 * `noise_sampler_seed`, whose values no other implementation reproduces. Here it is a Brownian
 * motion with the same law, built point by point from Brownian bridges with normals from the rng:
 * the deterministic part of every step matches diffusers, the noise is statistically equivalent but
 * not the same numbers.
 */
import type { Rng } from '../rng/Rng';
import {
  alphasCumprod,
  at,
  checkInferenceSteps,
  f32,
  interpAtIndex,
  item,
  karrasSigmas,
  makeBetas,
  readNoiseSchedule,
  SchedulerConfig,
  sigmaSchedulerTimesteps,
  sigmasFromAlphasCumprod,
  sigmaToT,
  timestepSpacings,
} from './common';
import type { SchedulerName } from './Scheduler';
import { SigmaScheduler } from './sigmaScheduler';

export class DPMSolverSDEScheduler extends SigmaScheduler {
  readonly order = 2;
  private readonly useKarrasSigmas: boolean;
  private readonly stepsOffset: number;
  /** The sample at the start of the current step and the midpoint sigma, between the two halves. */
  private firstHalf: { sample: Float32Array; midPointSigma: number } | null = null;
  private brownian: BrownianMotion | null = null;

  constructor(name: SchedulerName, raw: Readonly<Record<string, unknown>>) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
      false,
    );
    super(
      name,
      schedule.numTrainTimesteps,
      alphasCumprod(makeBetas(schedule)),
      config.choice('prediction_type', ['epsilon', 'v_prediction'], 'epsilon'),
      config.choice('timestep_spacing', timestepSpacings, 'linspace'),
    );
    this.useKarrasSigmas = config.boolean('use_karras_sigmas', false);
    this.stepsOffset = config.integer('steps_offset', 0);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps);
    // diffusers keeps these timesteps in float64.
    let timesteps = sigmaSchedulerTimesteps(
      this.timestepSpacing,
      this.numTrainTimesteps,
      numInferenceSteps,
      this.stepsOffset,
    );
    const trainSigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    const logSigmas = trainSigmas.map((s) => f32(Math.log(s)));
    let sigmas: Float64Array = Float64Array.from(timesteps, (t) => interpAtIndex(t, trainSigmas));
    if (this.useKarrasSigmas) {
      sigmas = karrasSigmas(at(sigmas, sigmas.length - 1), at(sigmas, 0), numInferenceSteps);
      timesteps = Array.from(sigmas, (s) => sigmaToT(s, logSigmas));
    }
    // The model sees the midpoint (in log-sigma) of each step on its second call.
    const midpointTimesteps = Array.from({ length: sigmas.length - 1 }, (_, i) =>
      sigmaToT(Math.sqrt(at(sigmas, i) * at(sigmas, i + 1)), logSigmas),
    );
    const single = [...Array.from(sigmas, f32), 0];
    const doubledSigmas = [item(single, 0), ...single.slice(1, -1).flatMap((s) => [s, s]), 0];
    const doubledTimesteps = [
      item(timesteps, 0),
      ...timesteps.slice(1).flatMap((t, i) => [item(midpointTimesteps, i), t]),
    ];
    this.firstHalf = null;
    this.brownian = null;
    this.resetSchedule(doubledTimesteps, doubledSigmas);
  }

  override scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    this.currentIndex(timestep);
    if (this.firstHalf === null) return super.scaleModelInput(sample, timestep);
    const scale = 1 / Math.sqrt(this.firstHalf.midPointSigma ** 2 + 1);
    return sample.map((x) => x * scale);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, rng: Rng): Float32Array {
    const index = this.currentIndex(timestep);
    if (this.brownian === null) {
      const positive = this.sigmas.filter((s) => s > 0);
      this.brownian = new BrownianMotion(Math.min(...positive), Math.max(...this.sigmas), sample.length, rng);
    }
    const firstHalf = this.firstHalf;
    const sigma = firstHalf === null ? this.sigmaAt(index) : this.sigmaAt(index - 1);
    const sigmaNext = firstHalf === null ? this.sigmaAt(index + 1) : this.sigmaAt(index);
    // Work in t = -log(sigma); the step goes through the midpoint in t.
    const t = -Math.log(sigma);
    const tNext = -Math.log(sigmaNext);
    const tProposed = t + (tNext - t) * 0.5;
    const sigmaInput = firstHalf === null ? sigma : Math.exp(-tProposed);
    const predOriginal = this.predictOriginal(modelOutput, sample, sigmaInput);
    this.denoised = predOriginal;
    this.stepIndex = index + 1;

    const prev = new Float32Array(sample.length);
    if (sigmaNext === 0) {
      const dt = sigmaNext - sigma;
      for (let i = 0; i < prev.length; i++) {
        const x = sample[i] as number;
        prev[i] = x + ((x - (predOriginal[i] as number)) / sigma) * dt;
      }
      return prev;
    }

    const target = firstHalf === null ? tProposed : tNext;
    const from = firstHalf === null ? sample : firstHalf.sample;
    const sigmaFrom = Math.exp(-t);
    const sigmaTo = Math.exp(-target);
    const sigmaUp = Math.min(sigmaTo, Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2));
    const sigmaDown = Math.sqrt(sigmaTo ** 2 - sigmaUp ** 2);
    const ancestralT = -Math.log(sigmaDown);
    const sampleCoefficient = Math.exp(-ancestralT) / sigmaFrom;
    const originalCoefficient = -Math.expm1(t - ancestralT);
    const noise = this.brownian.normalizedIncrement(sigmaFrom, sigmaTo, rng);
    for (let i = 0; i < prev.length; i++) {
      prev[i] =
        Math.fround(sampleCoefficient * (from[i] as number) + originalCoefficient * (predOriginal[i] as number)) +
        (noise[i] as number) * sigmaUp;
    }
    this.firstHalf = firstHalf === null ? { sample: sample.slice(), midPointSigma: sigmaTo } : null;
    return prev;
  }
}

/**
 * A Brownian motion W over [tMin, tMax] with W(tMin) = 0, sampled lazily: each new time is drawn
 * from the Brownian bridge between its known neighbours, so every query is consistent with all the
 * earlier ones, as torchsde's BrownianTree is.
 */
export class BrownianMotion {
  private readonly times: number[];
  private readonly values: Float32Array[];

  constructor(
    tMin: number,
    tMax: number,
    private readonly size: number,
    rng: Rng,
  ) {
    const end = rng.randn(size).map((z) => z * Math.sqrt(tMax - tMin));
    this.times = [tMin, tMax];
    this.values = [new Float32Array(size), end];
  }

  /** (W(b) - W(a)) / sqrt(|b - a|): a standard normal per element, correlated across queries. */
  normalizedIncrement(a: number, b: number, rng: Rng): Float32Array {
    const wa = this.at(a, rng);
    const wb = this.at(b, rng);
    const scale = 1 / Math.sqrt(Math.abs(b - a));
    const out = new Float32Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = ((wb[i] as number) - (wa[i] as number)) * scale;
    return out;
  }

  private at(t: number, rng: Rng): Float32Array {
    const times = this.times;
    const clamped = Math.min(Math.max(t, item(times, 0)), item(times, times.length - 1));
    const hi = times.findIndex((s) => s >= clamped);
    if (item(times, hi) === clamped) return item(this.values, hi);
    const lo = hi - 1;
    const t0 = item(times, lo);
    const t1 = item(times, hi);
    const w0 = item(this.values, lo);
    const w1 = item(this.values, hi);
    const fraction = (clamped - t0) / (t1 - t0);
    const std = Math.sqrt(((clamped - t0) * (t1 - clamped)) / (t1 - t0));
    const z = rng.randn(this.size);
    const w = new Float32Array(this.size);
    for (let i = 0; i < w.length; i++) {
      const mean = (w0[i] as number) + fraction * ((w1[i] as number) - (w0[i] as number));
      w[i] = mean + std * (z[i] as number);
    }
    times.splice(hi, 0, clamped);
    this.values.splice(hi, 0, w);
    return w;
  }
}
