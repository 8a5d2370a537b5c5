// Ports of diffusers' tests/schedulers/test_scheduler_heun.py (HeunDiscreteSchedulerTest).
import { describe, expect, test } from 'vitest';
import { HeunDiscreteScheduler } from '../../../../src/main/engine/schedulers/heun';
import { timestepsForStrength } from '../../../../src/main/engine/schedulers/Scheduler';
import { dummyNoiseDeter, dummySampleDeter, expectAbsStats, fullLoop, fullLoopWithNoise, times } from './harness';

const config = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new HeunDiscreteScheduler('heun', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma));
}

describe('HeunDiscreteScheduler matches diffusers', () => {
  test('full loop without noise (test_full_loop_no_noise, test_full_loop_device)', () => {
    expectAbsStats(fullLoopSample(), { sum: 0.1233, mean: 0.0002 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { sum: 4.6934e-7, mean: 6.1112e-10 });
  });

  test('full loop on Karras sigmas (test_full_loop_device_karras_sigmas)', () => {
    expectAbsStats(
      fullLoopSample({ use_karras_sigmas: true }),
      { sum: 0.00015, mean: 1.9869554535034695e-7 },
      { sum: 1e-2, mean: 1e-2 },
    );
  });

  test('full loop started mid-way from a noised sample (test_full_loop_with_noise)', () => {
    const scheduler = new HeunDiscreteScheduler('heun', config);
    scheduler.setTimesteps(10);
    const sample = fullLoopWithNoise(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma), 10, 8);
    expectAbsStats(sample, { sum: 75074.8906, mean: 97.7538 });
  });
});

describe('HeunDiscreteScheduler schedule', () => {
  test('calls the model twice per step but the last: every timestep after the first repeats', () => {
    const scheduler = new HeunDiscreteScheduler('heun', { num_train_timesteps: 1000 });
    scheduler.setTimesteps(4);
    expect(scheduler.order).toBe(2);
    expect(scheduler.timesteps).toEqual([999, 666, 666, 333, 333, 0, 0]);
  });

  test('img2img from strength starts on the first-order half of a step, as index lookup does', () => {
    const withBegin = new HeunDiscreteScheduler('heun', config);
    const timesteps = timestepsForStrength(withBegin, 10, 0.5);
    expect(timesteps).toHaveLength(9);
    const byLookup = new HeunDiscreteScheduler('heun', config);
    byLookup.setTimesteps(10);
    const init = times(dummySampleDeter(), 3);
    const first = timesteps[0] as number;
    const a = fullLoop(withBegin, withBegin.addNoise(init, dummyNoiseDeter(), first), { timesteps });
    const b = fullLoop(byLookup, byLookup.addNoise(init, dummyNoiseDeter(), first), { timesteps });
    expect(a).toEqual(b);
  });
});
