/**
 * Full-size live previews from TAESD (madebyollin's tiny autoencoder), when the user has its ONNX
 * decoder: diffusion latents of the first image in, RGB in [0, 1] out, at 8x the latent size, in a
 * few milliseconds. A decoder that fails to load is remembered as broken and the caller falls back
 * to the linear latent approximation; previews never fail a job.
 */
import { openSession, type GraphSession, type ProviderName } from '../backend/ort';
import type { RgbaImage } from '../tensor/image';

export class TaesdPreview {
  private readonly sessions = new Map<string, Promise<GraphSession | null>>();

  constructor(private readonly options: () => { providers: readonly ProviderName[] }) {}

  /** RGBA preview of image 0 of `latents` [B, 4, h, w], or null when the decoder is unusable. */
  async decode(file: string, latents: Float32Array, width: number, height: number): Promise<RgbaImage | null> {
    let session = this.sessions.get(file);
    if (!session) {
      session = openSession(file, { providers: this.options().providers, threads: 1 }).catch(() => null);
      this.sessions.set(file, session);
    }
    const decoder = await session;
    if (!decoder) return null;
    const input = decoder.inputs.keys().next().value as string;
    try {
      const first = latents.subarray(0, 4 * width * height);
      const out = await decoder.run({ [input]: { data: first, dims: [1, 4, height, width] } });
      const pixels = Object.values(out)[0];
      if (!pixels || pixels.dims.length !== 4) return null;
      const [, , h = 0, w = 0] = pixels.dims;
      const plane = h * w;
      const data = new Uint8Array(plane * 4);
      const values = pixels.data as Float32Array;
      for (let i = 0; i < plane; i++) {
        for (let c = 0; c < 3; c++)
          data[i * 4 + c] = Math.round(Math.min(1, Math.max(0, values[c * plane + i] as number)) * 255);
        data[i * 4 + 3] = 255;
      }
      return { width: w, height: h, data };
    } catch {
      return null;
    }
  }
}
