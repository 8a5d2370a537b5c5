// Ports of diffusers' tests/schedulers/test_scheduler_dpm_multi.py (DPMSolverMultistepSchedulerTest).
import { describe, expect, test } from 'vitest';
import { EngineError } from '../../../../src/main/engine/EngineError';
import { DPMSolverMultistepScheduler } from '../../../../src/main/engine/schedulers/dpmSolverMultistep';
import { dummySampleDeter, expectAbsStats, fullLoop, fullLoopWithNoise } from './harness';

// The test's get_scheduler_config (lambda_min_clipped -inf and variance_type None are the defaults).
const config = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  euler_at_final: false,
  final_sigmas_type: 'sigma_min',
};

function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new DPMSolverMultistepScheduler('dpmpp_2m', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, dummySampleDeter(), { scaleInput: false });
}

describe('DPMSolverMultistepScheduler matches diffusers', () => {
  test('DPM-Solver++ 2M full loop (test_full_loop_no_noise, test_switch)', () => {
    expectAbsStats(fullLoopSample(), { mean: 0.3301 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { mean: 0.2251 });
  });

  test('Karras sigmas with v_prediction (test_full_loop_with_karras_and_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction', use_karras_sigmas: true }), { mean: 0.2096 });
  });

  test('uniform-logSNR lambdas with v_prediction (test_full_loop_with_lu_and_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction', use_lu_lambdas: true }), { mean: 0.1554 });
  });

  test('full loop started mid-way from a noised sample (test_full_loop_with_noise)', () => {
    const scheduler = new DPMSolverMultistepScheduler('dpmpp_2m', config);
    expectAbsStats(fullLoopWithNoise(scheduler, dummySampleDeter(), 10, 5, { scaleInput: false }), {
      sum: 318.4111,
      mean: 0.4146,
    });
  });

  test('a schedule as long as training has one entry per step (test_duplicated_timesteps)', () => {
    const scheduler = new DPMSolverMultistepScheduler('dpmpp_2m', config);
    scheduler.setTimesteps(1000);
    expect(scheduler.timesteps).toHaveLength(1000);
    expect(scheduler.timesteps[0]).toBe(999);
  });
});

describe('DPMSolverMultistepScheduler options', () => {
  test('third order and the noise-prediction variants run without NaNs (test_solver_order_and_type)', () => {
    for (const algorithm_type of ['dpmsolver', 'dpmsolver++']) {
      for (const solver_type of ['midpoint', 'heun']) {
        for (const solver_order of [1, 2, 3]) {
          const sample = fullLoopSample({ algorithm_type, solver_type, solver_order });
          expect(sample.every(Number.isFinite), `${algorithm_type} ${solver_type} ${solver_order}`).toBe(true);
        }
      }
    }
  });

  test('a final sigma of zero ends on a first-order step to the x0 prediction', () => {
    const scheduler = new DPMSolverMultistepScheduler('dpmpp_2m', { ...config, final_sigmas_type: 'zero' });
    scheduler.setTimesteps(10);
    const out = fullLoop(scheduler, dummySampleDeter(), { scaleInput: false });
    expect(Array.from(out)).toEqual(Array.from(scheduler.denoised ?? []));
  });

  test('final_sigmas_type zero is refused for the noise-prediction algorithms, as diffusers does', () => {
    expect(
      () => new DPMSolverMultistepScheduler('dpmpp_2m', { algorithm_type: 'dpmsolver', final_sigmas_type: 'zero' }),
    ).toThrow(EngineError);
  });

  test('a config saved by DEIS or UniPC maps its solver names onto DPM-Solver++ midpoint', () => {
    const fromUniPc = new DPMSolverMultistepScheduler('dpmpp_2m', { ...config, solver_type: 'bh2' });
    const fromDeis = new DPMSolverMultistepScheduler('dpmpp_2m', { ...config, algorithm_type: 'deis' });
    for (const scheduler of [fromUniPc, fromDeis]) {
      scheduler.setTimesteps(10);
      expect(fullLoop(scheduler, dummySampleDeter(), { scaleInput: false })).toEqual(fullLoopSample());
    }
  });

  test('SDE variants draw their noise from the rng, once per step', () => {
    let draws = 0;
    const scheduler = new DPMSolverMultistepScheduler('dpmpp_2m', { ...config, algorithm_type: 'sde-dpmsolver++' });
    scheduler.setTimesteps(10);
    fullLoop(scheduler, dummySampleDeter(), {
      scaleInput: false,
      rng: {
        kind: 'fast',
        randn(count) {
          draws += 1;
          return new Float32Array(count);
        },
      },
    });
    expect(draws).toBe(10);
  });
});
