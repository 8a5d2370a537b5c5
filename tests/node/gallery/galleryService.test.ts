/**
 * The gallery over the real engine, a real SQLite file and real PNGs: generate, find, re-run,
 * organise, and survive losing the index or the files.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import type { AppServices } from '../../../src/main/AppServices';
import type { GalleryItem, Job } from '../../../src/preload/contract';
import { createTestApp } from '../../helpers/appHarness';
import { ensureFixture } from '../../helpers/fixtures';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-gallery-');
afterAll(() => temp.cleanup());

async function call<T>(app: AppServices, method: string, input: unknown): Promise<T> {
  const result = await app.router.dispatch(method, input);
  if (!result.ok) throw new Error(`${method}: ${result.error.message}`);
  return result.value as T;
}

async function runJob(app: AppServices, jobId: string): Promise<Job> {
  await app.generation.idle();
  const job = app.generation.list().find((j) => j.id === jobId);
  if (!job) throw new Error(`no job ${jobId}`);
  return job;
}

async function pixels(app: AppServices, media: string): Promise<Buffer> {
  const file = join(app.mediaRoots().outputs as string, media.replace(/^outputs\//, ''));
  return sharp(readFileSync(file)).raw().toBuffer();
}

describe('gallery service', () => {
  test('generate -> stored with its recipe -> found by prompt search -> regenerate gives identical pixels', async () => {
    const app = await createTestApp(join(temp.dir, 'a'));
    const model = await ensureFixture('sd1-optimum');
    const { jobId } = await call<{ jobId: string }>(app, 'generate.submit', {
      mode: 'txt2img',
      model,
      prompt: 'a (lighthouse:1.2) at dusk, "oil" painting',
      negativePrompt: 'blurry',
      sampler: 'dpmpp_2m',
      steps: 3,
      cfg: 6.5,
      width: 64,
      height: 64,
      seed: 31337,
      rng: 'torch-cpu',
    });
    const job = await runJob(app, jobId);
    expect(job.status).toBe('done');
    const imageId = job.results[0]?.imageId as number;
    const detail = await call<{ item: GalleryItem; recipe: Record<string, unknown>; infotext: string }>(
      app,
      'gallery.get',
      { id: imageId },
    );
    expect(detail.recipe).toMatchObject({
      seed: 31337,
      sampler: 'dpmpp_2m',
      steps: 3,
      cfg: 6.5,
      negativePrompt: 'blurry',
      rng: 'torch-cpu',
    });
    expect(detail.infotext).toContain('Seed: 31337');
    expect(detail.item.thumb).toMatch(/^thumbs\/[0-9a-f]{40}\.webp$/);
    expect(
      existsSync(join(app.mediaRoots().thumbs as string, (detail.item.thumb as string).slice('thumbs/'.length))),
    ).toBe(true);

    const found = await call<{ items: GalleryItem[] }>(app, 'gallery.page', { search: 'lighthouse "oil' });
    expect(found.items.map((i) => i.id)).toEqual([imageId]);
    expect((await call<{ items: GalleryItem[] }>(app, 'gallery.page', { search: 'bicycle' })).items).toEqual([]);

    const rerun = await call<{ jobId: string }>(app, 'gallery.rerun', { id: imageId });
    const again = await runJob(app, rerun.jobId);
    const againId = again.results[0]?.imageId as number;
    expect(againId).not.toBe(imageId);
    expect((await pixels(app, again.results[0]?.media as string)).equals(await pixels(app, detail.item.media))).toBe(
      true,
    );
    const lineage = await call<{ ancestors: GalleryItem[] }>(app, 'gallery.get', { id: againId });
    expect(lineage.ancestors.map((a) => a.id)).toEqual([imageId]);

    const variation = await runJob(
      app,
      (await call<{ jobId: string }>(app, 'gallery.rerun', { id: imageId, newSeed: true })).jobId,
    );
    expect(variation.results[0]?.seed).not.toBe(31337);
    const children = await call<{ children: GalleryItem[] }>(app, 'gallery.get', { id: imageId });
    expect(children.children).toHaveLength(2);
    await app.dispose();
  });

  test('favourites, ratings, boards, trash, restore and empty trash', async () => {
    const app = await createTestApp(join(temp.dir, 'b'));
    const model = await ensureFixture('sd1-optimum');
    const base = {
      mode: 'txt2img',
      model,
      prompt: 'a red fox',
      sampler: 'euler',
      steps: 1,
      cfg: 5,
      width: 64,
      height: 64,
      rng: 'fast',
    };
    const ids: number[] = [];
    for (const seed of [1, 2, 3]) {
      const job = await runJob(app, (await call<{ jobId: string }>(app, 'generate.submit', { ...base, seed })).jobId);
      ids.push(job.results[0]?.imageId as number);
    }
    const board = await call<{ id: number }>(app, 'boards.create', { name: 'Foxes' });
    await call(app, 'gallery.update', { ids: [ids[0], ids[1]], favourite: true, rating: 4, boardId: board.id });
    const favourites = await call<{ items: GalleryItem[] }>(app, 'gallery.page', { filters: { favourite: true } });
    expect(favourites.items.map((i) => i.id).sort()).toEqual([ids[0], ids[1]].sort());
    expect(favourites.items.every((i) => i.rating === 4 && i.boardId === board.id)).toBe(true);
    const boards = await call<{ name: string; imageCount: number }[]>(app, 'boards.list', {});
    expect(boards.find((b) => b.name === 'Foxes')?.imageCount).toBe(2);
    expect(boards.some((b) => b.name === 'Recovered')).toBe(true);

    await call(app, 'gallery.trash', { ids: [ids[2]] });
    const visible = await call<{ items: GalleryItem[] }>(app, 'gallery.page', {});
    expect(visible.items.map((i) => i.id)).not.toContain(ids[2]);
    const trashed = await call<{ items: GalleryItem[] }>(app, 'gallery.page', { filters: { trashed: true } });
    expect(trashed.items.map((i) => i.id)).toEqual([ids[2]]);
    await call(app, 'gallery.restore', { ids: [ids[2]] });
    expect((await call<{ items: GalleryItem[] }>(app, 'gallery.page', {})).items).toHaveLength(3);

    await call(app, 'gallery.trash', { ids: [ids[2]] });
    const file = join(app.mediaRoots().outputs as string, trashed.items[0]?.media.replace(/^outputs\//, '') as string);
    expect(existsSync(file)).toBe(true);
    expect(await call(app, 'gallery.emptyTrash', {})).toEqual({ removed: 1 });
    expect(existsSync(file)).toBe(false);
    await expect(call(app, 'gallery.get', { id: ids[2] })).rejects.toThrow(/No image/);
    await app.dispose();
  });

  test('the doctor: orphan files re-imported into Recovered, missing files marked, temp files removed', async () => {
    const dir = join(temp.dir, 'c');
    let app = await createTestApp(dir);
    const model = await ensureFixture('sd1-optimum');
    const base = {
      mode: 'txt2img',
      model,
      prompt: 'a quiet harbour',
      sampler: 'ddim',
      steps: 1,
      cfg: 5,
      width: 64,
      height: 64,
      rng: 'fast',
    };
    const kept = await runJob(
      app,
      (await call<{ jobId: string }>(app, 'generate.submit', { ...base, seed: 10 })).jobId,
    );
    const lost = await runJob(
      app,
      (await call<{ jobId: string }>(app, 'generate.submit', { ...base, seed: 11 })).jobId,
    );
    await app.dispose();
    const outputs = join(dir, 'outputs');
    // The index loses everything (deleted), one file goes missing, and a crash left a temp file.
    rmSync(join(dir, 'gallery.sqlite'));
    rmSync(join(dir, 'gallery.sqlite-wal'), { force: true });
    rmSync(join(dir, 'gallery.sqlite-shm'), { force: true });
    const stray = join(outputs, 'ab', '.deadbeef.1234.tmp');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(outputs, 'ab'), { recursive: true });
    writeFileSync(stray, 'half a png');
    app = await createTestApp(dir);
    expect(existsSync(stray)).toBe(false);
    const recovered = await call<{ items: GalleryItem[] }>(app, 'gallery.page', { sort: 'oldest' });
    expect(recovered.items.map((i) => i.seed).sort()).toEqual([10, 11]);
    expect(recovered.items.every((i) => i.prompt === 'a quiet harbour')).toBe(true);
    const boards = await call<{ id: number; name: string }[]>(app, 'boards.list', {});
    expect(recovered.items.every((i) => i.boardId === boards.find((b) => b.name === 'Recovered')?.id)).toBe(true);
    expect(app.info().notices.some((n) => n.message.includes('2 image(s) re-imported'))).toBe(true);
    await app.dispose();

    rmSync(join(outputs, (lost.results[0]?.media as string).replace(/^outputs\//, '')));
    app = await createTestApp(dir);
    const after = await call<{ items: GalleryItem[] }>(app, 'gallery.page', {});
    expect(after.items.find((i) => i.seed === 11)?.missing).toBe(true);
    expect(after.items.find((i) => i.seed === 11)?.thumb).toBeNull();
    expect(after.items.find((i) => i.seed === kept.results[0]?.seed)?.missing).toBe(false);
    await app.dispose();
  });

  test('a corrupt database is replaced and rebuilt from the images, with a notice', async () => {
    const dir = join(temp.dir, 'd');
    let app = await createTestApp(dir);
    const model = await ensureFixture('sd1-optimum');
    await runJob(
      app,
      (
        await call<{ jobId: string }>(app, 'generate.submit', {
          mode: 'txt2img',
          model,
          prompt: 'snowy peaks',
          sampler: 'euler',
          steps: 1,
          cfg: 5,
          width: 64,
          height: 64,
          seed: 3,
          rng: 'fast',
        })
      ).jobId,
    );
    await app.dispose();
    const db = join(dir, 'gallery.sqlite');
    const bytes = readFileSync(db);
    bytes.fill(0x5a, 100, Math.min(bytes.length, 8192));
    writeFileSync(db, bytes);
    rmSync(`${db}-wal`, { force: true });
    app = await createTestApp(dir);
    expect(app.info().notices.some((n) => /gallery index was damaged/.test(n.message))).toBe(true);
    const items = (await call<{ items: GalleryItem[] }>(app, 'gallery.page', {})).items;
    expect(items.map((i) => i.prompt)).toEqual(['snowy peaks']);
    await app.dispose();
  });

  test('bad gallery calls get typed errors', async () => {
    const app = await createTestApp(join(temp.dir, 'e'));
    expect(await app.router.dispatch('gallery.get', { id: 999 })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(await app.router.dispatch('gallery.update', { ids: [], favourite: true })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION' },
    });
    expect(await app.router.dispatch('gallery.update', { ids: [1], rating: 9 })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION' },
    });
    expect(await app.router.dispatch('gallery.rerun', { id: 12 })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    await app.dispose();
  });
});

describe('the job queue across restarts', () => {
  test('queued jobs survive a restart and run; a job cut off by a crash is marked failed with the reason', async () => {
    const dir = join(temp.dir, 'jobs');
    const model = await ensureFixture('sd1-optimum');
    const base = {
      mode: 'txt2img',
      model,
      prompt: 'a tide pool',
      sampler: 'euler',
      steps: 2,
      cfg: 5,
      width: 64,
      height: 64,
      rng: 'fast',
    };
    let app = await createTestApp(dir);
    const first = await call<{ jobId: string }>(app, 'generate.submit', { ...base, steps: 150, seed: 1 });
    const second = await call<{ jobId: string }>(app, 'generate.submit', { ...base, seed: 2 });
    const third = await call<{ jobId: string }>(app, 'generate.submit', { ...base, seed: 3 });
    await call(app, 'jobs.move', { id: third.jobId, toIndex: 0 });
    let stepped = false;
    app.hub.subscribe((event, payload) => {
      if (event === 'job.progress' && (payload as { id: string }).id === first.jobId) stepped = true;
    });
    while (!stepped) await new Promise((r) => setTimeout(r, 20));
    // The app closes mid-job: the running job fails with the reason, the queued ones wait for the next start.
    await app.dispose();
    const reopened = await createTestApp(dir);
    const firstAfter = reopened.generation.list().find((j) => j.id === first.jobId);
    expect(firstAfter).toBeUndefined();
    await reopened.generation.idle();
    const done = reopened.generation
      .list()
      .filter((j) => j.status === 'done')
      .map((j) => j.id);
    expect(done).toEqual([third.jobId, second.jobId]);
    const rows = reopened.gallery.repo.listJobs();
    expect(rows.find((j) => j.id === first.jobId)?.status).toBe('failed');
    expect(rows.find((j) => j.id === first.jobId)?.error?.message).toMatch(/engine process stopped/);
    // A row left 'running' by a real crash is marked failed at the next start.
    reopened.gallery.repo.updateJob(second.jobId, { status: 'running' });
    await reopened.dispose();
    app = await createTestApp(dir);
    const crashed = app.gallery.repo.listJobs().find((j) => j.id === second.jobId);
    expect(crashed?.status).toBe('failed');
    expect(crashed?.error?.message).toContain('stopped while this job was running');
    expect(app.info().notices.some((n) => n.message.includes('cut off'))).toBe(true);
    await app.dispose();
  });
});
