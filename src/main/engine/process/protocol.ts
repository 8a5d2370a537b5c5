/**
 * Messages between main and the engine process. Plain structured-cloneable objects, so they cross
 * both `child_process.fork` (advanced serialization) and Electron's `utilityProcess` unchanged.
 */
import type { ProviderName } from '../backend/ort';
import type { EngineErrorKind } from '../EngineError';
import type { AppliedLora, EmbeddingSpec, LoraSpec } from '../Engine';
import type { ModelProbe } from '../model/modelFolder';
import type { DiffusionRequest, GenerationInfo } from '../pipelines/StableDiffusionPipeline';
import type { RgbaImage } from '../tensor/image';

export type ToEngine =
  | { t: 'configure'; providers: ProviderName[] }
  | {
      t: 'generate';
      id: string;
      modelDir: string;
      request: DiffusionRequest;
      previewEvery: number;
      wantLatents?: boolean;
      /** TAESD decoders (ONNX) for full-size live previews, per latent space; without one, the linear approximation. */
      previewDecoders?: { sd?: string; sdxl?: string };
      loras?: LoraSpec[];
      /** Textual-inversion embeddings the prompts name (main finds them; see services/models/embeddings.ts). */
      embeddings?: EmbeddingSpec[];
    }
  | { t: 'cancel'; id: string }
  | { t: 'probe'; id: string; modelDir: string }
  | { t: 'tokenize'; id: string; modelDir: string; text: string }
  | { t: 'unload'; id: string };

export interface EngineTimings {
  loadMs: number;
  encodeMs: number;
  denoiseMs: number;
  decodeMs: number;
  unetMs: number;
  steps: number;
}

export interface ProbeReport {
  probe: ModelProbe;
  provider: ProviderName;
  parts: {
    name: string;
    bytes: number;
    inputs: { name: string; dtype: string; shape: (number | string)[] }[];
    outputs: { name: string; dtype: string; shape: (number | string)[] }[];
  }[];
  marker: { demo?: boolean; label?: string; fixture?: string } | null;
}

export type FromEngine =
  | { t: 'ready'; pid: number; ortVersion: string; providers: ProviderName[] }
  | { t: 'loading'; id: string; modelDir: string }
  | { t: 'step'; id: string; step: number; total: number; preview?: RgbaImage }
  | {
      t: 'result';
      id: string;
      images: RgbaImage[];
      latents?: Float32Array;
      provider: ProviderName;
      probe: ModelProbe;
      timings: EngineTimings;
      loras: AppliedLora[];
      /** Which path ran (inpainting UNet or masked blending, fill, tiles) and notices for the user. */
      info?: GenerationInfo;
    }
  | { t: 'probed'; id: string; report: ProbeReport }
  | { t: 'tokens'; id: string; ids: number[] }
  | { t: 'unloaded'; id: string }
  | { t: 'error'; id: string; kind: EngineErrorKind; message: string; file?: string };
