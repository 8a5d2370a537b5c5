/**
 * The job queue over the real engine process and a real output folder: submit through the router as
 * the renderer does, watch events, find the PNGs on disk.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import type { Job } from '../../../src/preload/contract';
import { parseA1111 } from '../../../src/main/services/gallery/metadata/infotext';
import { readPngText } from '../../../src/main/services/gallery/metadata/pngChunks';
import { recallFromPng } from '../../../src/main/services/gallery/metadata/readers';
import { createTestApp } from '../../helpers/appHarness';
import { ensureFixture } from '../../helpers/fixtures';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-generation-');
const app = await createTestApp(temp.dir);
afterAll(async () => {
  await app.dispose();
  temp.cleanup();
});

const updates: Job[] = [];
const progress: { id: string; step: number; preview: string | null }[] = [];
app.hub.subscribe((event, payload) => {
  if (event === 'job.updated') updates.push(payload as Job);
  if (event === 'job.progress') progress.push(payload as { id: string; step: number; preview: string | null });
});

async function waitFor(id: string, status: Job['status'][]): Promise<Job> {
  for (let i = 0; i < 600; i++) {
    const job = updates.filter((u) => u.id === id).at(-1);
    if (job && status.includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} never reached ${status.join('/')}`);
}

const request = {
  mode: 'txt2img',
  prompt: 'a lighthouse at dusk',
  sampler: 'euler_a',
  steps: 3,
  cfg: 7,
  width: 64,
  height: 64,
  seed: 5,
  rng: 'torch-cpu',
} as const;

describe('generation service', () => {
  test('a job runs to done, with progress events, and its PNGs land in the output folder', async () => {
    const model = await ensureFixture('sd1-optimum');
    const submitted = await app.router.dispatch('generate.submit', { ...request, model, batchCount: 2 });
    expect(submitted.ok).toBe(true);
    const { jobId } = (submitted as { value: { jobId: string } }).value;
    const job = await waitFor(jobId, ['done', 'failed']);
    expect(job.error).toBeNull();
    expect(job.status).toBe('done');
    expect(job.results.map((r) => r.seed)).toEqual([5, 6]);
    for (const r of job.results) {
      const file = join(app.settings.get().outputDir, r.media.replace(/^outputs\//, ''));
      expect(existsSync(file)).toBe(true);
      const bytes = readFileSync(file);
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
      // The recipe travels in the file: ours in full, and A1111's infotext for other tools.
      const recalled = recallFromPng(bytes);
      expect(recalled.source).toBe('sumi');
      expect(recalled.recipe).toMatchObject({
        prompt: 'a lighthouse at dusk',
        seed: r.seed,
        steps: 3,
        sampler: 'euler_a',
        width: 64,
      });
      const parameters = readPngText(bytes).find((c) => c.keyword === 'parameters')?.text ?? '';
      expect(parseA1111(parameters)).toMatchObject({
        Prompt: 'a lighthouse at dusk',
        Seed: String(r.seed),
        Sampler: 'Euler a',
      });
    }
    expect(progress.filter((p) => p.id === jobId).map((p) => p.step)).toEqual([1, 2, 3, 1, 2, 3]);
    expect(progress.some((p) => p.id === jobId && p.preview?.startsWith('data:image/png;base64,'))).toBe(true);
    const listed = await app.router.dispatch('jobs.list', {});
    expect(listed).toMatchObject({ ok: true });
  });

  test('a cancelled job saves nothing, and the queue runs the next one', async () => {
    const model = await ensureFixture('sd1-optimum');
    const outputDir = app.settings.get().outputDir;
    const countPngs = (): number =>
      readdirSync(outputDir, { recursive: true }).filter((f) => String(f).endsWith('.png')).length;
    const before = countPngs();
    const slow = app.generation.submit({
      ...request,
      model,
      steps: 40,
      negativePrompt: '',
      batchSize: 1,
      batchCount: 1,
      strength: 0.75,
    });
    const next = app.generation.submit({
      ...request,
      model,
      seed: 77,
      negativePrompt: '',
      batchSize: 1,
      batchCount: 1,
      strength: 0.75,
    });
    await waitFor(slow.jobId, ['running']);
    while (!progress.some((p) => p.id === slow.jobId)) await new Promise((r) => setTimeout(r, 10));
    app.generation.cancel(slow.jobId);
    const cancelled = await waitFor(slow.jobId, ['cancelled', 'done', 'failed']);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.results).toEqual([]);
    const done = await waitFor(next.jobId, ['done', 'failed']);
    expect(done.status).toBe('done');
    expect(countPngs()).toBe(before + 1);
    expect(readdirSync(outputDir, { recursive: true }).filter((f) => String(f).endsWith('.tmp'))).toEqual([]);
  });

  test('queued jobs can be reordered and cancelled before they start', async () => {
    const model = await ensureFixture('sd1-optimum');
    const full = { ...request, model, negativePrompt: '', batchSize: 1, batchCount: 1, strength: 0.75 };
    const a = app.generation.submit({ ...full, steps: 6 });
    const b = app.generation.submit(full);
    const c = app.generation.submit(full);
    app.generation.move(c.jobId, 0);
    app.generation.cancel(b.jobId);
    await app.generation.idle();
    const started = updates.filter((u) => u.status === 'running' && [a.jobId, b.jobId, c.jobId].includes(u.id));
    const order = [...new Set(started.map((u) => u.id))];
    expect(order).toEqual([a.jobId, c.jobId]);
    expect(updates.filter((u) => u.id === b.jobId).at(-1)?.status).toBe('cancelled');
    expect(() => app.generation.move(a.jobId, 0)).toThrow(/only queued jobs can move/);
  });

  test('img2img without an image, and txt2img with one, are refused naming the field', async () => {
    const missing = await app.router.dispatch('generate.submit', { ...request, mode: 'img2img' });
    expect(missing).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    if (!missing.ok) expect(missing.error.message).toContain('initImage');
    const clash = await app.router.dispatch('generate.submit', { ...request, initImage: 'aGVsbG8=' });
    if (!clash.ok) expect(clash.error.message).toContain('clashes with mode txt2img');
    expect(clash.ok).toBe(false);
  });

  test('a job on a missing model fails with a message naming it', async () => {
    const { jobId } = app.generation.submit({
      ...request,
      model: join(temp.dir, 'no-such-model'),
      negativePrompt: '',
      batchSize: 1,
      batchCount: 1,
      strength: 0.75,
    });
    const job = await waitFor(jobId, ['done', 'failed']);
    expect(job.status).toBe('failed');
    expect(job.error?.message).toContain('no-such-model');
  });
});
