/**
 * Fills a data folder's gallery with many rows quickly, through the real repository (bulk
 * transactions, as scripts/bench-gallery.ts does) and the real image store: a handful of real PNGs
 * (with their thumbnails made) shared by all rows, since rows may share a content-addressed file.
 *
 * Row k of the grid (0 = the newest, top-left) has seed k and prompt `seeded image k …`, so a test
 * can tell from a cell's label where in the gallery it is.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { GalleryRepository, type GenerationInput } from '../../src/main/services/gallery/db/GalleryRepository';
import { openGalleryDb } from '../../src/main/services/gallery/db/openGalleryDb';
import { ImageStore } from '../../src/main/services/gallery/ImageStore';

export interface SeedOptions {
  count: number;
  /** Distinct image files the rows cycle through. */
  distinctImages?: number;
  /** Side of the PNGs, in pixels. */
  size?: number;
  /** Time of the newest row, ms since the epoch; each older row is one second earlier. */
  newestAt?: number;
}

export interface SeedResult {
  count: number;
  files: string[];
  insertMs: number;
}

const samplers = ['euler', 'euler_a', 'dpmpp_2m', 'ddim'] as const;

export async function seedGallery(dataDir: string, options: SeedOptions): Promise<SeedResult> {
  const { count, distinctImages = 8, size = 128, newestAt = Date.UTC(2025, 5, 1) } = options;
  const store = new ImageStore(() => join(dataDir, 'outputs'), join(dataDir, 'thumbnails'));
  const files: string[] = [];
  for (let i = 0; i < distinctImages; i++) {
    // A diagonal gradient in a hue of its own, so screenshots show which file a cell uses.
    const pixels = Buffer.alloc(size * size * 3);
    const hue = (i / distinctImages) * Math.PI * 2;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const t = (x + y) / (2 * size);
        const o = (y * size + x) * 3;
        pixels[o] = Math.round(127 + 120 * Math.cos(hue) * (0.4 + t));
        pixels[o + 1] = Math.round(127 + 120 * Math.cos(hue + 2.1) * (0.4 + t));
        pixels[o + 2] = Math.round(127 + 120 * Math.cos(hue + 4.2) * (0.4 + t));
      }
    const png = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toBuffer();
    const { file } = store.put(png);
    await store.thumbnail(file);
    files.push(file);
  }

  const opened = await openGalleryDb(join(dataDir, 'gallery.sqlite'));
  if (opened.status !== 'ok') throw new Error(`seed database is ${opened.status}`);
  const repo = new GalleryRepository(opened.db);
  const t0 = performance.now();
  const BATCH = 2000;
  try {
    // Oldest first, so that row ids grow with time as they do in use.
    for (let start = 0; start < count; start += BATCH) {
      const entries = [];
      for (let n = start; n < Math.min(count, start + BATCH); n++) {
        const k = count - 1 - n; // position in the grid, newest first
        const file = files[k % files.length] as string;
        const prompt = `seeded image ${k}, a quiet harbour at dawn`;
        const sampler = samplers[k % samplers.length] as string;
        const generation: GenerationInput = {
          createdAt: newestAt - k * 1000,
          mode: 'txt2img',
          prompt,
          negativePrompt: '',
          seed: k,
          sampler,
          steps: 20,
          cfg: 7,
          width: size,
          height: size,
          strength: null,
          modelName: 'seeded-model',
          modelHash: null,
          loras: [],
          parentImageId: null,
          maskHash: null,
          initImageHash: null,
          timings: { total: 1000 },
          executionProvider: 'cpu',
          ortVersion: '1.30.0',
          rng: 'torch-cpu',
          appVersion: '0.0.0-seed',
          recipe: {
            sumi: {
              mode: 'txt2img',
              prompt,
              negativePrompt: '',
              seed: k,
              sampler,
              steps: 20,
              cfg: 7,
              width: size,
              height: size,
              model: { name: 'seeded-model' },
              loras: [],
              rng: 'torch-cpu',
              appVersion: '0.0.0-seed',
            },
          },
        };
        entries.push({
          generation,
          images: [{ file, bytes: 1000, width: size, height: size, seed: k, batchIndex: 0 }],
        });
      }
      repo.insertGenerations(entries);
    }
  } finally {
    opened.db.close();
  }
  return { count, files, insertMs: Math.round(performance.now() - t0) };
}
