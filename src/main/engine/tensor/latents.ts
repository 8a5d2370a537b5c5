/**
 * Latent-space tensor work for inpainting and hires fix, on flat NCHW float32 data: channel
 * concatenation (the inpainting UNet's 9-channel input), the mask at latent size, masked blending
 * and latent upscaling. Each mirrors the torch call diffusers or A1111 makes, named in its TSDoc.
 */

/** `torch.cat(parts, dim=1)`: each part is [batch, channels_i, h, w]; returns [batch, sum, h, w]. */
export function concatChannels(
  parts: readonly { data: Float32Array; channels: number }[],
  batch: number,
  plane: number,
): Float32Array {
  const total = parts.reduce((n, p) => n + p.channels, 0);
  const out = new Float32Array(batch * total * plane);
  for (let b = 0; b < batch; b++) {
    let c0 = 0;
    for (const p of parts) {
      const size = p.channels * plane;
      out.set(p.data.subarray(b * size, (b + 1) * size), (b * total + c0) * plane);
      c0 += p.channels;
    }
  }
  return out;
}

/**
 * Writes `latents` [batch, channels, h, w] into the first `channels` channels of every row of `out`
 * [rows, outChannels, h, w], row r taking latents row `r % batch`: the UNet's sample for a CFG batch
 * (`[x; x]`) and, for the inpainting UNet, its 9-channel input, whose last 5 channels (mask, masked
 * image latents) are filled once before the loop and left as they are. Lets the denoising loop reuse
 * one buffer instead of a concatenation per step.
 */
export function writeSampleRows(
  out: Float32Array,
  latents: Float32Array,
  batch: number,
  channels: number,
  outChannels: number,
  plane: number,
): void {
  const size = channels * plane;
  const outSize = outChannels * plane;
  const rows = out.length / outSize;
  for (let r = 0; r < rows; r++) {
    const b = r % batch;
    out.set(latents.subarray(b * size, (b + 1) * size), r * outSize);
  }
}

/**
 * A byte mask (w x h, >= 128 = repaint) binarised at 0.5 and resized to the latent grid with
 * `F.interpolate(mask, size=(h/8, w/8))` (mode 'nearest': source index floor(dst * in / out)), as
 * diffusers' inpainting pipelines prepare it. Returns [1, 1, h/8, w/8] of 0 and 1.
 */
export function maskToLatent(
  mask: Uint8Array,
  width: number,
  height: number,
  latentW: number,
  latentH: number,
): Float32Array {
  const out = new Float32Array(latentW * latentH);
  for (let y = 0; y < latentH; y++) {
    const sy = Math.min(height - 1, Math.floor((y * height) / latentH));
    for (let x = 0; x < latentW; x++) {
      const sx = Math.min(width - 1, Math.floor((x * width) / latentW));
      out[y * latentW + x] = (mask[sy * width + sx] as number) >= 128 ? 1 : 0;
    }
  }
  return out;
}

/**
 * `(1 - mask) * keep + mask * latents`, with `mask` one plane ([1, 1, h, w]) broadcast over batch and
 * channels: diffusers' per-step blend for inpainting with an ordinary UNet.
 */
export function blendMasked(latents: Float32Array, keep: Float32Array, mask: Float32Array): Float32Array {
  const plane = mask.length;
  const out = new Float32Array(latents.length);
  for (let start = 0; start < latents.length; start += plane) {
    for (let j = 0, i = start; j < plane; j++, i++) {
      const m = mask[j] as number;
      out[i] = (1 - m) * (keep[i] as number) + m * (latents[i] as number);
    }
  }
  return out;
}

/**
 * `F.interpolate(latents, size=(outH, outW), mode='bilinear', align_corners=False)` (no antialias):
 * A1111's "Latent" hires upscaler.
 */
export function upscaleLatentsBilinear(
  latents: Float32Array,
  planes: number,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
): Float32Array {
  const out = new Float32Array(planes * outW * outH);
  const axis = (o: number, inSize: number, outSize: number): [number, number, number] => {
    const src = Math.max(0, ((o + 0.5) * inSize) / outSize - 0.5);
    const i0 = Math.min(inSize - 1, Math.floor(src));
    const i1 = Math.min(inSize - 1, i0 + 1);
    return [i0, i1, src - i0];
  };
  const xs = Array.from({ length: outW }, (_, x) => axis(x, inW, outW));
  for (let p = 0; p < planes; p++) {
    const base = p * inW * inH;
    for (let y = 0; y < outH; y++) {
      const [y0, y1, ly] = axis(y, inH, outH);
      for (let x = 0; x < outW; x++) {
        const [x0, x1, lx] = xs[x] as [number, number, number];
        const a = latents[base + y0 * inW + x0] as number;
        const b = latents[base + y0 * inW + x1] as number;
        const c = latents[base + y1 * inW + x0] as number;
        const d = latents[base + y1 * inW + x1] as number;
        out[p * outW * outH + y * outW + x] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * c + lx * d);
      }
    }
  }
  return out;
}
