/**
 * The model library over a real models folder: fixture models, real safetensors LoRAs, the real
 * engine for "check", the real hash cache.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { AppServices } from '../../../src/main/AppServices';
import type { LibraryEntry, ModelImportProgress } from '../../../src/preload/contract';
import { createTestApp } from '../../helpers/appHarness';
import { ensureFixture } from '../../helpers/fixtures';
import { encodeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-library-');
afterAll(() => temp.cleanup());

async function call<T>(app: AppServices, method: string, input: unknown): Promise<T> {
  const result = await app.router.dispatch(method, input);
  if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code });
  return result.value as T;
}

function lora(width: number): Buffer {
  const rank = 2;
  const down = Array.from({ length: rank * width }, (_, i) => Math.sin(i) * 0.01);
  const up = Array.from({ length: 320 * rank }, (_, i) => Math.cos(i) * 0.01);
  return encodeSafetensors(
    {
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': {
        dtype: 'F16',
        shape: [rank, width],
        data: down,
      },
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': {
        dtype: 'F16',
        shape: [320, rank],
        data: up,
      },
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha': {
        dtype: 'F32',
        shape: [],
        data: [1],
      },
    },
    { ss_tag_frequency: JSON.stringify({ set: { 'red fox': 9, forest: 3 } }), ss_network_dim: '2' },
  );
}

async function waitImport(events: ModelImportProgress[], importId: string): Promise<ModelImportProgress> {
  for (;;) {
    const last = events.filter((e) => e.importId === importId).at(-1);
    if (last?.finished) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('model library', () => {
  test('lists models and LoRAs, says what is wrong with a broken one, and "check" reads the graphs', async () => {
    const app = await createTestApp(join(temp.dir, 'a'));
    const models = app.settings.get().modelsDir;
    cpSync(await ensureFixture('sd1-optimum'), join(models, 'tiny-optimum'), { recursive: true });
    cpSync(await ensureFixture('sd1-fp16'), join(models, 'tiny-fp16'), { recursive: true });
    mkdirSync(join(models, 'half-a-model', 'unet'), { recursive: true });
    const list = await call<LibraryEntry[]>(app, 'models.list', {});
    const byId = new Map(list.map((e) => [e.id, e]));
    expect(byId.get('tiny-optimum')).toMatchObject({
      kind: 'model',
      family: 'sd1',
      predictionType: 'epsilon',
      status: 'ok',
      demo: false,
    });
    // The diffusers-script export has no config.json: unknown until checked.
    expect(byId.get('tiny-fp16')).toMatchObject({ family: 'unknown', precision: null });
    expect(byId.get('half-a-model')).toMatchObject({ status: 'error' });
    expect(byId.get('half-a-model')?.problem).toContain('missing unet/model.onnx');

    const checked = await call<LibraryEntry>(app, 'models.check', { id: 'tiny-fp16' });
    expect(checked).toMatchObject({ family: 'sd1', precision: 'fp16', predictionType: 'epsilon' });
    expect((await call<LibraryEntry[]>(app, 'models.list', {})).find((e) => e.id === 'tiny-fp16')?.precision).toBe(
      'fp16',
    );

    // A manual override always wins and is remembered.
    await call(app, 'models.update', {
      id: 'tiny-optimum',
      predictionType: 'v_prediction',
      notes: 'trained on v?',
      name: 'Tiny',
    });
    const again = await createTestApp(join(temp.dir, 'a'));
    const overridden = (await call<LibraryEntry[]>(again, 'models.list', {})).find((e) => e.id === 'tiny-optimum');
    expect(overridden).toMatchObject({
      predictionType: 'v_prediction',
      overridden: true,
      notes: 'trained on v?',
      name: 'Tiny',
    });
    await call(again, 'models.update', { id: 'tiny-optimum', clearOverrides: true });
    expect(
      (await call<LibraryEntry[]>(again, 'models.list', {})).find((e) => e.id === 'tiny-optimum')?.predictionType,
    ).toBe('epsilon');
    await Promise.all([app.dispose(), again.dispose()]);
  });

  test('imports a LoRA with progress, identifies its family and trigger words, hashes it the A1111 way; refuses a pickle', async () => {
    const app = await createTestApp(join(temp.dir, 'b'));
    const events: ModelImportProgress[] = [];
    app.hub.subscribe((event, payload) => event === 'models.import' && events.push(payload as ModelImportProgress));
    const source = join(temp.dir, 'fox-lora.safetensors');
    writeFileSync(source, lora(768));
    const { importId, id } = await call<{ importId: string; id: string }>(app, 'models.import', { source });
    expect(id).toBe('loras/fox-lora.safetensors');
    const done = await waitImport(events, importId);
    expect(done).toMatchObject({ error: null, finished: true });
    expect(done.doneBytes).toBe(done.totalBytes);
    const { sha256 } = await call<{ sha256: string }>(app, 'models.hash', { id });
    const entry = (await call<LibraryEntry[]>(app, 'models.list', {})).find((e) => e.id === id);
    expect(entry).toMatchObject({ kind: 'lora', family: 'sd1', precision: 'fp16', status: 'ok', name: 'fox-lora' });
    expect(entry?.triggerWords.slice(0, 2)).toEqual(['red fox', 'forest']);
    expect(entry?.shortHash).toBe(sha256.slice(0, 12));
    expect(existsSync(source)).toBe(true);

    const sd2 = join(temp.dir, 'sd2-lora.safetensors');
    writeFileSync(sd2, lora(1024));
    const second = await call<{ importId: string; id: string }>(app, 'models.import', { source: sd2, move: true });
    await waitImport(events, second.importId);
    expect((await call<LibraryEntry[]>(app, 'models.list', {})).find((e) => e.id === second.id)?.family).toBe('sd2');
    expect(existsSync(sd2)).toBe(false);

    const pickle = join(temp.dir, 'old.ckpt');
    writeFileSync(pickle, Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
    await expect(call(app, 'models.import', { source: pickle })).rejects.toThrow(/pickle/i);
    const truncated = join(temp.dir, 'cut.safetensors');
    writeFileSync(truncated, lora(768).subarray(0, 200));
    await expect(call(app, 'models.import', { source: truncated })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(call(app, 'models.import', { source })).rejects.toMatchObject({ code: 'CONFLICT' });

    await call(app, 'models.remove', { id });
    expect((await call<LibraryEntry[]>(app, 'models.list', {})).some((e) => e.id === id)).toBe(false);
    expect(readdirSync(join(app.settings.get().modelsDir, '.trash'))).toEqual([
      expect.stringMatching(/fox-lora\.safetensors$/),
    ]);
    await expect(call(app, 'models.remove', { id: '../../etc' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await app.dispose();
  });

  test('a model folder imported by path is copied in with progress and listed', async () => {
    const app = await createTestApp(join(temp.dir, 'c'));
    const events: ModelImportProgress[] = [];
    app.hub.subscribe((event, payload) => event === 'models.import' && events.push(payload as ModelImportProgress));
    const source = join(temp.dir, 'my-sd2');
    cpSync(await ensureFixture('sd2-v'), source, { recursive: true });
    const { importId, id } = await call<{ importId: string; id: string }>(app, 'models.import', { source });
    const done = await waitImport(events, importId);
    expect(done.error).toBeNull();
    expect(events.filter((e) => e.importId === importId).length).toBeGreaterThan(3);
    expect((await call<LibraryEntry[]>(app, 'models.list', {})).find((e) => e.id === id)).toMatchObject({
      family: 'sd2',
      predictionType: 'v_prediction',
    });
    rmSync(source, { recursive: true });
    await app.dispose();
  });
});

describe('overrides reach the engine', () => {
  test('a prediction type set by hand changes what the sampler does, and clearing it restores the image', async () => {
    const app = await createTestApp(join(temp.dir, 'd'));
    const dir = join(app.settings.get().modelsDir, 'tiny');
    cpSync(await ensureFixture('sd1-optimum'), dir, { recursive: true });
    const request = {
      mode: 'txt2img',
      model: dir,
      prompt: 'a lighthouse',
      sampler: 'ddim',
      steps: 2,
      cfg: 5,
      width: 64,
      height: 64,
      seed: 4,
      rng: 'fast',
    };
    const run = async (): Promise<string> => {
      const { jobId } = await call<{ jobId: string }>(app, 'generate.submit', request);
      await app.generation.idle();
      return app.generation.list().find((j) => j.id === jobId)?.results[0]?.media as string;
    };
    const plain = await run();
    await call(app, 'models.update', { id: 'tiny', predictionType: 'v_prediction' });
    const overridden = await run();
    expect(overridden).not.toBe(plain);
    await call(app, 'models.update', { id: 'tiny', clearOverrides: true });
    expect(await run()).toBe(plain);
    await app.dispose();
  });
});
