/**
 * The models folder is watched with real files: what a file manager does there shows up in
 * `models.list`, announced by one debounced `models.changed` event.
 */
import { cpSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { LibraryEntry } from '../../../src/preload/contract';
import { ModelFolderWatcher } from '../../../src/main/services/models/ModelFolderWatcher';
import { createTestApp } from '../../helpers/appHarness';
import { ensureFixture } from '../../helpers/fixtures';
import { encodeSafetensors } from '../../helpers/safetensorsWriter';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-watch-');
afterAll(() => temp.cleanup());

const lora = encodeSafetensors({
  'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': {
    dtype: 'F32',
    shape: [2, 4],
    data: new Array(8).fill(0.1),
  },
  'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': {
    dtype: 'F32',
    shape: [4, 2],
    data: new Array(8).fill(0.1),
  },
});

describe('ModelFolderWatcher', () => {
  test('a burst of changes is one event; a folder that does not exist yet is watched once it appears', async () => {
    const root = join(temp.dir, 'later');
    let changes = 0;
    const watcher = new ModelFolderWatcher(() => changes++, { debounceMs: 100, retryMs: 50 });
    watcher.watch(root);
    await new Promise((r) => setTimeout(r, 150));
    expect(changes).toBe(0);
    mkdirSync(root);
    await expect.poll(() => changes).toBe(1);
    for (let i = 0; i < 5; i++) writeFileSync(join(root, `f${i}`), 'x');
    await expect.poll(() => changes).toBe(2);
    await new Promise((r) => setTimeout(r, 250));
    expect(changes).toBe(2);
    // loras/ made after the watch started is watched too.
    mkdirSync(join(root, 'loras'));
    await expect.poll(() => changes).toBe(3);
    writeFileSync(join(root, 'loras', 'a.safetensors'), lora);
    await expect.poll(() => changes).toBe(4);
    // The library's own bookkeeping is not news.
    writeFileSync(join(root, '.sumi-library.json'), '{}');
    writeFileSync(join(root, 'loras', 'b.safetensors.part'), 'x');
    await new Promise((r) => setTimeout(r, 300));
    expect(changes).toBe(4);
    watcher.close();
    writeFileSync(join(root, 'after-close'), 'x');
    await new Promise((r) => setTimeout(r, 300));
    expect(changes).toBe(4);
  });

  test('a deleted models folder is looked for again and its return is noticed', async () => {
    const root = join(temp.dir, 'comes-and-goes');
    mkdirSync(root);
    let changes = 0;
    const watcher = new ModelFolderWatcher(() => changes++, { debounceMs: 50, retryMs: 50 });
    watcher.watch(root);
    rmSync(root, { recursive: true });
    await expect.poll(() => changes).toBeGreaterThanOrEqual(1);
    const before = changes;
    mkdirSync(root);
    await expect.poll(() => changes).toBeGreaterThan(before);
    const again = changes;
    writeFileSync(join(root, 'x'), 'x');
    await expect.poll(() => changes).toBeGreaterThan(again);
    watcher.close();
  });
});

describe('the library follows the folder', () => {
  test('models and LoRAs copied in or deleted by hand appear in models.list after a models.changed event', async () => {
    const app = await createTestApp(join(temp.dir, 'app'));
    const models = app.settings.get().modelsDir;
    let changed = 0;
    app.hub.subscribe((event) => event === 'models.changed' && changed++);
    const list = async (): Promise<string[]> => {
      const result = await app.router.dispatch('models.list', {});
      return result.ok ? (result.value as LibraryEntry[]).map((e) => e.id).sort() : [];
    };
    try {
      // Copied in the way a file manager would: under another name, then renamed.
      cpSync(await ensureFixture('sd1-optimum'), join(models, 'copying'), { recursive: true });
      renameSync(join(models, 'copying'), join(models, 'by-hand'));
      await expect.poll(() => changed).toBeGreaterThan(0);
      expect(await list()).toContain('by-hand');

      const seen = changed;
      mkdirSync(join(models, 'loras'), { recursive: true });
      writeFileSync(join(models, 'loras', 'dropped.safetensors'), lora);
      await expect.poll(() => changed).toBeGreaterThan(seen);
      await expect.poll(list).toContain('loras/dropped.safetensors');

      const before = changed;
      rmSync(join(models, 'loras', 'dropped.safetensors'));
      rmSync(join(models, 'by-hand'), { recursive: true });
      await expect.poll(() => changed).toBeGreaterThan(before);
      expect(await list()).not.toContain('by-hand');
      expect(await list()).not.toContain('loras/dropped.safetensors');

      // A new models folder setting moves the watch.
      const elsewhere = join(temp.dir, 'elsewhere');
      mkdirSync(elsewhere);
      await app.router.dispatch('settings.update', { modelsDir: elsewhere });
      const moved = changed;
      writeFileSync(join(models, 'old-place'), 'x');
      mkdirSync(join(elsewhere, 'new-model'));
      await expect.poll(() => changed).toBeGreaterThan(moved);
      expect(await list()).toContain('new-model');
    } finally {
      await app.dispose();
    }
  });
});
