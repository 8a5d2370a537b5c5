/**
 * The gallery: every generation kept with its full recipe (the SQLite index) and its PNG (the image
 * store, which also carries the recipe in the file). The index can always be rebuilt from the files:
 * the doctor at start re-imports files the index lost, and marks rows whose file is gone.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import {
  DEMO_MODEL,
  zGenerateRequest,
  type GalleryDetail,
  type GalleryItem,
  type GalleryPageQuery,
  type GenerateRequest,
  type GenerateRequestInput,
  type ImportProgress,
  type Recall,
} from '@contract';
import type { Emit } from '../../ipc/EventHub';
import { AppError } from '../AppError';
import type { NoticeBoard } from '../app/NoticeBoard';
import {
  GalleryRepository,
  type GalleryImage,
  type GenerationInput,
  type GenerationMode,
} from './db/GalleryRepository';
import { openGalleryDb, restoreLatestBackup, startFresh, type GalleryDb } from './db/openGalleryDb';
import { ImageStore } from './ImageStore';
import { formatInfotext, zSumiRecipe, type SumiRecipe } from './metadata/infotext';
import { readPngText } from './metadata/pngChunks';
import { recallFromPng } from './metadata/readers';

export interface StoredImage {
  png: Buffer;
  seed: number;
  width: number;
  height: number;
  batchIndex: number;
}

export interface NewGeneration {
  recipe: SumiRecipe;
  /** The request as submitted (parsed by the contract), for an exact re-run. */
  request: GenerateRequest;
  images: StoredImage[];
  timings: Record<string, number>;
  executionProvider: string;
  ortVersion: string;
  parentImageId: number | null;
}

export interface DoctorReport {
  removedTempFiles: number;
  recovered: number;
  unreadable: number;
  markedMissing: number;
}

export class GalleryService {
  private constructor(
    private readonly db: GalleryDb,
    readonly repo: GalleryRepository,
    readonly store: ImageStore,
    private readonly emit: Emit,
    /** Init images and masks sent with requests (not gallery images), kept so the request can be re-run. */
    readonly inputs: ImageStore,
  ) {}

  /**
   * Opens (or creates) `<dataDir>/gallery.sqlite`. A file that fails `quick_check` is replaced by its
   * latest backup, or started afresh, and the doctor rebuilds what it can from the image files.
   */
  static async open(options: {
    dataDir: string;
    outputDir: () => string;
    emit: Emit;
    notices: NoticeBoard;
  }): Promise<{ gallery: GalleryService; doctor: DoctorReport }> {
    const file = join(options.dataDir, 'gallery.sqlite');
    let opened = await openGalleryDb(file);
    if (opened.status === 'corrupt') {
      const problems = opened.problems.slice(0, 3).join('; ');
      const restored = restoreLatestBackup(file);
      if (restored.status !== 'restored') startFresh(file);
      options.notices.post(
        'warning',
        restored.status === 'restored'
          ? 'The gallery index was damaged and has been restored from its latest backup; images made since are re-imported from their files.'
          : 'The gallery index was damaged and has been rebuilt from the images’ own metadata.',
        problems,
      );
      opened = await openGalleryDb(file);
      if (opened.status === 'corrupt')
        throw new AppError('IO', `The gallery database ${file} cannot be opened: ${opened.problems.join('; ')}`);
    }
    const repo = new GalleryRepository(opened.db);
    const interrupted = repo.markInterruptedJobs('Sumi Studio stopped while this job was running.');
    if (interrupted.length)
      options.notices.post(
        'warning',
        `${interrupted.length} job(s) were cut off when the app last stopped and are marked failed.`,
      );
    const gallery = new GalleryService(
      opened.db,
      repo,
      new ImageStore(options.outputDir, join(options.dataDir, 'thumbnails')),
      options.emit,
      new ImageStore(() => join(options.dataDir, 'inputs'), join(options.dataDir, 'inputs-thumbnails')),
    );
    const doctor = gallery.doctor();
    if (doctor.recovered || doctor.markedMissing || doctor.unreadable) {
      options.notices.post(
        'info',
        `Gallery check: ${doctor.recovered} image(s) re-imported into “Recovered”, ${doctor.markedMissing} missing file(s) marked, ${doctor.unreadable} unreadable file(s) left alone.`,
      );
    }
    return { gallery, doctor };
  }

  close(): void {
    this.db.close();
  }

  /** Files first (atomically), then the rows in one transaction: a crash between leaves an orphan the doctor adopts. */
  async add(generation: NewGeneration): Promise<GalleryItem[]> {
    const stored = generation.images.map((image) => ({ ...image, ...this.store.put(image.png) }));
    // Uploaded init images and masks go to the inputs store; the stored request names them by hash.
    const { initImage, mask, ...request } = generation.request;
    const initImageRef = initImage ? this.inputs.put(Buffer.from(initImage, 'base64')).file : null;
    const maskRef = mask ? this.inputs.put(Buffer.from(mask, 'base64')).file : null;
    const { imageIds } = this.repo.insertGeneration(
      generationInput(generation.recipe, {
        createdAt: Date.now(),
        recipe: { request: { ...request, initImageRef, maskRef }, sumi: generation.recipe },
        initImageHash: initImageRef,
        maskHash: maskRef,
        timings: generation.timings,
        executionProvider: generation.executionProvider,
        ortVersion: generation.ortVersion,
        parentImageId: generation.parentImageId,
      }),
      stored.map((s) => ({
        file: s.file,
        bytes: s.bytes,
        width: s.width,
        height: s.height,
        seed: s.seed,
        batchIndex: s.batchIndex,
      })),
    );
    const items = await Promise.all(imageIds.map((id) => this.item(this.repo.getImage(id))));
    this.emit('gallery.added', { items });
    return items;
  }

  async page(query: GalleryPageQuery): Promise<{ items: GalleryItem[]; nextCursor: string | null }> {
    const filters: Record<string, unknown> = { ...query.filters };
    const page = this.repo.page({
      cursor: query.cursor ?? null,
      limit: query.limit,
      sort: query.sort,
      filters: Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)),
      ...(query.search ? { search: query.search } : {}),
    });
    return { items: await Promise.all(page.items.map((i) => this.item(i))), nextCursor: page.nextCursor };
  }

  async get(id: number): Promise<GalleryDetail> {
    const image = this.image(id);
    const generation = this.repo.getGeneration(image.generationId);
    const lineage = this.repo.lineage(id);
    const recipe = zSumiRecipe.safeParse((generation.recipe as { sumi?: unknown }).sumi);
    return {
      item: await this.item(image),
      recipe: recipe.success ? recipe.data : null,
      infotext: recipe.success ? formatInfotext({ ...recipe.data, seed: image.seed }) : '',
      executionProvider: generation.executionProvider,
      ortVersion: generation.ortVersion,
      timings: generation.timings,
      ancestors: await Promise.all(lineage.ancestors.map((a) => this.item(a))),
      children: await Promise.all(lineage.children.map((c) => this.item(c))),
    };
  }

  /** The stored request of an image, with its own seed: what "regenerate" submits. */
  rerunRequest(id: number, seed?: number): { request: GenerateRequest; parentImageId: number } {
    const image = this.image(id);
    const generation = this.repo.getGeneration(image.generationId);
    const { initImageRef, maskRef, ...stored } = ((generation.recipe as { request?: unknown }).request ?? {}) as {
      initImageRef?: string | null;
      maskRef?: string | null;
    };
    const input = (ref: string | null | undefined): string | undefined =>
      ref && this.inputs.has(ref) ? readFileSync(this.inputs.path(ref)).toString('base64') : undefined;
    const parsed = zGenerateRequest.safeParse({
      ...stored,
      ...(initImageRef ? { initImage: input(initImageRef) } : {}),
      ...(maskRef ? { mask: input(maskRef) } : {}),
      seed: seed ?? image.seed,
      batchCount: 1,
    });
    if (!parsed.success) {
      throw new AppError(
        'UNSUPPORTED',
        `Image ${id} has no re-runnable recipe (it was imported, or made by another tool).`,
      );
    }
    if (generation.mode !== 'txt2img' && parsed.data.initImageId === undefined && !parsed.data.initImage) {
      throw new AppError(
        'UNSUPPORTED',
        `Re-running this ${generation.mode} image needs its init image, which was not a gallery image.`,
      );
    }
    // An img2img re-run starts from the same init image, so the new image is a sibling of this one.
    return { request: { ...parsed.data, batchSize: 1 }, parentImageId: parsed.data.initImageId ?? id };
  }

  /**
   * The request that upscales image `id` by `scale`: Lanczos to the new size (multiples of 8, at most
   * 4096 a side), then img2img at `strength` with the image's own model, prompt and seed. An image
   * without a re-runnable recipe (imported, or from another tool) is resized only.
   */
  upscaleRequest(
    id: number,
    scale: number,
    strength: number,
  ): { request: GenerateRequestInput; parentImageId: number } {
    const image = this.image(id);
    const side = (v: number): number => Math.max(64, Math.min(4096, Math.round((v * scale) / 8) * 8));
    let recipe: GenerateRequest | null = null;
    try {
      recipe = this.rerunRequest(id).request;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'UNSUPPORTED')) throw err;
    }
    return {
      request: {
        mode: 'upscale',
        model: recipe?.model ?? DEMO_MODEL,
        prompt: recipe?.prompt ?? '',
        negativePrompt: recipe?.negativePrompt ?? '',
        sampler: recipe?.sampler ?? 'euler',
        steps: recipe?.steps ?? 20,
        cfg: recipe?.cfg ?? 7,
        seed: image.seed,
        rng: recipe?.rng ?? 'torch-cpu',
        width: side(image.width),
        height: side(image.height),
        initImageId: id,
        // At least two denoising steps at this strength, whatever the original's step count.
        upscale: {
          strength: recipe ? strength : 0,
          steps: recipe && strength > 0 ? Math.min(150, Math.max(recipe.steps, Math.ceil(2 / strength))) : 0,
        },
      },
      parentImageId: id,
    };
  }

  update(
    ids: number[],
    change: { favourite?: boolean | undefined; rating?: number | undefined; boardId?: number | null | undefined },
  ): void {
    ids.forEach((id) => this.image(id));
    if (change.favourite !== undefined) this.repo.setFavourite(ids, change.favourite);
    if (change.rating !== undefined) this.repo.setRating(ids, change.rating);
    if (change.boardId !== undefined) this.repo.setBoard(ids, change.boardId);
  }

  trash(ids: number[]): void {
    this.repo.trash(ids);
  }

  restore(ids: number[]): void {
    this.repo.restore(ids);
  }

  /** Deletes the trashed rows, then the files no row uses any more. */
  emptyTrash(): { removed: number } {
    const result = this.repo.emptyTrash();
    for (const file of result.files) this.store.remove(file);
    for (const file of result.inputs) this.inputs.remove(file);
    return { removed: result.removedImages };
  }

  /**
   * Start-up repair: removes temp files a crash left, re-imports image files the index does not know
   * (from their own metadata, into the "Recovered" board), and marks rows whose file is gone.
   */
  doctor(): DoctorReport {
    const report: DoctorReport = { removedTempFiles: 0, recovered: 0, unreadable: 0, markedMissing: 0 };
    const { files, temps } = this.store.scan();
    for (const temp of temps) {
      rmSync(temp, { force: true });
      report.removedTempFiles++;
    }
    const known = new Map<string, GalleryImage[]>();
    for (const image of this.allImages()) known.set(image.file, [...(known.get(image.file) ?? []), image]);
    const onDisk = new Set(files);
    const missing: number[] = [];
    const found: number[] = [];
    for (const [file, images] of known) {
      for (const image of images) {
        if (!onDisk.has(file) && image.missingAt === null) missing.push(image.id);
        if (onDisk.has(file) && image.missingAt !== null) found.push(image.id);
      }
    }
    if (missing.length) this.repo.setMissing(missing, true);
    if (found.length) this.repo.setMissing(found, false);
    report.markedMissing = missing.length;
    const recovered = this.repo.recoveredBoardId();
    for (const file of files) {
      if (known.has(file)) continue;
      try {
        const png = readFileSync(this.store.path(file));
        const recall = recallFromPng(png);
        const recipe = zSumiRecipe.safeParse({ ...recipeFromFileAlone(png), ...recall.recipe });
        const size = pngSize(png);
        const base = recipe.success ? recipe.data : recipeFromFileAlone(png);
        this.repo.insertGeneration(
          generationInput(base, {
            createdAt: Date.now(),
            recipe: { sumi: recipe.success ? recipe.data : null, recoveredFrom: recall.source },
            timings: {},
            executionProvider: '',
            ortVersion: '',
            parentImageId: null,
          }),
          [
            {
              file,
              bytes: png.length,
              width: size.width,
              height: size.height,
              seed: base.seed,
              batchIndex: 0,
              boardId: recovered,
            },
          ],
        );
        report.recovered++;
      } catch {
        report.unreadable++;
      }
    }
    return report;
  }

  /** The PNG of a gallery image (init images for img2img). */
  imageBytes(id: number): Buffer {
    const image = this.image(id);
    try {
      return readFileSync(this.store.path(image.file));
    } catch {
      throw new AppError('NOT_FOUND', `The file of gallery image ${id} is missing.`);
    }
  }

  /** The recipe a PNG carries, from whichever tool wrote it. Hostile files are refused in words. */
  recall(png: Buffer): Recall {
    const recall = recallFromPng(png);
    return { source: recall.source, recipe: recall.recipe as Record<string, unknown> };
  }

  /**
   * Imports every PNG under `folder` (A1111, Forge, InvokeAI, ComfyUI, Fooocus outputs or ours) into
   * a board, each with the recipe it carries. Runs in the background; progress goes out as
   * `gallery.import` events. Files already in the gallery count as duplicates; unreadable ones are
   * listed with the reason and never stop the rest.
   */
  importFolder(folder: string, boardName?: string): { importId: string; total: number } {
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new AppError('VALIDATION', `folder: ${folder} is not a folder.`, {
        issues: [{ field: 'folder', message: 'is not a folder' }],
      });
    }
    const files = readdirSync(folder, { recursive: true })
      .map(String)
      .filter((f) => f.toLowerCase().endsWith('.png'))
      .sort();
    const importId = randomUUID();
    const name = boardName ?? `Imported: ${basename(folder) || folder}`;
    const board = this.repo.listBoards().find((b) => b.name === name) ?? this.repo.createBoard(name);
    const progress: ImportProgress = {
      importId,
      done: 0,
      total: files.length,
      imported: 0,
      duplicates: 0,
      failed: [],
      finished: false,
    };
    const known = new Set<string>();
    for (const image of this.allImages()) known.add(image.file);
    void (async () => {
      let lastEmit = 0;
      for (const file of files) {
        try {
          const path = join(folder, file);
          if (statSync(path).size > 256 * 1024 * 1024) throw new Error('larger than 256 MB');
          const png = readFileSync(path);
          const recall = recallFromPng(png);
          // Decoding the header through sharp refuses files whose dimensions would exhaust memory.
          const meta = await sharp(png, { limitInputPixels: 64 * 1024 * 1024 }).metadata();
          if (meta.format !== 'png' || !meta.width || !meta.height) throw new Error('not a PNG image');
          if (meta.width * meta.height > 64 * 1024 * 1024) {
            throw new Error(`${meta.width}x${meta.height} is larger than the 64-megapixel limit`);
          }
          const { file: stored, bytes } = this.store.put(png);
          if (known.has(stored)) {
            progress.duplicates++;
          } else {
            known.add(stored);
            const base = { ...recipeFromFileAlone(png), width: meta.width, height: meta.height };
            const parsed = zSumiRecipe.safeParse({
              ...base,
              ...recall.recipe,
              model: { ...base.model, ...(recall.recipe.model ?? {}) },
            });
            const recipe = parsed.success ? parsed.data : base;
            this.repo.insertGeneration(
              generationInput(recipe, {
                createdAt: statSync(path).mtimeMs,
                recipe: { sumi: parsed.success ? recipe : null, importedFrom: recall.source, file },
                timings: {},
                executionProvider: '',
                ortVersion: '',
                parentImageId: null,
              }),
              [
                {
                  file: stored,
                  bytes,
                  width: meta.width,
                  height: meta.height,
                  seed: recipe.seed,
                  batchIndex: 0,
                  boardId: board.id,
                },
              ],
            );
            progress.imported++;
          }
        } catch (err) {
          progress.failed.push({ file, reason: err instanceof Error ? err.message : String(err) });
        }
        progress.done++;
        if (Date.now() - lastEmit > 100) {
          lastEmit = Date.now();
          this.emit('gallery.import', structuredClone(progress));
        }
      }
      progress.finished = true;
      this.emit('gallery.import', structuredClone(progress));
    })();
    return { importId, total: files.length };
  }

  /** Copies images (their PNGs, metadata included) into `folder` as `<id>-<seed>.png`. */
  export(ids: number[], folder: string): { files: string[] } {
    const images = ids.map((id) => this.image(id));
    mkdirSync(folder, { recursive: true });
    return {
      files: images.map((image) => {
        const target = join(folder, `${image.id}-${image.seed}.png`);
        copyFileSync(this.store.path(image.file), target);
        return target;
      }),
    };
  }

  private *allImages(): Generator<GalleryImage> {
    for (const trashed of [false, true]) {
      let cursor: string | null = null;
      do {
        const page = this.repo.page({ cursor, limit: 500, sort: 'oldest', filters: { trashed } });
        yield* page.items;
        cursor = page.nextCursor;
      } while (cursor);
    }
  }

  private image(id: number): GalleryImage {
    try {
      return this.repo.getImage(id);
    } catch {
      throw new AppError('NOT_FOUND', `No image ${id} in the gallery.`);
    }
  }

  private async item(image: GalleryImage): Promise<GalleryItem> {
    let thumb: string | null = null;
    if (image.missingAt === null) {
      try {
        thumb = `thumbs/${await this.store.thumbnail(image.file)}`;
      } catch {
        thumb = null;
      }
    }
    return {
      id: image.id,
      media: `outputs/${image.file}`,
      thumb,
      width: image.width,
      height: image.height,
      seed: image.seed,
      prompt: image.prompt,
      negativePrompt: image.negativePrompt,
      mode: image.mode,
      modelName: image.modelName,
      sampler: image.sampler,
      steps: image.steps,
      cfg: image.cfg,
      favourite: image.favourite,
      rating: image.rating,
      boardId: image.boardId,
      trashed: image.trashedAt !== null,
      missing: image.missingAt !== null,
      createdAt: new Date(image.createdAt).toISOString(),
    };
  }
}

function generationInput(
  recipe: SumiRecipe,
  extra: Pick<
    GenerationInput,
    'createdAt' | 'recipe' | 'timings' | 'executionProvider' | 'ortVersion' | 'parentImageId'
  > &
    Partial<Pick<GenerationInput, 'maskHash' | 'initImageHash'>>,
): GenerationInput {
  return {
    maskHash: null,
    initImageHash: null,
    ...extra,
    // The table's modes predate upscale, which is an img2img pass (the recipe says which).
    mode: (recipe.mode === 'upscale' ? 'img2img' : recipe.mode) as GenerationMode,
    prompt: recipe.prompt,
    negativePrompt: recipe.negativePrompt,
    seed: recipe.seed,
    sampler: recipe.sampler,
    steps: recipe.steps,
    cfg: recipe.cfg,
    width: recipe.width,
    height: recipe.height,
    strength: recipe.strength ?? null,
    modelName: recipe.model.name,
    modelHash: recipe.model.hash ?? null,
    loras: recipe.loras.map((l) => ({ name: l.name, weight: l.weight, hash: l.hash ?? null })),
    rng: recipe.rng,
    appVersion: recipe.appVersion,
  };
}

/** IHDR's width and height (the file was already parsed by the metadata reader). */
function pngSize(png: Buffer): { width: number; height: number } {
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** What a recovered file without our recipe is indexed as: its size and whatever text it had. */
function recipeFromFileAlone(png: Buffer): SumiRecipe {
  const { width, height } = pngSize(png);
  const text = readPngText(png).find((c) => c.keyword === 'parameters')?.text ?? '';
  return {
    mode: 'txt2img',
    prompt: text.split('\n')[0] ?? '',
    negativePrompt: '',
    seed: 0,
    sampler: 'euler',
    steps: 1,
    cfg: 0,
    width,
    height,
    model: { name: 'unknown' },
    loras: [],
    rng: 'torch-cpu',
    appVersion: 'unknown',
  };
}
