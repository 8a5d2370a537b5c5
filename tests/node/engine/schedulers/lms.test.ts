// Ports of diffusers' tests/schedulers/test_scheduler_lms.py (LMSDiscreteSchedulerTest).
import { describe, expect, test } from 'vitest';
import { adaptiveSimpson, LMSDiscreteScheduler } from '../../../../src/main/engine/schedulers/lms';
import { dummySampleDeter, expectAbsStats, fullLoop, fullLoopWithNoise, times } from './harness';

const config = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new LMSDiscreteScheduler('lms', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma));
}

describe('LMSDiscreteScheduler matches diffusers', () => {
  test('full loop without noise (test_full_loop_no_noise, test_full_loop_device)', () => {
    expectAbsStats(fullLoopSample(), { sum: 1006.388, mean: 1.31 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { sum: 0.0017, mean: 2.2676e-6 });
  });

  test('full loop on Karras sigmas (test_full_loop_device_karras_sigmas)', () => {
    expectAbsStats(fullLoopSample({ use_karras_sigmas: true }), { sum: 3812.9927, mean: 4.9648 }, { sum: 2e-2 });
  });

  test('full loop started mid-way from a noised sample (test_full_loop_with_noise)', () => {
    const scheduler = new LMSDiscreteScheduler('lms', config);
    scheduler.setTimesteps(10);
    const sample = fullLoopWithNoise(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma), 10, 8);
    expectAbsStats(sample, { sum: 27663.6895, mean: 36.0204 });
  });
});

describe('adaptive quadrature for the LMS coefficients', () => {
  test('integrates the cubic Lagrange polynomials exactly', () => {
    const cubic = (x: number) => (x - 1) * (x - 2) * (x - 3);
    // An antiderivative of the cubic.
    const exact = (x: number) => x ** 4 / 4 - 2 * x ** 3 + (11 / 2) * x ** 2 - 6 * x;
    expect(adaptiveSimpson(cubic, 0, 5, 1e-4)).toBeCloseTo(exact(5) - exact(0), 10);
    expect(adaptiveSimpson(cubic, 5, 0.5, 1e-4)).toBeCloseTo(exact(0.5) - exact(5), 10);
  });

  test('meets the relative tolerance on a non-polynomial integrand', () => {
    const value = adaptiveSimpson(Math.exp, 0, 3, 1e-4);
    expect(Math.abs(value - (Math.exp(3) - 1)) / (Math.exp(3) - 1)).toBeLessThan(1e-4);
  });
});
