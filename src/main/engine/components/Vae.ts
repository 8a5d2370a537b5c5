/**
 * VAE decode (latents -> pixels) and encode (pixels -> latents). Exporters differ on the encoder: old
 * ones return `latent_sample` (already sampled), current Optimum returns `latent_parameters` (mean and
 * log-variance), from which we sample with the job's RNG as diffusers' `latent_dist.sample()` does.
 *
 * Large images go through in tiles (diffusers' `enable_tiling`): overlapping tiles in latent space,
 * each decoded (or encoded) alone, blended with linear ramps across the overlaps, so memory is bounded
 * by the tile, not the image. Tiles see less context than the whole (the VAE's attention and its wide
 * receptive field), so a tiled result differs slightly from an untiled one.
 */
import type { GraphSession } from '../backend/ort';
import { EngineError } from '../EngineError';
import type { Rng } from '../rng/Rng';

/** Tile geometry in latent units (1 latent = 8 px). */
export interface VaeTiles {
  /** Tile edge (default 64 latents = 512 px, diffusers' tile_sample_min_size). */
  tile: number;
  /** Overlap between neighbouring tiles (default 16 latents = 128 px, diffusers' 0.25 overlap factor). */
  overlap: number;
}

export const defaultVaeTiles: VaeTiles = { tile: 64, overlap: 16 };

/** Tile starts along one axis: every `tile - overlap`, the last one flush with the end. */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const stride = Math.max(1, tile - overlap);
  const starts: number[] = [];
  for (let s = 0; s + tile < size; s += stride) starts.push(s);
  starts.push(size - tile);
  return starts;
}

/** Per-position weights of a tile along one axis: linear ramps over `ramp` where a neighbour overlaps. */
function rampWeights(start: number, length: number, size: number, ramp: number): Float32Array {
  const w = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    let v = 1;
    if (start > 0) v = Math.min(v, (i + 0.5) / ramp);
    if (start + length < size) v = Math.min(v, (length - i - 0.5) / ramp);
    w[i] = v;
  }
  return w;
}

/**
 * Runs `run` on overlapping tiles and blends the outputs with linear ramps. Tiles are laid out on the
 * latent grid (latentH x latentW, `tile`/`overlap` in latents); the input has `inScale` and the output
 * `outScale` units per latent (8 px and 1 latent for decode, the other way round for encode).
 */
async function runTiled(
  input: Float32Array,
  batch: number,
  inC: number,
  inScale: number,
  outC: number,
  outScale: number,
  latentH: number,
  latentW: number,
  tiles: VaeTiles,
  run: (tile: Float32Array, h: number, w: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const [inH, inW, outH, outW] = [latentH * inScale, latentW * inScale, latentH * outScale, latentW * outScale];
  const sum = new Float32Array(batch * outC * outH * outW);
  const weight = new Float32Array(outH * outW);
  const th = Math.min(tiles.tile, latentH);
  const tw = Math.min(tiles.tile, latentW);
  const [ih, iw, oh, ow] = [th * inScale, tw * inScale, th * outScale, tw * outScale];
  const ramp = tiles.overlap * outScale;
  for (const ly of tileStarts(latentH, tiles.tile, tiles.overlap)) {
    for (const lx of tileStarts(latentW, tiles.tile, tiles.overlap)) {
      const [iy0, ix0, oy0, ox0] = [ly * inScale, lx * inScale, ly * outScale, lx * outScale];
      const piece = new Float32Array(batch * inC * ih * iw);
      for (let bc = 0; bc < batch * inC; bc++)
        for (let y = 0; y < ih; y++) {
          const from = (bc * inH + iy0 + y) * inW + ix0;
          piece.set(input.subarray(from, from + iw), (bc * ih + y) * iw);
        }
      const out = await run(piece, ih, iw);
      const wy = rampWeights(oy0, oh, outH, ramp);
      const wx = rampWeights(ox0, ow, outW, ramp);
      for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) weight[(oy0 + y) * outW + ox0 + x]! += wy[y]! * wx[x]!;
      for (let bc = 0; bc < batch * outC; bc++)
        for (let y = 0; y < oh; y++) {
          const row = (bc * outH + oy0 + y) * outW + ox0;
          for (let x = 0; x < ow; x++) sum[row + x]! += (out[(bc * oh + y) * ow + x] as number) * wy[y]! * wx[x]!;
        }
    }
  }
  const plane = outH * outW;
  for (let i = 0; i < sum.length; i++) sum[i]! /= weight[i % plane]!;
  return sum;
}

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

  /** `decode` tile by tile (see the module header); `tiles` in latent units. */
  async decodeTiled(
    latents: Float32Array,
    batch: number,
    height: number,
    width: number,
    tiles: VaeTiles = defaultVaeTiles,
  ): Promise<Float32Array> {
    return runTiled(latents, batch, 4, 1, 3, 8, height, width, tiles, (piece, h, w) => this.decode(piece, batch, h, w));
  }
}

export class VaeEncoder {
  constructor(readonly session: GraphSession) {}

  /** What the graph returns: mean and log-variance (current Optimum) or a sample (older exports). */
  get outputKind(): 'parameters' | 'sample' {
    return this.session.outputs.has('latent_parameters') ? 'parameters' : 'sample';
  }

  /**
   * Pixels [B, 3, H, W] in [-1, 1] -> latents [B, 4, H/8, W/8] (not yet multiplied by the scaling
   * factor). With `tiles` (latent units), the encoder runs tile by tile and the mean and log-variance
   * are blended before one sample is drawn, so the RNG draws the same count either way.
   */
  async encode(
    pixels: Float32Array,
    batch: number,
    height: number,
    width: number,
    rng: Rng,
    tiles?: VaeTiles,
  ): Promise<Float32Array> {
    const tiled = tiles !== undefined && (height / 8 > tiles.tile || width / 8 > tiles.tile);
    const raw = tiled
      ? {
          kind: this.outputKind,
          channels: this.outputKind === 'parameters' ? 8 : 4,
          data: await runTiled(
            pixels,
            batch,
            3,
            8,
            this.outputKind === 'parameters' ? 8 : 4,
            1,
            height / 8,
            width / 8,
            tiles,
            async (piece, h, w) => (await this.encodeRaw(piece, batch, h, w)).data,
          ),
        }
      : await this.encodeRaw(pixels, batch, height, width);
    if (raw.kind === 'sample') return raw.data;
    const params = raw.data;
    const channels = raw.channels;
    const plane = (height / 8) * (width / 8);
    const half = channels / 2;
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

  /** One encoder call: `latent_parameters` (mean and log-variance) or an already sampled `latent_sample`. */
  private async encodeRaw(
    pixels: Float32Array,
    batch: number,
    height: number,
    width: number,
  ): Promise<{ kind: 'parameters' | 'sample'; channels: number; data: Float32Array }> {
    const input = this.session.inputs.has('sample') ? 'sample' : (this.session.inputs.keys().next().value as string);
    const out = await this.session.run({ [input]: { data: pixels, dims: [batch, 3, height, width] } });
    if (out.latent_parameters) {
      const channels = out.latent_parameters.dims[1] ?? 8;
      return { kind: 'parameters', channels, data: out.latent_parameters.data as Float32Array };
    }
    const sample = out.latent_sample ?? Object.values(out)[0];
    if (!sample) throw new EngineError('runtime', `${this.session.file} returned nothing.`, this.session.file);
    return { kind: 'sample', channels: 4, data: sample.data as Float32Array };
  }
}
