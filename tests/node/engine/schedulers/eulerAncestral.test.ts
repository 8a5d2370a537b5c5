// Ports of diffusers' tests/schedulers/test_scheduler_euler_ancestral.py, with the torch CPU
// generator (`torch.manual_seed(0)`) as the noise source, as the diffusers tests use it.
import { describe, expect, test } from 'vitest';
import type { Rng } from '../../../../src/main/engine/rng/Rng';
import { createTorchCpuRng } from '../../../../src/main/engine/rng/torchCpu';
import { EulerAncestralDiscreteScheduler } from '../../../../src/main/engine/schedulers/eulerAncestral';
import { dummySampleDeter, expectAbsStats, fullLoop, times } from './harness';

const config = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function fullLoopSample(extra: Record<string, unknown>, rng: Rng): Float32Array {
  const scheduler = new EulerAncestralDiscreteScheduler('euler_a', { ...config, ...extra });
  scheduler.setTimesteps(10);
  return fullLoop(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma), { rng });
}

describe('EulerAncestralDiscreteScheduler matches diffusers', () => {
  test('full loop with generator seed 0 (test_full_loop_no_noise, test_full_loop_device)', () => {
    expectAbsStats(fullLoopSample({}, createTorchCpuRng(0)), { sum: 152.3192, mean: 0.1983 });
  });

  test('full loop with v_prediction (test_full_loop_with_v_prediction)', () => {
    expectAbsStats(fullLoopSample({ prediction_type: 'v_prediction' }, createTorchCpuRng(0)), {
      sum: 108.4439,
      mean: 0.1412,
    });
  });
});

describe('EulerAncestralDiscreteScheduler noise', () => {
  test('draws one latent-sized normal tensor per step, the last included', () => {
    const counts: number[] = [];
    const torch = createTorchCpuRng(0);
    const counting: Rng = {
      kind: torch.kind,
      randn(count) {
        counts.push(count);
        return torch.randn(count);
      },
    };
    fullLoopSample({}, counting);
    expect(counts).toEqual(new Array<number>(10).fill(768));
  });

  test('the same seed gives the same sample', () => {
    const a = fullLoopSample({}, createTorchCpuRng(42));
    const b = fullLoopSample({}, createTorchCpuRng(42));
    expect(a).toEqual(b);
  });
});
