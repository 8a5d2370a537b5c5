/**
 * A user's history from other tools joins the gallery: a folder of A1111, ComfyUI and Sumi PNGs is
 * imported with recipes and progress; hostile files are listed, never fatal; export keeps metadata.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, test } from 'vitest';
import type { GalleryItem, ImportProgress } from '../../../src/preload/contract';
import { withTextChunks, crc32 } from '../../../src/main/services/gallery/metadata/pngChunks';
import { recallFromPng } from '../../../src/main/services/gallery/metadata/readers';
import { createTestApp } from '../../helpers/appHarness';
import { makeTempDir } from '../../helpers/tempDir';

const temp = makeTempDir('sumi-import-');
afterAll(() => temp.cleanup());
const samples = join(import.meta.dirname, 'metadata', 'samples');

async function png(seed: number, width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: seed % 255, g: 80, b: 160 } } })
    .png()
    .toBuffer();
}

/** A PNG whose IHDR claims `width` x `height` (nothing else behind it is valid image data). */
function hugeHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.from(type, 'latin1'), data));
    return Buffer.concat([len, Buffer.from(type, 'latin1'), data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('import and export', () => {
  test('a folder of other tools’ PNGs is imported with recipes, progress, duplicates and failures', async () => {
    const folder = join(temp.dir, 'a1111-outputs');
    mkdirSync(join(folder, 'txt2img-images', '2024-05-01'), { recursive: true });
    const a1111 = readFileSync(join(samples, 'a1111', '01-basic-1.9.txt'), 'utf8');
    writeFileSync(
      join(folder, 'txt2img-images', '2024-05-01', '00001-1.png'),
      withTextChunks(await png(1), [{ keyword: 'parameters', text: a1111, kind: 'tEXt' }]),
    );
    const comfy = readFileSync(join(samples, 'comfyui_prompt.json'), 'utf8');
    writeFileSync(
      join(folder, 'ComfyUI_00001_.png'),
      withTextChunks(await png(2), [{ keyword: 'prompt', text: comfy, kind: 'tEXt' }]),
    );
    writeFileSync(join(folder, 'plain.png'), await png(3));
    writeFileSync(join(folder, 'photo.png'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8]));
    writeFileSync(join(folder, 'huge.png'), hugeHeader(100_000, 100_000));
    writeFileSync(join(folder, 'notes.txt'), 'not an image');

    const app = await createTestApp(join(temp.dir, 'data'));
    const events: ImportProgress[] = [];
    app.hub.subscribe((event, payload) => event === 'gallery.import' && events.push(payload as ImportProgress));
    const started = await app.router.dispatch('gallery.importFolder', { folder });
    expect(started).toMatchObject({ ok: true, value: { total: 5 } });
    while (!events.at(-1)?.finished) await new Promise((r) => setTimeout(r, 20));
    const final = events.at(-1) as ImportProgress;
    expect(final).toMatchObject({ done: 5, total: 5, imported: 3, duplicates: 0 });
    expect(final.failed.map((f) => f.file).sort()).toEqual(['huge.png', 'photo.png']);
    expect(final.failed.find((f) => f.file === 'huge.png')?.reason).toMatch(/100000x100000|pixel/);
    expect(final.failed.find((f) => f.file === 'photo.png')?.reason).toMatch(/JPEG|PNG/);

    const page = await app.router.dispatch('gallery.page', { sort: 'oldest' });
    const items = (page as { value: { items: GalleryItem[] } }).value.items;
    expect(items).toHaveLength(3);
    const fromA1111 = items.find((i) => i.width === 64 && i.prompt.length > 0 && i.modelName !== 'unknown');
    expect(fromA1111).toBeDefined();
    const boards = (await app.router.dispatch('boards.list', {})) as { value: { name: string; imageCount: number }[] };
    expect(boards.value.find((b) => b.name === 'Imported: a1111-outputs')?.imageCount).toBe(3);

    // Importing again finds only duplicates.
    events.length = 0;
    await app.router.dispatch('gallery.importFolder', { folder });
    while (!events.at(-1)?.finished) await new Promise((r) => setTimeout(r, 20));
    expect(events.at(-1)).toMatchObject({ imported: 0, duplicates: 3 });

    // Export copies the PNGs with their metadata.
    const out = join(temp.dir, 'export');
    const exported = await app.router.dispatch('gallery.export', { ids: items.map((i) => i.id), folder: out });
    const files = (exported as { value: { files: string[] } }).value.files;
    expect(files).toHaveLength(3);
    const sources = files.map((f) => recallFromPng(readFileSync(f)).source).sort();
    expect(sources).toEqual(['a1111', 'comfyui', 'unknown']);
    await app.dispose();
  });

  test('recall reads a dropped PNG’s recipe, and refuses a non-PNG in words', async () => {
    const app = await createTestApp(join(temp.dir, 'recall'));
    const a1111 = readFileSync(join(samples, 'a1111', '01-basic-1.9.txt'), 'utf8');
    const dropped = withTextChunks(await png(9), [{ keyword: 'parameters', text: a1111, kind: 'tEXt' }]);
    const ok = await app.router.dispatch('gallery.recall', { png: dropped.toString('base64') });
    expect(ok).toMatchObject({ ok: true, value: { source: 'a1111' } });
    const bad = await app.router.dispatch('gallery.recall', {
      png: Buffer.from('GIF89a-not-a-png').toString('base64'),
    });
    expect(bad).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    const missing = await app.router.dispatch('gallery.importFolder', { folder: join(temp.dir, 'nope') });
    expect(missing).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION', message: expect.stringContaining('is not a folder') },
    });
    await app.dispose();
  });
});
