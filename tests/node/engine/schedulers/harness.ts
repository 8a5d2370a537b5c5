/**
 * The fixtures of diffusers' scheduler tests (`tests/schedulers/test_schedulers.py`,
 * `SchedulerCommonTest`), rebuilt in float32 so the full-loop checks can be ported with their
 * expected numbers: a deterministic 4x3x8x8 sample and noise, and the dummy model
 * `sample * t / (t + 1)`.
 */
import { expect } from 'vitest';
import type { Rng } from '../../../../src/main/engine/rng/Rng';
import type { Scheduler } from '../../../../src/main/engine/schedulers/Scheduler';

const BATCH = 4;
const CHANNELS = 3;
const HEIGHT = 8;
const WIDTH = 8;
const NUM_ELEMS = BATCH * CHANNELS * HEIGHT * WIDTH;

/**
 * `torch.arange(n).reshape(C, H, W, B) / n` permuted to (B, C, H, W); `flip` reverses the arange
 * first (`dummy_noise_deter`).
 */
function deterministic(flip: boolean): Float32Array {
  const out = new Float32Array(NUM_ELEMS);
  for (let b = 0; b < BATCH; b++) {
    for (let c = 0; c < CHANNELS; c++) {
      for (let h = 0; h < HEIGHT; h++) {
        for (let w = 0; w < WIDTH; w++) {
          const source = ((c * HEIGHT + h) * WIDTH + w) * BATCH + b;
          const value = flip ? NUM_ELEMS - 1 - source : source;
          out[((b * CHANNELS + c) * HEIGHT + h) * WIDTH + w] = value / NUM_ELEMS;
        }
      }
    }
  }
  return out;
}

/** diffusers' `dummy_sample_deter`. */
export function dummySampleDeter(): Float32Array {
  return deterministic(false);
}

/** diffusers' `dummy_noise_deter`. */
export function dummyNoiseDeter(): Float32Array {
  return deterministic(true);
}

/** diffusers' `dummy_model()`: `sample * t / (t + 1)`, with t cast to float32 like the tensor. */
export function dummyModel(sample: Float32Array, t: number): Float32Array {
  const tf = Math.fround(t);
  const denominator = Math.fround(tf + 1);
  return sample.map((x) => Math.fround(x * tf) / denominator);
}

export function times(sample: Float32Array, factor: number): Float32Array {
  return sample.map((x) => x * factor);
}

export function sumAbs(sample: Float32Array): number {
  let sum = 0;
  for (const x of sample) sum += Math.abs(x);
  return sum;
}

export function meanAbs(sample: Float32Array): number {
  return sumAbs(sample) / sample.length;
}

/** An Rng for deterministic schedulers: the test fails if the scheduler draws from it. */
export const noRng: Rng = {
  kind: 'fast',
  randn() {
    throw new Error('a deterministic scheduler drew noise');
  },
};

/**
 * The loop of diffusers' `full_loop` tests: for each timestep, scale the input, call the dummy
 * model, step. `scaleInput` is false for the tests that skip `scale_model_input`.
 */
export function fullLoop(
  scheduler: Scheduler,
  sample: Float32Array,
  options: { rng?: Rng; scaleInput?: boolean; timesteps?: readonly number[] } = {},
): Float32Array {
  const rng = options.rng ?? noRng;
  let x = sample;
  for (const t of options.timesteps ?? scheduler.timesteps) {
    const input = options.scaleInput === false ? x : scheduler.scaleModelInput(x, t);
    x = scheduler.step(dummyModel(input, t), t, input, rng);
  }
  return x;
}

/**
 * Asserts `torch.sum(torch.abs(sample))` and `torch.mean(torch.abs(sample))` against a diffusers
 * test's expected values, with that test's tolerances (1e-2 for the sum, 1e-3 for the mean unless
 * the test says otherwise).
 */
export function expectAbsStats(
  sample: Float32Array,
  expected: { sum?: number; mean: number },
  tolerance: { sum?: number; mean?: number } = {},
): void {
  if (expected.sum !== undefined) {
    const sum = sumAbs(sample);
    expect(Math.abs(sum - expected.sum), `sum |x| = ${sum}, diffusers expects ${expected.sum}`).toBeLessThan(
      tolerance.sum ?? 1e-2,
    );
  }
  const mean = meanAbs(sample);
  expect(Math.abs(mean - expected.mean), `mean |x| = ${mean}, diffusers expects ${expected.mean}`).toBeLessThan(
    tolerance.mean ?? 1e-3,
  );
}

/**
 * The `test_full_loop_with_noise` pattern: set `steps` timesteps, noise `sample` with
 * `dummy_noise_deter` to `timesteps[tStart * order]`, and run the loop from there.
 */
export function fullLoopWithNoise(
  scheduler: Scheduler,
  sample: Float32Array,
  steps: number,
  tStart: number,
  options: { rng?: Rng; scaleInput?: boolean } = {},
): Float32Array {
  scheduler.setTimesteps(steps);
  const timesteps = scheduler.timesteps.slice(tStart * scheduler.order);
  const first = timesteps[0];
  if (first === undefined) throw new Error('no timesteps left');
  const noised = scheduler.addNoise(sample, dummyNoiseDeter(), first);
  return fullLoop(scheduler, noised, { ...options, timesteps });
}
