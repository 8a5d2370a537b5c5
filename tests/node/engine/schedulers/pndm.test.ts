// Ports of diffusers' tests/schedulers/test_scheduler_pndm.py (PNDMSchedulerTest). diffusers'
// full loop calls step_prk over prk_timesteps then step_plms over plms_timesteps; `step` does the
// same dispatch over `timesteps`, which is prk_timesteps followed by plms_timesteps.
import { describe, expect, test } from 'vitest';
import { DDIMScheduler } from '../../../../src/main/engine/schedulers/ddim';
import { PNDMScheduler } from '../../../../src/main/engine/schedulers/pndm';
import type { Scheduler } from '../../../../src/main/engine/schedulers/Scheduler';
import { dummySampleDeter, expectAbsStats, fullLoop, noRng } from './harness';

const config = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoopSample(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new PNDMScheduler('pndm', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, dummySampleDeter(), { scaleInput: false });
}

describe('PNDMScheduler matches diffusers', () => {
  test('full loop, Runge-Kutta warm-up then PLMS (test_full_loop_no_noise)', () => {
    expectAbsStats(fullLoopSample(), { sum: 198.1318, mean: 0.258 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }), { sum: 67.3986, mean: 0.0878 });
  });

  test('set_alpha_to_one makes the last step land on alpha 1 (test_full_loop_with_set_alpha_to_one)', () => {
    expectAbsStats(fullLoopSample({ set_alpha_to_one: true, beta_start: 0.01 }), { sum: 230.0399, mean: 0.2995 });
  });

  test('without set_alpha_to_one the last step lands on alphas_cumprod[0] (test_full_loop_with_no_set_alpha_to_one)', () => {
    expectAbsStats(fullLoopSample({ set_alpha_to_one: false, beta_start: 0.01 }), { sum: 186.9482, mean: 0.2434 });
  });

  test('Runge-Kutta timesteps come first, at half steps (test_steps_offset)', () => {
    const scheduler = new PNDMScheduler('pndm', { ...config, steps_offset: 1 });
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([
      901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1,
    ]);
  });
});

describe('PNDMScheduler with skip_prk_steps (Stable Diffusion)', () => {
  test('repeats the second timestep for the PLMS start', () => {
    const scheduler = new PNDMScheduler('pndm', { ...config, skip_prk_steps: true, steps_offset: 1 });
    scheduler.setTimesteps(10);
    expect(scheduler.timesteps).toEqual([901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  });

  test('with a constant noise prediction it walks the DDIM path exactly', () => {
    // Formula (9) is DDIM's transfer; every PLMS combination of a constant is that constant, and the
    // repeated first step restarts from the same sample. So the two must agree step for step.
    const sdConfig = { ...config, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 };
    const pndm = new PNDMScheduler('pndm', {
      ...sdConfig,
      skip_prk_steps: true,
      set_alpha_to_one: false,
      steps_offset: 1,
    });
    const ddim = new DDIMScheduler('ddim', {
      ...sdConfig,
      clip_sample: false,
      set_alpha_to_one: false,
      steps_offset: 1,
    });
    pndm.setTimesteps(20);
    ddim.setTimesteps(20);
    const run = (scheduler: Scheduler) => {
      let x = dummySampleDeter();
      const eps = x.map((v) => 0.3 - v);
      for (const t of scheduler.timesteps) x = scheduler.step(eps, t, x, noRng);
      return x;
    };
    const a = run(pndm);
    const b = run(ddim);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i] as number, 4);
  });
});
