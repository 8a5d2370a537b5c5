/**
 * The job queue: ordered, one job on the accelerator at a time, cancel and reorder, progress and
 * previews as events, results handed to the gallery (each PNG carrying its recipe).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { DEMO_MODEL, type GalleryItem, type GenerateRequest, type Job, type JobProgress } from '@contract';
import type { Emit } from '../../ipc/EventHub';
import type { DiffusionRequest } from '../../engine/pipelines/StableDiffusionPipeline';
import { AppError } from '../AppError';
import { formatInfotext, type SumiRecipe } from '../gallery/metadata/infotext';
import { withTextChunks } from '../gallery/metadata/pngChunks';
import type { NewGeneration } from '../gallery/GalleryService';
import type { LoraSpec } from '../../engine/Engine';
import { extractLoraTags } from '../gallery/metadata/infotext';
import type { EngineClient } from './EngineClient';
import type { ImageCodec } from './ImageCodec';

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

  submit(request: GenerateRequest, options: { parentImageId?: number } = {}): { jobId: string } {
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
      parentImageId: options.parentImageId ?? request.initImageId ?? null,
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
      const init = request.mode === 'img2img' ? await this.initImage(request) : undefined;
      // `<lora:NAME:W>` tags name LoRAs to merge; like A1111, the tags themselves are not encoded.
      const tags = extractLoraTags(request.prompt);
      const loras = [];
      for (const tag of tags.loras) {
        if (!this.deps.loadLora) throw new AppError('UNSUPPORTED', 'LoRAs are not available here.');
        loras.push(await this.deps.loadLora(tag.name, tag.weight));
      }
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
        if (init) diffusion.init = init;
        const prediction = this.deps.predictionOverride?.(modelDir);
        if (prediction) diffusion.predictionType = prediction;
        const started = performance.now();
        const result = await this.deps.engine.generate({
          id: job.id,
          modelDir,
          request: diffusion,
          loras: loras.map((l) => l.spec),
          previewEvery: this.deps.previewEvery ?? PREVIEW_EVERY,
          previewDecoders: this.deps.previewDecoders?.() ?? {},
          onStep: (step, total, preview) =>
            void this.progress(job.id, run, request.batchCount, step, total, started, preview),
        });
        await this.progressChain; // the last step's progress goes out before the results
        job.provider = result.provider;
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
          ...(init ? { strength: request.strength } : {}),
          model: { name: basename(modelDir) },
          loras: loras.map((l) => ({ name: l.spec.name, weight: l.spec.weight, hash: l.shortHash })),
          rng: request.rng,
          appVersion: this.deps.appVersion,
        };
        const images = [];
        for (const [i, image] of result.images.entries()) {
          // Every PNG carries its recipe: A1111's infotext for other tools, the full recipe for us.
          const png = withTextChunks(await this.deps.codec.encodePng(image), [
            { keyword: 'parameters', text: formatInfotext(recipe), kind: 'tEXt' },
            { keyword: 'sumi', text: JSON.stringify(recipe), kind: 'iTXt' },
          ]);
          images.push({ png, seed, width: image.width, height: image.height, batchIndex: i });
        }
        const items = await this.deps.results({
          recipe,
          request: { ...request, seed },
          images,
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
    else throw new AppError('VALIDATION', 'initImage: img2img needs an init image.');
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
