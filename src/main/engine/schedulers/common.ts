/**
 * Shared math for the schedulers: the config reader, beta schedules, alphas_cumprod, sigma tables,
 * Karras sigmas, and the few numpy/torch primitives diffusers builds them from.
 *
 * diffusers keeps these tables as float32 tensors, computes some of them in float64 numpy and casts
 * them back, and rounds timesteps with numpy's round-half-to-even. We keep the per-timestep scalars
 * in Float64Array, but round each one to float32 (`f32`) exactly where diffusers stores a float32, so
 * timesteps come out identical and sigmas/alphas within a float32 ulp of diffusers'.
 */
import { EngineError } from '../EngineError';

export const f32 = Math.fround;

const CONFIG_FILE = 'scheduler/scheduler_config.json';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export const predictionTypes: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample'];
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export const timestepSpacings: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace'];
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid' | 'exp';

/**
 * A scheduler_config.json as one scheduler class reads it: each class asks for the keys its
 * diffusers `__init__` takes, with that class's defaults, so unknown keys are ignored and missing
 * ones get the class default, as `Scheduler.from_config(config)` does. JSON `null` (Python `None`)
 * means "use the default" except for the keys where diffusers gives `None` a meaning.
 */
export class SchedulerConfig {
  constructor(private readonly raw: Readonly<Record<string, unknown>>) {}

  number(key: string, fallback: number): number {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || Number.isNaN(value)) throw invalid(key, value, 'a number');
    return value;
  }

  integer(key: string, fallback: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value)) throw invalid(key, value, 'an integer');
    return value;
  }

  optionalNumber(key: string): number | null {
    const value = this.raw[key];
    return value === undefined || value === null ? null : this.number(key, 0);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') throw invalid(key, value, 'true or false');
    return value;
  }

  string(key: string, fallback: string): string {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string') throw invalid(key, value, 'a string');
    return value;
  }

  choice<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(key, fallback);
    const found = allowed.find((a) => a === value);
    if (found === undefined) throw invalid(key, value, `one of ${allowed.join(', ')}`);
    return found;
  }

  numberArray(key: string): number[] | null {
    const value = this.raw[key];
    if (value === undefined || value === null) return null;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) {
      throw invalid(key, value, 'a list of numbers');
    }
    return value as number[];
  }
}

function invalid(key: string, value: unknown, expected: string): EngineError {
  return new EngineError(
    'model',
    `The scheduler config has ${key} = ${JSON.stringify(value)}; expected ${expected}.`,
    CONFIG_FILE,
  );
}

/** Rejects a config option diffusers has but this engine does not implement, rather than ignoring it. */
export function unsupported(key: string, value: unknown, schedulerClass: string): EngineError {
  return new EngineError(
    'model',
    `The scheduler config sets ${key} = ${JSON.stringify(value)}, which ${schedulerClass} does not support here.`,
    CONFIG_FILE,
  );
}

/** The keys every discrete-time diffusers scheduler reads to build its noise schedule. */
export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
  readonly trainedBetas: readonly number[] | null;
  readonly rescaleBetasZeroSnr: boolean;
}

export function readNoiseSchedule(
  config: SchedulerConfig,
  defaults: { betaStart: number; betaEnd: number; betaSchedule: BetaSchedule },
  schedules: readonly BetaSchedule[],
  supportsZeroSnr: boolean,
): NoiseSchedule {
  const numTrainTimesteps = config.integer('num_train_timesteps', 1000);
  if (numTrainTimesteps < 1) throw invalid('num_train_timesteps', numTrainTimesteps, 'at least 1');
  const trainedBetas = config.numberArray('trained_betas');
  if (trainedBetas !== null && trainedBetas.length !== numTrainTimesteps) {
    throw invalid(
      'trained_betas',
      `${trainedBetas.length} values`,
      `num_train_timesteps (${numTrainTimesteps}) values`,
    );
  }
  return {
    numTrainTimesteps,
    betaStart: config.number('beta_start', defaults.betaStart),
    betaEnd: config.number('beta_end', defaults.betaEnd),
    betaSchedule: config.choice('beta_schedule', schedules, defaults.betaSchedule),
    trainedBetas,
    rescaleBetasZeroSnr: supportsZeroSnr ? config.boolean('rescale_betas_zero_snr', false) : false,
  };
}

/** betas as float32 values, per diffusers' `beta_schedule` (or `trained_betas`, which wins). */
export function makeBetas(s: NoiseSchedule): Float64Array {
  const n = s.numTrainTimesteps;
  let betas: Float64Array;
  if (s.trainedBetas !== null) {
    betas = Float64Array.from(s.trainedBetas, f32);
  } else if (s.betaSchedule === 'linear') {
    betas = torchLinspaceF32(s.betaStart, s.betaEnd, n);
  } else if (s.betaSchedule === 'scaled_linear') {
    // This schedule is specific to the latent diffusion model.
    betas = torchLinspaceF32(s.betaStart ** 0.5, s.betaEnd ** 0.5, n).map((b) => f32(b * b));
  } else if (s.betaSchedule === 'sigmoid') {
    const range = f32(s.betaEnd - s.betaStart);
    betas = torchLinspaceF32(-6, 6, n).map((x) => f32(f32(f32(1 / f32(1 + f32(Math.exp(-x)))) * range) + s.betaStart));
  } else {
    betas = betasForAlphaBar(n, s.betaSchedule === 'exp' ? 'exp' : 'cosine');
  }
  return s.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
}

/** diffusers' `betas_for_alpha_bar` (Glide's cosine schedule, or the exp one): float64 math, float32 result. */
function betasForAlphaBar(n: number, transform: 'cosine' | 'exp', maxBeta = 0.999): Float64Array {
  const alphaBar =
    transform === 'cosine'
      ? (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2
      : (t: number) => Math.exp(t * -12.0);
  const betas = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    betas[i] = f32(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta));
  }
  return betas;
}

/** Rescales betas to zero terminal SNR (arXiv 2305.08891, Algorithm 1), in float32 as diffusers does. */
export function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const sqrtBar = alphasCumprod(betas).map((a) => f32(Math.sqrt(a)));
  const first = at(sqrtBar, 0);
  const last = at(sqrtBar, sqrtBar.length - 1);
  const scale = f32(first / f32(first - last));
  const bar = sqrtBar.map((a) => {
    const shifted = f32(f32(a - last) * scale);
    return f32(shifted * shifted);
  });
  return bar.map((b, i) => f32(1 - (i === 0 ? b : f32(b / at(bar, i - 1)))));
}

/**
 * `torch.cumprod(1 - betas)`: torch accumulates a float32 cumprod in double on the CPU and stores
 * each partial product as float32, which this mirrors.
 */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - at(betas, i));
    out[i] = f32(acc);
  }
  return out;
}

/** `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5` in float32, indexed by training timestep. */
export function sigmasFromAlphasCumprod(alphasCumprod: Float64Array): Float64Array {
  return alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** `torch.linspace(start, end, steps, dtype=float32)` on the CPU, which fills from both ends. */
export function torchLinspaceF32(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (steps - i - 1)));
  }
  return out;
}

/** `numpy.linspace(start, stop, num, endpoint)` in float64. */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): Float64Array {
  const out = new Float64Array(num);
  const div = endpoint ? num - 1 : num;
  const delta = stop - start;
  const step = div > 0 ? delta / div : Number.NaN;
  for (let i = 0; i < num; i++) {
    // numpy: with nothing to divide by (one point and the endpoint), y = arange(num) * delta.
    out[i] = (div === 0 ? i * delta : step === 0 ? (i / div) * delta : i * step) + start;
  }
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/** `numpy.arange(start, stop, step)` for float steps: numpy fills `start + i * (second - start)`. */
export function npArange(start: number, stop: number, step: number): Float64Array {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(length);
  const delta = start + step - start;
  for (let i = 0; i < length; i++) out[i] = start + i * delta;
  return out;
}

/** numpy's `round()`: half to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `numpy.interp(x, arange(len(fp)), fp)`. */
export function interpAtIndex(x: number, fp: Float64Array): number {
  const last = fp.length - 1;
  if (x >= last) return at(fp, last);
  if (x <= 0) return at(fp, 0);
  const j = Math.floor(x);
  if (x === j) return at(fp, j);
  const slope = at(fp, j + 1) - at(fp, j);
  return slope * (x - j) + at(fp, j);
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose log-sigma matches, interpolated
 * between the two neighbouring entries of `logSigmas` (ascending, float32 values).
 */
export function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let lowIdx = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - at(logSigmas, i) >= 0) lowIdx = i;
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const low = at(logSigmas, lowIdx);
  const high = at(logSigmas, lowIdx + 1);
  const w = Math.min(Math.max((low - logSigma) / f32(low - high), 0), 1);
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}

/** Karras et al. (2022) noise levels from sigmaMax down to sigmaMin, rho = 7 (float64, as numpy). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, numSteps: number): Float64Array {
  const rho = 7.0;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, numSteps).map((r) => (maxInvRho + r * (minInvRho - maxInvRho)) ** rho);
}

/** Exponential noise levels from sigmaMax down to sigmaMin (k-diffusion's `get_sigmas_exponential`). */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, numSteps: number): Float64Array {
  return npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), numSteps).map(Math.exp);
}

/**
 * Finds the index of `timestep` in a schedule the way diffusers' `index_for_timestep` does: the
 * second match when the value repeats (so a second-order scheduler started mid-way does not skip a
 * sigma), else the only one.
 */
export function indexForTimestep(timesteps: readonly number[], timestep: number): number {
  const first = timesteps.indexOf(timestep);
  if (first < 0) {
    throw new EngineError('input', `Timestep ${timestep} is not in the scheduler's schedule.`);
  }
  const second = timesteps.indexOf(timestep, first + 1);
  return second < 0 ? first : second;
}

/** `arr[i]` for a typed array whose index the caller knows to be in range. */
export function at(arr: Float64Array | Float32Array, i: number): number {
  const value = arr[i];
  if (value === undefined) throw new RangeError(`index ${i} out of range ${arr.length}`);
  return value;
}

/** `arr[i]` for an array whose index the caller knows to be in range. */
export function item<T>(arr: readonly T[], i: number): T {
  const value = arr[i];
  if (value === undefined) throw new RangeError(`index ${i} out of range ${arr.length}`);
  return value;
}

export function requireSameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) {
    throw new EngineError('input', `${what}: tensors differ in size (${a.length} and ${b.length}).`);
  }
}

/** `a * x + b * y`, element-wise, into a new Float32Array. */
export function combine(a: number, x: Float32Array, b: number, y: Float32Array): Float32Array {
  requireSameLength(x, y, 'combine');
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = a * (x[i] as number) + b * (y[i] as number);
  return out;
}

/** `x * a`, element-wise, into a new Float32Array. */
export function scaled(x: Float32Array, a: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] as number) * a;
  return out;
}

export function clampInPlace(x: Float32Array, limit: number): void {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(Math.max(x[i] as number, -limit), limit);
}

/**
 * Checks `num_inference_steps` the way diffusers' `set_timesteps` does before it builds a schedule.
 */
export function checkInferenceSteps(numInferenceSteps: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
    throw new EngineError('input', `The number of steps must be a positive integer, got ${numInferenceSteps}.`);
  }
  if (numInferenceSteps > numTrainTimesteps) {
    throw new EngineError(
      'input',
      `${numInferenceSteps} steps is more than the ${numTrainTimesteps} timesteps the model was trained with.`,
    );
  }
}

/** Integer timesteps (descending) for DDIM/DDPM-style schedulers, per `timestep_spacing`. */
export function discreteTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  numInferenceSteps: number,
  stepsOffset: number,
): number[] {
  if (spacing === 'linspace') {
    return Array.from(npLinspace(0, numTrainTimesteps - 1, numInferenceSteps), roundHalfEven).reverse();
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrainTimesteps / numInferenceSteps);
    return Array.from({ length: numInferenceSteps }, (_, i) => (numInferenceSteps - 1 - i) * ratio + stepsOffset);
  }
  return trailingTimesteps(numTrainTimesteps, numTrainTimesteps / numInferenceSteps);
}

/** `np.round(np.arange(start, 0, -ratio)) - 1`: the "trailing" spacing, descending. */
export function trailingTimesteps(start: number, ratio: number): number[] {
  return Array.from(npArange(start, 0, -ratio), (t) => roundHalfEven(t) - 1);
}

/**
 * Timesteps (descending, float32 values) for the sigma-based schedulers (Euler, Heun, LMS), per
 * `timestep_spacing`.
 */
export function sigmaSchedulerTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  numInferenceSteps: number,
  stepsOffset: number,
): number[] {
  if (spacing === 'linspace') {
    return Array.from(npLinspace(0, numTrainTimesteps - 1, numInferenceSteps), f32).reverse();
  }
  return discreteTimesteps(spacing, numTrainTimesteps, numInferenceSteps, stepsOffset).map(f32);
}

/**
 * The variance-preserving forward process shared by DDIM, DDPM, PNDM and LCM:
 * `sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise`, in float32 as diffusers computes it.
 */
export function addNoiseVp(
  alphasCumprod: Float64Array,
  original: Float32Array,
  noise: Float32Array,
  timestep: number,
): Float32Array {
  requireSameLength(original, noise, 'addNoise');
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= alphasCumprod.length) {
    throw new EngineError('input', `Timestep ${timestep} is outside the trained range.`);
  }
  const alphaProd = at(alphasCumprod, timestep);
  const sqrtAlphaProd = f32(Math.sqrt(alphaProd));
  const sqrtOneMinusAlphaProd = f32(Math.sqrt(f32(1 - alphaProd)));
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = sqrtAlphaProd * (original[i] as number) + sqrtOneMinusAlphaProd * (noise[i] as number);
  }
  return out;
}
