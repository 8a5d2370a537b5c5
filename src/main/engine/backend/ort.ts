/**
 * The only import of onnxruntime-node. Opens sessions on a preference list of execution providers
 * with fallback, reads every input's and output's name, dtype and shape from the session metadata
 * (exporters differ, and ORT rejects a wrong dtype), and converts between the engine's host tensors
 * (always float32 / plain integers) and whatever the graph wants (float16, int32, int64, rank 0).
 */
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../EngineError';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '../builder/float16';

export type ProviderName = 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu';
export type GraphDtype = 'float32' | 'float16' | 'int32' | 'int64';

export interface IoSpec {
  name: string;
  dtype: GraphDtype;
  /** Numbers for fixed dims, strings for symbolic ones; [] for a scalar. */
  shape: readonly (number | string)[];
}

/** A host-side tensor: floats as Float32Array, integers as plain numbers. */
export interface HostTensor {
  data: Float32Array | Int32Array;
  dims: readonly number[];
  /** The caller will pass this same, unchanged array again: convert it once and reuse the result. */
  stable?: boolean;
}

export interface GraphSession {
  readonly file: string;
  readonly provider: ProviderName;
  readonly inputs: ReadonlyMap<string, IoSpec>;
  readonly outputs: ReadonlyMap<string, IoSpec>;
  /**
   * Runs the graph; feeds are converted to each input's dtype, outputs come back as float32.
   * A feed marked `stable` is converted once and reused while the same array is passed again.
   */
  run(feeds: Record<string, HostTensor>, outputNames?: readonly string[]): Promise<Record<string, HostTensor>>;
  /** Runs with feeds already in the graph's dtypes (for benchmarks against bare ORT). */
  runRaw(feeds: Record<string, ort.Tensor>, outputNames?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  providers: readonly ProviderName[];
  /** Intra-op threads; 0 lets ORT choose. */
  threads?: number;
}

export const onnxRuntimeVersion: string = ort.env.versions.node ?? 'unknown';

/** Providers this build of onnxruntime-node can use on this machine (CUDA only after `npm run setup:cuda`). */
export function availableProviders(): ProviderName[] {
  const supported = new Map(ort.listSupportedBackends().map((b) => [b.name, b]));
  const out: ProviderName[] = [];
  for (const name of ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const) {
    const backend = supported.get(name);
    if (!backend) continue;
    if (!backend.bundled && name === 'cuda' && !cudaProviderInstalled()) continue;
    out.push(name);
  }
  return out;
}

function cudaProviderInstalled(): boolean {
  try {
    const dir = new URL('.', import.meta.resolve('onnxruntime-node')).pathname;
    return existsSync(`${dir}../../bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so`);
  } catch {
    return false;
  }
}

/**
 * Opens `file` on the first provider of `options.providers` that works here, falling back down the
 * list (cpu is always tried last). A file that cannot be loaded raises an error naming it.
 */
export async function openSession(file: string, options: SessionOptions): Promise<GraphSession> {
  if (!existsSync(file)) throw new EngineError('model', `Missing model file: ${file}`, file);
  return openOn(file, file, options);
}

/** Where a model opened from bytes finds its external-data tensors (it has no folder of its own). */
export interface ExternalWeights {
  /** Read external-data files from this folder (ORT's `session.model_external_initializers_file_folder_path`). */
  folder?: string;
  /** External-data files held in memory, by the location the model names; ORT then reads no files. */
  files?: readonly { path: string; data: Uint8Array }[];
}

/** Opens a model held in memory (an upcast or patched graph); `label` names it in errors. */
export async function openSessionFromBytes(
  bytes: Uint8Array,
  label: string,
  options: SessionOptions,
  external?: ExternalWeights,
): Promise<GraphSession> {
  return openOn(bytes, label, options, external);
}

async function openOn(
  source: string | Uint8Array,
  file: string,
  options: SessionOptions,
  external?: ExternalWeights,
): Promise<GraphSession> {
  const available = new Set(availableProviders());
  const wanted = [...options.providers.filter((p) => available.has(p)), 'cpu' as const].filter(
    (p, i, list) => list.indexOf(p) === i,
  );
  const failures: string[] = [];
  for (const provider of wanted) {
    try {
      const createOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: options.threads ?? 0,
        logSeverityLevel: 3,
      };
      if (external?.folder) {
        createOptions.extra = { 'session.model_external_initializers_file_folder_path': external.folder };
      }
      if (external?.files) createOptions.externalData = external.files.map((f) => ({ path: f.path, data: f.data }));
      const session =
        typeof source === 'string'
          ? await ort.InferenceSession.create(source, createOptions)
          : await ort.InferenceSession.create(source, createOptions);
      return wrapSession(file, provider, session);
    } catch (err) {
      failures.push(`${provider}: ${err instanceof Error ? err.message : String(err)}`);
      if (isModelProblem(err)) break;
    }
  }
  throw new EngineError('model', `Could not load ${file}: ${failures.join('; ')}`, file);
}

/** Errors that no other provider would fix: a corrupt or truncated file. */
function isModelProblem(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /protobuf|INVALID_PROTOBUF|INVALID_GRAPH|No graph was found|Load model from .* failed|external data/i.test(
    message,
  );
}

function wrapSession(file: string, provider: ProviderName, session: ort.InferenceSession): GraphSession {
  // Feeds that are the same array from one run to the next (the text embeddings across denoising
  // steps) are converted once: an fp16 UNet would otherwise re-convert them every step.
  const converted = new WeakMap<Float32Array | Int32Array, { spec: IoSpec; dims: string; tensor: ort.Tensor }>();
  const inputs = new Map(session.inputMetadata.map((m) => [m.name, specOf(file, m)]));
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, specOf(file, m)]));
  return {
    file,
    provider,
    inputs,
    outputs,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, spec] of inputs) {
        const feed = feeds[name];
        if (!feed) throw new EngineError('runtime', `No value given for input "${name}" of ${file}.`, file);
        const dims = feed.dims.join(',');
        const cached = feed.stable ? converted.get(feed.data) : undefined;
        if (cached && cached.spec === spec && cached.dims === dims) {
          ortFeeds[name] = cached.tensor;
        } else {
          const tensor = toOrtTensor(feed, spec);
          if (feed.stable) converted.set(feed.data, { spec, dims, tensor });
          ortFeeds[name] = tensor;
        }
      }
      const results = outputNames ? await session.run(ortFeeds, outputNames as string[]) : await session.run(ortFeeds);
      const out: Record<string, HostTensor> = {};
      for (const [name, tensor] of Object.entries(results)) out[name] = fromOrtTensor(tensor);
      return out;
    },
    runRaw: (feeds, outputNames) => (outputNames ? session.run(feeds, outputNames as string[]) : session.run(feeds)),
    release: () => session.release(),
  };
}

function specOf(file: string, meta: ort.InferenceSession.ValueMetadata): IoSpec {
  if (!meta.isTensor) throw new EngineError('model', `Input/output "${meta.name}" of ${file} is not a tensor.`, file);
  const dtype = meta.type;
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'int32' && dtype !== 'int64') {
    throw new EngineError(
      'model',
      `"${meta.name}" of ${file} has dtype ${dtype}, which Sumi Studio does not support.`,
      file,
    );
  }
  return { name: meta.name, dtype, shape: meta.shape };
}

/** Converts a host tensor to the dtype and rank the graph declares for that input. */
export function toOrtTensor(tensor: HostTensor, spec: IoSpec): ort.Tensor {
  // A scalar input (current Optimum's `timestep`) takes the single value with no dims.
  const dims = spec.shape.length === 0 ? [] : [...tensor.dims];
  switch (spec.dtype) {
    case 'float32':
      return new ort.Tensor('float32', toFloat32(tensor.data), dims);
    case 'float16':
      return new ort.Tensor('float16', float32ArrayToFloat16(toFloat32(tensor.data)), dims);
    case 'int32':
      return new ort.Tensor(
        'int32',
        Int32Array.from(tensor.data, (v) => Math.round(v)),
        dims,
      );
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(tensor.data, (v) => BigInt(Math.round(v))),
        dims,
      );
  }
}

function toFloat32(data: Float32Array | Int32Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

export function fromOrtTensor(tensor: ort.Tensor): HostTensor {
  const dims = [...tensor.dims];
  switch (tensor.type) {
    case 'float32':
      return { data: tensor.data as Float32Array, dims };
    case 'float16': {
      const raw = tensor.data;
      const bits = raw instanceof Uint16Array ? raw : new Uint16Array((raw as ArrayBufferView).buffer);
      return { data: float16ArrayToFloat32(bits), dims };
    }
    case 'int32':
      return { data: tensor.data as Int32Array, dims };
    case 'int64':
      return { data: Int32Array.from(tensor.data as BigInt64Array, (v) => Number(v)), dims };
    default:
      return { data: Float32Array.from(tensor.data as ArrayLike<number>), dims };
  }
}

export { ort };
