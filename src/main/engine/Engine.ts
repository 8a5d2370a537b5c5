/**
 * The engine: loads model folders into ORT sessions (one model at a time, so memory is bounded by
 * the largest model), runs pipelines, and unloads on request or on model switch. Never releases a
 * session while a run is in flight.
 */
import { join } from 'node:path';
import { openSession, openSessionFromBytes, type GraphSession, type ProviderName } from './backend/ort';
import { upcastFp16Model } from './model/upcastFp16';
import { memoryLoraTensors, type LoraTensor } from './lora/LoraTensors';
import type { LoraReport } from './lora/mergeLoras';
import { PartCache } from './lora/PartCache';
import { openPatchedSession, patchModel, type PatchOptions } from './lora/patchModel';
import { registerEmbeddings, type AppendedEmbeddings, type EmbeddingSpec } from './lora/textualInversion';
import { ClipTokenizer } from './components/ClipTokenizer';
import { TextEncoder } from './components/TextEncoder';
import { SdxlTextEncoder, type SdxlEncoderPart } from './components/SdxlTextEncoder';
import { createScheduler } from './schedulers';
import { timestepsForDenoisingRange } from './schedulers/denoisingRange';
import { Unet } from './components/Unet';
import { VaeDecoder, VaeEncoder } from './components/Vae';
import { EngineError } from './EngineError';
import { createRng } from './rng';
import { probeModel, readModelFolder, type ModelFolder, type ModelProbe } from './model/modelFolder';
import {
  StableDiffusionPipeline,
  type DiffusionRequest,
  type DiffusionResult,
  type RunOptions,
} from './pipelines/StableDiffusionPipeline';

export type { EmbeddingSpec } from './lora/textualInversion';

/** A LoRA as the engine receives it: tensors already read (and checked) by main. */
export interface LoraSpec {
  /** Identifies the file's content (its hash): with the weights, the merged-model cache key. */
  id: string;
  name: string;
  /** The strength for both parts unless one of the two below says otherwise. */
  weight: number;
  /** Text-encoder strength (A1111's `te`, the first number of `<lora:name:te:unet>`); default `weight`. */
  teWeight?: number;
  /** UNet strength (A1111's `unet`, the second number); default `weight`. */
  unetWeight?: number;
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
  /** Embeddings added to the tokenizer and text encoder(s), with how many vectors each has. */
  embeddings: { name: string; vectors: number }[];
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
  /** How patched parts reach ORT (see `patchModel`); `auto` unless a test or benchmark forces one. */
  mergeRoute?: PatchOptions['route'];
}

export class Engine {
  /** Part sessions kept across loads of the same model with other LoRA weights or embeddings. */
  readonly parts = new PartCache();
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

  /**
   * Loads `dir` with `loras` merged in and `embeddings` added, replacing whatever model (or LoRA set) was
   * loaded. Reloading the same model rebuilds only the parts whose LoRA weights or embeddings changed.
   */
  async load(
    dir: string,
    loras: readonly LoraSpec[] = [],
    embeddings: readonly EmbeddingSpec[] = [],
  ): Promise<LoadedModel> {
    const key = modelKey(dir, loras, embeddings);
    if (this.loaded?.key === key) return this.loaded;
    if (this.loading) await this.loading.catch(() => undefined);
    if (this.loaded?.key === key) return this.loaded;
    if (this.loaded?.dir === dir) await this.releaseModel(true);
    else await this.unload();
    this.loading = loadModel(dir, this.options, loras, embeddings, this.parts);
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
    embeddings: readonly EmbeddingSpec[] = [],
  ): Promise<DiffusionResult & { model: LoadedModel }> {
    if (request.refiner) return this.generateWithRefiner(dir, request, request.refiner, options, loras, embeddings);
    const model = await this.load(dir, loras, embeddings);
    this.running++;
    try {
      const result = await model.pipeline.run(request, options);
      return { ...result, model };
    } finally {
      this.running--;
    }
  }

  /**
   * SDXL base + refiner, diffusers' "ensemble of expert denoisers": the base model (with the job's LoRAs
   * and embeddings) denoises the first `switchAt` of the schedule and hands its latents over un-decoded;
   * the refiner then replaces it (one model at a time) and continues them with the same prompt, seed,
   * sampler and step count, and decodes. Progress counts the steps of both models.
   */
  private async generateWithRefiner(
    dir: string,
    request: DiffusionRequest,
    refiner: NonNullable<DiffusionRequest['refiner']>,
    options: RunOptions,
    loras: readonly LoraSpec[],
    embeddings: readonly EmbeddingSpec[],
  ): Promise<DiffusionResult & { model: LoadedModel }> {
    const { switchAt } = refiner;
    if (!(switchAt > 0 && switchAt < 1)) {
      throw new EngineError('input', `Invalid request: refiner switchAt must be between 0 and 1 (got ${switchAt}).`);
    }
    const stage: DiffusionRequest = { ...request, refiner: undefined };
    const base = await this.load(dir, loras, embeddings);
    // The refiner's share of the steps, counted on the base's schedule (SDXL's two share one scheduler config).
    const scheduler = createScheduler(request.sampler, base.pipeline.parts.schedulerConfig);
    const trainSteps = base.pipeline.parts.schedulerConfig.num_train_timesteps;
    const refinerSteps = timestepsForDenoisingRange(
      scheduler,
      request.steps,
      { start: switchAt },
      typeof trainSteps === 'number' ? trainSteps : 1000,
    ).length;
    let baseSteps = 0;
    // One random stream through both models (ancestral samplers draw in both).
    const rng = createRng(request.rng, request.seed);
    this.running++;
    let first: DiffusionResult;
    try {
      first = await base.pipeline.run(
        { ...stage, denoisingEnd: switchAt, outputType: 'latent' },
        {
          ...options,
          rng,
          onStep: (info) => {
            baseSteps = info.total;
            return options.onStep?.({ ...info, total: info.total + refinerSteps });
          },
        },
      );
    } finally {
      this.running--;
    }

    const refinerModel = await this.load(refiner.modelDir);
    this.running++;
    try {
      const second = await refinerModel.pipeline.run(
        {
          ...stage,
          mode: undefined,
          init: undefined,
          noise: undefined,
          handover: { latents: first.latents, denoisingStart: switchAt },
        },
        {
          ...options,
          rng,
          onStep: (info) => options.onStep?.({ ...info, step: baseSteps + info.step, total: baseSteps + info.total }),
        },
      );
      const timings = { ...second.timings };
      for (const key of Object.keys(timings) as (keyof typeof timings)[]) timings[key] += first.timings[key];
      // The job's mode and path are the base's (the refiner only continues); notices from both.
      const info = { ...first.info, notices: [...first.info.notices, ...second.info.notices] };
      return { ...second, timings, info, model: base };
    } finally {
      this.running--;
    }
  }

  async unload(): Promise<void> {
    await this.releaseModel(false);
  }

  /** Releases the loaded model's sessions; `keepParts` keeps the part cache for a reload of the same model. */
  private async releaseModel(keepParts: boolean): Promise<void> {
    if (this.running > 0) throw new EngineError('runtime', 'Cannot unload the model while a job is running.');
    const model = this.loaded;
    this.loaded = null;
    if (model) await Promise.all(model.sessions.filter((s) => !this.parts.holds(s)).map((s) => s.release()));
    if (!keepParts) await this.parts.clear();
  }
}

/** The text encoder's and the UNet's strength of a LoRA. */
export function loraWeights(lora: LoraSpec): { te: number; unet: number } {
  return { te: lora.teWeight ?? lora.weight, unet: lora.unetWeight ?? lora.weight };
}

function modelKey(dir: string, loras: readonly LoraSpec[], embeddings: readonly EmbeddingSpec[]): string {
  const parts = loras.map((l) => `${l.id}:${loraWeights(l).te}:${loraWeights(l).unet}`).sort();
  const words = embeddings.map((e) => `${e.name}=${e.id}`).sort();
  return `${dir}|${parts.join(',')}|${words.join(',')}`;
}

/**
 * Opens every part of a model folder, merges LoRAs into the UNet and text encoder(s), adds embeddings to
 * the text encoder(s) and tokenizer, and wires the pipeline. With `parts` (the Engine's), part sessions
 * built from the same inputs before are reused; without, every session is the caller's to release.
 */
export async function loadModel(
  dir: string,
  options: EngineOptions,
  loras: readonly LoraSpec[] = [],
  embeddings: readonly EmbeddingSpec[] = [],
  parts: PartCache = new PartCache(),
): Promise<LoadedModel> {
  const t0 = performance.now();
  const folder = readModelFolder(dir);
  const sessionOptions = { providers: options.providers, threads: options.threads ?? 0 };
  const sessions: GraphSession[] = [];
  const slots = new Set<string>();
  const open = async (file: string | undefined): Promise<GraphSession> => {
    if (!file) throw new EngineError('model', `A model part is missing in ${dir}.`, dir);
    const entry = await parts.get(file, file, async () => ({
      session: await openSession(file, sessionOptions),
      extra: null,
    }));
    slots.add(file);
    sessions.push(entry.session);
    return entry.session;
  };
  const tensors = loras.map((l) => memoryLoraTensors(l.tensors, l.metadata));
  // Names decide the new token ids' order: sorted, so the same set always gets the same ids.
  const words = [...embeddings].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const reports: LoraReport[][] = [];
  const appended: Partial<Record<'text_encoder' | 'text_encoder_2', AppendedEmbeddings | null>> = {};
  /**
   * The part as a session: as it is on disk, or with the LoRAs (at the weight this part sees) merged into
   * its weights and, for text encoders, the embeddings appended, in memory. Reused while those inputs
   * stay the same.
   */
  const openPart = async (
    file: string | undefined,
    part: 'unet' | 'text_encoder' | 'text_encoder_2',
    family?: ModelProbe['family'],
  ): Promise<GraphSession> => {
    const partWords = part === 'unet' ? [] : words;
    if (!file || (loras.length === 0 && partWords.length === 0)) return open(file);
    const inputs = loras.map((l, i) => ({
      name: l.name,
      weight: part === 'unet' ? loraWeights(l).unet : loraWeights(l).te,
      tensors: tensors[i] as (typeof tensors)[number],
    }));
    const key = [
      file,
      loras.map((l, i) => `${l.id}:${inputs[i]?.weight}`).join(','),
      partWords.map((e) => `${e.name}=${e.id}`).join(','),
    ].join('|');
    const entry = await parts.get(file, key, async () => {
      const patched = patchModel(file, inputs, {
        part,
        family,
        embeddings: partWords,
        eosId: eosIds[part],
        route: options.mergeRoute,
      });
      const session = await openPatchedSession(file, patched, sessionOptions, `${file} + LoRAs`);
      return { session, extra: { report: patched.report, embeddings: patched.embeddings } };
    });
    slots.add(file);
    sessions.push(entry.session);
    if (loras.length > 0) reports.push(entry.extra.report);
    if (part !== 'unet') appended[part] = entry.extra.embeddings;
    return entry.session;
  };
  /** End-of-text ids of the tokenizers, for the pooled-output guard of text encoders given new tokens. */
  const eosIds: Partial<Record<'unet' | 'text_encoder' | 'text_encoder_2', number>> = {};
  try {
    const unetSession = await openPart(folder.parts.unet?.file, 'unet');
    const probe = probeModel(folder, unetSession);
    // SDXL adds text_encoder_2 and tokenizer_2; its refiner has only those.
    const openEncoder = async (part: 'text_encoder' | 'text_encoder_2'): Promise<SdxlEncoderPart> => {
      const encoderTokenizer = ClipTokenizer.fromModelFolder(join(dir, part.replace('text_encoder', 'tokenizer')));
      eosIds[part] = encoderTokenizer.eosId;
      const session = await openPart(folder.parts[part]?.file, part, probe.family);
      registerEmbeddings(encoderTokenizer, appended[part] ?? null);
      return { session, tokenizer: encoderTokenizer };
    };
    const first = folder.parts.text_encoder ? await openEncoder('text_encoder') : null;
    const second = folder.parts.text_encoder_2 ? await openEncoder('text_encoder_2') : null;
    if (probe.addedConditions && !second) {
      throw new EngineError('model', `${dir} has an SDXL UNet but no text_encoder_2/model.onnx.`, dir);
    }
    const textEncoder = second
      ? new SdxlTextEncoder(first, second, { forceZerosForEmptyPrompt: probe.forceZerosForEmptyPrompt })
      : new TextEncoder((first as SdxlEncoderPart).session, (first as SdxlEncoderPart).tokenizer);
    const tokenizer = textEncoder.tokenizer;
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
    await parts.keepOnly(slots);
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
      key: modelKey(dir, loras, embeddings),
      loras: applied,
      embeddings: words.map((e) => ({
        name: e.name,
        vectors: (appended.text_encoder ?? appended.text_encoder_2)?.ids.get(e.name)?.length ?? 0,
      })),
      folder,
      probe,
      provider: unetSession.provider,
      tokenizer,
      pipeline,
      sessions,
      loadMs: performance.now() - t0,
    };
  } catch (err) {
    await Promise.all(sessions.filter((s) => !parts.holds(s)).map((s) => s.release().catch(() => undefined)));
    await parts.clear().catch(() => undefined);
    throw err;
  }
}
