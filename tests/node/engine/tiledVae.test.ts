/**
 * Tiled VAE decode and encode on a fixture: tiles with overlap, blended with linear ramps, agree with
 * the untiled VAE within a small tolerance (the tiles lose some context: the VAE's mid-block attention
 * and its receptive field reach across tile borders), and one tile covering everything is exact.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/main/engine/Engine';
import { tileStarts } from '../../../src/main/engine/components/Vae';
import { createRng } from '../../../src/main/engine/rng';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import { ensureFixture } from '../../helpers/fixtures';

const engine = new Engine({ providers: ['cpu'] });
afterAll(() => engine.unload());

function stats(a: Float32Array, b: Float32Array): { max: number; mean: number; range: number } {
  let max = 0;
  let sum = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    max = Math.max(max, d);
    sum += d;
    lo = Math.min(lo, b[i] as number);
    hi = Math.max(hi, b[i] as number);
  }
  return { max, mean: sum / a.length, range: hi - lo };
}

describe('tiled VAE', () => {
  test('tile starts cover the axis with the overlap, the last flush with the end', () => {
    expect(tileStarts(8, 8, 2)).toEqual([0]);
    expect(tileStarts(16, 8, 3)).toEqual([0, 5, 8]);
    expect(tileStarts(20, 8, 2)).toEqual([0, 6, 12]);
  });

  // 24 x 16 latents (192 x 128 px) in 12-latent tiles: 3 x 2 tiles. For scale: another latent decodes
  // ~9% of the output range away on average; hard-edged tiles (no overlap) leave seams ~40% high.
  test('tiled decode agrees with the untiled decode within a small tolerance; the ramps hide the seams', async () => {
    const model = await engine.load(await ensureFixture('sd1-optimum'));
    const decoder = model.pipeline.parts.vaeDecoder;
    const latents = createRng('torch-cpu', 3).randn(4 * 16 * 24);
    const whole = await decoder.decode(latents, 1, 16, 24);
    const tiled = await decoder.decodeTiled(latents, 1, 16, 24, { tile: 12, overlap: 4 });
    const seams = await decoder.decodeTiled(latents, 1, 16, 24, { tile: 12, overlap: 0 });
    const one = await decoder.decodeTiled(latents, 1, 16, 24, { tile: 32, overlap: 8 });
    expect(tiled.length).toBe(whole.length);
    expect(one).toEqual(whole);
    const s = stats(tiled, whole);
    expect(s.mean).toBeGreaterThan(0);
    expect(s.mean / s.range).toBeLessThan(0.015);
    expect(s.max / s.range).toBeLessThan(0.15);
    expect(stats(seams, whole).max).toBeGreaterThan(2 * s.max);
  });

  test('tiled encode agrees with the untiled encode (same random draws)', async () => {
    const model = await engine.load(await ensureFixture('sd1-optimum'));
    const encoder = model.pipeline.parts.vaeEncoder!;
    const pixels = new Float32Array(3 * 128 * 192);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 128; y++)
        for (let x = 0; x < 192; x++) pixels[(c * 128 + y) * 192 + x] = Math.sin(x / 17 + c) * Math.cos(y / 13);
    const whole = await encoder.encode(pixels, 1, 128, 192, createRng('torch-cpu', 1));
    const tiled = await encoder.encode(pixels, 1, 128, 192, createRng('torch-cpu', 1), { tile: 12, overlap: 4 });
    const s = stats(tiled, whole);
    expect(s.mean).toBeGreaterThan(0);
    expect(s.mean / s.range).toBeLessThan(0.03);
  });

  test('the request flag and the size threshold switch tiling on, and say so', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const req: DiffusionRequest = {
      prompt: 'a castle',
      negativePrompt: '',
      width: 128,
      height: 64,
      steps: 2,
      cfg: 7,
      sampler: 'ddim',
      seed: 1,
      rng: 'torch-cpu',
      batchSize: 1,
    };
    const plain = await engine.generate(dir, req);
    expect(plain.info.tiledVae).toBe(false);
    const forced = await engine.generate(dir, { ...req, tiledVae: true, vaeTiling: { tile: 64, overlap: 24 } });
    expect(forced.info.tiledVae).toBe(true);
    expect(forced.latents).toEqual(plain.latents);
    expect(Buffer.from(forced.images[0]!.data).equals(Buffer.from(plain.images[0]!.data))).toBe(false);
    const auto = await engine.generate(dir, { ...req, vaeTiling: { tile: 64, overlap: 24, abovePixels: 64 * 64 } });
    expect(auto.info.tiledVae).toBe(true);
    expect(auto.images[0]!.data).toEqual(forced.images[0]!.data);
    let diff = 0;
    for (let i = 0; i < plain.images[0]!.data.length; i++)
      diff += Math.abs(plain.images[0]!.data[i]! - forced.images[0]!.data[i]!);
    expect(diff / plain.images[0]!.data.length).toBeLessThan(4);
    await expect(engine.generate(dir, { ...req, vaeTiling: { tile: 60 } })).rejects.toThrow(/multiples of 8/);
  });
});
