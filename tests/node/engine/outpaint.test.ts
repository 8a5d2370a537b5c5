/**
 * Outpainting end to end: the canvas grows by the extents (rounded up to multiples of 8), the new
 * area is generated, and the original's pixels come back identical wherever the feathered mask is 0.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/main/engine/Engine';
import { blurMask } from '../../../src/main/engine/imaging/mask';
import { outpaintCanvas } from '../../../src/main/engine/imaging/outpaint';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import type { RgbaImage } from '../../../src/main/engine/tensor/image';
import { ensureFixture } from '../../helpers/fixtures';

const engine = new Engine({ providers: ['cpu'] });
afterAll(() => engine.unload());

const original: RgbaImage = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 4) };
for (let y = 0; y < 64; y++)
  for (let x = 0; x < 64; x++) original.data.set([x * 4, 255 - y * 4, (x * y) % 256, 255], (y * 64 + x) * 4);

const base: DiffusionRequest = {
  mode: 'outpaint',
  prompt: 'a wide landscape',
  negativePrompt: '',
  width: 64,
  height: 64,
  steps: 3,
  cfg: 7,
  sampler: 'dpmpp_2m',
  seed: 11,
  rng: 'torch-cpu',
  batchSize: 1,
  init: { image: original, strength: 1 },
  // 64 + 32 = 96 wide; 64 + 26 = 90 high, grown to 96 on the bottom. (The fixture UNet downsamples
  // twice, so it needs multiples of 32 px.)
  outpaint: { left: 32, top: 0, right: 0, bottom: 26 },
  maskBlur: 2,
};

/** Checks the original's pixels where the engine's feathered mask is 0; returns how many were checked. */
function expectOriginalKept(out: RgbaImage, req: DiffusionRequest): number {
  const canvas = outpaintCanvas(
    original,
    req.outpaint!,
    req.outpaintFill ?? 'edge',
    Math.max(4, 2 * req.maskBlur!),
    req.seed,
  );
  const feathered = blurMask(canvas.mask, req.maskBlur!);
  const { left, top } = canvas.extents;
  let checked = 0;
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++) {
      if (feathered.data[(y + top) * out.width + x + left] !== 0) continue;
      checked++;
      const o = (y * 64 + x) * 4;
      const n = ((y + top) * out.width + x + left) * 4;
      if (!Buffer.from(out.data.subarray(n, n + 4)).equals(Buffer.from(original.data.subarray(o, o + 4))))
        throw new Error(`original pixel ${x},${y} changed`);
    }
  return checked;
}

describe.each([
  ['sd1-inpaint', 'inpaint-unet'],
  ['sd1-optimum', 'masked-blend'],
] as const)('%s', (variant, path) => {
  test(`outpaint grows the canvas, rounds to multiples of 8 and keeps the original (${path})`, async () => {
    const dir = await ensureFixture(variant);
    const r = await engine.generate(dir, base);
    const out = r.images[0]!;
    expect(out).toMatchObject({ width: 96, height: 96 });
    expect(r.info.path).toBe(path);
    expect(r.info.outpaintExtents).toEqual({ left: 32, top: 0, right: 0, bottom: 32 });
    expect(r.info.notices).toEqual(['outpaint: the canvas 96x90 was grown to 96x96 (multiples of 8).']);
    // The seam (8 px) and the feather (2 px sigma) reach ~14 px into the original from the left and bottom.
    expect(expectOriginalKept(out, base)).toBeGreaterThan(44 * 44);
    // The new area was generated, not left as the edge pre-fill.
    let changed = 0;
    for (let y = 0; y < 64; y++)
      for (let x = 0; x < 8; x++) if (out.data[(y * 96 + x) * 4] !== original.data[y * 64 * 4]) changed++;
    expect(changed).toBeGreaterThan(8 * 64 * 0.8);
  });
});

describe('outpaint', () => {
  test('is reproducible; each fill gives its own result; every side works', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const req: DiffusionRequest = {
      ...base,
      outpaint: { left: 16, top: 16, right: 16, bottom: 16 },
      steps: 2,
      init: { image: original, strength: 0.8 },
    };
    const a = await engine.generate(dir, req);
    const b = await engine.generate(dir, req);
    expect(a.images[0]).toMatchObject({ width: 96, height: 96 });
    expect(a.info.notices).toEqual([]);
    expect(Buffer.from(a.images[0]!.data).equals(Buffer.from(b.images[0]!.data))).toBe(true);
    const results = [a];
    for (const fill of ['blur', 'noise'] as const) {
      const r = await engine.generate(dir, { ...req, outpaintFill: fill });
      expect(r.info.outpaintFill).toBe(fill);
      expect(expectOriginalKept(r.images[0]!, { ...req, outpaintFill: fill })).toBeGreaterThan(40 * 40);
      results.push(r);
    }
    for (let i = 0; i < results.length; i++)
      for (let j = i + 1; j < results.length; j++)
        expect(Buffer.from(results[i]!.images[0]!.data).equals(Buffer.from(results[j]!.images[0]!.data))).toBe(false);
  });

  test('refuses a request that adds nothing or mixes in another mode’s fields', async () => {
    const dir = await ensureFixture('sd1-optimum');
    await expect(engine.generate(dir, { ...base, outpaint: { left: 0, top: 0, right: 0, bottom: 0 } })).rejects.toThrow(
      /outpaint adds nothing/,
    );
    await expect(engine.generate(dir, { ...base, mode: 'img2img' })).rejects.toThrow(
      /outpaint clashes with mode img2img/,
    );
    await expect(engine.generate(dir, { ...base, outpaint: undefined })).rejects.toThrow(/outpaint needs the pixels/);
  });
});
