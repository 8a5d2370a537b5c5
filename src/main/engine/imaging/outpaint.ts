/**
 * Outpainting as inpainting: the image on a larger canvas, the new area pre-filled (edge pixels
 * stretched out, a blurred colour fill, or noise), and a mask over the new area that reaches a few
 * pixels into the original so the seam is repainted (and, once blurred, feathered).
 */
import { createRng } from '../rng';
import type { RgbaImage } from '../tensor/image';
import { fillMasked, type MaskImage } from './mask';

export interface OutpaintExtents {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export type OutpaintFill = 'edge' | 'blur' | 'noise';

export interface OutpaintCanvas {
  image: RgbaImage;
  /** 255 over the new area and `overlap` px into the original next to it, 0 elsewhere (not yet blurred). */
  mask: MaskImage;
  /** The extents used: the request's, grown so the canvas is a multiple of 8 each way. */
  extents: OutpaintExtents;
  notices: string[];
}

/**
 * Rounds the canvas up to multiples of 8 by growing an extended side (right before left, bottom
 * before top); a dimension that is not extended but is not a multiple of 8 grows on the right / bottom.
 */
export function roundExtents(
  width: number,
  height: number,
  e: OutpaintExtents,
): { extents: OutpaintExtents; notices: string[] } {
  const out = { ...e };
  const notices: string[] = [];
  const padW = (8 - ((width + e.left + e.right) % 8)) % 8;
  const padH = (8 - ((height + e.top + e.bottom) % 8)) % 8;
  if (padW) {
    if (e.left > 0 && e.right === 0) out.left += padW;
    else out.right += padW;
  }
  if (padH) {
    if (e.top > 0 && e.bottom === 0) out.top += padH;
    else out.bottom += padH;
  }
  if (padW || padH) {
    notices.push(
      `outpaint: the canvas ${width + e.left + e.right}x${height + e.top + e.bottom} was grown to ${width + out.left + out.right}x${height + out.top + out.bottom} (multiples of 8).`,
    );
  }
  return { extents: out, notices };
}

/** Builds the enlarged canvas and its mask. `seed` only matters for the noise fill. */
export function outpaintCanvas(
  image: RgbaImage,
  requested: OutpaintExtents,
  fill: OutpaintFill,
  overlap: number,
  seed: number,
): OutpaintCanvas {
  const { extents: e, notices } = roundExtents(image.width, image.height, requested);
  const width = image.width + e.left + e.right;
  const height = image.height + e.top + e.bottom;
  const data = new Uint8Array(width * height * 4);
  const mask = new Uint8Array(width * height);
  const inside = (x: number, y: number): boolean =>
    x >= e.left && x < e.left + image.width && y >= e.top && y < e.top + image.height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Edge extend: the nearest original pixel (also the starting point of the other fills).
      const sx = Math.min(image.width - 1, Math.max(0, x - e.left));
      const sy = Math.min(image.height - 1, Math.max(0, y - e.top));
      data.set(image.data.subarray((sy * image.width + sx) * 4, (sy * image.width + sx) * 4 + 4), (y * width + x) * 4);
      data[(y * width + x) * 4 + 3] = 255;
      if (!inside(x, y)) mask[y * width + x] = 255;
    }
  }
  // The seam: `overlap` px of the original along each extended side.
  const band = (x: number, y: number): boolean => {
    const ox = x - e.left;
    const oy = y - e.top;
    return (
      (e.left > 0 && ox < overlap) ||
      (e.right > 0 && ox >= image.width - overlap) ||
      (e.top > 0 && oy < overlap) ||
      (e.bottom > 0 && oy >= image.height - overlap)
    );
  };
  for (let y = e.top; y < e.top + image.height; y++)
    for (let x = e.left; x < e.left + image.width; x++) if (band(x, y)) mask[y * width + x] = 255;

  let canvas: RgbaImage = { width, height, data };
  const canvasMask: MaskImage = { width, height, data: mask };
  if (fill === 'blur') {
    // Only the new area is filled: the original pixels under the seam stay as they are.
    const newArea = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (!inside(x, y)) newArea[y * width + x] = 255;
    canvas = fillMasked(
      { width, height, data: placeOriginal(width, height, image, e) },
      { width, height, data: newArea },
    );
  } else if (fill === 'noise') {
    // Noise around the edge colours: random, but the seed's (a separate stream from the diffusion noise).
    const noise = createRng('fast', (seed ^ 0x5eed) >>> 0).randn(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      if (inside(i % width, Math.floor(i / width))) continue;
      for (let c = 0; c < 3; c++) {
        const v = (data[i * 4 + c] as number) + (noise[i * 3 + c] as number) * 64;
        data[i * 4 + c] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return { image: canvas, mask: canvasMask, extents: e, notices };
}

/** The original at its place on a transparent canvas of the new size. */
function placeOriginal(width: number, height: number, image: RgbaImage, e: OutpaintExtents): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * image.width * 4, (y + 1) * image.width * 4), ((y + e.top) * width + e.left) * 4);
  }
  return data;
}
