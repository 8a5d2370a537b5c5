/**
 * The engine in its own process, supervised by main: jobs, progress, cancel, and survival of a
 * crash. The process is the real engine entry, forked as the web host forks it.
 */
import { afterAll, describe, expect, test } from 'vitest';
import type { EngineState } from '../../../src/preload/contract';
import type { DiffusionRequest } from '../../../src/main/engine/pipelines/StableDiffusionPipeline';
import { EngineClient } from '../../../src/main/services/generation/EngineClient';
import { spawnTestEngine } from '../../helpers/engineHarness';
import { ensureFixture } from '../../helpers/fixtures';

const request: DiffusionRequest = {
  prompt: 'a lighthouse at dusk',
  negativePrompt: '',
  width: 64,
  height: 64,
  steps: 4,
  cfg: 7,
  sampler: 'euler',
  seed: 1,
  rng: 'torch-cpu',
  batchSize: 1,
};

const states: EngineState['state'][] = [];
const client = new EngineClient(spawnTestEngine(), { providers: ['cpu'], onState: (s) => states.push(s.state) });
afterAll(() => client.dispose());

describe('engine process', () => {
  test('runs a job with per-step progress and previews, and reports the provider', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const steps: number[] = [];
    let previews = 0;
    const result = await client.generate({
      id: 'job-1',
      modelDir: dir,
      request,
      previewEvery: 2,
      onStep: (step, total, preview) => {
        steps.push(step);
        expect(total).toBe(4);
        if (preview) {
          previews++;
          expect(preview).toMatchObject({ width: 8, height: 8 });
        }
      },
    });
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(previews).toBe(2);
    expect(result.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(result.provider).toBe('cpu');
    expect(result.probe.family).toBe('sd1');
    expect(states).toContain('ready');
  });

  test('cancel stops the job at a step boundary and the next job runs', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const seen: number[] = [];
    const job = client.generate({
      id: 'job-cancel',
      modelDir: dir,
      request: { ...request, steps: 30 },
      onStep: (step) => {
        seen.push(step);
        if (step === 1) client.cancel('job-cancel');
      },
    });
    await expect(job).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen.length).toBeLessThan(30);
    const next = await client.generate({ id: 'job-after', modelDir: dir, request: { ...request, steps: 1 } });
    expect(next.images).toHaveLength(1);
  });

  test('if the process dies mid-job, the job fails with the reason and the next job gets a new process', async () => {
    const dir = await ensureFixture('sd1-optimum');
    const firstPid = client.pid;
    const job = client.generate({
      id: 'job-killed',
      modelDir: dir,
      request: { ...request, steps: 30 },
      onStep: (step) => {
        if (step === 1 && client.pid) process.kill(client.pid, 'SIGKILL');
      },
    });
    await expect(job).rejects.toMatchObject({ code: 'ENGINE', message: expect.stringContaining('killed by SIGKILL') });
    expect(states).toContain('crashed');
    const next = await client.generate({ id: 'job-next', modelDir: dir, request: { ...request, steps: 1 } });
    expect(next.images).toHaveLength(1);
    expect(client.pid).not.toBe(firstPid);
  });

  test('a model error is reported with the file, and the process keeps serving', async () => {
    const err = await client
      .generate({ id: 'job-missing', modelDir: '/nonexistent/model', request })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENGINE', message: expect.stringContaining('/nonexistent/model') });
    const dir = await ensureFixture('sd1-optimum');
    expect(
      (await client.generate({ id: 'job-ok', modelDir: dir, request: { ...request, steps: 1 } })).images,
    ).toHaveLength(1);
  });

  test('tokenize and probe go through the same process', async () => {
    const dir = await ensureFixture('sd2-v');
    const report = await client.probe(dir);
    expect(report.probe).toMatchObject({ family: 'sd2', predictionType: 'v_prediction' });
    const ids = await client.tokenize(dir, 'a cat');
    expect(ids.length).toBeGreaterThanOrEqual(3);
    expect(ids[0]).not.toBe(ids[ids.length - 1]);
  });
});

describe('unloading', () => {
  test('restart ends the process (memory given back) and the next job starts a new one', async () => {
    const dir = await ensureFixture('sd1-optimum');
    await client.generate({ id: 'before-unload', modelDir: dir, request: { ...request, steps: 1 } });
    const pid = client.pid;
    expect(pid).toBeDefined();
    await client.restart();
    expect(client.pid).toBeUndefined();
    expect(states.at(-1)).toBe('stopped');
    expect(() => process.kill(pid as number, 0)).toThrow();
    await client.generate({ id: 'after-unload', modelDir: dir, request: { ...request, steps: 1 } });
    expect(client.pid).not.toBe(pid);
  });
});

describe('live previews', () => {
  test('with a TAESD decoder installed, previews are full size; without one, the 1/8 approximation', async () => {
    const { cpSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await ensureFixture('sd1-optimum');
    // A stand-in with TAESD's contract (latents [1,4,h,w] -> RGB [1,3,8h,8w]): the fixture's own VAE decoder.
    const taesd = join(mkdtempSync(join(tmpdir(), 'sumi-taesd-')), 'model.onnx');
    cpSync(join(dir, 'vae_decoder', 'model.onnx'), taesd);
    const sizes: string[] = [];
    await client.generate({
      id: 'taesd',
      modelDir: dir,
      request: { ...request, steps: 2 },
      previewEvery: 1,
      previewDecoders: { sd: taesd },
      onStep: (_s, _t, preview) => preview && sizes.push(`${preview.width}x${preview.height}`),
    });
    expect(sizes).toEqual(['64x64', '64x64']);
    const broken = join(mkdtempSync(join(tmpdir(), 'sumi-taesd-')), 'model.onnx');
    const fallback: string[] = [];
    await client.generate({
      id: 'taesd-broken',
      modelDir: dir,
      request: { ...request, steps: 1 },
      previewEvery: 1,
      previewDecoders: { sd: broken },
      onStep: (_s, _t, preview) => preview && fallback.push(`${preview.width}x${preview.height}`),
    });
    expect(fallback).toEqual(['8x8']);
  });
});
