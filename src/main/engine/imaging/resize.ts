/**
 * Lanczos3 resampling in pure TypeScript, separable (rows, then columns), with the support widened
 * by the scale factor when shrinking so that downscales are antialiased, as Pillow and libvips do.
 * Used for hires fix, standalone upscale and "inpaint only masked" (crop up, result back down).
 */
import type { RgbaImage } from '../tensor/image';

const LOBES = 3;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function lanczos3(x: number): number {
  return x > -LOBES && x < LOBES ? sinc(x) * sinc(x / LOBES) : 0;
}

/** For each output index: the first input index and the normalised weights of the taps from there. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  stride: number;
}

function computeTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = LOBES * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let sum = 0;
    const n = Math.min(stride, hi - lo);
    for (let k = 0; k < n; k++) {
      const w = lanczos3((lo + k + 0.5 - center) / filterScale);
      weights[o * stride + k] = w;
      sum += w;
    }
    if (sum !== 0) for (let k = 0; k < n; k++) weights[o * stride + k]! /= sum;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, stride };
}

/**
 * Resizes `channels` interleaved float planes (HWC, any range) from inW x inH to outW x outH.
 * Values are not clamped: Lanczos overshoots at edges, callers clamp when they round to bytes.
 */
export function resizeInterleaved(
  data: Float32Array,
  channels: number,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
): Float32Array {
  if (inW === outW && inH === outH) return Float32Array.from(data);
  const h = computeTaps(inW, outW);
  const tmp = new Float32Array(outW * inH * channels);
  for (let y = 0; y < inH; y++) {
    for (let x = 0; x < outW; x++) {
      const s = h.start[x] as number;
      const n = h.count[x] as number;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++)
          acc += (data[((y * inW + s + k) * channels + c) as number] as number) * h.weights[x * h.stride + k]!;
        tmp[(y * outW + x) * channels + c] = acc;
      }
    }
  }
  const v = computeTaps(inH, outH);
  const out = new Float32Array(outW * outH * channels);
  for (let y = 0; y < outH; y++) {
    const s = v.start[y] as number;
    const n = v.count[y] as number;
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++)
          acc += (tmp[((s + k) * outW + x) * channels + c] as number) * v.weights[y * v.stride + k]!;
        out[(y * outW + x) * channels + c] = acc;
      }
    }
  }
  return out;
}

function toBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(data[i] as number)));
  return out;
}

/** Lanczos3 resize of an RGBA image (all four channels, straight alpha: our images are opaque). */
export function resizeRgba(image: RgbaImage, width: number, height: number): RgbaImage {
  if (image.width === width && image.height === height) {
    return { width, height, data: Uint8Array.from(image.data) };
  }
  const resized = resizeInterleaved(Float32Array.from(image.data), 4, image.width, image.height, width, height);
  return { width, height, data: toBytes(resized) };
}

/** Lanczos3 resize of one byte plane (a mask). */
export function resizePlane(data: Uint8Array, inW: number, inH: number, outW: number, outH: number): Uint8Array {
  if (inW === outW && inH === outH) return Uint8Array.from(data);
  return toBytes(resizeInterleaved(Float32Array.from(data), 1, inW, inH, outW, outH));
}
