/**
 * Latent consistency models (a UNet with `timestep_cond`: the guidance scale goes in as an embedding,
 * no CFG batch) and Turbo-style sampling (1-4 steps, no CFG at cfg <= 1, trailing timestep spacing).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/main/engine/Engine';
import { guidanceScaleEmbedding } from '../../../src/main/engine/components/guidanceEmbedding';
import { createScheduler, schedulerNames } from '../../../src/main/engine/schedulers';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import { ensureFixture } from '../../helpers/fixtures';

const engine = new Engine({ providers: ['cpu'] });
afterAll(() => engine.unload());

const base: DiffusionRequest = {
  prompt: 'a fox in the forest',
  negativePrompt: 'ignored by LCM',
  width: 64,
  height: 64,
  steps: 4,
  cfg: 8,
  sampler: 'lcm',
  seed: 9,
  rng: 'torch-cpu',
  batchSize: 1,
};

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

describe('LCM', () => {
  test('guidance embedding matches diffusers’ get_guidance_scale_embedding', () => {
    const dim = 8;
    const e = guidanceScaleEmbedding(7, dim, 2);
    expect(e.length).toBe(16);
    // half = 4, freqs = exp(-i * ln(10000) / 3): 1, 0.0464159, 0.00215443, 0.0001; w * 1000 = 7000
    const args = [7000, 7000 * 0.046415888, 7000 * 0.0021544347, 7000 * 0.0001];
    for (let i = 0; i < 4; i++) {
      expect(e[i]).toBeCloseTo(Math.sin(args[i]!), 2);
      expect(e[4 + i]).toBeCloseTo(Math.cos(args[i]!), 2);
    }
    expect([...e.subarray(8)]).toEqual([...e.subarray(0, 8)]);
    expect(guidanceScaleEmbedding(0, 7, 1)[6]).toBe(0); // odd widths are zero-padded
  });

  test('the LCM fixture generates reproducibly with the LCM scheduler, without a CFG batch', async () => {
    const dir = await ensureFixture('sd1-lcm');
    const a = await engine.generate(dir, base);
    const b = await engine.generate(dir, base);
    expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    expect(a.info.guidanceEmbedding).toBe(true);
    expect(a.info.cfg).toBe(false);
    expect(a.timings.steps).toBe(4);
    // The guidance scale reaches the UNet (through the embedding); the negative prompt does not.
    const cfg = await engine.generate(dir, { ...base, cfg: 2 });
    expect(same(a.images[0]!.data, cfg.images[0]!.data)).toBe(false);
    const negative = await engine.generate(dir, { ...base, negativePrompt: 'something else' });
    expect(same(a.images[0]!.data, negative.images[0]!.data)).toBe(true);
    const seed = await engine.generate(dir, { ...base, seed: 10 });
    expect(same(a.images[0]!.data, seed.images[0]!.data)).toBe(false);
  });

  test('LCM inpaints with masked blending and keeps the outside', async () => {
    const dir = await ensureFixture('sd1-lcm');
    const data = new Uint8Array(64 * 64 * 4).fill(90);
    const mask = { width: 64, height: 64, data: new Uint8Array(64 * 64) };
    for (let y = 24; y < 40; y++) for (let x = 24; x < 40; x++) mask.data[y * 64 + x] = 255;
    const r = await engine.generate(dir, {
      ...base,
      mode: 'inpaint',
      init: { image: { width: 64, height: 64, data }, strength: 1 },
      mask,
      maskBlur: 0,
    });
    expect(r.info.path).toBe('masked-blend');
    for (let i = 0; i < 64 * 64; i++) if (mask.data[i] === 0) expect(r.images[0]!.data[i * 4]).toBe(90);
  });
});

describe('Turbo-style sampling', () => {
  test('every scheduler but LCM (which has its own schedule) supports trailing spacing', () => {
    const config = {
      num_train_timesteps: 1000,
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      beta_end: 0.012,
      timestep_spacing: 'trailing',
    };
    for (const name of schedulerNames) {
      if (name === 'lcm') continue;
      const s = createScheduler(name, config);
      s.setTimesteps(4);
      // Trailing starts at the last training timestep, whatever the step count.
      expect(Math.round(s.timesteps[0]!), name).toBe(999);
    }
    const euler = createScheduler('euler', config);
    euler.setTimesteps(4);
    expect([...euler.timesteps]).toEqual([999, 749, 499, 249]);
    euler.setTimesteps(1);
    expect([...euler.timesteps]).toEqual([999]);
  });

  test('one step at cfg 0 with trailing spacing: no CFG batch, reproducible', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const turbo: DiffusionRequest = { ...base, sampler: 'euler_a', steps: 1, cfg: 0, timestepSpacing: 'trailing' };
    const a = await engine.generate(dir, turbo);
    const b = await engine.generate(dir, turbo);
    expect(a.info.cfg).toBe(false);
    expect(a.timings.steps).toBe(1);
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    const leading = await engine.generate(dir, { ...turbo, timestepSpacing: 'leading' });
    expect(same(a.images[0]!.data, leading.images[0]!.data)).toBe(false);
  });
});
