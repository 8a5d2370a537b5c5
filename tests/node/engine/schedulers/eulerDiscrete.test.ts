// Ports of diffusers' tests/schedulers/test_scheduler_euler.py (EulerDiscreteSchedulerTest).
import { describe, expect, test } from 'vitest';
import { EulerDiscreteScheduler } from '../../../../src/main/engine/schedulers/eulerDiscrete';
import { dummySampleDeter, expectAbsStats, fullLoop, fullLoopWithNoise, noRng, times } from './harness';

const config = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new EulerDiscreteScheduler('euler', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma));
}

describe('EulerDiscreteScheduler matches diffusers', () => {
  test('full loop without noise (test_full_loop_no_noise, test_full_loop_device)', () => {
    expectAbsStats(fullLoopSample(), { sum: 10.0807, mean: 0.0131 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { sum: 0.0002, mean: 2.2676e-6 });
  });

  test('full loop on Karras sigmas (test_full_loop_device_karras_sigmas)', () => {
    expectAbsStats(fullLoopSample({ use_karras_sigmas: true }), { sum: 124.52299499511719, mean: 0.16213932633399963 });
  });

  test('full loop started mid-way from a noised sample (test_full_loop_with_noise)', () => {
    const scheduler = new EulerDiscreteScheduler('euler', config);
    scheduler.setTimesteps(10);
    const sample = fullLoopWithNoise(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma), 10, 8);
    expectAbsStats(sample, { sum: 57062.9297, mean: 74.3007 });
  });
});

describe('EulerDiscreteScheduler schedules', () => {
  test('linspace spacing gives float timesteps from num_train_timesteps - 1 down to 0', () => {
    const scheduler = new EulerDiscreteScheduler('euler', { num_train_timesteps: 1000 });
    scheduler.setTimesteps(4);
    expect(scheduler.timesteps).toEqual([999, 666, 333, 0]);
  });

  test('leading spacing raises init_noise_sigma to sqrt(sigma_max^2 + 1)', () => {
    // With as many steps as training timesteps both spacings give the same schedule.
    const linspace = new EulerDiscreteScheduler('euler', { num_train_timesteps: 1000 });
    const leading = new EulerDiscreteScheduler('euler', { num_train_timesteps: 1000, timestep_spacing: 'leading' });
    linspace.setTimesteps(1000);
    leading.setTimesteps(1000);
    expect(leading.timesteps).toEqual(linspace.timesteps);
    expect(leading.initNoiseSigma).toBeCloseTo(Math.sqrt(linspace.initNoiseSigma ** 2 + 1), 4);
  });

  test('Karras sigmas run from the largest training timestep to the smallest', () => {
    const scheduler = new EulerDiscreteScheduler('euler', { ...config, use_karras_sigmas: true });
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps[0]).toBeCloseTo(1099, 3);
    expect(scheduler.timesteps.at(-1)).toBeCloseTo(0, 3);
  });

  test('a step leaves its x0 prediction, sample - sigma * eps, in `denoised`', () => {
    const scheduler = new EulerDiscreteScheduler('euler', config);
    scheduler.setTimesteps(10);
    const t = scheduler.timesteps[0] as number;
    const sample = dummySampleDeter();
    const eps = sample.map((x) => 1 - x);
    scheduler.step(eps, t, sample, noRng);
    const sigma = scheduler.initNoiseSigma;
    const expected = sample.map((x, i) => x - sigma * (eps[i] as number));
    expect(Array.from(scheduler.denoised ?? [])).toEqual(Array.from(expected));
  });
});
