/**
 * Hires fix (txt2img at the base size, upscale, img2img at the target size) with both upscalers, and
 * the upscale mode (Lanczos, optionally refined by an img2img pass).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/main/engine/Engine';
import { resizeRgba } from '../../../src/main/engine/imaging/resize';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import type { RgbaImage } from '../../../src/main/engine/tensor/image';
import { ensureFixture } from '../../helpers/fixtures';

const engine = new Engine({ providers: ['cpu'] });
afterAll(() => engine.unload());

const base: DiffusionRequest = {
  prompt: 'a harbour at night',
  negativePrompt: '',
  width: 64,
  height: 64,
  steps: 4,
  cfg: 7,
  sampler: 'euler',
  seed: 5,
  rng: 'torch-cpu',
  batchSize: 1,
};

const hires = { width: 128, height: 96, strength: 0.5, steps: 0, upscaler: 'lanczos' as const };

function same(a: RgbaImage, b: RgbaImage): boolean {
  return Buffer.from(a.data).equals(Buffer.from(b.data));
}

describe('hires fix', () => {
  test.each(['lanczos', 'latent'] as const)('%s: the result has the hires size, reproducibly', async (upscaler) => {
    const dir = await ensureFixture('sd1-optimum');
    const steps: [number, number][] = [];
    const req = { ...base, hires: { ...hires, upscaler } };
    const a = await engine.generate(dir, req, { onStep: ({ step, total }) => void steps.push([step, total]) });
    const b = await engine.generate(dir, req);
    expect(a.images[0]).toMatchObject({ width: 128, height: 96 });
    expect(a.latents.length).toBe(4 * 16 * 12);
    expect(same(a.images[0]!, b.images[0]!)).toBe(true);
    expect(a.info.hires).toEqual({ width: 128, height: 96, upscaler });
    // 4 base steps, then half of a 4-step schedule; progress counts both passes.
    expect(a.timings.steps).toBe(6);
    expect(steps.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps.every(([, t]) => t === 6)).toBe(true);
  });

  test('the upscaler, the strength and the second pass’s steps each change the result', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const lanczos = await engine.generate(dir, { ...base, hires });
    const latent = await engine.generate(dir, { ...base, hires: { ...hires, upscaler: 'latent' } });
    const stronger = await engine.generate(dir, { ...base, hires: { ...hires, strength: 0.75 } });
    const more = await engine.generate(dir, { ...base, hires: { ...hires, steps: 8 } });
    expect(same(lanczos.images[0]!, latent.images[0]!)).toBe(false);
    expect(same(lanczos.images[0]!, stronger.images[0]!)).toBe(false);
    expect(same(lanczos.images[0]!, more.images[0]!)).toBe(false);
    expect(stronger.timings.steps).toBe(4 + 3);
    expect(more.timings.steps).toBe(4 + 4);
    // The first pass is the plain txt2img result: the hires pass refines it, the base size stays.
    const plain = await engine.generate(dir, base);
    expect(plain.info.hires).toBeNull();
    expect(plain.images[0]).toMatchObject({ width: 64, height: 64 });
  });

  test('refuses a hires size below the base size or not a multiple of 8', async () => {
    const dir = await ensureFixture('sd1-optimum');
    await expect(engine.generate(dir, { ...base, hires: { ...hires, width: 32, height: 32 } })).rejects.toThrow(
      /hires is 32x32, smaller than the base size 64x64/,
    );
    await expect(engine.generate(dir, { ...base, hires: { ...hires, width: 100 } })).rejects.toThrow(
      /hires width and height must be multiples of 8 \(got 100x96\)/,
    );
  });
});

describe('upscale', () => {
  const small: RgbaImage = { width: 48, height: 40, data: new Uint8Array(48 * 40 * 4) };
  for (let i = 0; i < 48 * 40; i++) small.data.set([(i * 7) % 256, (i * 3) % 256, 128, 255], i * 4);
  const req: DiffusionRequest = {
    ...base,
    mode: 'upscale',
    width: 128,
    height: 96,
    init: { image: small, strength: 0.75 },
    upscale: { strength: 0, steps: 0 },
  };

  test('at strength 0 it is a Lanczos resize to width x height, with no model call', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const r = await engine.generate(dir, { ...req, batchSize: 2 });
    expect(r.info.path).toBe('resize');
    expect(r.timings.steps).toBe(0);
    expect(r.images).toHaveLength(2);
    expect(r.images[0]).toEqual(resizeRgba(small, 128, 96));
  });

  test('with a strength, an img2img pass refines the resized image, reproducibly', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const refined = { ...req, upscale: { strength: 0.5, steps: 6 } };
    const a = await engine.generate(dir, refined);
    const b = await engine.generate(dir, refined);
    expect(a.info.path).toBe('img2img');
    expect(a.images[0]).toMatchObject({ width: 128, height: 96 });
    expect(a.timings.steps).toBe(3);
    expect(same(a.images[0]!, b.images[0]!)).toBe(true);
    expect(same(a.images[0]!, resizeRgba(small, 128, 96))).toBe(false);
    await expect(engine.generate(dir, { ...req, upscale: undefined })).rejects.toThrow(/upscale needs its strength/);
  });
});
