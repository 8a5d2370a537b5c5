/**
 * Real gallery database files in temp folders, made by the real migrations, and plain builders for
 * generation rows. Shared by the gallery db tests, the crash writer and the benchmark.
 */
import { join } from 'node:path';
import { AppError } from '../../../../src/main/services/AppError';
import type { WritableDB } from '../../../../src/main/services/gallery/db/dbAccess';
import {
  openGalleryDb,
  type GalleryDb,
  type OpenGalleryDbOptions,
} from '../../../../src/main/services/gallery/db/openGalleryDb';
import type { GenerationInput, ImageInput } from '../../../../src/main/services/gallery/db/GalleryRepository';
import { makeTempDir } from '../../../helpers/tempDir';

export async function openOk(file: string, options?: OpenGalleryDbOptions): Promise<GalleryDb> {
  const result = await openGalleryDb(file, options);
  if (result.status !== 'ok') {
    throw new AppError('INTERNAL', `expected ${file} to open, got ${result.status}: ${result.problems.join('; ')}`);
  }
  return result.db;
}

/** A temp folder and the gallery file's path in it; cleanup closes nothing, so close dbs first. */
export function tempGalleryFile(): { dir: string; file: string; cleanup: () => void } {
  const t = makeTempDir('sumi-gallery-');
  return { ...t, file: join(t.dir, 'gallery.sqlite') };
}

export function generation(overrides: Partial<GenerationInput> = {}): GenerationInput {
  return {
    createdAt: 1_700_000_000_000,
    mode: 'txt2img',
    prompt: 'a lighthouse on a cliff at dusk',
    negativePrompt: 'blurry',
    seed: 42,
    sampler: 'euler_a',
    steps: 20,
    cfg: 7.5,
    width: 512,
    height: 512,
    strength: null,
    modelName: 'sd15',
    modelHash: 'ab12',
    loras: [{ name: 'ink', weight: 0.8, hash: 'cd34' }],
    parentImageId: null,
    maskHash: null,
    initImageHash: null,
    timings: { total: 1234 },
    executionProvider: 'cpu',
    ortVersion: '1.30.0',
    rng: 'torch-cpu',
    appVersion: '0.1.0',
    recipe: { prompt: 'a lighthouse on a cliff at dusk', steps: 20 },
    ...overrides,
  };
}

export function image(n: number, overrides: Partial<ImageInput> = {}): ImageInput {
  return {
    file: `${n.toString(16).padStart(16, '0')}.png`,
    bytes: 1000 + n,
    width: 512,
    height: 512,
    seed: 42 + n,
    batchIndex: 0,
    ...overrides,
  };
}

/**
 * Rows written the way version 1 of the schema stores them (raw SQL, as that version's code did):
 * what a file made by that release holds. Generation k gets one image; every third image is a
 * favourite on the Recovered board, and image k+1 is made from image k.
 */
export function seedVersion1(db: WritableDB, count: number): void {
  const insertGeneration = db.prepare(`INSERT INTO generations (id, created_at, mode, prompt, negative_prompt, seed,
    sampler, steps, cfg, width, height, model_name, loras, parent_image_id, timings, execution_provider, ort_version,
    rng, app_version, recipe) VALUES (?, ?, 'txt2img', ?, '', ?, 'euler', 20, 7, 512, 512, 'sd15', '[]', ?, '{}',
    'cpu', '1.30.0', 'fast', '0.0.9', '{}')`);
  const insertImage = db.prepare(`INSERT INTO images (id, generation_id, mode, model_name, sampler, seed, file, bytes,
    width, height, favourite, rating, board_id, created_at)
    VALUES (?, ?, 'txt2img', 'sd15', 'euler', ?, ?, 100, 512, 512, ?, ?, ?, ?)`);
  const recovered = db.prepare("SELECT id FROM boards WHERE name = 'Recovered'").pluck().get() as number;
  db.transaction(() => {
    db.prepare(
      `INSERT INTO jobs (id, status, request, position, created_at) VALUES ('job-1', 'queued', '{}', 1, 1)`,
    ).run();
    for (let k = 1; k <= count; k++) {
      insertGeneration.run(k, 1_600_000_000_000 + k, `old prompt ${k}`, k, k > 1 ? k - 1 : null);
      const fav = k % 3 === 0;
      insertImage.run(k, k, k, `v1-${k}.png`, fav ? 1 : 0, k % 6, fav ? recovered : null, 1_600_000_000_000 + k);
    }
  })();
}
