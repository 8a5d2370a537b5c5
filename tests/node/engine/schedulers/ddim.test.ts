// Ports of diffusers' tests/schedulers/test_scheduler_ddim.py (DDIMSchedulerTest).
import { describe, expect, test } from 'vitest';
import { DDIMScheduler } from '../../../../src/main/engine/schedulers/ddim';
import { dummySampleDeter, expectAbsStats, fullLoop, fullLoopWithNoise } from './harness';

const config = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  clip_sample: true,
};

function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new DDIMScheduler('ddim', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, dummySampleDeter(), { scaleInput: false });
}

describe('DDIMScheduler matches diffusers', () => {
  test('full loop with eta 0 (test_full_loop_no_noise)', () => {
    expectAbsStats(fullLoopSample(), { sum: 172.0067, mean: 0.223967 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { sum: 52.5302, mean: 0.0684 });
  });

  test('set_alpha_to_one makes the last step land on alpha 1 (test_full_loop_with_set_alpha_to_one)', () => {
    expectAbsStats(fullLoopSample({ set_alpha_to_one: true, beta_start: 0.01 }), { sum: 149.8295, mean: 0.1951 });
  });

  test('without set_alpha_to_one the last step lands on alphas_cumprod[0] (test_full_loop_with_no_set_alpha_to_one)', () => {
    expectAbsStats(fullLoopSample({ set_alpha_to_one: false, beta_start: 0.01 }), { sum: 149.0784, mean: 0.1941 });
  });

  test('full loop started mid-way from a noised sample (test_full_loop_with_noise)', () => {
    const scheduler = new DDIMScheduler('ddim', config);
    expectAbsStats(fullLoopWithNoise(scheduler, dummySampleDeter(), 10, 8, { scaleInput: false }), {
      sum: 354.5418,
      mean: 0.4616,
    });
  });

  test('posterior variance between two timesteps (test_variance)', () => {
    const scheduler = new DDIMScheduler('ddim', config);
    const cases: [number, number, number][] = [
      [0, 0, 0],
      [420, 400, 0.14771],
      [980, 960, 0.3246],
      [487, 486, 0.00979],
      [999, 998, 0.02],
    ];
    for (const [t, prev, expected] of cases) {
      expect(Math.abs(scheduler.variance(t, prev) - expected), `variance(${t}, ${prev})`).toBeLessThan(1e-5);
    }
  });

  test('steps_offset shifts leading timesteps (test_steps_offset)', () => {
    const scheduler = new DDIMScheduler('ddim', { ...config, steps_offset: 1 });
    scheduler.setTimesteps(5);
    expect(scheduler.timesteps).toEqual([801, 601, 401, 201, 1]);
  });
});

describe('DDIMScheduler options', () => {
  test('trailing spacing ends on num_train_timesteps - 1 and rounds halves to even', () => {
    const scheduler = new DDIMScheduler('ddim', { ...config, timestep_spacing: 'trailing' });
    scheduler.setTimesteps(16);
    // np.round(np.arange(1000, 0, -62.5)) - 1: 937.5 rounds to 938, 812.5 to 812.
    expect(scheduler.timesteps.slice(0, 4)).toEqual([999, 937, 874, 811]);
    expect(scheduler.timesteps.at(-1)).toBe(61);
  });

  test('eta > 0 adds noise from the rng; eta 0 never draws', () => {
    const draws: number[] = [];
    const rng = {
      kind: 'fast' as const,
      randn(count: number) {
        draws.push(count);
        return new Float32Array(count).fill(1);
      },
    };
    const noisy = new DDIMScheduler('ddim', config, 1.0);
    noisy.setTimesteps(10);
    const withNoise = fullLoop(noisy, dummySampleDeter(), { rng, scaleInput: false });
    expect(draws).toHaveLength(10);
    expect(withNoise).not.toEqual(fullLoopSample());
  });
});
