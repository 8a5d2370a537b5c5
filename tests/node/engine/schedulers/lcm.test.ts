// Ports of diffusers' tests/schedulers/test_scheduler_lcm.py (LCMSchedulerTest), with the torch CPU
// generator (`torch.manual_seed(0)`) for the noise between steps, as the diffusers tests use it.
import { describe, expect, test } from 'vitest';
import { createTorchCpuRng } from '../../../../src/main/engine/rng/torchCpu';
import { LCMScheduler } from '../../../../src/main/engine/schedulers/lcm';
import { dummySampleDeter, expectAbsStats, fullLoop, noRng } from './harness';

const config = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
};

function fullLoopSample(steps: number): Float32Array {
  const scheduler = new LCMScheduler('lcm', config);
  scheduler.setTimesteps(steps);
  return fullLoop(scheduler, dummySampleDeter(), { scaleInput: false, rng: createTorchCpuRng(0) });
}

describe('LCMScheduler matches diffusers', () => {
  test('one step (test_full_loop_onestep)', () => {
    expectAbsStats(fullLoopSample(1), { sum: 18.7097, mean: 0.0244 }, { sum: 1e-3, mean: 1e-3 });
  });

  test('ten steps, re-noised in between with generator seed 0 (test_full_loop_multistep)', () => {
    expectAbsStats(fullLoopSample(10), { sum: 197.7616, mean: 0.2575 }, { sum: 1e-3, mean: 1e-3 });
  });
});

describe('LCMScheduler schedule and outputs', () => {
  test('picks evenly spaced timesteps from the 50-step distillation schedule', () => {
    const scheduler = new LCMScheduler('lcm', config);
    scheduler.setTimesteps(4);
    // lcm_origin_timesteps = [999, 979, ..., 19]; indices floor(linspace(0, 50, 4, endpoint=False)).
    expect(scheduler.timesteps).toEqual([999, 759, 499, 259]);
  });

  test('one-step sampling draws no noise and returns the denoised prediction', () => {
    const scheduler = new LCMScheduler('lcm', config);
    scheduler.setTimesteps(1);
    const sample = dummySampleDeter();
    const out = scheduler.step(
      sample.map((x) => x * 0.5),
      999,
      sample,
      noRng,
    );
    expect(Array.from(out)).toEqual(Array.from(scheduler.denoised ?? []));
  });

  test('refuses more steps than original_inference_steps', () => {
    const scheduler = new LCMScheduler('lcm', config);
    expect(() => scheduler.setTimesteps(51)).toThrow(/between 1 and 50/);
  });
});
