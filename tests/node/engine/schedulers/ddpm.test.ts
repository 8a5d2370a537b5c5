// Ports of diffusers' tests/schedulers/test_scheduler_ddpm.py (DDPMSchedulerTest), with the torch
// CPU generator (`torch.manual_seed(0)`) as the noise source, as the diffusers tests use it.
import { describe, expect, test } from 'vitest';
import { createTorchCpuRng } from '../../../../src/main/engine/rng/torchCpu';
import { DDPMScheduler } from '../../../../src/main/engine/schedulers/ddpm';
import { dummyNoiseDeter, dummySampleDeter, expectAbsStats, fullLoop } from './harness';

const config = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  variance_type: 'fixed_small',
  clip_sample: true,
};

/** diffusers' DDPM full loops walk every training timestep, without set_timesteps. */
function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new DDPMScheduler('ddpm', { ...config, ...extra });
  return fullLoop(scheduler, dummySampleDeter(), { rng: createTorchCpuRng(0), scaleInput: false });
}

describe('DDPMScheduler matches diffusers', () => {
  test('full loop over the 1000 training timesteps (test_full_loop_no_noise)', () => {
    expectAbsStats(fullLoopSample(), { sum: 258.9606, mean: 0.3372 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { sum: 202.0296, mean: 0.2631 });
  });

  test('full loop from a noised sample at t = 1 (test_full_loop_with_noise)', () => {
    const scheduler = new DDPMScheduler('ddpm', config);
    const timesteps = scheduler.timesteps.slice(998);
    expect(timesteps).toEqual([1, 0]);
    const noised = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), 1);
    const sample = fullLoop(scheduler, noised, { rng: createTorchCpuRng(0), scaleInput: false, timesteps });
    expectAbsStats(sample, { sum: 387.9466, mean: 0.5051 });
  });

  test('posterior variance (test_variance)', () => {
    const scheduler = new DDPMScheduler('ddpm', config);
    for (const [t, expected] of [
      [0, 0],
      [487, 0.00979],
      [999, 0.02],
    ] as const) {
      expect(Math.abs(scheduler.variance(t) - expected), `variance(${t})`).toBeLessThan(1e-5);
    }
  });
});

describe('DDPMScheduler with set_timesteps', () => {
  test('steps to the next scheduled timestep, and past the last one to -1', () => {
    const scheduler = new DDPMScheduler('ddpm', config);
    scheduler.setTimesteps(4);
    expect(scheduler.timesteps).toEqual([750, 500, 250, 0]);
    expect(scheduler.previousTimestep(750)).toBe(500);
    expect(scheduler.previousTimestep(0)).toBe(-1);
  });

  test('draws noise on every step but t = 0', () => {
    const scheduler = new DDPMScheduler('ddpm', config);
    scheduler.setTimesteps(4);
    let draws = 0;
    const torch = createTorchCpuRng(0);
    fullLoop(scheduler, dummySampleDeter(), {
      scaleInput: false,
      rng: {
        kind: torch.kind,
        randn(count) {
          draws += 1;
          return torch.randn(count);
        },
      },
    });
    expect(draws).toBe(3);
  });
});
