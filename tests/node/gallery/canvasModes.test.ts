/**
 * The canvas modes through the whole service layer (contract -> queue -> engine process -> gallery):
 * inpaint with an uploaded init image and mask keeps the unmasked pixels, records how it was made,
 * and re-runs to identical pixels from the stored inputs; outpaint grows the image; upscale resizes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import type { AppServices } from '../../../src/main/AppServices';
import type { GalleryDetail, Job } from '../../../src/preload/contract';
import { createTestApp } from '../../helpers/appHarness';
import { ensureFixture } from '../../helpers/fixtures';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-canvas-modes-');
afterAll(() => temp.cleanup());

async function call<T>(app: AppServices, method: string, input: unknown): Promise<T> {
  const result = await app.router.dispatch(method, input);
  if (!result.ok) throw new Error(`${method}: ${result.error.message}`);
  return result.value as T;
}

async function finished(app: AppServices, jobId: string): Promise<Job> {
  await app.generation.idle();
  const job = app.generation.list().find((j) => j.id === jobId);
  if (!job) throw new Error(`no job ${jobId}`);
  if (job.status !== 'done') throw new Error(`job ${job.status}: ${job.error?.message}`);
  return job;
}

async function raw(app: AppServices, media: string): Promise<{ data: Buffer; width: number; height: number }> {
  const file = join(app.mediaRoots().outputs as string, media.replace(/^outputs\//, ''));
  const { data, info } = await sharp(readFileSync(file)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** A 64x64 gradient with a little structure, as PNG, and its RGBA pixels. */
async function initImage(): Promise<{ png: Buffer; rgba: Buffer }> {
  const rgba = Buffer.alloc(64 * 64 * 4);
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++) {
      const i = (y * 64 + x) * 4;
      rgba[i] = x * 4;
      rgba[i + 1] = y * 4;
      rgba[i + 2] = (x * y) % 256;
      rgba[i + 3] = 255;
    }
  const png = await sharp(rgba, { raw: { width: 64, height: 64, channels: 4 } })
    .png()
    .toBuffer();
  return { png, rgba };
}

/** White square (repaint) from (16,16) to (40,40) on black. */
async function maskPng(): Promise<{ png: Buffer; mask: Uint8Array }> {
  const mask = new Uint8Array(64 * 64);
  for (let y = 16; y < 40; y++) for (let x = 16; x < 40; x++) mask[y * 64 + x] = 255;
  const png = await sharp(Buffer.from(mask), { raw: { width: 64, height: 64, channels: 1 } })
    .png()
    .toBuffer();
  return { png, mask };
}

const common = {
  prompt: 'a red door',
  sampler: 'euler',
  steps: 3,
  cfg: 7,
  width: 64,
  height: 64,
  seed: 99,
  rng: 'torch-cpu',
} as const;

describe('canvas modes through the services', () => {
  test('inpaint: unmasked pixels identical, recipe says how, re-run identical from the stored inputs', async () => {
    const app = await createTestApp(join(temp.dir, 'inpaint'));
    try {
      const model = await ensureFixture('sd1-optimum');
      const init = await initImage();
      const { png: mpng, mask } = await maskPng();
      const { jobId } = await call<{ jobId: string }>(app, 'generate.submit', {
        ...common,
        mode: 'inpaint',
        model,
        initImage: init.png.toString('base64'),
        mask: mpng.toString('base64'),
        maskBlur: 0,
        strength: 1,
      });
      const job = await finished(app, jobId);
      expect(job.path).toBe('masked-blend');
      const result = job.results[0];
      if (!result) throw new Error('no result');
      const out = await raw(app, result.media);
      let changedInside = 0;
      for (let p = 0; p < 64 * 64; p++) {
        const same = [0, 1, 2, 3].every((c) => out.data[p * 4 + c] === init.rgba[p * 4 + c]);
        if (mask[p] === 0) expect(same, `pixel ${p % 64},${Math.floor(p / 64)} outside the mask`).toBe(true);
        else if (!same) changedInside++;
      }
      expect(changedInside).toBeGreaterThan(100);

      const detail = await call<GalleryDetail>(app, 'gallery.get', { id: result.imageId });
      expect(detail.recipe?.mode).toBe('inpaint');
      expect(detail.recipe?.inpaint).toMatchObject({ maskBlur: 0, area: 'full', path: 'masked-blend' });
      expect(detail.infotext).toContain('Mask blur: 0');

      const rerun = await call<{ jobId: string }>(app, 'gallery.rerun', { id: result.imageId, newSeed: false });
      const again = await finished(app, rerun.jobId);
      const second = again.results[0];
      if (!second) throw new Error('no re-run result');
      expect((await raw(app, second.media)).data.equals(out.data)).toBe(true);

      // The uploaded inputs stay while a generation needs them, and go with the last one.
      const inputs = (): string[] =>
        readdirSync(join(temp.dir, 'inpaint', 'inputs'), { recursive: true })
          .map(String)
          .filter((f) => f.endsWith('.png'));
      expect(inputs()).toHaveLength(2);
      await call(app, 'gallery.trash', { ids: [result.imageId] });
      await call(app, 'gallery.emptyTrash', {});
      expect(inputs()).toHaveLength(2);
      await call(app, 'gallery.trash', { ids: [second.imageId] });
      await call(app, 'gallery.emptyTrash', {});
      expect(inputs()).toEqual([]);
    } finally {
      await app.dispose();
    }
  });

  test('inpaint on a 9-channel model takes the inpainting-UNet path; an empty mask is refused in words', async () => {
    const app = await createTestApp(join(temp.dir, 'inpaint9'));
    try {
      const model = await ensureFixture('sd1-inpaint');
      const init = await initImage();
      const { png: mpng } = await maskPng();
      const ok = await call<{ jobId: string }>(app, 'generate.submit', {
        ...common,
        mode: 'inpaint',
        model,
        initImage: init.png.toString('base64'),
        mask: mpng.toString('base64'),
      });
      expect((await finished(app, ok.jobId)).path).toBe('inpaint-unet');

      const black = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
        .png()
        .toBuffer();
      const empty = await call<{ jobId: string }>(app, 'generate.submit', {
        ...common,
        mode: 'inpaint',
        model,
        initImage: init.png.toString('base64'),
        mask: black.toString('base64'),
      });
      await app.generation.idle();
      const failed = app.generation.list().find((j) => j.id === empty.jobId);
      expect(failed?.status).toBe('failed');
      expect(failed?.error?.message).toMatch(/nothing to inpaint/i);
    } finally {
      await app.dispose();
    }
  });

  test('outpaint grows the image and keeps the original; upscale resizes', async () => {
    const app = await createTestApp(join(temp.dir, 'outpaint'));
    try {
      const model = await ensureFixture('sd1-optimum');
      const init = await initImage();
      const { jobId } = await call<{ jobId: string }>(app, 'generate.submit', {
        ...common,
        mode: 'outpaint',
        model,
        initImage: init.png.toString('base64'),
        outpaint: { left: 0, top: 0, right: 32, bottom: 0 },
        maskBlur: 2,
      });
      const job = await finished(app, jobId);
      const result = job.results[0];
      if (!result) throw new Error('no result');
      expect([result.width, result.height]).toEqual([96, 64]);
      const out = await raw(app, result.media);
      // The left half of the original is far from the seam: byte for byte the same.
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 32; x++)
          for (let c = 0; c < 4; c++) expect(out.data[(y * 96 + x) * 4 + c]).toBe(init.rgba[(y * 64 + x) * 4 + c]);

      const up = await call<{ jobId: string }>(app, 'generate.submit', {
        ...common,
        mode: 'upscale',
        model,
        width: 128,
        height: 128,
        initImage: init.png.toString('base64'),
        upscale: { strength: 0.3, steps: 4 },
      });
      const upJob = await finished(app, up.jobId);
      expect([upJob.results[0]?.width, upJob.results[0]?.height]).toEqual([128, 128]);
      const detail = await call<GalleryDetail>(app, 'gallery.get', { id: upJob.results[0]?.imageId ?? 0 });
      expect(detail.recipe).toMatchObject({ mode: 'upscale', upscale: { strength: 0.3, steps: 4 } });

      // The gallery's "Upscale 2×": the outpainted 96x64 image, on its own model and prompt, as its child.
      const fromGallery = await call<{ jobId: string }>(app, 'gallery.upscale', { id: result.imageId, scale: 2 });
      const upscaled = (await finished(app, fromGallery.jobId)).results[0];
      expect([upscaled?.width, upscaled?.height]).toEqual([192, 128]);
      const child = await call<GalleryDetail>(app, 'gallery.get', { id: upscaled?.imageId ?? 0 });
      expect(child.recipe).toMatchObject({ mode: 'upscale', prompt: 'a red door', upscale: { strength: 0.3 } });
      expect(child.ancestors.map((a) => a.id)).toContain(result.imageId);
    } finally {
      await app.dispose();
    }
  });
});
