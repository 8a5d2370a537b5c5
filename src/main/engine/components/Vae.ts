/**
 * VAE decode (latents -> pixels) and encode (pixels -> latents). Exporters differ on the encoder: old
 * ones return `latent_sample` (already sampled), current Optimum returns `latent_parameters` (mean and
 * log-variance), from which we sample with the job's RNG as diffusers' `latent_dist.sample()` does.
 */
import type { GraphSession } from '../backend/ort';
import { EngineError } from '../EngineError';
import type { Rng } from '../rng/Rng';

export class VaeDecoder {
  private upcastDecoder: Promise<VaeDecoder> | null = null;

  /** `upcast` opens the same decoder in fp32 (for an fp16 VAE that overflows to NaN). */
  constructor(
    readonly session: GraphSession,
    private readonly upcast?: () => Promise<GraphSession>,
  ) {}

  get isFp16(): boolean {
    return [...this.session.inputs.values()][0]?.dtype === 'float16';
  }

  /** The fp32 twin of this fp16 decoder, opened on first use; null when there is none. */
  fp32(): Promise<VaeDecoder> | null {
    if (!this.isFp16 || !this.upcast) return null;
    this.upcastDecoder ??= this.upcast().then((s) => new VaeDecoder(s));
    return this.upcastDecoder;
  }

  /** Unscaled latents [B, 4, h, w] (already divided by the scaling factor) -> [B, 3, 8h, 8w] in about [-1, 1]. */
  async decode(latents: Float32Array, batch: number, height: number, width: number): Promise<Float32Array> {
    const input = this.session.inputs.has('latent_sample')
      ? 'latent_sample'
      : (this.session.inputs.keys().next().value as string);
    const out = await this.session.run({ [input]: { data: latents, dims: [batch, 4, height, width] } });
    const sample = out.sample ?? Object.values(out)[0];
    if (!sample) throw new EngineError('runtime', `${this.session.file} returned nothing.`, this.session.file);
    return sample.data as Float32Array;
  }
}

export class VaeEncoder {
  constructor(readonly session: GraphSession) {}

  /** Pixels [B, 3, H, W] in [-1, 1] -> latents [B, 4, H/8, W/8] (not yet multiplied by the scaling factor). */
  async encode(pixels: Float32Array, batch: number, height: number, width: number, rng: Rng): Promise<Float32Array> {
    const input = this.session.inputs.has('sample') ? 'sample' : (this.session.inputs.keys().next().value as string);
    const out = await this.session.run({ [input]: { data: pixels, dims: [batch, 3, height, width] } });
    if (out.latent_parameters) {
      const params = out.latent_parameters.data as Float32Array;
      const [, channels = 8, h = height / 8, w = width / 8] = out.latent_parameters.dims;
      const half = channels / 2;
      const plane = h * w;
      const latents = new Float32Array(batch * half * plane);
      const noise = rng.randn(latents.length);
      for (let b = 0; b < batch; b++) {
        for (let c = 0; c < half; c++) {
          for (let i = 0; i < plane; i++) {
            const mean = params[(b * channels + c) * plane + i] as number;
            const logvar = Math.min(20, Math.max(-30, params[(b * channels + half + c) * plane + i] as number));
            const o = (b * half + c) * plane + i;
            latents[o] = mean + Math.exp(0.5 * logvar) * (noise[o] as number);
          }
        }
      }
      return latents;
    }
    const sample = out.latent_sample ?? Object.values(out)[0];
    if (!sample) throw new EngineError('runtime', `${this.session.file} returned nothing.`, this.session.file);
    return sample.data as Float32Array;
  }
}
