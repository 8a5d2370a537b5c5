/**
 * SDXL's added conditions, the UNet inputs beside the text sequence (diffusers' `added_cond_kwargs`):
 * `text_embeds`, text_encoder_2's pooled prompt embedding, and `time_ids`, the micro-conditioning on
 * size and crop that SDXL was trained with (`_get_add_time_ids`):
 *
 * - base and Turbo (6 ids): original size (h, w), crop top-left (y, x), target size (h, w);
 * - refiner (5 ids, `requires_aesthetics_score`): original size (h, w), crop top-left (y, x), aesthetic
 *   score (6.0 for the prompt, 2.5 for the negative prompt by default).
 *
 * Sizes default to the requested image size and the crop to (0, 0), as in diffusers. With CFG the batch
 * is [negative x batch, positive x batch], the same order as the text sequence (diffusers' `repeat` of
 * `cat([neg, pos])` interleaves them instead, which only matters for batches over 1 with different
 * negative conditions).
 */
import type { HostTensor } from '../backend/ort';
import type { PromptEmbeddings } from '../components/TextEncoder';
import { EngineError } from '../EngineError';
import type { ModelProbe } from '../model/modelFolder';

/** SDXL micro-conditioning, all optional; sizes are (height, width) and the crop (top, left), in pixels. */
export interface SdxlConditions {
  originalSize?: [height: number, width: number];
  cropTopLeft?: [top: number, left: number];
  targetSize?: [height: number, width: number];
  negativeOriginalSize?: [height: number, width: number];
  negativeCropTopLeft?: [top: number, left: number];
  negativeTargetSize?: [height: number, width: number];
  /** The refiner's aesthetic score for the prompt (default 6). */
  aestheticScore?: number;
  /** The refiner's aesthetic score for the negative prompt (default 2.5). */
  negativeAestheticScore?: number;
}

/** The time ids for the prompt (`cond`) and the negative prompt (`uncond`), in the model's layout (5 or 6). */
export function sdxlTimeIds(
  probe: Pick<ModelProbe, 'requiresAestheticsScore'>,
  width: number,
  height: number,
  c: SdxlConditions = {},
): { cond: number[]; uncond: number[] } {
  const original = c.originalSize ?? [height, width];
  const crop = c.cropTopLeft ?? [0, 0];
  const target = c.targetSize ?? [height, width];
  const negativeOriginal = c.negativeOriginalSize ?? original;
  const negativeCrop = c.negativeCropTopLeft ?? crop;
  const negativeTarget = c.negativeTargetSize ?? target;
  if (probe.requiresAestheticsScore) {
    return {
      cond: [...original, ...crop, c.aestheticScore ?? 6],
      uncond: [...negativeOriginal, ...negativeCrop, c.negativeAestheticScore ?? 2.5],
    };
  }
  return { cond: [...original, ...crop, ...target], uncond: [...negativeOriginal, ...negativeCrop, ...negativeTarget] };
}

export interface SdxlConditioningInput {
  probe: Pick<ModelProbe, 'addedConditions' | 'requiresAestheticsScore'>;
  embeds: PromptEmbeddings;
  width: number;
  height: number;
  /** Images per prompt. */
  batch: number;
  /** With CFG: the UNet batch is [negative x batch, positive x batch]. */
  guided: boolean;
  conditions?: SdxlConditions;
}

/**
 * The UNet feeds `text_embeds` [unetBatch, pooledDim] and `time_ids` [unetBatch, 5 | 6] for an SDXL UNet
 * (float32 here; the session converts to the graph's dtype once, as they are marked stable), or
 * undefined for a UNet without added conditions. Pass the result as the UNet call's `extra` at every step.
 */
export function sdxlConditioning(input: SdxlConditioningInput): Record<string, HostTensor> | undefined {
  const { probe, embeds, batch, guided } = input;
  const added = probe.addedConditions;
  if (!added) return undefined;
  const { pooledCond, pooledUncond } = embeds;
  if (!pooledCond || (guided && !pooledUncond)) {
    throw new EngineError(
      'input',
      'This SDXL model needs pooled text embeddings (text_encoder_2 text_embeds) with the prompt embeddings.',
    );
  }
  if (pooledCond.length !== added.textEmbedsDim) {
    throw new EngineError(
      'model',
      `The UNet takes text_embeds of width ${added.textEmbedsDim}, the text encoder gave ${pooledCond.length}.`,
    );
  }
  const ids = sdxlTimeIds(probe, input.width, input.height, input.conditions);
  if (ids.cond.length !== added.timeIds) {
    throw new EngineError('model', `The UNet takes ${added.timeIds} time ids; this model kind has ${ids.cond.length}.`);
  }
  const groups: [Float32Array, number[]][] = guided
    ? [
        [pooledUncond as Float32Array, ids.uncond],
        [pooledCond, ids.cond],
      ]
    : [[pooledCond, ids.cond]];
  const unetBatch = groups.length * batch;
  const textEmbeds = new Float32Array(unetBatch * added.textEmbedsDim);
  const timeIds = new Float32Array(unetBatch * added.timeIds);
  let row = 0;
  for (const [pooled, timeIdRow] of groups) {
    for (let b = 0; b < batch; b++, row++) {
      textEmbeds.set(pooled, row * added.textEmbedsDim);
      timeIds.set(timeIdRow, row * added.timeIds);
    }
  }
  return {
    text_embeds: { data: textEmbeds, dims: [unetBatch, added.textEmbedsDim], stable: true },
    time_ids: { data: timeIds, dims: [unetBatch, added.timeIds], stable: true },
  };
}
