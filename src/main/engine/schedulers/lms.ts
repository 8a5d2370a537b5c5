/**
 * diffusers' LMSDiscreteScheduler (k-diffusion's `sample_lms`): a linear multistep method over the
 * last (up to) four derivatives, whose coefficients integrate the Lagrange basis polynomials over
 * the step in sigma. diffusers integrates them with `scipy.integrate.quad(epsrel=1e-4)`; we use an
 * adaptive Simpson rule, exact on these (at most cubic) polynomials.
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
  unsupported,
} from './common';
import type { SchedulerName } from './Scheduler';
import { SigmaScheduler } from './sigmaScheduler';

const MAX_ORDER = 4;

export class LMSDiscreteScheduler extends SigmaScheduler {
  readonly order = 1;
  private readonly useKarrasSigmas: boolean;
  private readonly useExponentialSigmas: boolean;
  private readonly stepsOffset: number;
  /** The latest derivatives, oldest first (at most MAX_ORDER). */
  private derivatives: Float32Array[] = [];

  constructor(name: SchedulerName, raw: Readonly<Record<string, unknown>>) {
    const config = new SchedulerConfig(raw);
    const schedule = readNoiseSchedule(
      config,
      { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' },
      ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
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
    if (config.boolean('use_beta_sigmas', false)) throw unsupported('use_beta_sigmas', true, 'LMSDiscreteScheduler');
    if (this.useKarrasSigmas && this.useExponentialSigmas) {
      throw unsupported('use_exponential_sigmas', true, 'LMSDiscreteScheduler together with use_karras_sigmas');
    }
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
    this.derivatives = [];
    this.resetSchedule(timesteps, [...sigmas, 0]);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _rng: Rng): Float32Array {
    const index = this.currentIndex(timestep);
    const sigma = this.sigmaAt(index);
    const predOriginal = this.predictOriginal(modelOutput, sample, sigma);
    const derivative = new Float32Array(sample.length);
    for (let i = 0; i < derivative.length; i++) {
      derivative[i] = ((sample[i] as number) - (predOriginal[i] as number)) / sigma;
    }
    this.derivatives.push(derivative);
    if (this.derivatives.length > MAX_ORDER) this.derivatives.shift();

    // The order follows the step index, not the derivatives at hand: started mid-way (img2img),
    // diffusers pairs the high-order coefficients with the few derivatives it has (zip truncates).
    const order = Math.min(index + 1, MAX_ORDER);
    const terms = [...this.derivatives].reverse().map((d, k) => ({
      coefficient: this.lmsCoefficient(order, index, k),
      derivative: d,
    }));
    terms.length = Math.min(terms.length, order);
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      let update = 0;
      for (const { coefficient, derivative: d } of terms) update += coefficient * (d[i] as number);
      prev[i] = (sample[i] as number) + Math.fround(update);
    }
    this.denoised = predOriginal;
    this.stepIndex = index + 1;
    return prev;
  }

  /** ∫ over [sigma_t, sigma_t+1] of the Lagrange basis polynomial for node `currentOrder`. */
  private lmsCoefficient(order: number, t: number, currentOrder: number): number {
    const nodeSigma = (k: number) => this.sigmaAt(t - k);
    const basis = (tau: number): number => {
      let product = 1;
      for (let k = 0; k < order; k++) {
        if (k === currentOrder) continue;
        product *= (tau - nodeSigma(k)) / (nodeSigma(currentOrder) - nodeSigma(k));
      }
      return product;
    };
    return adaptiveSimpson(basis, this.sigmaAt(t), this.sigmaAt(t + 1), 1e-4);
  }
}

/**
 * Adaptive Simpson quadrature with Richardson correction, to relative tolerance `epsRel` (or
 * scipy's default absolute 1.49e-8 when the integral is near 0).
 */
export function adaptiveSimpson(f: (x: number) => number, a: number, b: number, epsRel: number): number {
  const fa = f(a);
  const fb = f(b);
  const fm = f((a + b) / 2);
  const whole = ((b - a) / 6) * (fa + 4 * fm + fb);
  const tolerance = Math.max(1.49e-8, epsRel * Math.abs(whole));
  return simpsonStep(f, a, b, fa, fm, fb, whole, tolerance, 50);
}

function simpsonStep(
  f: (x: number) => number,
  a: number,
  b: number,
  fa: number,
  fm: number,
  fb: number,
  whole: number,
  tolerance: number,
  depth: number,
): number {
  const m = (a + b) / 2;
  const flm = f((a + m) / 2);
  const frm = f((m + b) / 2);
  const left = ((m - a) / 6) * (fa + 4 * flm + fm);
  const right = ((b - m) / 6) * (fm + 4 * frm + fb);
  const error = left + right - whole;
  if (depth <= 0 || Math.abs(error) <= 15 * tolerance) return left + right + error / 15;
  return (
    simpsonStep(f, a, m, fa, flm, fm, left, tolerance / 2, depth - 1) +
    simpsonStep(f, m, b, fm, frm, fb, right, tolerance / 2, depth - 1)
  );
}
