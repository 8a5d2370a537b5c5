/**
 * Colour matching of a repainted area to its surroundings (the Studio's "match colours" option, in
 * the spirit of A1111's img2img colour correction and InvokeAI's infill colour fix): per channel, the
 * repainted pixels' mean and spread are moved to those of the untouched pixels around them. Only
 * repainted pixels change, weighted by the mask, so what the mask kept stays byte for byte.
 */
import type { MaskImage } from '../../engine/imaging/mask';
import type { OutpaintExtents } from '../../engine/imaging/outpaint';
import type { RgbaImage } from '../../engine/tensor/image';

/** How far around the repainted area the reference pixels are taken from. */
const BAND = 32;

interface Stats {
  mean: [number, number, number];
  std: [number, number, number];
  n: number;
}

function stats(image: RgbaImage, weight: (x: number, y: number) => number, box: Box): Stats {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (let y = box.y0; y < box.y1; y++) {
    for (let x = box.x0; x < box.x1; x++) {
      const w = weight(x, y);
      if (w <= 0) continue;
      const i = (y * image.width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const v = image.data[i + c] as number;
        sum[c] = (sum[c] as number) + v * w;
        sq[c] = (sq[c] as number) + v * v * w;
      }
      n += w;
    }
  }
  const mean = sum.map((s) => (n > 0 ? s / n : 0)) as Stats['mean'];
  const std = sq.map((s, c) => Math.sqrt(Math.max(0, n > 0 ? s / n - (mean[c] as number) ** 2 : 0))) as Stats['std'];
  return { mean, std, n };
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * `result` repainted where `mask` > 0 (inpaint, same size as `original`), or outside the original's
 * rectangle (outpaint: `extents` says where the original sits in the larger result).
 */
export function matchColours(
  result: RgbaImage,
  original: RgbaImage,
  mask: MaskImage | undefined,
  extents: OutpaintExtents | null,
): RgbaImage {
  const W = result.width;
  const H = result.height;
  // Repaint weight (0..1) per result pixel, and the reference pixels in result coordinates.
  let repaint: (x: number, y: number) => number;
  let reference: (x: number, y: number) => number;
  let refImage: RgbaImage;
  let box: Box;
  if (extents) {
    const ox = extents.left;
    const oy = extents.top;
    const inside = (x: number, y: number): boolean =>
      x >= ox && y >= oy && x < ox + original.width && y < oy + original.height;
    repaint = (x, y) => (inside(x, y) ? 0 : 1);
    // The original's pixels within BAND of an edge that was extended, read from the result (they are kept).
    reference = (x, y) => {
      if (!inside(x, y)) return 0;
      const near =
        (extents.left > 0 && x - ox < BAND) ||
        (extents.right > 0 && ox + original.width - 1 - x < BAND) ||
        (extents.top > 0 && y - oy < BAND) ||
        (extents.bottom > 0 && oy + original.height - 1 - y < BAND);
      return near ? 1 : 0;
    };
    refImage = result;
    box = { x0: 0, y0: 0, x1: W, y1: H };
  } else {
    if (!mask || mask.width !== W || mask.height !== H || original.width !== W || original.height !== H) return result;
    const m = mask.data;
    let x0 = W;
    let y0 = H;
    let x1 = 0;
    let y1 = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if ((m[y * W + x] as number) > 0) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x + 1);
          y1 = Math.max(y1, y + 1);
        }
      }
    }
    if (x1 <= x0) return result;
    box = {
      x0: Math.max(0, x0 - BAND),
      y0: Math.max(0, y0 - BAND),
      x1: Math.min(W, x1 + BAND),
      y1: Math.min(H, y1 + BAND),
    };
    repaint = (x, y) => (m[y * W + x] as number) / 255;
    reference = (x, y) => ((m[y * W + x] as number) === 0 ? 1 : 0);
    refImage = original;
  }
  const ref = stats(refImage, reference, box);
  const src = stats(result, (x, y) => (repaint(x, y) >= 0.5 ? 1 : 0), box);
  if (ref.n < 16 || src.n < 16) return result;

  const out = new Uint8Array(result.data);
  for (let y = box.y0; y < box.y1; y++) {
    for (let x = box.x0; x < box.x1; x++) {
      const w = repaint(x, y);
      if (w <= 0) continue;
      const i = (y * W + x) * 4;
      for (let c = 0 as 0 | 1 | 2; c < 3; c = (c + 1) as 0 | 1 | 2) {
        const v = result.data[i + c] as number;
        const ratio = Math.min(2, Math.max(0.5, src.std[c] > 1e-3 ? ref.std[c] / src.std[c] : 1));
        const matched = (v - src.mean[c]) * ratio + ref.mean[c];
        out[i + c] = Math.round(Math.min(255, Math.max(0, v + (matched - v) * w)));
      }
    }
  }
  return { width: W, height: H, data: out };
}
