/**
 * Inpainting end to end on fixture models, both ways: the 9-channel inpainting UNet (sd1-inpaint)
 * and masked latent blending with an ordinary UNet (sd1-optimum). Small sizes and few steps.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/main/engine/Engine';
import { blurMask, expandToAspect, maskCropRegion, type MaskImage } from '../../../src/main/engine/imaging/mask';
import { resizePlane } from '../../../src/main/engine/imaging/resize';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import type { RgbaImage } from '../../../src/main/engine/tensor/image';
import { ensureFixture } from '../../helpers/fixtures';

const engine = new Engine({ providers: ['cpu'] });
afterAll(() => engine.unload());

/** A colourful gradient, so a repainted pixel is unlikely to match by chance. */
function gradient(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([x * 4, y * 4, 255 - (x + y) * 2, 255], (y * width + x) * 4);
  return { width, height, data };
}

function rectMask(width: number, height: number, x1: number, y1: number, x2: number, y2: number): MaskImage {
  const data = new Uint8Array(width * height);
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) data[y * width + x] = 255;
  return { width, height, data };
}

const image = gradient(64, 64);
const mask = rectMask(64, 64, 20, 16, 44, 40);

const base: DiffusionRequest = {
  mode: 'inpaint',
  prompt: 'a red apple',
  negativePrompt: '',
  width: 64,
  height: 64,
  steps: 4,
  cfg: 7,
  sampler: 'euler_a',
  seed: 7,
  rng: 'torch-cpu',
  batchSize: 1,
  init: { image, strength: 1 },
  mask,
  maskBlur: 4,
};

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Pixels (RGBA index / 4) where the feathered mask is exactly 0, and how many of them differ. */
function outsideDiffs(original: RgbaImage, result: RgbaImage, feathered: MaskImage): { kept: number; changed: number } {
  let kept = 0;
  let changed = 0;
  for (let i = 0; i < feathered.data.length; i++) {
    if (feathered.data[i] !== 0) continue;
    kept++;
    for (let c = 0; c < 4; c++) if (original.data[i * 4 + c] !== result.data[i * 4 + c]) changed++;
  }
  return { kept, changed };
}

function insideDiffs(original: RgbaImage, result: RgbaImage, m: MaskImage): number {
  let n = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i] === 255 && original.data[i * 4] !== result.data[i * 4]) n++;
  return n;
}

describe.each([
  ['sd1-inpaint', 'inpaint-unet'],
  ['sd1-optimum', 'masked-blend'],
] as const)('%s', (variant, path) => {
  test(`inpaint keeps pixels outside the mask identical and repaints inside (${path})`, async () => {
    const dir = await ensureFixture(variant);
    const r = await engine.generate(dir, base);
    const out = r.images[0]!;
    expect(out).toMatchObject({ width: 64, height: 64 });
    expect(r.info.path).toBe(path);
    expect(r.info.mode).toBe('inpaint');
    expect(r.info.maskedContent).toBe('original');
    const feathered = blurMask(mask, 4);
    const { kept, changed } = outsideDiffs(image, out, feathered);
    expect(kept).toBeGreaterThan((64 * 64) / 2);
    expect(changed).toBe(0);
    expect(insideDiffs(image, out, mask)).toBeGreaterThan(24 * 24 * 0.8);
  });

  test(`inpaint is reproducible; the seed, strength and masked content matter (${path})`, async () => {
    const dir = await ensureFixture(variant);
    const req = { ...base, init: { image, strength: 0.75 } };
    const a = await engine.generate(dir, req);
    const b = await engine.generate(dir, req);
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    const seed = await engine.generate(dir, { ...req, seed: 8 });
    expect(same(a.images[0]!.data, seed.images[0]!.data)).toBe(false);
    const full = await engine.generate(dir, base);
    expect(same(a.images[0]!.data, full.images[0]!.data)).toBe(false);
    const fill = await engine.generate(dir, { ...req, maskedContent: 'fill' });
    const noise = await engine.generate(dir, { ...req, maskedContent: 'latent-noise' });
    expect(fill.info.maskedContent).toBe('fill');
    expect(noise.info.maskedContent).toBe('latent-noise');
    expect(same(a.images[0]!.data, fill.images[0]!.data)).toBe(false);
    expect(same(a.images[0]!.data, noise.images[0]!.data)).toBe(false);
    expect(same(fill.images[0]!.data, noise.images[0]!.data)).toBe(false);
    // Every variant still pastes back over the original.
    for (const r of [seed, fill, noise]) expect(outsideDiffs(image, r.images[0]!, blurMask(mask, 4)).changed).toBe(0);
  });
});

describe('inpaint options', () => {
  test('"inpaint only masked" repaints a crop at full resolution and pastes it back', async () => {
    const dir = await ensureFixture('sd1-inpaint');
    const small = rectMask(128, 64, 90, 20, 106, 36);
    const wide = gradient(128, 64);
    const req: DiffusionRequest = {
      ...base,
      width: 128,
      height: 64,
      init: { image: wide, strength: 1 },
      mask: small,
      inpaintArea: 'masked',
      inpaintPadding: 8,
    };
    const r = await engine.generate(dir, req);
    const feathered = blurMask(small, 4);
    expect(r.images[0]).toMatchObject({ width: 128, height: 64 });
    expect(r.info.cropRegion).toEqual(expandToAspect(maskCropRegion(feathered, 8), 128, 64, 128, 64));
    const region = r.info.cropRegion!;
    expect((region.x2 - region.x1) / (region.y2 - region.y1)).toBeCloseTo(2, 1);
    expect(outsideDiffs(wide, r.images[0]!, feathered).changed).toBe(0);
    expect(insideDiffs(wide, r.images[0]!, small)).toBeGreaterThan(16 * 16 * 0.8);
    const full = await engine.generate(dir, { ...req, inpaintArea: 'full' });
    expect(same(r.images[0]!.data, full.images[0]!.data)).toBe(false);
  });

  test('batches: every image is pasted back over the original', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const r = await engine.generate(dir, { ...base, batchSize: 2, steps: 2 });
    expect(r.images).toHaveLength(2);
    expect(same(r.images[0]!.data, r.images[1]!.data)).toBe(false);
    for (const out of r.images) expect(outsideDiffs(image, out, blurMask(mask, 4)).changed).toBe(0);
  });

  test('a 9-channel UNet does txt2img and img2img (everything masked, blank masked image)', async () => {
    const dir = await ensureFixture('sd1-inpaint');
    const txt = { ...base, mode: 'txt2img' as const, init: undefined, mask: undefined, steps: 3 };
    const a = await engine.generate(dir, txt);
    const b = await engine.generate(dir, txt);
    expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(a.info.path).toBe('txt2img');
    expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
    const img = await engine.generate(dir, { ...txt, mode: 'img2img', init: { image, strength: 0.5 } });
    expect(img.info.path).toBe('img2img');
    expect(img.timings.steps).toBe(1);
  });

  test('a mask at another resolution is rescaled with a notice; another shape is refused', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const big = rectMask(128, 128, 40, 32, 88, 80);
    const r = await engine.generate(dir, { ...base, steps: 1, mask: big });
    expect(r.info.notices.join(' ')).toMatch(/mask \(128x128\) was rescaled/);
    const used = { width: 64, height: 64, data: resizePlane(big.data, 128, 128, 64, 64) };
    const { kept, changed } = outsideDiffs(image, r.images[0]!, blurMask(used, 4));
    expect(kept).toBeGreaterThan((64 * 64) / 2);
    expect(changed).toBe(0);
    await expect(engine.generate(dir, { ...base, mask: rectMask(128, 64, 0, 0, 8, 8) })).rejects.toThrow(
      /mask is 128x64, a different shape/,
    );
  });

  test('requests that cannot run are refused naming the fields', async () => {
    const dir = await ensureFixture('sd1-optimum');
    await expect(engine.generate(dir, { ...base, mask: rectMask(64, 64, 0, 0, 0, 0) })).rejects.toThrow(
      /nothing to inpaint: the mask is empty/,
    );
    await expect(
      engine.generate(dir, {
        ...base,
        hires: { width: 128, height: 128, strength: 0.5, steps: 0, upscaler: 'latent' },
      }),
    ).rejects.toThrow(/hires clashes with mode inpaint/);
    await expect(engine.generate(dir, { ...base, mask: undefined })).rejects.toThrow(/inpaint needs a mask/);
    await expect(engine.generate(dir, { ...base, mode: 'img2img' })).rejects.toThrow(/mask clashes with mode img2img/);
    await expect(engine.generate(dir, { ...base, width: 60, height: 60 })).rejects.toThrow(
      /multiples of 8 \(got 60x60\)/,
    );
  });
});
