/** Float32Array operations the pipelines need, on flat NCHW data. Allocation is explicit. */

/** [a; b] along the batch axis. */
export function concatBatch(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Repeats `x` `times` times along the batch axis. */
export function repeatBatch(x: Float32Array, times: number): Float32Array {
  const out = new Float32Array(x.length * times);
  for (let i = 0; i < times; i++) out.set(x, i * x.length);
  return out;
}

/**
 * Classifier-free guidance on a model output batched as [uncond; cond]:
 * `uncond + scale * (cond - uncond)`, with diffusers' optional guidance rescale (arXiv:2305.08891),
 * whose std is taken per image over all of its values.
 */
export function applyGuidance(output: Float32Array, scale: number, rescale = 0, batch = 1): Float32Array {
  const half = output.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const u = output[i] as number;
    out[i] = u + scale * ((output[half + i] as number) - u);
  }
  if (rescale > 0) {
    const per = half / batch;
    for (let b = 0; b < batch; b++) {
      const cond = output.subarray(half + b * per, half + (b + 1) * per);
      const guided = out.subarray(b * per, (b + 1) * per);
      const ratio = std(cond) / std(guided);
      for (let i = 0; i < per; i++) {
        const g = guided[i] as number;
        guided[i] = rescale * (g * ratio) + (1 - rescale) * g;
      }
    }
  }
  return out;
}

/** Standard deviation with Bessel's correction, as torch.std. */
export function std(x: Float32Array): number {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i] as number;
  mean /= x.length;
  let sq = 0;
  for (let i = 0; i < x.length; i++) {
    const d = (x[i] as number) - mean;
    sq += d * d;
  }
  return Math.sqrt(sq / Math.max(1, x.length - 1));
}

export function scale(x: Float32Array, factor: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] as number) * factor;
  return out;
}

/** The index of the first NaN or infinity, or -1. */
export function firstNonFinite(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i] as number)) return i;
  return -1;
}
