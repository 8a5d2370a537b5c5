/**
 * The engine: loads model folders into ORT sessions (one model at a time, so memory is bounded by
 * the largest model), runs pipelines, and unloads on request or on model switch. Never releases a
 * session while a run is in flight.
 */
import { join } from 'node:path';
import { openSession, openSessionFromBytes, type GraphSession, type ProviderName } from './backend/ort';
import { upcastFp16Model } from './model/upcastFp16';
import { ClipTokenizer } from './components/ClipTokenizer';
import { TextEncoder } from './components/TextEncoder';
import { Unet } from './components/Unet';
import { VaeDecoder, VaeEncoder } from './components/Vae';
import { EngineError } from './EngineError';
import { probeModel, readModelFolder, type ModelFolder, type ModelProbe } from './model/modelFolder';
import {
  StableDiffusionPipeline,
  type DiffusionRequest,
  type DiffusionResult,
  type RunOptions,
} from './pipelines/StableDiffusionPipeline';

export interface LoadedModel {
  dir: string;
  folder: ModelFolder;
  probe: ModelProbe;
  provider: ProviderName;
  tokenizer: ClipTokenizer;
  pipeline: StableDiffusionPipeline;
  sessions: GraphSession[];
  loadMs: number;
}

export interface EngineOptions {
  providers: readonly ProviderName[];
  threads?: number;
}

export class Engine {
  private loaded: LoadedModel | null = null;
  private loading: Promise<LoadedModel> | null = null;
  private running = 0;

  constructor(private options: EngineOptions) {}

  get providers(): readonly ProviderName[] {
    return this.options.providers;
  }

  setProviders(providers: readonly ProviderName[]): void {
    this.options = { ...this.options, providers };
  }

  get current(): LoadedModel | null {
    return this.loaded;
  }

  /** Loads `dir`, replacing whatever model was loaded. */
  async load(dir: string): Promise<LoadedModel> {
    if (this.loaded?.dir === dir) return this.loaded;
    if (this.loading) await this.loading.catch(() => undefined);
    if (this.loaded?.dir === dir) return this.loaded;
    await this.unload();
    this.loading = loadModel(dir, this.options);
    try {
      this.loaded = await this.loading;
      return this.loaded;
    } finally {
      this.loading = null;
    }
  }

  async generate(
    dir: string,
    request: DiffusionRequest,
    options: RunOptions = {},
  ): Promise<DiffusionResult & { model: LoadedModel }> {
    const model = await this.load(dir);
    this.running++;
    try {
      const result = await model.pipeline.run(request, options);
      return { ...result, model };
    } finally {
      this.running--;
    }
  }

  async unload(): Promise<void> {
    if (this.running > 0) throw new EngineError('runtime', 'Cannot unload the model while a job is running.');
    const model = this.loaded;
    this.loaded = null;
    if (model) await Promise.all(model.sessions.map((s) => s.release()));
  }
}

/** Opens every part of a model folder and wires the pipeline. */
export async function loadModel(dir: string, options: EngineOptions): Promise<LoadedModel> {
  const t0 = performance.now();
  const folder = readModelFolder(dir);
  const sessionOptions = { providers: options.providers, threads: options.threads ?? 0 };
  const sessions: GraphSession[] = [];
  const open = async (file: string | undefined): Promise<GraphSession> => {
    if (!file) throw new EngineError('model', `A model part is missing in ${dir}.`, dir);
    const session = await openSession(file, sessionOptions);
    sessions.push(session);
    return session;
  };
  try {
    const unetSession = await open(folder.parts.unet?.file);
    const probe = probeModel(folder, unetSession);
    const tokenizer = ClipTokenizer.fromModelFolder(join(dir, 'tokenizer'));
    const textEncoder = new TextEncoder(await open(folder.parts.text_encoder?.file), tokenizer);
    const vaeFile = folder.parts.vae_decoder?.file;
    const vaeDecoder = new VaeDecoder(await open(vaeFile), async () => {
      const session = await openSessionFromBytes(
        upcastFp16Model(vaeFile as string),
        `${vaeFile} (upcast to fp32)`,
        sessionOptions,
      );
      sessions.push(session);
      return session;
    });
    const vaeEncoder = folder.parts.vae_encoder ? new VaeEncoder(await open(folder.parts.vae_encoder.file)) : null;
    const pipeline = new StableDiffusionPipeline({
      textEncoder,
      unet: new Unet(unetSession),
      vaeDecoder,
      vaeEncoder,
      probe,
      schedulerConfig: folder.schedulerConfig,
    });
    return {
      dir,
      folder,
      probe,
      provider: unetSession.provider,
      tokenizer,
      pipeline,
      sessions,
      loadMs: performance.now() - t0,
    };
  } catch (err) {
    await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
    throw err;
  }
}
