// The sampler factory and the img2img helper, on Stable Diffusion 1.5's scheduler_config.json.
import { describe, expect, test } from 'vitest';
import { EngineError } from '../../../../src/main/engine/EngineError';
import { createTorchCpuRng } from '../../../../src/main/engine/rng/torchCpu';
import {
  createScheduler,
  schedulerNames,
  timestepsForStrength,
  type SchedulerName,
} from '../../../../src/main/engine/schedulers';
import { dummyNoiseDeter, dummySampleDeter, fullLoop, times } from './harness';

/** runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json, as diffusers saved it. */
const sd15 = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

/** alphas_cumprod of SD's scaled_linear schedule, in float64. */
function sdAlphasCumprod(): number[] {
  const start = Math.sqrt(0.00085);
  const end = Math.sqrt(0.012);
  let product = 1;
  return Array.from({ length: 1000 }, (_, i) => {
    product *= 1 - (start + ((end - start) * i) / 999) ** 2;
    return product;
  });
}

describe('timesteps for Stable Diffusion 1.5 (leading spacing, steps_offset 1)', () => {
  // diffusers: step_ratio = 1000 // n; _timesteps = arange(n) * step_ratio + steps_offset.
  const leading = (n: number) => Array.from({ length: n }, (_, i) => i * Math.floor(1000 / n) + 1);

  test.each([20, 25, 50])('PNDM with skip_prk_steps, %i steps: PLMS repeats the second timestep', (n) => {
    const scheduler = createScheduler('pndm', sd15);
    scheduler.setTimesteps(n);
    const base = leading(n);
    // plms_timesteps = concatenate([_timesteps[:-1], _timesteps[-2:-1], _timesteps[-1:]])[::-1]
    expect(scheduler.timesteps).toEqual([...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse());
  });

  test('PNDM, 50 steps: the familiar 981, 961, 961, 941, ..., 1', () => {
    const scheduler = createScheduler('pndm', sd15);
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps.slice(0, 4)).toEqual([981, 961, 961, 941]);
    expect(scheduler.timesteps).toHaveLength(51);
    expect(scheduler.timesteps.at(-1)).toBe(1);
  });

  test.each([20, 25, 50])('DDIM, %i steps', (n) => {
    const scheduler = createScheduler('ddim', sd15);
    scheduler.setTimesteps(n);
    expect(scheduler.timesteps).toEqual(leading(n).reverse());
  });

  test.each([20, 25, 50])('Euler takes its own linspace default over the PNDM config, %i steps', (n) => {
    const scheduler = createScheduler('euler', sd15);
    scheduler.setTimesteps(n);
    // np.linspace(0, 999, n, dtype=float32)[::-1]
    const expected = Array.from({ length: n }, (_, i) =>
      i === n - 1 ? 999 : Math.fround(i * (999 / (n - 1))),
    ).reverse();
    expect(scheduler.timesteps).toEqual(expected);
  });

  test('DPM++ 2M, 20 steps: linspace over 21 points, rounded half to even, last dropped', () => {
    const scheduler = createScheduler('dpmpp_2m', sd15);
    scheduler.setTimesteps(20);
    expect(scheduler.timesteps).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50,
    ]);
  });

  test('DPM++ 2M Karras: integer timesteps from 999 down to 0, strictly decreasing', () => {
    const scheduler = createScheduler('dpmpp_2m_karras', sd15);
    scheduler.setTimesteps(20);
    const ts = scheduler.timesteps;
    expect(ts[0]).toBe(999);
    expect(ts.at(-1)).toBe(0);
    expect(ts.every((t, i) => Number.isInteger(t) && (i === 0 || t < (ts[i - 1] as number)))).toBe(true);
  });

  test("Euler's initial noise sigma is SD's sigma_max, 14.6146", () => {
    const scheduler = createScheduler('euler', sd15);
    scheduler.setTimesteps(20);
    expect(scheduler.initNoiseSigma).toBeCloseTo(14.6146, 3);
  });
});

describe('createScheduler merges the config the way from_config does', () => {
  test.each(schedulerNames)('%s runs a 20-step loop on the SD 1.5 config', (name: SchedulerName) => {
    const scheduler = createScheduler(name, sd15);
    expect(scheduler.name).toBe(name);
    scheduler.setTimesteps(name === 'lcm' ? 4 : 20);
    const out = fullLoop(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma), { rng: createTorchCpuRng(0) });
    expect(out.every(Number.isFinite)).toBe(true);
  });

  test.each(schedulerNames)('%s works with a single step and with two', (name: SchedulerName) => {
    for (const steps of [1, 2]) {
      const scheduler = createScheduler(name, sd15);
      scheduler.setTimesteps(steps);
      expect(scheduler.timesteps.every(Number.isFinite)).toBe(true);
      expect(scheduler.timesteps.length).toBeGreaterThanOrEqual(steps);
      const out = fullLoop(scheduler, times(dummySampleDeter(), scheduler.initNoiseSigma), {
        rng: createTorchCpuRng(0),
      });
      expect(out.every(Number.isFinite)).toBe(true);
    }
  });

  test('unknown keys are ignored', () => {
    const plain = createScheduler('euler', sd15);
    const noisy = createScheduler('euler', { ...sd15, some_future_option: 3, _name_or_path: 'x' });
    plain.setTimesteps(20);
    noisy.setTimesteps(20);
    expect(noisy.timesteps).toEqual(plain.timesteps);
    expect(noisy.initNoiseSigma).toBe(plain.initNoiseSigma);
  });

  test('DPM++ 2M is DPM-Solver++ of order 2 whatever the saved DPM config says', () => {
    const saved = { ...sd15, algorithm_type: 'sde-dpmsolver++', solver_order: 3, use_karras_sigmas: true };
    const run = (config: Record<string, unknown>) => {
      const scheduler = createScheduler('dpmpp_2m', config);
      scheduler.setTimesteps(20);
      return fullLoop(scheduler, dummySampleDeter(), { scaleInput: false });
    };
    expect(run(saved)).toEqual(run(sd15));
  });

  test('a value of the wrong kind is a model error naming the config file', () => {
    const attempt = () => createScheduler('euler', { ...sd15, beta_schedule: 'cubic' });
    expect(attempt).toThrow(EngineError);
    try {
      attempt();
    } catch (error) {
      expect((error as EngineError).kind).toBe('model');
      expect((error as EngineError).file).toBe('scheduler/scheduler_config.json');
      expect((error as EngineError).message).toMatch(/beta_schedule/);
    }
  });

  test('more steps than training timesteps is an input error', () => {
    const scheduler = createScheduler('ddim', sd15);
    expect(() => scheduler.setTimesteps(1001)).toThrow(EngineError);
  });
});

describe('addNoise follows the forward process', () => {
  const alphas = sdAlphasCumprod();
  const x = dummySampleDeter();
  const noise = dummyNoiseDeter();

  test.each(['ddim', 'pndm', 'ddpm', 'lcm', 'dpmpp_2m'] as const)(
    '%s: sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise',
    (name) => {
      const scheduler = createScheduler(name, sd15);
      scheduler.setTimesteps(name === 'lcm' ? 4 : 20);
      const t = scheduler.timesteps[2] as number;
      const a = alphas[t] as number;
      const noised = scheduler.addNoise(x, noise, t);
      noised.forEach((v, i) => {
        expect(v).toBeCloseTo(Math.sqrt(a) * (x[i] as number) + Math.sqrt(1 - a) * (noise[i] as number), 5);
      });
    },
  );

  test('euler: x0 + sigma_t * noise, sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)', () => {
    const scheduler = createScheduler('euler', { ...sd15, timestep_spacing: 'leading' });
    scheduler.setTimesteps(20);
    const t = scheduler.timesteps[2] as number;
    const a = alphas[t] as number;
    const sigma = Math.sqrt((1 - a) / a);
    scheduler.addNoise(x, noise, t).forEach((v, i) => {
      expect(v).toBeCloseTo((x[i] as number) + sigma * (noise[i] as number), 4);
    });
  });
});

describe('timestepsForStrength mirrors diffusers get_timesteps', () => {
  test('keeps int(steps * strength) timesteps from the end of the schedule', () => {
    const scheduler = createScheduler('ddim', sd15);
    scheduler.setTimesteps(50);
    const all = scheduler.timesteps;
    expect(timestepsForStrength(scheduler, 50, 0.8)).toEqual(all.slice(10));
    expect(timestepsForStrength(scheduler, 25, 0.3)).toHaveLength(7);
    expect(timestepsForStrength(scheduler, 50, 1)).toEqual(all);
    expect(timestepsForStrength(scheduler, 50, 0)).toEqual([]);
  });

  test.each(['euler', 'euler_a', 'lms', 'dpmpp_2m', 'lcm'] as const)(
    '%s starts its step counter at the first kept timestep',
    (name) => {
      const steps = name === 'lcm' ? 8 : 20;
      const begun = createScheduler(name, sd15);
      const timesteps = timestepsForStrength(begun, steps, 0.5);
      const lookedUp = createScheduler(name, sd15);
      lookedUp.setTimesteps(steps);
      const first = timesteps[0] as number;
      const run = (scheduler: typeof begun) =>
        fullLoop(scheduler, scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), first), {
          rng: createTorchCpuRng(0),
          timesteps,
        });
      expect(run(begun)).toEqual(run(lookedUp));
    },
  );

  test('rejects a strength outside [0, 1]', () => {
    expect(() => timestepsForStrength(createScheduler('ddim', sd15), 20, 1.5)).toThrow(RangeError);
  });
});
