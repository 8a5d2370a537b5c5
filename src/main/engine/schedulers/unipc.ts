/**
 * diffusers' UniPCMultistepScheduler (Zhao et al. 2023): a multistep predictor (UniP) followed, on
 * the next call, by a corrector (UniC) that reuses the new model output at no extra cost. Both use
 * the B(h) variants `bh1` or `bh2` (the default).
 */
import { EngineError } from '../EngineError';
import type { Rng } from '../rng/Rng';
import {
  alphasCumprod,
  at,
  checkInferenceSteps,
  f32,
  indexForTimestep,
  interpAtIndex,
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
  timestepSpacings,
  unsupported,
  type PredictionType,
  type TimestepSpacing,
} from './common';
import type { Scheduler, SchedulerName } from './Scheduler';

/** alpha_t, sigma_t and lambda_t of the VP process at EDM noise level `sigma`. */
function alphaSigma(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigma: sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}

export class UniPCMultistepScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1.0;
  timesteps: readonly number[];
  denoised: Float32Array | null = null;
  private sigmas: readonly number[] = [];
  private readonly numTrainTimesteps: number;
  private readonly alphasCumprod: Float64Array;
  private readonly solverOrder: number;
  private readonly predictionType: PredictionType;
  private readonly predictX0: boolean;
  private readonly solverType: 'bh1' | 'bh2';
  private readonly lowerOrderFinal: boolean;
  private readonly disableCorrector: readonly number[];
  private readonly useKarrasSigmas: boolean;
  private readonly timestepSpacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  private numInferenceSteps: number | null = null;
  /** The last `solverOrder` converted model outputs, oldest first. */
  private modelOutputs: (Float32Array | null)[] = [];
  private lowerOrderNums = 0;
  private lastSample: Float32Array | null = null;
  private thisOrder = 1;
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
    if (this.solverOrder < 1) throw unsupported('solver_order', this.solverOrder, 'UniPCMultistepScheduler');
    this.predictionType = config.choice('prediction_type', predictionTypes, 'epsilon');
    if (config.boolean('thresholding', false)) throw unsupported('thresholding', true, 'UniPCMultistepScheduler');
    this.predictX0 = config.boolean('predict_x0', true);
    // A config saved by DPM-Solver or DEIS names their solvers; diffusers maps them to bh2.
    const solver = config.string('solver_type', 'bh2');
    this.solverType = ['midpoint', 'heun', 'logrho'].includes(solver)
      ? 'bh2'
      : config.choice('solver_type', ['bh1', 'bh2'], 'bh2');
    this.lowerOrderFinal = config.boolean('lower_order_final', true);
    this.disableCorrector = config.numberArray('disable_corrector') ?? [];
    this.useKarrasSigmas = config.boolean('use_karras_sigmas', false);
    for (const key of ['use_exponential_sigmas', 'use_beta_sigmas', 'use_flow_sigmas', 'use_dynamic_shifting']) {
      if (config.boolean(key, false)) throw unsupported(key, true, 'UniPCMultistepScheduler');
    }
    this.timestepSpacing = config.choice('timestep_spacing', timestepSpacings, 'linspace');
    this.stepsOffset = config.integer('steps_offset', 0);
    this.finalSigmasType = config.choice('final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    this.timesteps = Array.from({ length: this.numTrainTimesteps }, (_, i) => this.numTrainTimesteps - 1 - i);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.numTrainTimesteps);
    const n = numInferenceSteps;
    const trainSteps = this.numTrainTimesteps;
    let timesteps: number[];
    if (this.timestepSpacing === 'linspace') {
      timesteps = Array.from(npLinspace(0, trainSteps - 1, n + 1), roundHalfEven)
        .reverse()
        .slice(0, -1);
    } else if (this.timestepSpacing === 'leading') {
      const ratio = Math.floor(trainSteps / (n + 1));
      timesteps = Array.from({ length: n }, (_, i) => (n - i) * ratio + this.stepsOffset);
    } else {
      timesteps = Array.from(npArange(trainSteps, 0, -trainSteps / n), (t) => roundHalfEven(t) - 1);
    }

    const trainSigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    let sigmas: number[];
    let sigmaLast: number;
    if (this.useKarrasSigmas) {
      const logSigmas = trainSigmas.map((s) => f32(Math.log(s)));
      sigmas = Array.from(karrasSigmas(at(trainSigmas, 0), at(trainSigmas, trainSigmas.length - 1), n));
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToT(s, logSigmas)));
      sigmaLast = this.finalSigmasType === 'sigma_min' ? item(sigmas, sigmas.length - 1) : 0;
    } else {
      sigmas = timesteps.map((t) => interpAtIndex(t, trainSigmas));
      const a0 = at(this.alphasCumprod, 0);
      sigmaLast = this.finalSigmasType === 'sigma_min' ? f32(Math.sqrt(f32(f32(1 - a0) / a0))) : 0;
    }
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.timesteps = timesteps;
    this.numInferenceSteps = timesteps.length;
    this.modelOutputs = new Array<Float32Array | null>(this.solverOrder).fill(null);
    this.lowerOrderNums = 0;
    this.lastSample = null;
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

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _rng: Rng): Float32Array {
    requireSameLength(modelOutput, sample, 'step');
    if (this.numInferenceSteps === null) throw new EngineError('runtime', 'setTimesteps must be called before step.');
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? this.indexForTimestep(timestep);
    const index = this.stepIndex;

    const converted = this.convertModelOutput(modelOutput, sample, index);
    let current = sample;
    // The corrector refines the previous prediction with this step's model output.
    const lastSample = this.lastSample;
    if (index > 0 && !this.disableCorrector.includes(index - 1) && lastSample !== null) {
      current = this.correct(converted, lastSample, index, this.thisOrder);
    }
    this.modelOutputs = [...this.modelOutputs.slice(1), converted];

    const order = this.lowerOrderFinal ? Math.min(this.solverOrder, this.timesteps.length - index) : this.solverOrder;
    this.thisOrder = Math.min(order, this.lowerOrderNums + 1);
    this.lastSample = current;
    const prev = this.predict(current, index, this.thisOrder);
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

  private indexForTimestep(timestep: number): number {
    return this.timesteps.includes(timestep) ? indexForTimestep(this.timesteps, timestep) : this.timesteps.length - 1;
  }

  /** x0 (predict_x0, the default) or the noise, from the model output at this step's sigma. */
  private convertModelOutput(modelOutput: Float32Array, sample: Float32Array, index: number): Float32Array {
    const { alpha, sigma } = alphaSigma(item(this.sigmas, index));
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) {
      const x = sample[i] as number;
      const m = modelOutput[i] as number;
      if (this.predictionType === 'epsilon') out[i] = this.predictX0 ? (x - sigma * m) / alpha : m;
      else if (this.predictionType === 'sample') out[i] = this.predictX0 ? m : (x - alpha * m) / sigma;
      else out[i] = this.predictX0 ? alpha * x - sigma * m : alpha * m + sigma * x;
    }
    this.denoised = this.predictX0 ? out : null;
    return out;
  }

  /**
   * The B(h) coefficients shared by predictor and corrector: `rks` (the ratios of past lambda steps
   * to h, ending with 1) give the Vandermonde rows R, and b the phi-function targets.
   */
  private coefficients(h: number, rks: readonly number[], order: number) {
    const hh = this.predictX0 ? -h : h;
    const hPhi1 = Math.expm1(hh);
    const bh = this.solverType === 'bh1' ? hh : Math.expm1(hh);
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    const r: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      r.push(rks.map((rk) => rk ** (i - 1)));
      b.push((hPhiK * factorial) / bh);
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    return { hPhi1, bh, r, b };
  }

  /** UniP: the predictor step from `sample` at this index to the next sigma. */
  private predict(sample: Float32Array, index: number, order: number): Float32Array {
    const t = alphaSigma(item(this.sigmas, index + 1));
    const s0 = alphaSigma(item(this.sigmas, index));
    const h = t.lambda - s0.lambda;
    const m0 = this.output(1);
    const rks: number[] = [];
    const d1s: Float32Array[] = [];
    for (let i = 1; i < order; i++) {
      const rk = (alphaSigma(item(this.sigmas, index - i)).lambda - s0.lambda) / h;
      rks.push(rk);
      d1s.push(difference(this.output(i + 1), m0, rk));
    }
    rks.push(1);
    const { hPhi1, bh, r, b } = this.coefficients(h, rks, order);
    const rhos = d1s.length === 0 ? [] : order === 2 ? [0.5] : solve(minor(r), b.slice(0, -1));
    return this.combine(sample, m0, t, s0, hPhi1, bh, d1s, rhos, null);
  }

  /** UniC: redoes the last step from `lastSample`, now with this step's converted model output too. */
  private correct(modelT: Float32Array, lastSample: Float32Array, index: number, order: number): Float32Array {
    const t = alphaSigma(item(this.sigmas, index));
    const s0 = alphaSigma(item(this.sigmas, index - 1));
    const h = t.lambda - s0.lambda;
    const m0 = this.output(1);
    const rks: number[] = [];
    const d1s: Float32Array[] = [];
    for (let i = 1; i < order; i++) {
      const rk = (alphaSigma(item(this.sigmas, index - (i + 1))).lambda - s0.lambda) / h;
      rks.push(rk);
      d1s.push(difference(this.output(i + 1), m0, rk));
    }
    rks.push(1);
    const { hPhi1, bh, r, b } = this.coefficients(h, rks, order);
    const rhos = order === 1 ? [0.5] : solve(r, b);
    const last = item(rhos, rhos.length - 1);
    return this.combine(lastSample, m0, t, s0, hPhi1, bh, d1s, rhos.slice(0, -1), { rho: last, modelT });
  }

  /**
   * `x_t_ - c * B(h) * (Σ rhos[k] * D1s[k] + rho_t * (model_t - m0))`, with x_t_ the first-order
   * (DDIM) step and c alpha_t (data prediction) or sigma_t (noise prediction).
   */
  private combine(
    x: Float32Array,
    m0: Float32Array,
    t: { alpha: number; sigma: number },
    s0: { alpha: number; sigma: number },
    hPhi1: number,
    bh: number,
    d1s: readonly Float32Array[],
    rhos: readonly number[],
    corrector: { rho: number; modelT: Float32Array } | null,
  ): Float32Array {
    const sampleCoefficient = this.predictX0 ? t.sigma / s0.sigma : t.alpha / s0.alpha;
    const outputCoefficient = this.predictX0 ? t.alpha * hPhi1 : t.sigma * hPhi1;
    const residualCoefficient = (this.predictX0 ? t.alpha : t.sigma) * bh;
    // A first-order prediction has no residual term. diffusers still multiplies B(h) by 0, which is
    // NaN when B(h) is infinite (bh1 stepping to a final sigma of 0); skipping it keeps the x0 step.
    const hasResidual = rhos.length > 0 || corrector !== null;
    const out = new Float32Array(x.length);
    for (let i = 0; i < out.length; i++) {
      const m = m0[i] as number;
      let value = sampleCoefficient * (x[i] as number) - outputCoefficient * m;
      if (hasResidual) {
        let residual = 0;
        for (let k = 0; k < rhos.length; k++) residual += item(rhos, k) * (item(d1s, k)[i] as number);
        if (corrector !== null) residual += corrector.rho * ((corrector.modelT[i] as number) - m);
        value -= residualCoefficient * residual;
      }
      out[i] = value;
    }
    return out;
  }

  /** The k-th most recent converted model output (1 = current). */
  private output(k: number): Float32Array {
    const value = this.modelOutputs[this.modelOutputs.length - k];
    if (value === undefined || value === null) throw new EngineError('runtime', 'UniPC is missing a past output.');
    return value;
  }
}

/** `(mi - m0) / rk`, element-wise. */
function difference(mi: Float32Array, m0: Float32Array, rk: number): Float32Array {
  const out = new Float32Array(mi.length);
  for (let i = 0; i < out.length; i++) out[i] = ((mi[i] as number) - (m0[i] as number)) / rk;
  return out;
}

/** The matrix without its last row and column (`R[:-1, :-1]`). */
function minor(r: readonly number[][]): number[][] {
  return r.slice(0, -1).map((row) => row.slice(0, -1));
}

/** Solves the small dense system `a x = b` by Gaussian elimination with partial pivoting. */
export function solve(a: readonly number[][], b: readonly number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, item(b, i)]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(item(item(m, r), col)) > Math.abs(item(item(m, pivot), col))) pivot = r;
    }
    [m[col], m[pivot]] = [item(m, pivot), item(m, col)];
    const pivotRow = item(m, col);
    const p = item(pivotRow, col);
    if (p === 0) throw new EngineError('numerics', 'UniPC hit a singular coefficient system.');
    for (let r = col + 1; r < n; r++) {
      const row = item(m, r);
      const factor = item(row, col) / p;
      for (let c = col; c <= n; c++) row[c] = item(row, c) - factor * item(pivotRow, c);
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    const row = item(m, r);
    let sum = item(row, n);
    for (let c = r + 1; c < n; c++) sum -= item(row, c) * item(x, c);
    x[r] = sum / item(row, r);
  }
  return x;
}
