/**
 * fp16 VAEs that overflow: the decoder upcast to fp32 in memory (A1111's --no-half-vae for ONNX)
 * gives the same pictures where fp16 is fine, and finite ones where fp16 gives NaN.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { openSession, openSessionFromBytes } from '../../../src/main/engine/backend/ort';
import { VaeDecoder } from '../../../src/main/engine/components/Vae';
import { loadModel } from '../../../src/main/engine/Engine';
import { upcastFp16Model } from '../../../src/main/engine/model/upcastFp16';
import { firstNonFinite } from '../../../src/main/engine/tensor/ops';
import { ensureFixture } from '../../helpers/fixtures';

const latents = (scale: number): Float32Array => new Float32Array(4 * 8 * 8).map((_, i) => Math.sin(i * 0.7) * scale);

describe('fp16 -> fp32 VAE upcast', () => {
  test('the upcast graph takes and gives float32 and matches fp16 within fp16 precision', async () => {
    const file = join(await ensureFixture('sd1-fp16'), 'vae_decoder', 'model.onnx');
    const half = await openSession(file, { providers: ['cpu'] });
    const full = await openSessionFromBytes(upcastFp16Model(file), 'upcast', { providers: ['cpu'] });
    expect([...half.inputs.values()][0]?.dtype).toBe('float16');
    expect([...full.inputs.values()][0]?.dtype).toBe('float32');
    expect([...full.outputs.values()][0]?.dtype).toBe('float32');
    const a = await new VaeDecoder(half).decode(latents(1), 1, 8, 8);
    const b = await new VaeDecoder(full).decode(latents(1), 1, 8, 8);
    expect(a.length).toBe(3 * 64 * 64);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
    expect(worst).toBeLessThan(0.05);
    expect(worst).toBeGreaterThan(0);
    await Promise.all([half.release(), full.release()]);
  });

  test('an fp16 VAE that overflows to NaN is retried in fp32 and the result is finite', async () => {
    const model = await loadModel(await ensureFixture('sd1-fp16'), { providers: ['cpu'] });
    // Past fp16's largest value (65504): the fp16 graph sees infinities, fp32 sees big numbers.
    const huge = latents(1e5);
    const raw = await model.pipeline.parts.vaeDecoder.decode(huge, 1, 8, 8);
    expect(firstNonFinite(raw)).toBeGreaterThanOrEqual(0);
    const pixels = await model.pipeline.decodeLatents(huge, 1, 8, 8);
    expect(firstNonFinite(pixels)).toBe(-1);
    expect(model.pipeline.upcastUsed).toBe(true);
    await Promise.all(model.sessions.map((s) => s.release()));
  });

  test('an fp32 VAE that gives NaN fails with a message that says what to try', async () => {
    const model = await loadModel(await ensureFixture('sd1-optimum'), { providers: ['cpu'] });
    const nan = new Float32Array(4 * 8 * 8).fill(Number.NaN);
    await expect(model.pipeline.decodeLatents(nan, 1, 8, 8)).rejects.toThrow(/NansException/);
    await Promise.all(model.sessions.map((s) => s.release()));
  });
});
