/**
 * Pixels <-> tensors. Images cross into the engine as RGBA bytes (what sharp gives and takes) and
 * become NCHW float32 in [-1, 1], as diffusers' VaeImageProcessor does.
 */

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes, row-major RGBA. */
  data: Uint8Array;
}

/** RGBA bytes -> [1, 3, H, W] in [-1, 1] (alpha ignored). */
export function rgbaToNchw(image: RgbaImage): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = ((data[i * 4 + c] as number) / 255) * 2 - 1;
  }
  return out;
}

/**
 * Image `index` of a [B, 3, H, W] tensor in [-1, 1] -> RGBA bytes, rounding as diffusers'
 * `numpy_to_pil` does: `round(clamp(x / 2 + 0.5, 0, 1) * 255)`.
 */
export function nchwToRgba(tensor: Float32Array, index: number, width: number, height: number): RgbaImage {
  const plane = width * height;
  const base = index * 3 * plane;
  const data = new Uint8Array(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, (tensor[base + c * plane + i] as number) / 2 + 0.5));
      data[i * 4 + c] = Math.round(v * 255);
    }
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}
