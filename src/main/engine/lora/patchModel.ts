/**
 * One part of a model (the UNet or a text encoder) as ONNX Runtime should open it: LoRAs merged and
 * textual-inversion embeddings appended in memory, starting from the weights on disk every time (a new
 * weight replaces the old delta, it never stacks on it), nothing written to disk.
 *
 * How the patched part reaches ORT depends on where its weights live (see `OnnxWeights.encodeForRuntime`):
 * inline models are re-serialised whole; models with external data (diffusers' `weights.pb`, Optimum's
 * `model.onnx_data`) keep their unpatched tensors in their files and only the patched ones travel, which
 * is what lets UNets over protobuf's 2 GB (SD 1.x fp32, SDXL) take LoRAs.
 */
import { openSession, openSessionFromBytes, type GraphSession, type SessionOptions } from '../backend/ort';
import type { ModelFamily } from '../model/modelFolder';
import { OnnxWeights, type ModelSource } from './graphIndex';
import { applyLoras, type LoraInput, type LoraReport, type MergeOptions } from './mergeLoras';
import { appendEmbeddings, type AppendedEmbeddings, type EmbeddingSpec } from './textualInversion';

export interface PatchOptions extends MergeOptions {
  /** Text encoders only: embeddings whose vectors are appended to the token table. */
  embeddings?: readonly EmbeddingSpec[];
  /** The tokenizer's end-of-text id (for the pooled output's argmax guard). */
  eosId?: number;
  /** Every text encoder width of the model, for refusal messages (`768 + 1280` for SDXL). */
  modelWidths?: readonly number[];
  /**
   * `auto` (default): inline models whole, external-data models by `folder` when the patched tensors fit
   * in one protobuf, else `memory`. The others force a route (tests, benchmarks).
   */
  route?: 'auto' | 'inline' | 'folder' | 'memory';
}

export interface PatchedPart {
  /** null when nothing changed (no embeddings, every LoRA at weight 0): open the file itself. */
  source: ModelSource | null;
  report: LoraReport[];
  embeddings: AppendedEmbeddings | null;
  /** Time spent reading, merging and encoding. */
  mergeMs: number;
}

/** Merges `loras` (and, for a text encoder, appends `options.embeddings`) into `file`'s weights. */
export function patchModel(file: string, loras: readonly LoraInput[], options: PatchOptions): PatchedPart {
  const started = performance.now();
  const weights = OnnxWeights.open(file, { maxBytes: options.maxBytes });
  if (options.route === 'inline') weights.assertInlineFits();
  const report = applyLoras(weights, loras, options);
  const embeddings =
    options.part !== 'unet' && options.embeddings?.length
      ? appendEmbeddings(weights, options.embeddings, options.part, embeddingContext(options))
      : null;
  let source: ModelSource | null = null;
  if (weights.patchedBytes > 0) {
    source =
      options.route === 'inline'
        ? { bytes: weights.encode(), route: 'inline' }
        : weights.encodeForRuntime(options.route ?? 'auto');
  }
  return { source, report, embeddings, mergeMs: performance.now() - started };
}

function embeddingContext(options: PatchOptions): {
  family?: ModelFamily;
  modelWidths?: readonly number[];
  eosId?: number;
} {
  return { family: options.family, modelWidths: options.modelWidths, eosId: options.eosId };
}

/** Opens what `patchModel` made: the file itself when nothing changed. */
export async function openPatchedSession(
  file: string,
  patched: PatchedPart,
  sessionOptions: SessionOptions,
  label = `${file} (patched)`,
): Promise<GraphSession> {
  const source = patched.source;
  if (!source) return openSession(file, sessionOptions);
  return openSessionFromBytes(source.bytes, label, sessionOptions, {
    folder: source.externalFolder,
    files: source.externalFiles,
  });
}
