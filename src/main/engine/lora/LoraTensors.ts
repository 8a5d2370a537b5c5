/**
 * The engine's view of a LoRA file: tensor names, float32 values and the safetensors metadata. The
 * engine never reads model files from the library itself (`services/models` owns the strict
 * safetensors reader), so whoever opens the file adapts it to this port.
 */
import { EngineError } from '../EngineError';

export interface LoraTensor {
  dims: number[];
  /** Row-major float32 values (F16/BF16 files are converted by the adapter). */
  data: Float32Array;
}

export interface LoraTensors {
  keys(): string[];
  /** Throws when `name` is not one of `keys()`. */
  get(name: string): LoraTensor;
  /** The file's `__metadata__` (empty when absent). */
  metadata: Record<string, string>;
}

/** A `LoraTensors` over tensors already in memory. */
export function memoryLoraTensors(
  tensors: ReadonlyMap<string, LoraTensor> | Record<string, LoraTensor>,
  metadata: Record<string, string> = {},
): LoraTensors {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  return {
    keys: () => [...map.keys()],
    get(name) {
      const tensor = map.get(name);
      if (!tensor) throw new EngineError('input', `The LoRA has no tensor named ${name}.`);
      return tensor;
    },
    metadata,
  };
}
