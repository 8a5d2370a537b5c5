/**
 * A live preview straight from SD latents, with no VAE: a fixed linear map from the 4 latent
 * channels to RGB (the factors A1111 and ComfyUI use for SD 1.x/2.x "approx NN cheap" previews).
 * The result is 1/8 of the image size; the UI scales it up.
 */
import type { RgbaImage } from './image';

const sd15Factors: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

const sdxlFactors: readonly (readonly [number, number, number])[] = [
  [0.3651, 0.4232, 0.4341],
  [-0.2533, -0.0042, 0.1068],
  [0.1076, 0.1111, -0.0362],
  [-0.3165, -0.2492, -0.2188],
];

/** Image `index` of [B, 4, h, w] latents (unscaled, as the scheduler holds them) -> RGBA h x w. */
export function latentPreview(
  latents: Float32Array,
  index: number,
  width: number,
  height: number,
  sdxl = false,
): RgbaImage {
  const factors = sdxl ? sdxlFactors : sd15Factors;
  const plane = width * height;
  const base = index * 4 * plane;
  const data = new Uint8Array(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < 4; k++)
        v += (latents[base + k * plane + i] as number) * (factors[k] as readonly number[])[c]!;
      data[i * 4 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    }
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}
