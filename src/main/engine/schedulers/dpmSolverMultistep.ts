/**
 * diffusers' DPMSolverMultistepScheduler: DPM-Solver (Lu et al. 2022) and DPM-Solver++ (Lu et al.
 * 2022b) multistep solvers of orders 1–3, ODE or SDE variants. "DPM++ 2M" is `dpmsolver++` of order
 * 2 with the midpoint second-order update; "DPM++ 2M Karras" the same on Karras sigmas.
 */
import { EngineError } from '../EngineError';
import type { Rng } from '../rng/Rng';
import {
  alphasCumprod,
  at,
  checkInferenceSteps,
  f32,
  indexForTimestep,
  item,
  karrasSigmas,
  makeBetas,
  npArange,
  npLinspace,
  predictionTypes,
  readNoiseSchedule,
  requireSameLength,
  roundHalfEven,
  SchedulerConfig,
  sigmasFromAlphasCumprod,
  sigmaToT,
  interpAtIndex,
  timestepSpacings,
  unsupported,
  type PredictionType,
  type TimestepSpacing,
} from './common';
import type { Scheduler, SchedulerName } from './Scheduler';

type AlgorithmType = 'dpmsolver++' | 'dpmsolver' | 'sde-dpmsolver++' | 'sde-dpmsolver';

/** alpha_t and sigma_t of the VP process at EDM noise level `sigma`. */
function alphaSigma(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigma: sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1.0;
  timesteps: readonly number[];
  denoised: Float32Array | null = null;
  private sigmas: readonly number[];
  private readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly solverOrder: number;
  private readonly predictionType: PredictionType;
  private readonly algorithmType: AlgorithmType;
  private readonly solverType: 'midpoint' | 'heun';
  private readonly lowerOrderFinal: boolean;
  private readonly eulerAtFinal: boolean;
  private readonly useKarrasSigmas: boolean;
  private readonly useLuLambdas: boolean;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  private readonly lambdaMinClipped: number;
  private readonly timestepSpacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private numInferenceSteps: number | null = null;
  /** The last `solverOrder` converted model outputs, oldest first (null before they exist). */
  private modelOutputs: (Float32Array | null)[];
  private lowerOrderNums = 0;
  private stepIndex: number | null = null;
  private beginIndex: number | null = null;

  constructor(
    readonly name: SchedulerName,
    raw: Readonly<Record<string, unknown>>,
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
    // Close to 0 without being 0, so the first sigma is not infinite (fp16's smallest subnormal).
    if (schedule.rescaleBetasZeroSnr) this.alphasCumprod[this.alphasCumprod.length - 1] = 2 ** -24;
    this.solverOrder = config.integer('solver_order', 2);
    if (this.solverOrder < 1 || this.solverOrder > 3) throw unsupported('solver_order', this.solverOrder, this.kind());
    this.predictionType = config.choice('prediction_type', predictionTypes, 'epsilon');
    if (config.boolean('thresholding', false)) throw unsupported('thresholding', true, this.kind());
    // A config saved by DEIS or UniPC names their own solvers; diffusers maps them, as here.
    const algorithm = config.string('algorithm_type', 'dpmsolver++');
    this.algorithmType =
      algorithm === 'deis'
        ? 'dpmsolver++'
        : config.choice(
            'algorithm_type',
            ['dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'sde-dpmsolver'],
            'dpmsolver++',
          );
    const solver = config.string('solver_type', 'midpoint');
    this.solverType = ['logrho', 'bh1', 'bh2'].includes(solver)
      ? 'midpoint'
      : config.choice('solver_type', ['midpoint', 'heun'], 'midpoint');
    this.lowerOrderFinal = config.boolean('lower_order_final', true);
    this.eulerAtFinal = config.boolean('euler_at_final', false);
    this.useKarrasSigmas = config.boolean('use_karras_sigmas', false);
    this.useLuLambdas = config.boolean('use_lu_lambdas', false);
    for (const key of ['use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas']) {
      if (config.boolean(key, false)) throw unsupported(key, true, this.kind());
    }
    const variance = config.string('variance_type', '');
    if (variance !== '') throw unsupported('variance_type', variance, this.kind());
    this.finalSigmasType = config.choice('final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    if (this.finalSigmasType === 'zero' && !this.algorithmType.endsWith('++')) {
      throw new EngineError(
        'model',
        `final_sigmas_type "zero" is not supported for algorithm_type ${this.algorithmType}; choose "sigma_min".`,
        'scheduler/scheduler_config.json',
      );
    }
    this.lambdaMinClipped = config.number('lambda_min_clipped', -Infinity);
    this.timestepSpacing = config.choice('timestep_spacing', timestepSpacings, 'linspace');
    this.stepsOffset = config.integer('steps_offset', 0);
    this.timesteps = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
    this.sigmas = Array.from(sigmasFromAlphasCumprod(this.alphasCumprod));
    this.modelOutputs = new Array<Float32Array | null>(this.solverOrder).fill(null);
  }

  private kind(): string {
    return 'DPMSolverMultistepScheduler';
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps);
    const trainSigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    const logSigmas = trainSigmas.map((s) => f32(Math.log(s)));
    let timesteps = this.spacedTimesteps(numInferenceSteps);
    let sigmas: number[];
    if (this.useKarrasSigmas) {
      sigmas = Array.from(karrasSigmas(at(trainSigmas, 0), at(trainSigmas, trainSigmas.length - 1), numInferenceSteps));
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToT(s, logSigmas)));
    } else if (this.useLuLambdas) {
      const lambdaMin = at(logSigmas, 0);
      const lambdaMax = at(logSigmas, logSigmas.length - 1);
      sigmas = Array.from(npLinspace(0, 1, numInferenceSteps), (r) =>
        Math.exp(lambdaMax + r * (lambdaMin - lambdaMax)),
      );
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToT(s, logSigmas)));
    } else {
      sigmas = timesteps.map((t) => interpAtIndex(t, trainSigmas));
    }
    const sigmaLast =
      this.finalSigmasType === 'sigma_min'
        ? f32(Math.sqrt(f32(f32(1 - at(this.alphasCumprod, 0)) / at(this.alphasCumprod, 0))))
        : 0;
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.timesteps = timesteps;
    this.numInferenceSteps = timesteps.length;
    this.modelOutputs = new Array<Float32Array | null>(this.solverOrder).fill(null);
    this.lowerOrderNums = 0;
    this.stepIndex = null;
    this.beginIndex = null;
    this.denoised = null;
  }

  /** Integer timesteps per `timestep_spacing`, over the range `lambda_min_clipped` leaves. */
  private spacedTimesteps(n: number): number[] {
    // Clipping the minimum of lambda(t) keeps the cosine schedule stable: drop the trailing
    // timesteps whose lambda is below the clip (torch.searchsorted over the flipped lambdas).
    let clippedIdx = 0;
    for (let t = this.numTrainTimesteps - 1; t >= 0; t--) {
      const a = at(this.alphasCumprod, t);
      const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
      if (lambda < this.lambdaMinClipped) clippedIdx++;
      else break;
    }
    const lastTimestep = this.numTrainTimesteps - clippedIdx;
    if (this.timestepSpacing === 'linspace') {
      return Array.from(npLinspace(0, lastTimestep - 1, n + 1), roundHalfEven)
        .reverse()
        .slice(0, -1);
    }
    if (this.timestepSpacing === 'leading') {
      const ratio = Math.floor(lastTimestep / (n + 1));
      return Array.from({ length: n }, (_, i) => (n - i) * ratio + this.stepsOffset);
    }
    return Array.from(npArange(lastTimestep, 0, -this.numTrainTimesteps / n), (t) => roundHalfEven(t) - 1);
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
    const index = this.currentIndex(timestep);
    const count = this.timesteps.length;
    // Lower orders on the last steps improve numerical stability for small numbers of steps.
    const lowerOrderFinal =
      index === count - 1 &&
      (this.eulerAtFinal || (this.lowerOrderFinal && count < 15) || this.finalSigmasType === 'zero');
    const lowerOrderSecond = index === count - 2 && this.lowerOrderFinal && count < 15;

    const converted = this.convertModelOutput(modelOutput, sample, index);
    this.modelOutputs = [...this.modelOutputs.slice(1), converted];
    const noise = this.algorithmType.startsWith('sde') ? rng.randn(sample.length) : null;

    let prev: Float32Array;
    if (this.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      prev = this.firstOrderUpdate(converted, sample, noise, index);
    } else if (this.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      prev = this.secondOrderUpdate(sample, noise, index);
    } else {
      prev = this.thirdOrderUpdate(sample, index);
    }
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums += 1;
    this.stepIndex = index + 1;
    return prev;
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    requireSameLength(original, noise, 'addNoise');
    const index = this.beginIndex === null ? this.indexForTimestep(timestep) : (this.stepIndex ?? this.beginIndex);
    const { alpha, sigma } = alphaSigma(item(this.sigmas, index));
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = alpha * (original[i] as number) + sigma * (noise[i] as number);
    return out;
  }

  /** diffusers' DPM `index_for_timestep`: like the others, but the last step when not found. */
  private indexForTimestep(timestep: number): number {
    return this.timesteps.includes(timestep) ? indexForTimestep(this.timesteps, timestep) : this.timesteps.length - 1;
  }

  private currentIndex(timestep: number): number {
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? this.indexForTimestep(timestep);
    return this.stepIndex;
  }

  /**
   * DPM-Solver++ integrates the data prediction (x0), DPM-Solver the noise prediction: convert the
   * model output to the one the algorithm needs.
   */
  private convertModelOutput(modelOutput: Float32Array, sample: Float32Array, index: number): Float32Array {
    const { alpha, sigma } = alphaSigma(item(this.sigmas, index));
    const out = new Float32Array(sample.length);
    const dataPrediction = this.algorithmType.endsWith('++');
    for (let i = 0; i < out.length; i++) {
      const x = sample[i] as number;
      const m = modelOutput[i] as number;
      let x0: number;
      let epsilon: number;
      if (this.predictionType === 'epsilon') {
        epsilon = m;
        x0 = (x - sigma * m) / alpha;
      } else if (this.predictionType === 'sample') {
        x0 = m;
        epsilon = (x - alpha * m) / sigma;
      } else {
        x0 = alpha * x - sigma * m;
        epsilon = alpha * m + sigma * x;
      }
      out[i] = dataPrediction ? x0 : epsilon;
    }
    this.denoised = dataPrediction ? out : null;
    return out;
  }

  /** One first-order step (equivalent to DDIM). */
  private firstOrderUpdate(
    m0: Float32Array,
    sample: Float32Array,
    noise: Float32Array | null,
    index: number,
  ): Float32Array {
    const t = alphaSigma(item(this.sigmas, index + 1));
    const s = alphaSigma(item(this.sigmas, index));
    const h = t.lambda - s.lambda;
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) {
      const x = sample[i] as number;
      const m = m0[i] as number;
      const z = noise === null ? 0 : (noise[i] as number);
      switch (this.algorithmType) {
        case 'dpmsolver++':
          out[i] = (t.sigma / s.sigma) * x - t.alpha * (Math.exp(-h) - 1) * m;
          break;
        case 'dpmsolver':
          out[i] = (t.alpha / s.alpha) * x - t.sigma * (Math.exp(h) - 1) * m;
          break;
        case 'sde-dpmsolver++':
          out[i] =
            (t.sigma / s.sigma) * Math.exp(-h) * x +
            t.alpha * (1 - Math.exp(-2 * h)) * m +
            t.sigma * Math.sqrt(1 - Math.exp(-2 * h)) * z;
          break;
        case 'sde-dpmsolver':
          out[i] =
            (t.alpha / s.alpha) * x -
            2 * (t.sigma * (Math.exp(h) - 1)) * m +
            t.sigma * Math.sqrt(Math.exp(2 * h) - 1) * z;
          break;
      }
    }
    return out;
  }

  /** One second-order multistep step from the last two converted outputs. */
  private secondOrderUpdate(sample: Float32Array, noise: Float32Array | null, index: number): Float32Array {
    const t = alphaSigma(item(this.sigmas, index + 1));
    const s0 = alphaSigma(item(this.sigmas, index));
    const s1 = alphaSigma(item(this.sigmas, index - 1));
    const m0 = this.output(1);
    const m1 = this.output(2);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const midpoint = this.solverType === 'midpoint';
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) {
      const x = sample[i] as number;
      const d0 = m0[i] as number;
      const d1 = (1 / r0) * (d0 - (m1[i] as number));
      const z = noise === null ? 0 : (noise[i] as number);
      switch (this.algorithmType) {
        case 'dpmsolver++':
          out[i] =
            (t.sigma / s0.sigma) * x -
            t.alpha * (Math.exp(-h) - 1) * d0 +
            (midpoint ? -0.5 * (t.alpha * (Math.exp(-h) - 1)) : t.alpha * ((Math.exp(-h) - 1) / h + 1)) * d1;
          break;
        case 'dpmsolver':
          out[i] =
            (t.alpha / s0.alpha) * x -
            t.sigma * (Math.exp(h) - 1) * d0 -
            (midpoint ? 0.5 * (t.sigma * (Math.exp(h) - 1)) : t.sigma * ((Math.exp(h) - 1) / h - 1)) * d1;
          break;
        case 'sde-dpmsolver++':
          out[i] =
            (t.sigma / s0.sigma) * Math.exp(-h) * x +
            t.alpha * (1 - Math.exp(-2 * h)) * d0 +
            (midpoint ? 0.5 * (t.alpha * (1 - Math.exp(-2 * h))) : t.alpha * ((1 - Math.exp(-2 * h)) / (-2 * h) + 1)) *
              d1 +
            t.sigma * Math.sqrt(1 - Math.exp(-2 * h)) * z;
          break;
        case 'sde-dpmsolver':
          out[i] =
            (t.alpha / s0.alpha) * x -
            2 * (t.sigma * (Math.exp(h) - 1)) * d0 -
            (midpoint ? t.sigma * (Math.exp(h) - 1) : 2 * (t.sigma * ((Math.exp(h) - 1) / h - 1))) * d1 +
            t.sigma * Math.sqrt(Math.exp(2 * h) - 1) * z;
          break;
      }
    }
    return out;
  }

  /** One third-order multistep step from the last three converted outputs (ODE variants only). */
  private thirdOrderUpdate(sample: Float32Array, index: number): Float32Array {
    const t = alphaSigma(item(this.sigmas, index + 1));
    const s0 = alphaSigma(item(this.sigmas, index));
    const s1 = alphaSigma(item(this.sigmas, index - 1));
    const s2 = alphaSigma(item(this.sigmas, index - 2));
    const m0 = this.output(1);
    const m1 = this.output(2);
    const m2 = this.output(3);
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const r1 = (s1.lambda - s2.lambda) / h;
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) {
      const x = sample[i] as number;
      const d0 = m0[i] as number;
      const d10 = (1 / r0) * (d0 - (m1[i] as number));
      const d11 = (1 / r1) * ((m1[i] as number) - (m2[i] as number));
      const d1 = d10 + (r0 / (r0 + r1)) * (d10 - d11);
      const d2 = (1 / (r0 + r1)) * (d10 - d11);
      if (this.algorithmType === 'dpmsolver++') {
        out[i] =
          (t.sigma / s0.sigma) * x -
          t.alpha * (Math.exp(-h) - 1) * d0 +
          t.alpha * ((Math.exp(-h) - 1) / h + 1) * d1 -
          t.alpha * ((Math.exp(-h) - 1 + h) / h ** 2 - 0.5) * d2;
      } else {
        out[i] =
          (t.alpha / s0.alpha) * x -
          t.sigma * (Math.exp(h) - 1) * d0 -
          t.sigma * ((Math.exp(h) - 1) / h - 1) * d1 -
          t.sigma * ((Math.exp(h) - 1 - h) / h ** 2 - 0.5) * d2;
      }
    }
    return out;
  }

  /** The k-th most recent converted model output (1 = current). */
  private output(k: number): Float32Array {
    const value = this.modelOutputs[this.modelOutputs.length - k];
    if (value === undefined || value === null) throw new EngineError('runtime', 'DPM-Solver is missing a past output.');
    return value;
  }
}
