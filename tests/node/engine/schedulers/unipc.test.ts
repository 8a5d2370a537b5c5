// Ports of diffusers' tests/schedulers/test_scheduler_unipc.py (UniPCMultistepSchedulerTest).
// The stored version of that test predates `final_sigmas_type`: its last step went to the training
// sigma_min, which is what `final_sigmas_type: "sigma_min"` reproduces in the current scheduler.
import { describe, expect, test } from 'vitest';
import { solve, UniPCMultistepScheduler } from '../../../../src/main/engine/schedulers/unipc';
import { dummySampleDeter, expectAbsStats, fullLoop } from './harness';

const config = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  solver_type: 'bh1',
  final_sigmas_type: 'sigma_min',
};

function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new UniPCMultistepScheduler('unipc', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, dummySampleDeter(), { scaleInput: false });
}

describe('UniPCMultistepScheduler matches diffusers', () => {
  test('UniPC bh1 of order 2 (test_full_loop_no_noise, test_switch)', () => {
    expectAbsStats(fullLoopSample(), { mean: 0.2521 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { mean: 0.1096 });
  });

  test('every order and B(h) variant runs without NaNs (test_solver_order_and_type)', () => {
    for (const solver_type of ['bh1', 'bh2']) {
      for (const solver_order of [1, 2, 3]) {
        for (const prediction_type of ['epsilon', 'sample']) {
          for (const final_sigmas_type of ['sigma_min', 'zero']) {
            const sample = fullLoopSample({ solver_type, solver_order, prediction_type, final_sigmas_type });
            expect(sample.every(Number.isFinite), `${solver_type} ${solver_order} ${prediction_type}`).toBe(true);
          }
        }
      }
    }
  });

  test('a schedule as long as training has one entry per step', () => {
    const scheduler = new UniPCMultistepScheduler('unipc', config);
    scheduler.setTimesteps(1000);
    expect(scheduler.timesteps).toHaveLength(1000);
    expect(scheduler.timesteps[0]).toBe(999);
  });
});

describe('UniPCMultistepScheduler options', () => {
  test('disabling the corrector everywhere changes the result, as the corrector does work', () => {
    expect(fullLoopSample({ disable_corrector: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] })).not.toEqual(fullLoopSample());
  });

  test('a config saved by DPM-Solver maps its solver type onto bh2', () => {
    expect(fullLoopSample({ solver_type: 'midpoint' })).toEqual(fullLoopSample({ solver_type: 'bh2' }));
  });
});

describe('the small linear solver behind UniPC orders above 2', () => {
  test('solves a system that needs pivoting', () => {
    const x = solve(
      [
        [0, 2, 1],
        [1, 1, 1],
        [2, 1, 3],
      ],
      [7, 6, 13],
    );
    [1, 2, 3].forEach((v, i) => expect(x[i]).toBeCloseTo(v, 12));
  });
});
