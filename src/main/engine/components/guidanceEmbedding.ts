/**
 * LCM's guidance conditioning: diffusers' `get_guidance_scale_embedding(w, embedding_dim)`, the
 * sinusoidal embedding of `w * 1000` that LatentConsistencyModelPipeline feeds the UNet as
 * `timestep_cond` (with w = guidance_scale - 1, and no classifier-free guidance batch).
 */
import { f32 } from '../schedulers/common';

/** [batch, dim] float32: `cat(sin(w * 1000 * freqs), cos(w * 1000 * freqs))`, zero-padded to an odd `dim`. */
export function guidanceScaleEmbedding(w: number, dim: number, batch: number): Float32Array {
  const half = Math.floor(dim / 2);
  const step = f32(f32(Math.log(10000)) / (half - 1));
  const row = new Float32Array(dim);
  const scaled = f32(w * 1000);
  for (let i = 0; i < half; i++) {
    const freq = f32(Math.exp(f32(-i * step)));
    const arg = f32(scaled * freq);
    row[i] = Math.sin(arg);
    row[half + i] = Math.cos(arg);
  }
  const out = new Float32Array(batch * dim);
  for (let b = 0; b < batch; b++) out.set(row, b * dim);
  return out;
}
