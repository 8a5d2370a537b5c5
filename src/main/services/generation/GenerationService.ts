/**
 * The job queue: ordered, one job on the accelerator at a time, cancel and reorder, progress and
 * previews as events, results handed to the gallery (each PNG carrying its recipe).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import {
  DEMO_MODEL,
  zGenerateRequest,
  type GalleryItem,
  type GenerateRequest,
  type GenerateRequestInput,
  type Job,
  type JobProgress,
} from '@contract';
import type { Emit } from '../../ipc/EventHub';
import type { DiffusionRequest } from '../../engine/pipelines/StableDiffusionPipeline';
import { AppError } from '../AppError';
import { formatInfotext, type SumiRecipe } from '../gallery/metadata/infotext';
import { withTextChunks } from '../gallery/metadata/pngChunks';
import type { NewGeneration } from '../gallery/GalleryService';
import type { EmbeddingSpec, LoraSpec } from '../../engine/Engine';
import { extractLoraTags } from '../gallery/metadata/infotext';
import type { EngineClient } from './EngineClient';
import type { ImageCodec } from './ImageCodec';
import { matchColours } from './colourMatch';

export interface GenerationDeps {
  engine: EngineClient;
  codec: ImageCodec;
  emit: Emit;
  /** Where finished images go: the gallery (files first, then rows). */
  results: (generation: NewGeneration) => Promise<GalleryItem[]>;
  /** Returns the demo model's folder, creating it on first use. */
  demoModel: () => Promise<string>;
  previewEvery?: number;
  appVersion: string;
  /** Reads a LoRA named in a prompt (`<lora:NAME:W>`) from the library. */
  loadLora?: (name: string, weight: number) => Promise<{ spec: LoraSpec; shortHash: string }>;
  /** Reads the textual-inversion embeddings the texts name (whole words), checked against nothing yet. */
  loadEmbeddings?: (texts: readonly string[]) => Promise<{ spec: EmbeddingSpec; shortHash: string }[]>;
  /** The prediction type the user set by hand for a model folder, if any. */
  predictionOverride?: (modelDir: string) => 'epsilon' | 'v_prediction' | 'sample' | null;
  /** The PNG bytes of a gallery image, for img2img from the gallery. */
  galleryImage?: (id: number) => Buffer;
  /** Persists jobs; without it the queue lives in memory only. */
  jobs?: JobStore;
  /** TAESD decoders installed by the user, for full-size previews. */
  previewDecoders?: () => { sd?: string; sdxl?: string };
}

interface JobRecord {
  job: Job;
  request: GenerateRequest;
  parentImageId: number | null;
}

/** Where jobs are kept so that queued ones survive a restart (the gallery database). */
export interface JobStore {
  add(record: JobRecord): void;
  update(job: Job): void;
  move(id: string, toIndex: number): void;
  /** Jobs the last run left queued, in queue order. */
  queued(): JobRecord[];
}

export type { JobRecord };

const PREVIEW_EVERY = 2;

export class GenerationService {
  private readonly queue: JobRecord[] = [];
  private readonly finished: JobRecord[] = [];
  private running: JobRecord | null = null;
  private pumping = false;
  private stopped = false;

  constructor(private readonly deps: GenerationDeps) {}

  /** Takes up the jobs a previous run left queued. */
  resume(): void {
    const pending = this.deps.jobs?.queued() ?? [];
    for (const record of pending) {
      this.queue.push(record);
      this.deps.emit('job.updated', structuredClone(record.job));
    }
    if (pending.length) void this.pump();
  }

  /** Starts no further job (the app is closing); queued jobs stay queued for the next start. */
  stop(): void {
    this.stopped = true;
  }

  submit(input: GenerateRequestInput, options: { parentImageId?: number } = {}): { jobId: string } {
    const parsed = zGenerateRequest.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AppError('VALIDATION', `Invalid request: ${issue?.path.join('.') || '(input)'}: ${issue?.message}.`);
    }
    const request = parsed.data;
    const seed = request.seed === -1 ? randomInt(0, 2 ** 32 - 1) : request.seed;
    const job: Job = {
      id: randomUUID(),
      status: 'queued',
      request: {
        prompt: request.prompt,
        model: request.model,
        mode: request.mode,
        width: request.width,
        height: request.height,
        steps: request.steps,
        batchCount: request.batchCount,
        batchSize: request.batchSize,
        seed,
      },
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      error: null,
      results: [],
      provider: null,
    };
    const record: JobRecord = {
      job,
      request: { ...request, seed },
      parentImageId: options.parentImageId ?? request.initImageId ?? request.parentImageId ?? null,
    };
    this.queue.push(record);
    this.deps.jobs?.add(record);
    this.deps.emit('job.updated', job);
    void this.pump();
    return { jobId: job.id };
  }

  list(): Job[] {
    return [...this.finished, ...(this.running ? [this.running] : []), ...this.queue].map((r) =>
      structuredClone(r.job),
    );
  }

  cancel(id: string): void {
    const index = this.queue.findIndex((r) => r.job.id === id);
    if (index >= 0) {
      const [record] = this.queue.splice(index, 1);
      if (record) this.finish(record, 'cancelled', null);
      return;
    }
    if (this.running?.job.id === id) {
      this.deps.engine.cancel(id);
      return;
    }
    if (!this.finished.some((r) => r.job.id === id)) throw new AppError('NOT_FOUND', `No job ${id}.`);
  }

  move(id: string, toIndex: number): void {
    const index = this.queue.findIndex((r) => r.job.id === id);
    if (index < 0)
      throw new AppError('NOT_FOUND', `Job ${id} is not waiting in the queue (only queued jobs can move).`);
    const [record] = this.queue.splice(index, 1);
    if (record) this.queue.splice(Math.min(toIndex, this.queue.length), 0, record);
    this.deps.jobs?.move(id, toIndex);
  }

  /** Resolves when the queue is empty and nothing is running (tests, CLI). */
  async idle(): Promise<void> {
    while (this.running || (this.queue.length && !this.stopped)) await new Promise((r) => setTimeout(r, 20));
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (
        let next = this.stopped ? undefined : this.queue.shift();
        next;
        next = this.stopped ? undefined : this.queue.shift()
      ) {
        this.running = next;
        await this.run(next);
        this.running = null;
      }
    } finally {
      this.pumping = false;
    }
  }

  private async run(record: JobRecord): Promise<void> {
    const { job, request } = record;
    job.status = 'running';
    job.startedAt = new Date().toISOString();
    this.deps.jobs?.update(job);
    this.deps.emit('job.updated', structuredClone(job));
    try {
      const modelDir = request.model === DEMO_MODEL ? await this.deps.demoModel() : request.model;
      const init = request.mode === 'txt2img' ? undefined : await this.initImage(request);
      const notices: string[] = [];
      let mask: DiffusionRequest['mask'];
      if (request.mode === 'inpaint' && request.mask) {
        const decoded = await this.deps.codec.decodeMask(
          Buffer.from(request.mask, 'base64'),
          request.width,
          request.height,
        );
        if (decoded.rescaled) notices.push(decoded.rescaled);
        mask = { width: request.width, height: request.height, data: decoded.mask };
      }
      // `<lora:NAME:W>` tags name LoRAs to merge; like A1111, the tags themselves are not encoded.
      const tags = extractLoraTags(request.prompt);
      const loras = [];
      for (const tag of tags.loras) {
        if (!this.deps.loadLora) throw new AppError('UNSUPPORTED', 'LoRAs are not available here.');
        const lora = await this.deps.loadLora(tag.name, tag.weight);
        // `<lora:NAME:TE:UNET>`: A1111's separate text-encoder and UNet weights.
        if (tag.unetWeight !== undefined) lora.spec.unetWeight = tag.unetWeight;
        loras.push(lora);
      }
      const embeddings = (await this.deps.loadEmbeddings?.([tags.prompt, request.negativePrompt])) ?? [];
      for (let run = 0; run < request.batchCount; run++) {
        const seed = (job.request.seed + run) % 2 ** 32;
        const diffusion: DiffusionRequest = {
          prompt: tags.prompt,
          negativePrompt: request.negativePrompt,
          width: request.width,
          height: request.height,
          steps: request.steps,
          cfg: request.cfg,
          sampler: request.sampler,
          seed,
          rng: request.rng,
          batchSize: request.batchSize,
        };
        Object.assign(diffusion, modeFields(request));
        if (init) diffusion.init = init;
        if (mask) diffusion.mask = mask;
        if (request.refiner)
          diffusion.refiner = { modelDir: request.refiner.model, switchAt: request.refiner.switchAt };
        const prediction = this.deps.predictionOverride?.(modelDir);
        if (prediction) diffusion.predictionType = prediction;
        const started = performance.now();
        const result = await this.deps.engine.generate({
          id: job.id,
          modelDir,
          request: diffusion,
          loras: loras.map((l) => l.spec),
          embeddings: embeddings.map((e) => e.spec),
          previewEvery: this.deps.previewEvery ?? PREVIEW_EVERY,
          previewDecoders: this.deps.previewDecoders?.() ?? {},
          onStep: (step, total, preview) =>
            void this.progress(job.id, run, request.batchCount, step, total, started, preview),
        });
        await this.progressChain; // the last step's progress goes out before the results
        job.provider = result.provider;
        const info = result.info;
        job.path = info?.path ?? null;
        job.notices = [...new Set([...notices, ...(info?.notices ?? [])])];
        let images = result.images;
        if (request.colorMatch && init && (request.mode === 'inpaint' || request.mode === 'outpaint')) {
          images = images.map((image) => matchColours(image, init.image, mask, info?.outpaintExtents ?? null));
        }
        const recipe: SumiRecipe = {
          mode: request.mode,
          prompt: request.prompt,
          negativePrompt: request.negativePrompt,
          seed,
          sampler: request.sampler,
          steps: request.steps,
          cfg: request.cfg,
          width: request.width,
          height: request.height,
          ...(init && request.mode !== 'upscale' ? { strength: request.strength } : {}),
          ...recipeModeFields(request, info?.path),
          model: { name: basename(modelDir) },
          loras: loras.map((l) => ({
            name: l.spec.name,
            weight: l.spec.weight,
            ...(l.spec.unetWeight !== undefined ? { unetWeight: l.spec.unetWeight } : {}),
            hash: l.shortHash,
          })),
          ...(embeddings.length
            ? { embeddings: embeddings.map((e) => ({ name: e.spec.name, hash: e.shortHash })) }
            : {}),
          rng: request.rng,
          appVersion: this.deps.appVersion,
        };
        const pngs = [];
        for (const [i, image] of images.entries()) {
          // Every PNG carries its recipe: A1111's infotext for other tools, the full recipe for us.
          const png = withTextChunks(await this.deps.codec.encodePng(image), [
            { keyword: 'parameters', text: formatInfotext(recipe), kind: 'tEXt' },
            { keyword: 'sumi', text: JSON.stringify(recipe), kind: 'iTXt' },
          ]);
          pngs.push({ png, seed, width: image.width, height: image.height, batchIndex: i });
        }
        const items = await this.deps.results({
          recipe,
          request: { ...request, seed },
          images: pngs,
          timings: { ...result.timings, totalMs: performance.now() - started },
          executionProvider: result.provider,
          ortVersion: this.deps.engine.ortVersion ?? 'unknown',
          parentImageId: record.parentImageId,
        });
        for (const item of items) {
          job.results.push({
            imageId: item.id,
            media: item.media,
            seed: item.seed,
            width: item.width,
            height: item.height,
          });
        }
        this.deps.emit('job.updated', structuredClone(job));
      }
      this.finish(record, 'done', null);
    } catch (err) {
      const cancelled = err instanceof AppError && err.code === 'CANCELLED';
      const shape =
        err instanceof AppError
          ? err.toShape()
          : { code: 'INTERNAL' as const, message: err instanceof Error ? err.message : String(err) };
      this.finish(record, cancelled ? 'cancelled' : 'failed', cancelled ? null : shape);
    }
  }

  /** The init image as RGBA at the request's size: uploaded bytes, or a gallery image. */
  private async initImage(request: GenerateRequest): Promise<DiffusionRequest['init']> {
    let bytes: Buffer;
    if (request.initImage) bytes = Buffer.from(request.initImage, 'base64');
    else if (request.initImageId !== undefined && this.deps.galleryImage)
      bytes = this.deps.galleryImage(request.initImageId);
    else throw new AppError('VALIDATION', `initImage: ${request.mode} needs an init image.`);
    return { image: await this.deps.codec.decodeTo(bytes, request.width, request.height), strength: request.strength };
  }

  private finish(record: JobRecord, status: Job['status'], error: Job['error']): void {
    record.job.status = status;
    record.job.error = error;
    record.job.finishedAt = new Date().toISOString();
    this.deps.jobs?.update(record.job);
    this.finished.push(record);
    if (this.finished.length > 200) this.finished.shift();
    this.deps.emit('job.updated', structuredClone(record.job));
  }

  /**
   * Progress events go out in step order: a step with a preview waits for its PNG encode, and the
   * steps after it wait for that one, so a progress bar never runs backwards.
   */
  private progress(
    id: string,
    run: number,
    runs: number,
    step: number,
    total: number,
    started: number,
    preview?: { width: number; height: number; data: Uint8Array },
  ): Promise<void> {
    const elapsed = (performance.now() - started) / 1000;
    const itPerSec = elapsed > 0 ? step / elapsed : null;
    const encoded = preview ? this.deps.codec.encodePng(preview) : Promise.resolve(null);
    this.progressChain = this.progressChain.then(async () => {
      const png = await encoded.catch(() => null);
      const event: JobProgress = {
        id,
        run,
        runs,
        step,
        total,
        itPerSec,
        etaMs: itPerSec ? ((total - step) / itPerSec) * 1000 : null,
        preview: png ? `data:image/png;base64,${png.toString('base64')}` : null,
      };
      this.deps.emit('job.progress', event);
    });
    return this.progressChain;
  }

  private progressChain: Promise<void> = Promise.resolve();
}

/** The mode's own fields, as the engine takes them (the contract filled in the defaults). */
function modeFields(request: GenerateRequest): Partial<DiffusionRequest> {
  switch (request.mode) {
    case 'txt2img':
      return request.hires
        ? { mode: 'txt2img', hires: request.hires, tiledVae: request.tiledVae }
        : { mode: 'txt2img', tiledVae: request.tiledVae };
    case 'img2img':
      return { mode: 'img2img', tiledVae: request.tiledVae };
    case 'inpaint':
      return {
        mode: 'inpaint',
        maskBlur: request.maskBlur,
        inpaintArea: request.inpaintArea,
        inpaintPadding: request.inpaintPadding,
        maskedContent: request.maskedContent,
        tiledVae: request.tiledVae,
      };
    case 'outpaint':
      return {
        mode: 'outpaint',
        maskBlur: request.maskBlur,
        maskedContent: request.maskedContent,
        outpaintFill: request.outpaintFill,
        tiledVae: request.tiledVae,
        ...(request.outpaint ? { outpaint: request.outpaint } : {}),
      };
    case 'upscale':
      return {
        mode: 'upscale',
        upscale: request.upscale ?? { strength: 0.3, steps: 0 },
        tiledVae: request.tiledVae,
      };
  }
}

/** What the recipe records of the mode (so the gallery can show it and A1111 can read it). */
function recipeModeFields(request: GenerateRequest, path: string | undefined): Partial<SumiRecipe> {
  const out: Partial<SumiRecipe> = {};
  if (request.mode === 'inpaint' || request.mode === 'outpaint') {
    out.inpaint = {
      maskBlur: request.maskBlur,
      area: request.mode === 'inpaint' ? request.inpaintArea : 'full',
      padding: request.inpaintPadding,
      maskedContent: request.maskedContent,
      ...(request.colorMatch ? { colorMatch: true } : {}),
      ...(path ? { path } : {}),
    };
  }
  if (request.mode === 'outpaint' && request.outpaint)
    out.outpaint = { ...request.outpaint, fill: request.outpaintFill };
  if (request.mode === 'upscale') out.upscale = request.upscale ?? { strength: 0.3, steps: 0 };
  if (request.hires) {
    out.hires = {
      width: request.hires.width,
      height: request.hires.height,
      ...(request.hires.steps > 0 ? { steps: request.hires.steps } : {}),
      upscaler: request.hires.upscaler === 'latent' ? 'Latent' : 'Lanczos',
      denoisingStrength: request.hires.strength,
    };
  }
  if (request.refiner)
    out.refiner = { model: { name: basename(request.refiner.model) }, switchAt: request.refiner.switchAt };
  if (request.tiledVae) out.tiledVae = true;
  return out;
}
