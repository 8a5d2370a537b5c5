// DPMSolverSDEScheduler has no diffusers parity test here: diffusers' expected numbers come from a
// torchsde BrownianTree, whose draws nothing outside torchsde reproduces. These tests pin the
// deterministic schedule to diffusers' construction and the noise to Brownian-motion statistics.
import { describe, expect, test } from 'vitest';
import { createFastRng } from '../../../../src/main/engine/rng/fast';
import { createTorchCpuRng } from '../../../../src/main/engine/rng/torchCpu';
import { BrownianMotion, DPMSolverSDEScheduler } from '../../../../src/main/engine/schedulers/dpmSolverSde';
import { dummySampleDeter, fullLoop, times } from './harness';

const config = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

describe('DPMSolverSDEScheduler schedule', () => {
  test('interleaves each step timestep with the log-sigma midpoint of the step before it', () => {
    const scheduler = new DPMSolverSDEScheduler('dpmpp_sde_karras', { ...config, use_karras_sigmas: true });
    scheduler.setTimesteps(10);
    const ts = scheduler.timesteps;
    expect(ts).toHaveLength(19);
    expect(scheduler.order).toBe(2);
    for (let i = 1; i < ts.length; i += 2) {
      // Midpoints sit strictly between the step timesteps around them, which descend.
      expect(ts[i] as number).toBeLessThan(ts[i - 1] as number);
      expect(ts[i] as number).toBeGreaterThan(ts[i + 1] as number);
    }
    expect(ts[0]).toBeCloseTo(1099, 3);
    expect(ts.at(-1)).toBeCloseTo(0, 3);
  });

  test('a seed gives one sample; another seed another', () => {
    const run = (seed: number) => {
      const scheduler = new DPMSolverSDEScheduler('dpmpp_sde_karras', { ...config, use_karras_sigmas: true });
      scheduler.setTimesteps(10);
      return fullLoop(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma), { rng: createTorchCpuRng(seed) });
    };
    const a = run(0);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(run(0)).toEqual(a);
    expect(run(1)).not.toEqual(a);
  });
});

describe('the Brownian motion behind the SDE noise', () => {
  const size = 200_000;

  function stats(x: Float32Array, y: Float32Array): { mean: number; variance: number; correlation: number } {
    let sx = 0;
    let sxx = 0;
    let sxy = 0;
    let syy = 0;
    for (let i = 0; i < size; i++) {
      const a = x[i] as number;
      const b = y[i] as number;
      sx += a;
      sxx += a * a;
      sxy += a * b;
      syy += b * b;
    }
    return { mean: sx / size, variance: sxx / size, correlation: sxy / Math.sqrt(sxx * syy) };
  }

  test('normalised increments are standard normal, and overlapping ones correlate as sqrt(overlap)', () => {
    const rng = createFastRng(7);
    const motion = new BrownianMotion(0.03, 14.6, size, rng);
    // The two halves of a step, as the scheduler queries them: sigma -> midpoint, then sigma -> next.
    const half = motion.normalizedIncrement(14.6, 6, rng);
    const whole = motion.normalizedIncrement(14.6, 2.5, rng);
    const { mean, variance, correlation } = stats(half, whole);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    expect(Math.abs(correlation - Math.sqrt((14.6 - 6) / (14.6 - 2.5)))).toBeLessThan(0.01);
  });

  test('a point, once drawn, stays put: the same query twice gives the same increment', () => {
    const rng = createFastRng(3);
    const motion = new BrownianMotion(0.1, 10, 16, rng);
    expect(motion.normalizedIncrement(10, 4, rng)).toEqual(motion.normalizedIncrement(10, 4, rng));
  });
});
