/**
 * The engine's pixel work in pure TypeScript: Lanczos3 resizing checked against sharp (libvips), the
 * gaussian feather, the crop region of "inpaint only masked", the fill, the paste-back and the
 * outpaint canvas.
 */
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import {
  blurMask,
  compositeMasked,
  expandToAspect,
  fillMasked,
  maskCropRegion,
  type MaskImage,
} from '../../../src/main/engine/imaging/mask';
import { outpaintCanvas, roundExtents } from '../../../src/main/engine/imaging/outpaint';
import { resizeRgba } from '../../../src/main/engine/imaging/resize';
import type { RgbaImage } from '../../../src/main/engine/tensor/image';
import { maskToLatent, upscaleLatentsBilinear } from '../../../src/main/engine/tensor/latents';

/** Smooth content (what diffusion output looks like at this scale): Lanczos variants agree on it. */
function smooth(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = Math.round(128 + 100 * Math.sin(x / 6));
      data[i + 1] = Math.round(128 + 90 * Math.cos(y / 5));
      data[i + 2] = Math.round(128 + 100 * Math.sin((x + y) / 9));
      data[i + 3] = 255;
    }
  return { width, height, data };
}

async function sharpResize(image: RgbaImage, width: number, height: number): Promise<Uint8Array> {
  const out = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 4 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return new Uint8Array(out);
}

function diffStats(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe('Lanczos3 resize', () => {
  test.each([
    [32, 24],
    [40, 30],
    [17, 45],
  ])('downscales 64x48 to %ix%i as sharp does (within 2 levels)', async (w, h) => {
    const image = smooth(64, 48);
    const ours = resizeRgba(image, w, h);
    expect(ours).toMatchObject({ width: w, height: h });
    const { max } = diffStats(ours.data, await sharpResize(image, w, h));
    expect(max).toBeLessThanOrEqual(2);
  });

  // libvips places upscaled samples half an output pixel off Pillow's (and our) pixel centres, so the
  // two agree closely on smooth content but not exactly.
  test.each([
    [128, 96],
    [200, 150],
  ])('upscales 64x48 to %ix%i close to sharp', async (w, h) => {
    const image = smooth(64, 48);
    const ours = resizeRgba(image, w, h);
    const { max, mean } = diffStats(ours.data, await sharpResize(image, w, h));
    expect(mean).toBeLessThan(3);
    expect(max).toBeLessThan(12);
  });

  test('keeps a flat colour flat and the same size as a copy', () => {
    const flat: RgbaImage = { width: 10, height: 10, data: new Uint8Array(400).fill(77) };
    expect(resizeRgba(flat, 37, 23).data.every((v) => v === 77)).toBe(true);
    const same = resizeRgba(flat, 10, 10);
    expect(same.data).toEqual(flat.data);
    expect(same.data).not.toBe(flat.data);
  });
});

function rect(w: number, h: number, x1: number, y1: number, x2: number, y2: number): MaskImage {
  const data = new Uint8Array(w * h);
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) data[y * w + x] = 255;
  return { width: w, height: h, data };
}

describe('masks', () => {
  test('the feather is symmetric, reaches a bounded distance and keeps the core', () => {
    const m = rect(64, 64, 16, 16, 48, 48);
    const f = blurMask(m, 4);
    expect(f.data[32 * 64 + 32]).toBe(255);
    expect(f.data[0]).toBe(0);
    // Symmetric about the square's centre.
    for (let d = 0; d < 16; d++) expect(f.data[32 * 64 + 16 - d]).toBe(f.data[32 * 64 + 47 + d]);
    // Half-way at the edge, soft on both sides.
    expect(f.data[32 * 64 + 16]).toBeGreaterThan(100);
    expect(f.data[32 * 64 + 15]).toBeLessThan(160);
    expect(f.data[32 * 64 + 12]).toBeGreaterThan(0);
    expect(f.data[32 * 64 + 20]).toBeLessThan(255);
    expect(blurMask(m, 0).data).toEqual(m.data);
  });

  test('the crop region is the mask box plus padding, grown to the aspect and kept inside', () => {
    const m = rect(200, 100, 150, 40, 170, 60);
    const box = maskCropRegion(m, 10);
    expect(box).toEqual({ x1: 140, y1: 30, x2: 180, y2: 70 });
    // 40x40 grown to 2:1 -> 80x40, centred on 160, which crosses the right edge and is shifted back.
    expect(expandToAspect(box, 128, 64, 200, 100)).toEqual({ x1: 120, y1: 30, x2: 200, y2: 70 });
    // Taller than wide: grow vertically, clamped at the top.
    expect(expandToAspect({ x1: 0, y1: 0, x2: 40, y2: 10 }, 64, 64, 200, 100)).toEqual({
      x1: 0,
      y1: 0,
      x2: 40,
      y2: 40,
    });
  });

  test('fill paints the hole with the surrounding colours and leaves the rest alone', () => {
    const image: RgbaImage = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 4) };
    for (let i = 0; i < 32 * 32; i++) image.data.set(i % 32 < 16 ? [200, 0, 0, 255] : [0, 0, 200, 255], i * 4);
    const hole = rect(32, 32, 8, 8, 24, 24);
    // The hole is white: the fill must replace it.
    for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) image.data.set([255, 255, 255, 255], (y * 32 + x) * 4);
    const filled = fillMasked(image, hole);
    for (let i = 0; i < 32 * 32; i++) {
      if (hole.data[i] === 0)
        expect(filled.data.subarray(i * 4, i * 4 + 4)).toEqual(image.data.subarray(i * 4, i * 4 + 4));
    }
    const left = filled.data.subarray((16 * 32 + 9) * 4, (16 * 32 + 9) * 4 + 3);
    const right = filled.data.subarray((16 * 32 + 22) * 4, (16 * 32 + 22) * 4 + 3);
    expect(left[0]).toBeGreaterThan(left[2]!); // reddish near the red side
    expect(right[2]).toBeGreaterThan(right[0]!); // bluish near the blue side
    expect(left[1]).toBeLessThan(40); // no white left
  });

  test('the paste-back keeps mask-0 pixels byte for byte and takes mask-255 pixels', () => {
    const a: RgbaImage = {
      width: 4,
      height: 1,
      data: new Uint8Array([10, 20, 30, 255, 10, 20, 30, 255, 10, 20, 30, 255, 10, 20, 30, 255]),
    };
    const b: RgbaImage = { width: 4, height: 1, data: new Uint8Array(16).fill(200) };
    const m: MaskImage = { width: 4, height: 1, data: new Uint8Array([0, 255, 128, 0]) };
    const out = compositeMasked(a, b, m);
    expect([...out.data]).toEqual([10, 20, 30, 255, 200, 200, 200, 255, 105, 110, 115, 255, 10, 20, 30, 255]);
  });

  test('the latent mask is diffusers’ binarised nearest downscale', () => {
    const m = rect(16, 16, 8, 0, 16, 9);
    m.data[0] = 127; // below 0.5: kept
    m.data[8 * 16] = 128; // at 0.5: masked
    expect([...maskToLatent(m.data, 16, 16, 2, 2)]).toEqual([0, 1, 1, 1]);
  });

  test('latent upscale is torch’s bilinear (align_corners=False)', () => {
    const up = upscaleLatentsBilinear(new Float32Array([0, 1, 2, 3]), 1, 2, 2, 4, 4);
    // torch.nn.functional.interpolate(torch.arange(4.).view(1,1,2,2), size=4, mode='bilinear')
    expect([...up]).toEqual([0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
  });
});

describe('outpaint canvas', () => {
  test('sizes round up to multiples of 8 on an extended side, with a notice', () => {
    expect(roundExtents(64, 64, { left: 10, top: 0, right: 0, bottom: 0 })).toEqual({
      extents: { left: 16, top: 0, right: 0, bottom: 0 },
      notices: ['outpaint: the canvas 74x64 was grown to 80x64 (multiples of 8).'],
    });
    expect(roundExtents(64, 60, { left: 8, top: 0, right: 3, bottom: 0 }).extents).toEqual({
      left: 8,
      top: 0,
      right: 8,
      bottom: 4,
    });
    expect(roundExtents(64, 64, { left: 8, top: 8, right: 8, bottom: 8 }).notices).toEqual([]);
  });

  test.each(['edge', 'blur', 'noise'] as const)(
    '%s: the original sits in place, the mask covers the new area and the seam',
    (fill) => {
      const image = smooth(32, 32);
      const c = outpaintCanvas(image, { left: 16, top: 0, right: 0, bottom: 8 }, fill, 6, 1);
      expect(c.image).toMatchObject({ width: 48, height: 40 });
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          const o = (y * 32 + x) * 4;
          const n = (y * 48 + x + 16) * 4;
          expect([...c.image.data.subarray(n, n + 4)]).toEqual([...image.data.subarray(o, o + 4)]);
          const inSeam = x < 6 || y >= 26;
          expect(c.mask.data[y * 48 + x + 16]).toBe(inSeam ? 255 : 0);
        }
      expect(c.mask.data[0]).toBe(255);
      expect(c.mask.data[39 * 48 + 47]).toBe(255);
      if (fill === 'edge') expect([...c.image.data.subarray(0, 4)]).toEqual([...image.data.subarray(0, 4)]);
    },
  );

  test('noise fill is the seed’s', () => {
    const image = smooth(32, 32);
    const a = outpaintCanvas(image, { left: 0, top: 0, right: 16, bottom: 0 }, 'noise', 4, 5);
    const b = outpaintCanvas(image, { left: 0, top: 0, right: 16, bottom: 0 }, 'noise', 4, 5);
    const c = outpaintCanvas(image, { left: 0, top: 0, right: 16, bottom: 0 }, 'noise', 4, 6);
    expect(a.image.data).toEqual(b.image.data);
    expect(a.image.data).not.toEqual(c.image.data);
  });
});
