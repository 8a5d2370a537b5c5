/**
 * Files the browser uploads (it cannot give a path) and embeddings as a library kind, over the real
 * service layer.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { AppServices } from '../../../src/main/AppServices';
import { safetensorsKind } from '../../../src/main/services/models/safetensorsKind';
import { MODEL_UPLOAD_CHUNK_BYTES, type LibraryEntry, type ModelImportProgress } from '../../../src/preload/contract';
import { createTestApp } from '../../helpers/appHarness';
import { encodeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-upload-');
afterAll(() => temp.cleanup());

async function call<T>(app: AppServices, method: string, input: unknown): Promise<T> {
  const result = await app.router.dispatch(method, input);
  if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code });
  return result.value as T;
}

function bigLora(values: number): Buffer {
  const rank = 4;
  const width = Math.ceil(values / rank);
  return encodeSafetensors(
    {
      'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': {
        dtype: 'F32',
        shape: [rank, width],
        data: Array.from({ length: rank * width }, (_, i) => (i % 97) / 97),
      },
      'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight': {
        dtype: 'F32',
        shape: [768, rank],
        data: new Array(768 * rank).fill(0.25),
      },
    },
    { ss_tag_frequency: JSON.stringify({ d: { lantern: 4 } }) },
  );
}

describe('models.importFile', () => {
  test('an upload in chunks becomes a listed LoRA; chunks out of order and pickles are refused', async () => {
    const app = await createTestApp(join(temp.dir, 'a'));
    const events: ModelImportProgress[] = [];
    app.hub.subscribe((event, payload) => event === 'models.import' && events.push(payload as ModelImportProgress));
    try {
      const bytes = bigLora(2_000_000); // ~8 MB: two chunks
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += MODEL_UPLOAD_CHUNK_BYTES)
        chunks.push(bytes.subarray(at, at + MODEL_UPLOAD_CHUNK_BYTES));
      expect(chunks.length).toBe(2);
      const first = await call<{ uploadId: string; importId: null }>(app, 'models.importFile', {
        name: 'lantern.safetensors',
        base64: chunks[0]?.toString('base64'),
        offset: 0,
        last: false,
      });
      expect(first.importId).toBeNull();
      await expect(
        call(app, 'models.importFile', {
          name: 'lantern.safetensors',
          base64: chunks[1]?.toString('base64'),
          uploadId: first.uploadId,
          offset: 12,
          last: true,
        }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      const done = await call<{ importId: string; id: string }>(app, 'models.importFile', {
        name: 'lantern.safetensors',
        base64: chunks[1]?.toString('base64'),
        uploadId: first.uploadId,
        offset: chunks[0]?.length,
        last: true,
      });
      expect(done.id).toBe('loras/lantern.safetensors');
      await expect.poll(() => events.find((e) => e.importId === done.importId && e.finished)).toBeTruthy();
      const models = app.settings.get().modelsDir;
      expect(readFileSync(join(models, 'loras', 'lantern.safetensors')).equals(bytes)).toBe(true);
      const entry = (await call<LibraryEntry[]>(app, 'models.list', {})).find((e) => e.id === done.id);
      expect(entry).toMatchObject({ kind: 'lora', status: 'ok', triggerWords: ['lantern'] });
      expect(entry?.shortHash).toMatch(/^[0-9a-f]{12}$/);
      // Nothing is left in the staging folder.
      expect(existsSync(join(models, '.downloads')) ? readdirSync(join(models, '.downloads')) : []).toEqual([]);

      await expect(
        call(app, 'models.importFile', { name: 'old.ckpt', base64: 'gAJ9cQAu', offset: 0, last: true }),
      ).rejects.toThrow(/pickle/);
      // A pickle renamed to .safetensors is caught by its bytes.
      await expect(
        call(app, 'models.importFile', {
          name: 'sneaky.safetensors',
          base64: 'gAJ9cQAuAAAAAAAAAAAAAA==',
          offset: 0,
          last: true,
        }),
      ).rejects.toThrow(/pickle/);
      await expect(
        call(app, 'models.importFile', { name: '../x.safetensors', base64: 'AA==', offset: 0, last: true }),
      ).rejects.toMatchObject({ code: 'VALIDATION' });
      await expect(
        call(app, 'models.importFile', {
          name: 'x.safetensors',
          base64: 'AA==',
          uploadId: 'gone',
          offset: 1,
          last: true,
        }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await app.dispose();
    }
  });
});

describe('embeddings', () => {
  test('are told from LoRAs by their tensors, wherever they are, and are not loaded as LoRAs', async () => {
    expect(safetensorsKind(['emb_params'])).toBe('embedding');
    expect(safetensorsKind(['string_to_param.*', 'string_to_token'])).toBe('embedding');
    expect(safetensorsKind(['clip_l', 'clip_g'])).toBe('embedding');
    expect(safetensorsKind(['lora_unet_x.lora_down.weight', 'lora_unet_x.lora_up.weight'])).toBe('lora');
    expect(safetensorsKind(['unet.x.lora_A.weight', 'emb_params'])).toBe('lora');
    expect(safetensorsKind(['something_else'])).toBe('lora');

    const app = await createTestApp(join(temp.dir, 'b'));
    try {
      const models = app.settings.get().modelsDir;
      mkdirSync(join(models, 'loras'), { recursive: true });
      const sdxl = encodeSafetensors({
        clip_l: { dtype: 'F16', shape: [2, 768], data: new Array(1536).fill(0.1) },
        clip_g: { dtype: 'F16', shape: [2, 1280], data: new Array(2560).fill(0.1) },
      });
      writeFileSync(join(models, 'loras', 'misplaced.safetensors'), sdxl);
      const source = join(temp.dir, 'style.safetensors');
      writeFileSync(
        source,
        encodeSafetensors({ emb_params: { dtype: 'F32', shape: [3, 768], data: new Array(2304).fill(0.2) } }),
      );
      const { id } = await call<{ id: string }>(app, 'models.import', { source });
      expect(id).toBe('embeddings/style.safetensors');
      await expect
        .poll(async () => (await call<LibraryEntry[]>(app, 'models.list', {})).find((e) => e.id === id)?.shortHash)
        .toMatch(/^[0-9a-f]{10}$/);
      const list = await call<LibraryEntry[]>(app, 'models.list', {});
      expect(list.find((e) => e.id === id)).toMatchObject({ kind: 'embedding', status: 'ok' });
      expect(list.find((e) => e.id === 'loras/misplaced.safetensors')).toMatchObject({
        kind: 'embedding',
        precision: 'fp16',
      });
      await expect(app.models.loadLora('misplaced', 1)).rejects.toThrow(/textual-inversion embedding, not a LoRA/);
    } finally {
      await app.dispose();
    }
  });
});
