/**
 * diffusers' PNDMScheduler (Liu et al. 2022, pseudo numerical methods): Runge-Kutta warm-up steps
 * (PRK) then a fourth-order linear multistep method (PLMS) on the DDIM transfer of formula (9).
 * Stable Diffusion's configs set `skip_prk_steps`, which replaces the warm-up with crowsonkb's PLMS
 * start (one extra model call on the first step: the schedule repeats its second timestep).
 */
import { EngineError } from '../EngineError';
import type { Rng } from '../rng/Rng';
import {
  addNoiseVp,
  alphasCumprod,
  at,
  checkInferenceSteps,
  f32,
  item,
  makeBetas,
  npArange,
  npLinspace,
  readNoiseSchedule,
  requireSameLength,
  roundHalfEven,
  SchedulerConfig,
  timestepSpacings,
  type TimestepSpacing,
} from './common';
import type { Scheduler, SchedulerName } from './Scheduler';

/** F-PNDM: the Runge-Kutta warm-up of the paper (formulas (9), (12), (13), Algorithm 2). */
const PNDM_ORDER = 4;

export class PNDMScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1.0;
  readonly denoised = null;
  timesteps: readonly number[] = [];
  private prkTimesteps: readonly number[] = [];
  private readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly skipPrkSteps: boolean;
  private readonly predictionType: 'epsilon' | 'v_prediction';
  private readonly timestepSpacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private numInferenceSteps: number | null = null;
  // Running values of the multistep method.
  private counter = 0;
  private ets: Float32Array[] = [];
  private curModelOutput: Float32Array | null = null;
  private curSample: Float32Array | null = null;

  constructor(
    readonly name: SchedulerName,
    raw: Readonly<Record<string, unknown>>,
  ) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
      false,
    );
    this.numTrainTimesteps = schedule.numTrainTimesteps;
    this.alphasCumprod = alphasCumprod(makeBetas(schedule));
    this.finalAlphaCumprod = config.boolean('set_alpha_to_one', false) ? 1 : at(this.alphasCumprod, 0);
    this.skipPrkSteps = config.boolean('skip_prk_steps', false);
    this.predictionType = config.choice('prediction_type', ['epsilon', 'v_prediction'], 'epsilon');
    this.timestepSpacing = config.choice('timestep_spacing', timestepSpacings, 'leading');
    this.stepsOffset = config.integer('steps_offset', 0);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps);
    this.numInferenceSteps = numInferenceSteps;
    const base = this.ascendingTimesteps(numInferenceSteps);
    let plms: number[];
    if (this.skipPrkSteps) {
      // PLMS from the start (crowsonkb's sampler, CompVis/latent-diffusion#51): the first step is
      // taken twice, once as Euler and once as its trapezoidal correction.
      this.prkTimesteps = [];
      plms = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      const half = Math.floor(Math.floor(this.numTrainTimesteps / numInferenceSteps) / 2);
      const prk = base.slice(-PNDM_ORDER).flatMap((t) => [t, t + half]);
      this.prkTimesteps = prk
        .slice(0, -1)
        .flatMap((t) => [t, t])
        .slice(1, -1)
        .reverse();
      plms = base.slice(0, -3).reverse();
    }
    this.timesteps = [...this.prkTimesteps, ...plms];
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  setBeginIndex(_beginIndex: number): void {
    // PNDM counts its own model calls; diffusers has no begin index for it.
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _rng: Rng): Float32Array {
    requireSameLength(modelOutput, sample, 'step');
    const numInferenceSteps = this.numInferenceSteps;
    if (numInferenceSteps === null) throw new EngineError('runtime', 'setTimesteps must be called before step.');
    return this.counter < this.prkTimesteps.length && !this.skipPrkSteps
      ? this.stepPrk(modelOutput, timestep, sample, numInferenceSteps)
      : this.stepPlms(modelOutput, timestep, sample, numInferenceSteps);
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseVp(this.alphasCumprod, original, noise, timestep);
  }

  /** `_timesteps` of diffusers: the schedule in ascending order, per `timestep_spacing`. */
  private ascendingTimesteps(n: number): number[] {
    const trainSteps = this.numTrainTimesteps;
    if (this.timestepSpacing === 'linspace') return Array.from(npLinspace(0, trainSteps - 1, n), roundHalfEven);
    if (this.timestepSpacing === 'leading') {
      const ratio = Math.floor(trainSteps / n);
      return Array.from({ length: n }, (_, i) => i * ratio + this.stepsOffset);
    }
    return Array.from(npArange(trainSteps, 0, -trainSteps / n), (t) => roundHalfEven(t) - 1).reverse();
  }

  /** Runge-Kutta: four model calls per step, accumulated with weights 1/6, 1/3, 1/3, 1/6. */
  private stepPrk(modelOutput: Float32Array, timestep: number, sample: Float32Array, n: number): Float32Array {
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(this.numTrainTimesteps / n) / 2);
    const prevTimestep = timestep - diffToPrev;
    const stepTimestep = item(this.prkTimesteps, Math.floor(this.counter / 4) * 4);

    let output = modelOutput;
    const phase = this.counter % 4;
    if (phase === 0) {
      this.curModelOutput = accumulate(null, modelOutput, 1 / 6);
      this.ets.push(modelOutput);
      this.curSample = sample;
    } else if (phase === 1 || phase === 2) {
      this.curModelOutput = accumulate(this.curModelOutput, modelOutput, 1 / 3);
    } else {
      output = accumulate(this.curModelOutput, modelOutput, 1 / 6);
      this.curModelOutput = null;
    }
    const prev = this.prevSample(this.curSample ?? sample, stepTimestep, prevTimestep, output);
    this.counter += 1;
    return prev;
  }

  /** Linear multistep with the last (up to four) model outputs. */
  private stepPlms(modelOutput: Float32Array, timestep: number, sample: Float32Array, n: number): Float32Array {
    if (!this.skipPrkSteps && this.ets.length < 3) {
      throw new EngineError('runtime', 'PNDM can only run PLMS steps after 12 Runge-Kutta steps.');
    }
    const ratio = Math.floor(this.numTrainTimesteps / n);
    let fromTimestep = timestep;
    let prevTimestep = timestep - ratio;
    if (this.counter !== 1) {
      this.ets.push(modelOutput);
    } else {
      prevTimestep = timestep;
      fromTimestep = timestep + ratio;
    }

    let output: Float32Array;
    let from = sample;
    const ets = this.ets;
    const e = (k: number) => item(ets, ets.length - k);
    if (ets.length === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = sample;
    } else if (ets.length === 1 && this.counter === 1) {
      output = linear([modelOutput, e(1)], [1 / 2, 1 / 2]);
      from = this.curSample ?? sample;
      this.curSample = null;
    } else if (ets.length === 2) {
      output = linear([e(1), e(2)], [3 / 2, -1 / 2]);
    } else if (ets.length === 3) {
      output = linear([e(1), e(2), e(3)], [23 / 12, -16 / 12, 5 / 12]);
    } else {
      output = linear([e(1), e(2), e(3), e(4)], [55 / 24, -59 / 24, 37 / 24, -9 / 24]);
    }
    if (ets.length > PNDM_ORDER) ets.shift();

    const prev = this.prevSample(from, fromTimestep, prevTimestep, output);
    this.counter += 1;
    return prev;
  }

  /** Formula (9) of the PNDM paper: x_(t−δ) from x_t and the noise estimate. */
  private prevSample(sample: Float32Array, timestep: number, prevTimestep: number, output: Float32Array): Float32Array {
    const alphaProdT = at(this.alphasCumprod, timestep);
    const alphaProdTPrev = prevTimestep >= 0 ? at(this.alphasCumprod, prevTimestep) : this.finalAlphaCumprod;
    // Scalars in float32, as diffusers computes them: alpha_bar_prev - alpha_bar_t cancels.
    const betaProdT = f32(1 - alphaProdT);
    const betaProdTPrev = f32(1 - alphaProdTPrev);
    const sampleCoefficient = f32(Math.sqrt(f32(alphaProdTPrev / alphaProdT)));
    const outputDenominator = f32(
      f32(alphaProdT * f32(Math.sqrt(betaProdTPrev))) +
        f32(Math.sqrt(f32(f32(alphaProdT * betaProdT) * alphaProdTPrev))),
    );
    const alphaDifference = f32(alphaProdTPrev - alphaProdT);
    const sqrtAlpha = f32(Math.sqrt(alphaProdT));
    const sqrtBeta = f32(Math.sqrt(betaProdT));
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      const x = sample[i] as number;
      let epsilon = output[i] as number;
      if (this.predictionType === 'v_prediction') epsilon = Math.fround(sqrtAlpha * epsilon + sqrtBeta * x);
      prev[i] = f32(sampleCoefficient * x) - f32(f32(alphaDifference * epsilon) / outputDenominator);
    }
    return prev;
  }
}

/** `(acc ?? 0) + weight * x`, into a new array. */
function accumulate(acc: Float32Array | null, x: Float32Array, weight: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (acc === null ? 0 : (acc[i] as number)) + weight * (x[i] as number);
  return out;
}

/** Σ weights[k] * xs[k], into a new array. */
function linear(xs: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const first = item(xs, 0);
  const out = new Float32Array(first.length);
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let k = 0; k < xs.length; k++) sum += item(weights, k) * (item(xs, k)[i] as number);
    out[i] = sum;
  }
  return out;
}
