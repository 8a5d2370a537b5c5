/**
 * The services both hosts share, built from the ports each composition root passes in. Neither this
 * file nor anything it imports touches Electron.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { zGenerateRequest, type AppInfo, type EngineState, type Job, type Settings } from '@contract';
import { createHandlers } from './ipc/handlers';
import { EventHub } from './ipc/EventHub';
import { createRouter, type Router } from './ipc/router';
import { NoticeBoard } from './services/app/NoticeBoard';
import { defaultSettings } from './services/settings/defaults';
import { SettingsService } from './services/settings/SettingsService';
import type { OpenedStore } from './platform/openConfStore';
import { EngineClient, type SpawnEngine } from './services/generation/EngineClient';
import { GenerationService, type JobStore } from './services/generation/GenerationService';
import { GalleryService } from './services/gallery/GalleryService';
import { HashCache } from './services/models/hashing';
import { ModelLibrary } from './services/models/ModelLibrary';
import type { ImageCodec } from './services/generation/ImageCodec';
import { ensureDemoModel } from './services/models/demoModel';
import { isAllowedExternalUrl } from './platform/externalUrls';

/** The job queue kept in the gallery database: queued jobs survive a restart. */
function galleryJobStore(gallery: GalleryService): JobStore {
  const ms = (iso: string | null): number | null => (iso ? Date.parse(iso) : null);
  return {
    add: (record) =>
      gallery.repo.enqueueJob({
        id: record.job.id,
        request: { request: record.request, parentImageId: record.parentImageId, job: record.job },
      }),
    update: (job) =>
      gallery.repo.updateJob(job.id, {
        status: job.status,
        startedAt: ms(job.startedAt),
        finishedAt: ms(job.finishedAt),
        error: job.error,
        results: job.results,
        provider: job.provider,
      }),
    move: (id, toIndex) => gallery.repo.moveJob(id, toIndex),
    queued: () =>
      gallery.repo
        .listJobs()
        .filter((j) => j.status === 'queued')
        .flatMap((j) => {
          const saved = j.request as { request?: unknown; parentImageId?: number | null; job?: Job };
          const request = zGenerateRequest.safeParse(saved.request);
          if (!request.success || !saved.job) return [];
          return [
            {
              job: { ...saved.job, status: 'queued' as const },
              request: request.data,
              parentImageId: saved.parentImageId ?? null,
            },
          ];
        }),
  };
}

/** TAESD decoders the user put in the models folder: `taesd/model.onnx` (SD 1.x/2.x), `taesdxl/model.onnx` (SDXL). */
function findTaesd(modelsDir: string): { sd?: string; sdxl?: string } {
  const found: { sd?: string; sdxl?: string } = {};
  const sd = join(modelsDir, 'taesd', 'model.onnx');
  const sdxl = join(modelsDir, 'taesdxl', 'model.onnx');
  if (existsSync(sd)) found.sd = sd;
  if (existsSync(sdxl)) found.sdxl = sdxl;
  return found;
}

export interface AppPorts {
  host: AppInfo['host'];
  version: string;
  dataDir: string;
  settingsStore: OpenedStore;
  /** Starts the engine process (utilityProcess in Electron, child_process.fork elsewhere). */
  spawnEngine: SpawnEngine;
  codec: ImageCodec;
  /** Opens an allow-listed https URL in the user's browser; false where the host cannot. */
  openExternal: (url: string) => Promise<boolean>;
  log?: (message: string, err?: unknown) => void;
}

export class AppServices {
  readonly router: Router;
  readonly engine: EngineClient;
  readonly generation: GenerationService;
  readonly models: ModelLibrary;
  private engineState: EngineState = {
    state: 'stopped',
    provider: null,
    detail: 'The engine starts with the first job.',
  };

  /** Builds every service; the gallery database is opened (and checked, and repaired) here. */
  static async create(ports: AppPorts): Promise<AppServices> {
    const hub = new EventHub();
    const notices = new NoticeBoard(hub.emit);
    const settings = new SettingsService({
      store: ports.settingsStore.store,
      recovery: ports.settingsStore.recovery,
      defaults: defaultSettings(ports.dataDir),
      emit: hub.emit,
      notices,
    });
    const { gallery } = await GalleryService.open({
      dataDir: ports.dataDir,
      outputDir: () => settings.get().outputDir,
      emit: hub.emit,
      notices,
    });
    const hashes = await HashCache.open(join(ports.dataDir, 'hashes.json'));
    return new AppServices(ports, hub, notices, settings, gallery, hashes);
  }

  private constructor(
    private readonly ports: AppPorts,
    readonly hub: EventHub,
    readonly notices: NoticeBoard,
    readonly settings: SettingsService,
    readonly gallery: GalleryService,
    hashes: HashCache,
  ) {
    this.engine = new EngineClient(ports.spawnEngine, {
      providers: this.settings.get().executionProviders,
      onState: (state) => this.setEngineState(state),
    });
    this.hub.subscribe((event, payload) => {
      if (event === 'settings.changed') {
        this.engine.setProviders((payload as Settings).executionProviders);
        this.models.watch();
      }
    });
    this.generation = new GenerationService({
      engine: this.engine,
      codec: ports.codec,
      emit: this.hub.emit,
      results: (generation) => this.gallery.add(generation),
      demoModel: () => ensureDemoModel(this.settings.get().modelsDir),
      appVersion: ports.version,
      previewDecoders: () => findTaesd(this.settings.get().modelsDir),
      jobs: galleryJobStore(gallery),
      galleryImage: (id) => gallery.imageBytes(id),
      predictionOverride: (modelDir) => this.models.predictionOverride(modelDir),
      loadLora: (name, weight) => this.models.loadLora(name, weight),
      loadEmbeddings: (texts) => this.models.loadEmbeddings(texts),
    });
    this.models = new ModelLibrary({
      modelsDir: () => this.settings.get().modelsDir,
      engine: this.engine,
      emit: this.hub.emit,
      hashes,
      // The variables huggingface_hub reads: a mirror, and a token for gated repositories.
      download: {
        ...(process.env.HF_ENDPOINT ? { baseUrl: process.env.HF_ENDPOINT } : {}),
        ...(process.env.HF_TOKEN ? { token: process.env.HF_TOKEN } : {}),
      },
    });
    this.models.watch();
    // Last: resumed jobs may start at once and use every service above.
    this.generation.resume();
    this.router = createRouter(createHandlers(this), {
      checkOutputs: process.env.NODE_ENV !== 'production',
      onInternalError: (method, err) => ports.log?.(`internal error in ${method}`, err),
    });
  }

  info(): AppInfo {
    return {
      name: 'Sumi Studio',
      version: this.ports.version,
      host: this.ports.host,
      platform: `${process.platform}-${process.arch}`,
      dataDir: this.ports.dataDir,
      engine: this.engineState,
      notices: this.notices.list(),
    };
  }

  setEngineState(state: EngineState): void {
    this.engineState = state;
    this.hub.emit('engine.state', state);
  }

  /** Named folders the media route / protocol may serve files from. */
  mediaRoots(): Record<string, string> {
    return { outputs: this.settings.get().outputDir, thumbs: join(this.ports.dataDir, 'thumbnails') };
  }

  async dispose(): Promise<void> {
    this.models.dispose();
    this.generation.stop();
    await this.engine.dispose();
    // The job the engine was running fails with the reason; let it record that before the database closes.
    await this.generation.idle();
    this.gallery.close();
  }

  async openExternal(url: string): Promise<boolean> {
    if (!isAllowedExternalUrl(url)) return false;
    return this.ports.openExternal(url);
  }
}
