/**
 * The engine: loads model folders into ORT sessions (one model at a time, so memory is bounded by
 * the largest model), runs pipelines, and unloads on request or on model switch. Never releases a
 * session while a run is in flight.
 */
import { join } from 'node:path';
import { openSession, openSessionFromBytes, type GraphSession, type ProviderName } from './backend/ort';
import { upcastFp16Model } from './model/upcastFp16';
import { memoryLoraTensors, type LoraTensor } from './lora/LoraTensors';
import { mergeLoras, type LoraReport } from './lora/mergeLoras';
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

/** A LoRA as the engine receives it: tensors already read (and checked) by main. */
export interface LoraSpec {
  /** Identifies the file's content (its hash): with the weights, the merged-model cache key. */
  id: string;
  name: string;
  weight: number;
  tensors: Record<string, LoraTensor>;
  metadata: Record<string, string>;
}

/** What a LoRA did to this model: modules merged (UNet and text encoder) and keys that matched nothing. */
export interface AppliedLora {
  name: string;
  weight: number;
  applied: number;
  unmatched: string[];
}

export interface LoadedModel {
  dir: string;
  /** Model folder + LoRA set + weights: a different key loads (and merges) again. */
  key: string;
  loras: AppliedLora[];
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

  /** Loads `dir` with `loras` merged in, replacing whatever model (or LoRA set) was loaded. */
  async load(dir: string, loras: readonly LoraSpec[] = []): Promise<LoadedModel> {
    const key = modelKey(dir, loras);
    if (this.loaded?.key === key) return this.loaded;
    if (this.loading) await this.loading.catch(() => undefined);
    if (this.loaded?.key === key) return this.loaded;
    await this.unload();
    this.loading = loadModel(dir, this.options, loras);
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
    loras: readonly LoraSpec[] = [],
  ): Promise<DiffusionResult & { model: LoadedModel }> {
    const model = await this.load(dir, loras);
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

function modelKey(dir: string, loras: readonly LoraSpec[]): string {
  return `${dir}|${loras
    .map((l) => `${l.id}:${l.weight}`)
    .sort()
    .join(',')}`;
}

/** Opens every part of a model folder, merges LoRAs into the UNet and text encoder, and wires the pipeline. */
export async function loadModel(
  dir: string,
  options: EngineOptions,
  loras: readonly LoraSpec[] = [],
): Promise<LoadedModel> {
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
  const inputs = loras.map((l) => ({
    name: l.name,
    weight: l.weight,
    tensors: memoryLoraTensors(l.tensors, l.metadata),
  }));
  const reports: LoraReport[][] = [];
  /** The part as a session: as it is on disk, or with the LoRAs merged into its weights (in memory). */
  const openPart = async (
    file: string | undefined,
    part: 'unet' | 'text_encoder',
    family?: ModelProbe['family'],
  ): Promise<GraphSession> => {
    if (!file || inputs.length === 0) return open(file);
    const merged = mergeLoras(file, inputs, family ? { part, family } : { part });
    reports.push(merged.report);
    const session = await openSessionFromBytes(merged.bytes, `${file} + LoRAs`, sessionOptions);
    sessions.push(session);
    return session;
  };
  try {
    const unetSession = await openPart(folder.parts.unet?.file, 'unet');
    const probe = probeModel(folder, unetSession);
    const tokenizer = ClipTokenizer.fromModelFolder(join(dir, 'tokenizer'));
    const textEncoder = new TextEncoder(
      await openPart(folder.parts.text_encoder?.file, 'text_encoder', probe.family),
      tokenizer,
    );
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
    const applied: AppliedLora[] = loras.map((l, i) => {
      const parts = reports.map((r) => r[i]).filter((r): r is LoraReport => r !== undefined);
      // Each part lists its own misses (other parts' modules are counted apart), so the union is what
      // nothing used; tensors that are not LoRA pairs appear in every part's list once.
      return {
        name: l.name,
        weight: l.weight,
        applied: parts.reduce((n, r) => n + r.applied, 0),
        unmatched: [...new Set(parts.flatMap((r) => r.unmatched))],
      };
    });
    return {
      dir,
      key: modelKey(dir, loras),
      loras: applied,
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
