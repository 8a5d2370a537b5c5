/**
 * Masks and the pixel work of inpainting, after A1111's `modules/masking.py` and `processing.py`:
 * gaussian feathering, the crop region of "inpaint only masked", the "fill" masked content, and the
 * final paste-back that leaves every pixel where the mask is 0 exactly as it was.
 *
 * A mask is one byte per pixel, 255 = repaint, 0 = keep.
 */
import type { RgbaImage } from '../tensor/image';

export interface MaskImage {
  width: number;
  height: number;
  /** width * height bytes, row-major; 255 = repaint, 0 = keep. */
  data: Uint8Array;
}

/** A rectangle in pixels, `x2`/`y2` exclusive. */
export interface Region {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Box radii whose three passes approximate a gaussian of `sigma` (Kovesi's extended box blur, as Pillow does). */
function boxRadii(sigma: number): number[] {
  const passes = 3;
  const ideal = Math.sqrt((12 * sigma * sigma) / passes + 1);
  let wl = Math.floor(ideal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - passes * wl * wl - 4 * passes * wl - 3 * passes) / (-4 * wl - 4));
  return Array.from({ length: passes }, (_, i) => ((i < m ? wl : wu) - 1) / 2);
}

/** One horizontal box pass over `channels` interleaved planes, edges clamped. */
function boxPassH(src: Float32Array, dst: Float32Array, w: number, h: number, ch: number, r: number): void {
  const size = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let c = 0; c < ch; c++) {
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += src[(row + Math.min(w - 1, Math.max(0, k))) * ch + c] as number;
      for (let x = 0; x < w; x++) {
        dst[(row + x) * ch + c] = acc / size;
        const add = Math.min(w - 1, x + r + 1);
        const sub = Math.max(0, x - r);
        acc += (src[(row + add) * ch + c] as number) - (src[(row + sub) * ch + c] as number);
      }
    }
  }
}

function transpose(src: Float32Array, w: number, h: number, ch: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < ch; c++) out[(x * h + y) * ch + c] = src[(y * w + x) * ch + c] as number;
  return out;
}

/**
 * Gaussian blur of `ch` interleaved float planes (three box passes per axis, edges clamped). The
 * result is exactly 0 wherever the input is 0 within the blur's reach (3 * radius per pass), which the
 * paste-back relies on: pixels far from the mask stay untouched.
 */
export function gaussianBlur(data: Float32Array, w: number, h: number, ch: number, sigma: number): Float32Array {
  if (!(sigma > 0)) return Float32Array.from(data);
  const radii = boxRadii(sigma).map((r) => Math.max(0, Math.round(r)));
  let a: Float32Array = Float32Array.from(data);
  let b: Float32Array = new Float32Array(data.length);
  for (const r of radii) {
    boxPassH(a, b, w, h, ch, r);
    [a, b] = [b, a];
  }
  a = transpose(a, w, h, ch);
  b = new Float32Array(data.length);
  for (const r of radii) {
    boxPassH(a, b, h, w, ch, r);
    [a, b] = [b, a];
  }
  return transpose(a, h, w, ch);
}

/** The mask feathered with a gaussian of `radius` px (A1111's mask blur); 0 leaves it as it is. */
export function blurMask(mask: MaskImage, radius: number): MaskImage {
  if (!(radius > 0)) return { ...mask, data: Uint8Array.from(mask.data) };
  const blurred = gaussianBlur(Float32Array.from(mask.data), mask.width, mask.height, 1, radius);
  const data = new Uint8Array(blurred.length);
  // Truncate below 0.5 to 0 (rounding), so a pixel is either untouched or visibly repainted.
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(blurred[i] as number)));
  return { width: mask.width, height: mask.height, data };
}

/** True when no pixel of the mask asks for repainting. */
export function isMaskEmpty(mask: MaskImage): boolean {
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] !== 0) return false;
  return true;
}

/** The bounding box of the mask's non-zero pixels grown by `padding` and clamped (A1111's get_crop_region). */
export function maskCropRegion(mask: MaskImage, padding: number): Region {
  const { width: w, height: h, data } = mask;
  let x1 = w;
  let y1 = h;
  let x2 = 0;
  let y2 = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x] === 0) continue;
      if (x < x1) x1 = x;
      if (x + 1 > x2) x2 = x + 1;
      if (y < y1) y1 = y;
      if (y + 1 > y2) y2 = y + 1;
    }
  }
  if (x2 <= x1) return { x1: 0, y1: 0, x2: w, y2: h };
  return {
    x1: Math.max(0, x1 - padding),
    y1: Math.max(0, y1 - padding),
    x2: Math.min(w, x2 + padding),
    y2: Math.min(h, y2 + padding),
  };
}

/**
 * Grows `region` along one axis until its aspect is `targetW / targetH`, centred, shifted back inside
 * the image where it would cross an edge (A1111's expand_crop_region). May stay narrower than the
 * aspect when the image itself is too small; the crop is then stretched a little when resized.
 */
export function expandToAspect(
  region: Region,
  targetW: number,
  targetH: number,
  imageW: number,
  imageH: number,
): Region {
  let { x1, y1, x2, y2 } = region;
  const ratioRegion = (x2 - x1) / (y2 - y1);
  const ratioTarget = targetW / targetH;
  const grow = (lo: number, hi: number, desired: number, limit: number): [number, number] => {
    const diff = Math.trunc(desired - (hi - lo));
    lo -= Math.floor(diff / 2);
    hi += diff - Math.floor(diff / 2);
    if (hi >= limit) {
      lo -= hi - limit;
      hi = limit;
    }
    if (lo < 0) {
      hi -= lo;
      lo = 0;
    }
    return [lo, Math.min(hi, limit)];
  };
  if (ratioRegion > ratioTarget) [y1, y2] = grow(y1, y2, (x2 - x1) / ratioTarget, imageH);
  else [x1, x2] = grow(x1, x2, (y2 - y1) * ratioTarget, imageW);
  return { x1, y1, x2, y2 };
}

export function cropRgba(image: RgbaImage, r: Region): RgbaImage {
  const w = r.x2 - r.x1;
  const h = r.y2 - r.y1;
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    const from = ((r.y1 + y) * image.width + r.x1) * 4;
    data.set(image.data.subarray(from, from + w * 4), y * w * 4);
  }
  return { width: w, height: h, data };
}

export function cropMask(mask: MaskImage, r: Region): MaskImage {
  const w = r.x2 - r.x1;
  const h = r.y2 - r.y1;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const from = (r.y1 + y) * mask.width + r.x1;
    data.set(mask.data.subarray(from, from + w), y * w);
  }
  return { width: w, height: h, data };
}

/**
 * The paste-back: `generated` (placed at `at` inside `original`, same size as original when `at` is
 * omitted) over `original`, weighted by `mask` (original's size). Where the mask is 0 the original
 * bytes come back unchanged; where it is 255, the generated ones.
 */
export function compositeMasked(
  original: RgbaImage,
  generated: RgbaImage,
  mask: MaskImage,
  at: { x: number; y: number } = { x: 0, y: 0 },
): RgbaImage {
  const out = Uint8Array.from(original.data);
  for (let y = 0; y < generated.height; y++) {
    const oy = y + at.y;
    if (oy < 0 || oy >= original.height) continue;
    for (let x = 0; x < generated.width; x++) {
      const ox = x + at.x;
      if (ox < 0 || ox >= original.width) continue;
      const m = mask.data[oy * original.width + ox] as number;
      if (m === 0) continue;
      const o = (oy * original.width + ox) * 4;
      const g = (y * generated.width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const a = original.data[o + c] as number;
        const b = generated.data[g + c] as number;
        out[o + c] = m === 255 ? b : Math.round(a + ((b - a) * m) / 255);
      }
    }
  }
  return { width: original.width, height: original.height, data: out };
}

/**
 * A1111's "fill" masked content: the masked area painted with the surrounding colours, blurred ever
 * less (radii 256, 64, 16, 4, 2, 0 over the unmasked pixels, premultiplied, alpha-composited), so the
 * model starts from the average colour around the hole rather than from what was there.
 */
export function fillMasked(image: RgbaImage, mask: MaskImage): RgbaImage {
  const { width: w, height: h } = image;
  const plane = w * h;
  // Premultiplied RGBa of the kept pixels: alpha 1 outside the mask, 0 inside.
  const kept = new Float32Array(plane * 4);
  for (let i = 0; i < plane; i++) {
    const alpha = 1 - (mask.data[i] as number) / 255;
    for (let c = 0; c < 3; c++) kept[i * 4 + c] = ((image.data[i * 4 + c] as number) / 255) * alpha;
    kept[i * 4 + 3] = alpha;
  }
  const acc = new Float32Array(plane * 4);
  for (const [radius, repeats] of [
    [256, 1],
    [64, 1],
    [16, 2],
    [4, 4],
    [2, 2],
    [0, 1],
  ] as const) {
    const blurred = gaussianBlur(kept, w, h, 4, Math.min(radius, Math.max(w, h)));
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < plane; i++) {
        // "over" in premultiplied form: dst = src + dst * (1 - src.alpha)
        const sa = Math.min(1, blurred[i * 4 + 3] as number);
        for (let c = 0; c < 4; c++)
          acc[i * 4 + c] = (blurred[i * 4 + c] as number) + (acc[i * 4 + c] as number) * (1 - sa);
      }
    }
  }
  const data = new Uint8Array(plane * 4);
  for (let i = 0; i < plane; i++) {
    const a = acc[i * 4 + 3] as number;
    for (let c = 0; c < 3; c++) {
      const v = a > 1e-6 ? (acc[i * 4 + c] as number) / a : 0.5;
      data[i * 4 + c] = Math.min(255, Math.max(0, Math.round(v * 255)));
    }
    data[i * 4 + 3] = 255;
  }
  return { width: w, height: h, data };
}
