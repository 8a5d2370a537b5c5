/**
 * Main's side of the engine process: sends jobs, routes replies to their callers, and supervises the
 * process. If it dies, every call in flight fails with the reason, and the next call starts a fresh
 * process. The same class drives `child_process.fork` (web host, CLI) and Electron's `utilityProcess`
 * through the small EngineProcessHandle port.
 */
import { randomUUID } from 'node:crypto';
import type { EngineState } from '@contract';
import type { ProviderName } from '../../engine/backend/ort';
import type { FromEngine, ProbeReport, ToEngine } from '../../engine/process/protocol';
import type { DiffusionRequest } from '../../engine/pipelines/StableDiffusionPipeline';
import type { EmbeddingSpec, LoraSpec } from '../../engine/Engine';
import type { RgbaImage } from '../../engine/tensor/image';
import { AppError } from '../AppError';

export interface EngineProcessHandle {
  readonly pid: number | undefined;
  send(message: ToEngine): void;
  onMessage(listener: (message: FromEngine) => void): void;
  onExit(listener: (reason: string) => void): void;
  kill(): void;
}

export type SpawnEngine = () => EngineProcessHandle;

export type EngineResult = Extract<FromEngine, { t: 'result' }>;

export interface GenerateCall {
  /** The job's id; `cancel(id)` stops it at the next step. */
  id: string;
  modelDir: string;
  request: DiffusionRequest;
  previewEvery?: number;
  wantLatents?: boolean;
  previewDecoders?: { sd?: string; sdxl?: string };
  loras?: LoraSpec[];
  /** Textual-inversion embeddings the prompts name (see services/models/embeddings.ts). */
  embeddings?: EmbeddingSpec[];
  onStep?: (step: number, total: number, preview?: RgbaImage) => void;
  onLoading?: () => void;
}

interface Pending {
  resolve: (message: FromEngine) => void;
  reject: (err: AppError) => void;
  onStep?: GenerateCall['onStep'];
  onLoading?: () => void;
}

export class EngineClient {
  private handle: EngineProcessHandle | null = null;
  private ready: Promise<Extract<FromEngine, { t: 'ready' }>> | null = null;
  private readonly pending = new Map<string, Pending>();
  private providers: ProviderName[];
  private readonly onState: (state: EngineState) => void;
  private provider: ProviderName | null = null;
  /** The engine's ONNX Runtime version, once it has started. */
  ortVersion: string | null = null;

  constructor(
    private readonly spawn: SpawnEngine,
    options: { providers: ProviderName[]; onState?: (state: EngineState) => void },
  ) {
    this.providers = options.providers;
    this.onState = options.onState ?? (() => undefined);
  }

  /** Starts the process if it is not running; resolves when it has said it is ready. */
  start(): Promise<Extract<FromEngine, { t: 'ready' }>> {
    if (this.ready) return this.ready;
    this.onState({ state: 'starting', provider: this.provider });
    const handle = this.spawn();
    this.handle = handle;
    this.ready = new Promise((resolve, reject) => {
      handle.onMessage((message) => {
        if (message.t === 'ready') {
          this.ortVersion = message.ortVersion;
          handle.send({ t: 'configure', providers: this.providers });
          this.onState({ state: 'ready', provider: this.provider });
          resolve(message);
          return;
        }
        this.route(message);
      });
      handle.onExit((reason) => {
        if (this.handle !== handle) return;
        this.handle = null;
        this.ready = null;
        reject(new AppError('ENGINE', `The engine process could not start: ${reason}`));
        const inFlight = [...this.pending.values()];
        this.pending.clear();
        for (const p of inFlight) {
          p.reject(
            new AppError(
              'ENGINE',
              `The engine process stopped (${reason}) during this job. It restarts for the next job.`,
            ),
          );
        }
        this.onState({ state: 'crashed', provider: this.provider, detail: `Engine process stopped: ${reason}` });
      });
    });
    this.ready.catch(() => undefined);
    return this.ready;
  }

  setProviders(providers: ProviderName[]): void {
    this.providers = providers;
    this.handle?.send({ t: 'configure', providers });
  }

  get pid(): number | undefined {
    return this.handle?.pid;
  }

  async generate(call: GenerateCall): Promise<EngineResult> {
    const id = call.id;
    const message: ToEngine = {
      t: 'generate',
      id,
      modelDir: call.modelDir,
      request: call.request,
      previewEvery: call.previewEvery ?? 0,
    };
    if (call.wantLatents) message.wantLatents = true;
    if (call.previewDecoders) message.previewDecoders = call.previewDecoders;
    if (call.loras?.length) message.loras = call.loras;
    if (call.embeddings?.length) message.embeddings = call.embeddings;
    this.onState({ state: 'busy', provider: this.provider });
    try {
      const result = (await this.call(id, message, call.onStep, call.onLoading)) as EngineResult;
      this.provider = result.provider;
      return result;
    } finally {
      if (this.handle) this.onState({ state: 'ready', provider: this.provider });
    }
  }

  async probe(modelDir: string): Promise<ProbeReport> {
    const id = randomUUID();
    const reply = (await this.call(id, { t: 'probe', id, modelDir })) as Extract<FromEngine, { t: 'probed' }>;
    return reply.report;
  }

  async tokenize(modelDir: string, text: string): Promise<number[]> {
    const id = randomUUID();
    const reply = (await this.call(id, { t: 'tokenize', id, modelDir, text })) as Extract<FromEngine, { t: 'tokens' }>;
    return reply.ids;
  }

  /** Ends the process (giving its memory back, GPU memory included); the next call starts a new one. */
  async restart(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    const exited = new Promise<void>((resolve) => handle.onExit(() => resolve()));
    handle.kill();
    await exited;
    this.onState({ state: 'stopped', provider: null, detail: 'Model unloaded.' });
  }

  async dispose(): Promise<void> {
    await this.restart();
  }

  private async call(
    id: string,
    message: ToEngine,
    onStep?: GenerateCall['onStep'],
    onLoading?: () => void,
  ): Promise<FromEngine> {
    await this.start();
    const handle = this.handle;
    if (!handle) throw new AppError('ENGINE', 'The engine process is not running.');
    return new Promise<FromEngine>((resolve, reject) => {
      const pending: Pending = { resolve, reject };
      if (onStep) pending.onStep = onStep;
      if (onLoading) pending.onLoading = onLoading;
      this.pending.set(id, pending);
      handle.send(message);
    });
  }

  /** Asks the engine to stop job `id` at its next step boundary. */
  cancel(id: string): void {
    if (this.pending.has(id)) this.handle?.send({ t: 'cancel', id });
  }

  private route(message: FromEngine): void {
    if (message.t === 'ready') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    switch (message.t) {
      case 'step':
        pending.onStep?.(message.step, message.total, message.preview);
        return;
      case 'loading':
        pending.onLoading?.();
        return;
      case 'error':
        this.pending.delete(message.id);
        pending.reject(
          new AppError(
            message.kind === 'cancelled' ? 'CANCELLED' : message.kind === 'input' ? 'VALIDATION' : 'ENGINE',
            message.message,
            message.file ? { file: message.file, kind: message.kind } : { kind: message.kind },
          ),
        );
        return;
      default:
        this.pending.delete(message.id);
        pending.resolve(message);
    }
  }
}
