/**
 * A diffusers-ONNX model folder on disk: which parts it has, its configs, and what kind of model it
 * is. The family is recognised from the graphs' inputs and outputs and the configs, never from
 * names: cross-attention width 768 = SD1, 1024 = SD2, 2048 = SDXL, 1280 = SDXL refiner; 9 UNet input
 * channels = inpainting; a `timestep_cond` input = LCM; `prediction_type` from the scheduler config;
 * SDXL's added conditions from the UNet's `text_embeds` / `time_ids` inputs (5 time ids = the refiner's
 * aesthetic score); a few-step distilled SDXL (Turbo, Lightning) from its `trailing` timestep spacing.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../EngineError';
import type { GraphSession, IoSpec } from '../backend/ort';

export type ModelFamily = 'sd1' | 'sd2' | 'sdxl' | 'sdxl-refiner' | 'unknown';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type Precision = 'fp32' | 'fp16';

export const partNames = [
  'text_encoder',
  'text_encoder_2',
  'unet',
  'vae_encoder',
  'vae_decoder',
  'tokenizer',
  'tokenizer_2',
  'scheduler',
] as const;
export type PartName = (typeof partNames)[number];

export interface ModelPart {
  name: PartName;
  dir: string;
  /** The graph file for ONNX parts. */
  file?: string;
  bytes: number;
}

export interface ModelFolder {
  dir: string;
  parts: Partial<Record<PartName, ModelPart>>;
  schedulerConfig: Record<string, unknown>;
  unetConfig: Record<string, unknown>;
  vaeConfig: Record<string, unknown>;
  /** `model_index.json` (the pipeline's config: `force_zeros_for_empty_prompt`, `requires_aesthetics_score`). */
  modelIndex: Record<string, unknown>;
  /** `sumi_model.json` when the folder is one of ours (demo model, fixtures). */
  marker: { demo?: boolean; label?: string; fixture?: string } | null;
}

function readJson(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch (err) {
    throw new EngineError(
      'model',
      `${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
      file,
    );
  }
}

function folderBytes(dir: string, files: string[]): number {
  return files.reduce((sum, f) => {
    const p = join(dir, f);
    return existsSync(p) ? sum + statSync(p).size : sum;
  }, 0);
}

/** Reads the folder's layout and configs. Throws a model error naming what is missing. */
export function readModelFolder(dir: string): ModelFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new EngineError('model', `Model folder not found: ${dir}`, dir);
  }
  const parts: Partial<Record<PartName, ModelPart>> = {};
  for (const name of partNames) {
    const partDir = join(dir, name);
    if (!existsSync(partDir)) continue;
    const file = join(partDir, 'model.onnx');
    const isGraph = !name.startsWith('tokenizer') && name !== 'scheduler';
    if (isGraph && !existsSync(file)) continue;
    const extra = ['model.onnx', 'model.onnx_data', 'weights.pb'];
    const part: ModelPart = { name, dir: partDir, bytes: isGraph ? folderBytes(partDir, extra) : 0 };
    if (isGraph) part.file = file;
    parts[name] = part;
  }
  // The SDXL refiner has only the second text encoder and tokenizer.
  const textEncoder = parts.text_encoder || !parts.text_encoder_2 ? 'text_encoder' : 'text_encoder_2';
  const tokenizer = parts.tokenizer || !parts.tokenizer_2 ? 'tokenizer' : 'tokenizer_2';
  for (const required of [textEncoder, 'unet', 'vae_decoder', tokenizer] as const) {
    if (!parts[required]) {
      throw new EngineError(
        'model',
        `${dir} is not a diffusers ONNX model: ${required}/${required.startsWith('tokenizer') ? 'vocab.json' : 'model.onnx'} is missing.`,
        join(dir, required),
      );
    }
  }
  const markerRaw = readJson(join(dir, 'sumi_model.json'));
  return {
    dir,
    parts,
    schedulerConfig: readJson(join(dir, 'scheduler', 'scheduler_config.json')),
    unetConfig: readJson(join(dir, 'unet', 'config.json')),
    vaeConfig: { ...readJson(join(dir, 'vae_decoder', 'config.json')) },
    modelIndex: readJson(join(dir, 'model_index.json')),
    marker: Object.keys(markerRaw).length ? (markerRaw as ModelFolder['marker']) : null,
  };
}

/** The model family from the UNet's cross-attention width (the text embedding it was trained on). */
export function familyFromCrossAttention(width: number): ModelFamily {
  const families: Record<number, ModelFamily> = { 768: 'sd1', 1024: 'sd2', 2048: 'sdxl', 1280: 'sdxl-refiner' };
  return families[width] ?? 'unknown';
}

export interface ModelProbe {
  family: ModelFamily;
  predictionType: PredictionType;
  precision: Precision;
  inpainting: boolean;
  lcm: boolean;
  unetInChannels: number;
  crossAttentionDim: number;
  latentChannels: number;
  /** VAE scaling factor: from the config, else the family's default. */
  vaeScalingFactor: number;
  /** The UNet's trained latent size (64 for SD1 = 512 px), when the config says. */
  sampleSize: number | null;
  /** The image size the model was trained at, in pixels: the UNet config's `sample_size` x 8, else the family's. */
  defaultSize: number;
  /**
   * SDXL's added conditions: the UNet's `text_embeds` width (the pooled embedding of text_encoder_2) and
   * its number of `time_ids` (6: original size, crop, target size; 5 for the refiner: original size, crop,
   * aesthetic score). Null for UNets without them.
   */
  addedConditions: { textEmbedsDim: number; timeIds: number } | null;
  /** The refiner: its `time_ids` carry an aesthetic score (diffusers' `requires_aesthetics_score`). */
  requiresAestheticsScore: boolean;
  /** SDXL's `force_zeros_for_empty_prompt`: an empty negative prompt is all zeros, not the encoded "". */
  forceZerosForEmptyPrompt: boolean;
  /** A few-step distilled SDXL (Turbo, Lightning): its scheduler config spaces timesteps `trailing`. */
  turbo: boolean;
}

function fixedDim(spec: IoSpec | undefined, index: number): number | null {
  const d = spec?.shape[index];
  return typeof d === 'number' && d > 0 ? d : null;
}

/** What kind of model this is, from the UNet's graph and the configs. */
export function probeModel(folder: ModelFolder, unet: GraphSession): ModelProbe {
  const sample = unet.inputs.get('sample');
  const context = unet.inputs.get('encoder_hidden_states');
  if (!sample || !context) {
    throw new EngineError(
      'model',
      `${unet.file} is not a Stable Diffusion UNet: it needs inputs "sample" and "encoder_hidden_states" (found ${[...unet.inputs.keys()].join(', ')}).`,
      unet.file,
    );
  }
  const inChannels = fixedDim(sample, 1) ?? numberOr(folder.unetConfig.in_channels, 4);
  const crossAttentionDim = fixedDim(context, 2) ?? numberOr(folder.unetConfig.cross_attention_dim, 768);
  const family = familyFromCrossAttention(crossAttentionDim);
  const prediction = folder.schedulerConfig.prediction_type;
  const predictionType: PredictionType =
    prediction === 'v_prediction' || prediction === 'sample' ? prediction : 'epsilon';
  const sdxl = family === 'sdxl' || family === 'sdxl-refiner';
  const defaultScaling = sdxl ? 0.13025 : 0.18215;
  const textEmbeds = unet.inputs.get('text_embeds');
  const timeIds = unet.inputs.get('time_ids');
  const addedConditions =
    textEmbeds && timeIds
      ? {
          textEmbedsDim: fixedDim(textEmbeds, 1) ?? numberOr(folder.unetConfig.text_encoder_projection_dim, 1280),
          timeIds:
            fixedDim(timeIds, 1) ??
            (folder.unetConfig.requires_aesthetics_score === true ||
            folder.modelIndex.requires_aesthetics_score === true
              ? 5
              : 6),
        }
      : null;
  const requiresAestheticsScore = addedConditions ? addedConditions.timeIds === 5 : false;
  const sampleSize = typeof folder.unetConfig.sample_size === 'number' ? folder.unetConfig.sample_size : null;
  const familySize: Record<ModelFamily, number> = {
    sd1: 512,
    sd2: predictionType === 'v_prediction' ? 768 : 512,
    sdxl: 1024,
    'sdxl-refiner': 1024,
    unknown: 512,
  };
  const forceZeros = folder.modelIndex.force_zeros_for_empty_prompt;
  return {
    family,
    predictionType,
    precision: sample.dtype === 'float16' ? 'fp16' : 'fp32',
    inpainting: inChannels === 9,
    lcm: unet.inputs.has('timestep_cond'),
    unetInChannels: inChannels,
    crossAttentionDim,
    latentChannels: 4,
    vaeScalingFactor: numberOr(folder.vaeConfig.scaling_factor, defaultScaling),
    sampleSize,
    defaultSize: sampleSize !== null && sampleSize > 0 ? sampleSize * 8 : familySize[family],
    addedConditions,
    requiresAestheticsScore,
    forceZerosForEmptyPrompt: typeof forceZeros === 'boolean' ? forceZeros : family === 'sdxl',
    turbo: sdxl && folder.schedulerConfig.timestep_spacing === 'trailing',
  };
}

/**
 * The kind of model within its family, from its graphs and configs: a 9-channel UNet inpaints, a
 * `timestep_cond` input is LCM, SDXL with "trailing" spacing is Turbo/Lightning. The UI's defaults
 * (size, steps, CFG) follow family and variant: `familyDefaults` in the contract.
 */
export function probeVariant(probe: ModelProbe): 'standard' | 'inpaint' | 'lcm' | 'turbo' {
  if (probe.inpainting) return 'inpaint';
  if (probe.lcm) return 'lcm';
  if (probe.turbo) return 'turbo';
  return 'standard';
}

function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}
