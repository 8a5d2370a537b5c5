/**
 * The engine end to end on fixture models: real ORT sessions, real schedulers, real tokenizer.
 * Small sizes and few steps keep it quick; the point is behaviour, not beauty.
 */
import { cpSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/main/engine/Engine';
import { EngineError } from '../../../src/main/engine/EngineError';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import { ensureFixture } from '../../helpers/fixtures';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-pipeline-');
afterAll(() => temp.cleanup());

const base: DiffusionRequest = {
  prompt: 'a lighthouse at dusk',
  negativePrompt: 'blurry',
  width: 64,
  height: 64,
  steps: 3,
  cfg: 7,
  sampler: 'euler_a',
  seed: 42,
  rng: 'torch-cpu',
  batchSize: 1,
};

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

const variants = ['sd1-diffusers', 'sd1-optimum-old', 'sd1-optimum', 'sd2-v', 'sd1-fp16'] as const;

describe.each(variants)('%s', (variant) => {
  test('txt2img gives the requested size, reproducibly, and the prompt and seed matter', async () => {
    const dir = await ensureFixture(variant);
    const engine = new Engine({ providers: ['cpu'] });
    try {
      const a = await engine.generate(dir, base);
      const b = await engine.generate(dir, base);
      expect(a.images).toHaveLength(1);
      expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
      expect(a.images[0]?.data.length).toBe(64 * 64 * 4);
      expect(same(a.images[0]!.data, b.images[0]!.data)).toBe(true);
      const otherPrompt = await engine.generate(dir, { ...base, prompt: 'a red bicycle in the snow' });
      expect(same(a.images[0]!.data, otherPrompt.images[0]!.data)).toBe(false);
      const otherSeed = await engine.generate(dir, { ...base, seed: 43 });
      expect(same(a.images[0]!.data, otherSeed.images[0]!.data)).toBe(false);
      expect(a.model.provider).toBe('cpu');
    } finally {
      await engine.unload();
    }
  });
});

describe('pipelines', () => {
  test('non-square sizes and batches: every image has the size asked for', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const engine = new Engine({ providers: ['cpu'] });
    const r = await engine.generate(dir, { ...base, width: 96, height: 64, batchSize: 2, steps: 2 });
    expect(r.images.map((i) => [i.width, i.height])).toEqual([
      [96, 64],
      [96, 64],
    ]);
    expect(same(r.images[0]!.data, r.images[1]!.data)).toBe(false);
    expect(r.latents.length).toBe(2 * 4 * 8 * 12);
    await engine.unload();
  });

  // Exports whose VAE encoder returns mean and log-variance: we sample with the job's RNG, so img2img
  // is reproducible. (Older exports sample inside the graph with ORT's unseeded RandomNormalLike.)
  test.each(['sd1-optimum', 'sd2-v'] as const)(
    '%s: img2img keeps the size, follows the init image, strength matters',
    async (variant) => {
      const dir = await ensureFixture(variant);
      const engine = new Engine({ providers: ['cpu'] });
      const data = new Uint8Array(64 * 64 * 4);
      for (let i = 0; i < 64 * 64; i++) data.set([(i % 64) * 4, 128, 255 - (i % 64) * 4, 255], i * 4);
      const init = { image: { width: 64, height: 64, data }, strength: 0.3 };
      const low = await engine.generate(dir, { ...base, steps: 10, init });
      const again = await engine.generate(dir, { ...base, steps: 10, init });
      const high = await engine.generate(dir, { ...base, steps: 10, init: { ...init, strength: 1 } });
      expect(low.images[0]).toMatchObject({ width: 64, height: 64 });
      expect(same(low.images[0]!.data, again.images[0]!.data)).toBe(true);
      expect(same(low.images[0]!.data, high.images[0]!.data)).toBe(false);
      expect(low.timings.steps).toBe(3);
      expect(high.timings.steps).toBe(10);
      await engine.unload();
    },
  );

  test('the same noise given explicitly reproduces the seed’s image', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const engine = new Engine({ providers: ['cpu'] });
    const { createRng } = await import('../../../src/main/engine/rng');
    const noise = createRng('torch-cpu', base.seed).randn(4 * 8 * 8);
    const seeded = await engine.generate(dir, { ...base, sampler: 'ddim' });
    const given = await engine.generate(dir, { ...base, sampler: 'ddim', seed: 7, noise });
    expect(same(seeded.images[0]!.data, given.images[0]!.data)).toBe(true);
    await engine.unload();
  });

  test('cancel stops at the next step boundary', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const engine = new Engine({ providers: ['cpu'] });
    const controller = new AbortController();
    const steps: number[] = [];
    const run = engine.generate(
      dir,
      { ...base, steps: 20 },
      {
        signal: controller.signal,
        onStep: ({ step }) => {
          steps.push(step);
          if (step === 2) controller.abort();
        },
      },
    );
    await expect(run).rejects.toMatchObject({ kind: 'cancelled' });
    expect(steps).toEqual([1, 2]);
    // The engine serves the next job.
    const next = await engine.generate(dir, { ...base, steps: 1 });
    expect(next.images).toHaveLength(1);
    await engine.unload();
  });

  test('bad requests are refused with the reason', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const engine = new Engine({ providers: ['cpu'] });
    await expect(engine.generate(dir, { ...base, width: 60 })).rejects.toThrow(/multiples of 8/);
    await expect(engine.generate(dir, { ...base, noise: new Float32Array(3) })).rejects.toThrow(/noise has 3 values/);
    await engine.unload();
  });

  test('a corrupt model part gives an error that names the file', async () => {
    const source = await ensureFixture('sd1-optimum');
    const broken = join(temp.dir, 'broken');
    cpSync(source, broken, { recursive: true });
    const unet = join(broken, 'unet', 'model.onnx');
    truncateSync(unet, Math.floor(readFileSync(unet).length / 3));
    const engine = new Engine({ providers: ['cpu'] });
    const err = await engine.generate(broken, base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).kind).toBe('model');
    expect((err as EngineError).message).toContain(unet);
    // And the engine still serves a good model.
    const ok = await engine.generate(source, { ...base, steps: 1 });
    expect(ok.images).toHaveLength(1);
    await engine.unload();
  });

  test('a folder that is not a model says what is missing', async () => {
    const empty = join(temp.dir, 'not-a-model');
    mkdirSync(join(empty, 'unet'), { recursive: true });
    writeFileSync(join(empty, 'model_index.json'), '{}');
    const engine = new Engine({ providers: ['cpu'] });
    await expect(engine.generate(empty, base)).rejects.toThrow(
      /not a diffusers ONNX model: text_encoder\/model\.onnx is missing/,
    );
  });
});

describe('img2img on exports that sample inside the VAE encoder', () => {
  test.each(['sd1-diffusers', 'sd1-fp16'] as const)('%s: img2img gives the requested size', async (variant) => {
    const engine = new Engine({ providers: ['cpu'] });
    const data = new Uint8Array(64 * 64 * 4).fill(128);
    const r = await engine.generate(await ensureFixture(variant), {
      ...base,
      steps: 4,
      init: { image: { width: 64, height: 64, data }, strength: 0.5 },
    });
    expect(r.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(r.timings.steps).toBe(2);
    await engine.unload();
  });
});
