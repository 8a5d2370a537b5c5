/**
 * LoRAs named in the prompt (`<lora:NAME:W>`) are read from the library, merged into the UNet and text
 * encoder in the engine process, and recorded in the recipe: the whole path, on a fixture model.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import type { Job } from '../../../src/preload/contract';
import { createTestApp } from '../../helpers/appHarness';
import { fixtureTokenTable, writeFixtureEmbedding } from '../../helpers/fixtureEmbeddings';
import { fixtureModules, writeFixtureLora } from '../../helpers/fixtureLoras';
import { ensureFixture } from '../../helpers/fixtures';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-lora-gen-');
afterAll(() => temp.cleanup());

describe('LoRAs in the prompt', () => {
  test('weight 0 changes nothing, weight 0.8 changes the image, the recipe records name, weight and hash', async () => {
    const app = await createTestApp(join(temp.dir, 'data'));
    const models = app.settings.get().modelsDir;
    const model = join(models, 'tiny');
    cpSync(await ensureFixture('sd1-optimum'), model, { recursive: true });
    mkdirSync(join(models, 'loras'), { recursive: true });
    const modules = [
      ...fixtureModules(model, 'unet')
        .filter((m) => m.op === 'MatMul')
        .slice(0, 12),
      ...fixtureModules(model, 'text_encoder').slice(0, 4),
    ];
    writeFixtureLora(join(models, 'loras', 'Paper-Fox.safetensors'), {
      format: 'kohya',
      modules,
      rank: 4,
      alpha: 2,
      seed: 5,
    });

    const run = async (prompt: string): Promise<Job> => {
      const { jobId } = app.generation.submit({
        mode: 'txt2img',
        model,
        prompt,
        negativePrompt: '',
        sampler: 'euler',
        steps: 2,
        cfg: 5,
        width: 64,
        height: 64,
        seed: 11,
        rng: 'fast',
        batchSize: 1,
        batchCount: 1,
        strength: 0.75,
      });
      await app.generation.idle();
      return app.generation.list().find((j) => j.id === jobId) as Job;
    };
    const pixels = async (job: Job): Promise<Buffer> =>
      sharp(join(models, '..', job.results[0]?.media as string))
        .raw()
        .toBuffer();

    const plain = await run('a paper fox');
    const zero = await run('a paper fox <lora:paper-fox:0>');
    const full = await run('a paper fox <lora:Paper-Fox:0.8>');
    for (const job of [plain, zero, full]) expect(job.status, JSON.stringify(job.error)).toBe('done');
    expect((await pixels(zero)).equals(await pixels(plain))).toBe(true);
    expect((await pixels(full)).equals(await pixels(plain))).toBe(false);

    const detail = await app.router.dispatch('gallery.get', { id: full.results[0]?.imageId });
    const recipe = (
      detail as { value: { recipe: { loras: { name: string; weight: number; hash: string }[] }; infotext: string } }
    ).value;
    expect(recipe.recipe.loras).toEqual([
      { name: 'Paper-Fox', weight: 0.8, hash: expect.stringMatching(/^[0-9a-f]{12}$/) },
    ]);
    expect(recipe.infotext).toContain('Lora hashes: "Paper-Fox: ');

    const missing = await run('a paper fox <lora:no-such-lora:1>');
    expect(missing.status).toBe('failed');
    expect(missing.error?.message).toContain('no LoRA named "no-such-lora"');
    await app.dispose();
  });

  test('an embedding named in the prompt changes the image and is recorded with its TI hash', async () => {
    const app = await createTestApp(join(temp.dir, 'ti'));
    const models = app.settings.get().modelsDir;
    const model = join(models, 'tiny');
    cpSync(await ensureFixture('sd1-optimum'), model, { recursive: true });
    mkdirSync(join(models, 'embeddings'), { recursive: true });
    const { width } = fixtureTokenTable(model);
    writeFixtureEmbedding(join(models, 'embeddings', 'inkwash.safetensors'), {
      format: 'a1111',
      count: 2,
      width,
      seed: 3,
    });
    const run = async (prompt: string): Promise<Job> => {
      const { jobId } = app.generation.submit({
        mode: 'txt2img',
        model,
        prompt,
        sampler: 'euler',
        steps: 2,
        cfg: 5,
        width: 64,
        height: 64,
        seed: 11,
        rng: 'fast',
      });
      await app.generation.idle();
      return app.generation.list().find((j) => j.id === jobId) as Job;
    };
    const plain = await run('a paper fox');
    const styled = await run('a paper fox, inkwash');
    for (const job of [plain, styled]) expect(job.status, JSON.stringify(job.error)).toBe('done');
    const read = (job: Job) =>
      sharp(join(models, '..', job.results[0]?.media as string))
        .raw()
        .toBuffer();
    expect((await read(styled)).equals(await read(plain))).toBe(false);
    const detail = await app.router.dispatch('gallery.get', { id: styled.results[0]?.imageId });
    const value = (detail as { value: { recipe: { embeddings?: { name: string }[] }; infotext: string } }).value;
    expect(value.recipe.embeddings).toEqual([{ name: 'inkwash', hash: expect.stringMatching(/^[0-9a-f]{12}$/) }]);
    expect(value.infotext).toContain('TI hashes: "inkwash: ');
    await app.dispose();
  });
});
