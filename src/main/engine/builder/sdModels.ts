/**
 * Writes complete diffusers-ONNX Stable Diffusion folders with small, seeded random networks: the
 * studio's built-in demo model and the engine's test fixtures. The graphs are real networks (CLIP text
 * transformer, UNet2DConditionModel, AutoencoderKL) at tiny widths, and every part has the exact input
 * and output contract of one of the real exporters; the same code emits SD 1.5's full UNet geometry.
 *
 * What was checked, and where (public sources, read with the code search):
 * - diffusers `scripts/convert_stable_diffusion_checkpoint_to_onnx.py` (the "diffusers" style): int32
 *   `input_ids` {batch, sequence}; UNet `sample` {batch, channels, height, width}, `timestep` of the
 *   model's float dtype with shape {batch} (`torch.randn(2)`; the very first version used a LongTensor),
 *   `encoder_hidden_states` {batch, sequence}; outputs `out_sample`, VAE encoder `latent_sample` (it
 *   exports `encode(...).latent_dist.sample()`, so the graph draws noise), VAE decoder `sample`; UNet
 *   weights collated into `unet/weights.pb`; `--fp16` exports every float tensor, the timestep included,
 *   in float16. Output axes not named in `dynamic_axes` get torch's generated names
 *   (`<OpType><output>_dim_<i>`, e.g. `Convout_sample_dim_0`), as real files show.
 * - Optimum `exporters/onnx/model_configs.py`, an old release ("optimum-legacy"): CLIPTextOnnxConfig
 *   casts `input_ids` to int32, outputs {batch_size, sequence_length, feature_dim}; UNetOnnxConfig
 *   `timestep` {0: "steps"} drawn by DummyTimestepInputGenerator as an int64 tensor; VaeEncoder
 *   `latent_sample`, VaeDecoder {batch_size, num_channels_latent, height_latent, width_latent}.
 * - Optimum, current ("optimum"): int64 `input_ids` {batch_size, sequence_length}; `last_hidden_state`
 *   {batch_size, sequence_length}, `pooler_output` {batch_size}; UNet `sample` {batch_size, height, width},
 *   `timestep` {} (a rank-0 float), `encoder_hidden_states` {batch_size, sequence_length}, `timestep_cond`
 *   {batch_size} when `time_cond_proj_dim` is set; VaeEncoder `sample` {batch_size, sample_height,
 *   sample_width} -> `latent_parameters` {batch_size, "sample_height / 8", "sample_width / 8"} (mean and
 *   log-variance, `latent_dist.parameters`); VaeDecoder `latent_sample` {batch_size, latent_height,
 *   latent_width} -> `sample` {"latent_height * 8", ...}; external data in `model.onnx_data`; a
 *   `config.json` per part; the pipeline's `model_index.json` lists parts as OnnxRuntimeModel.
 * - diffusers UNet2DConditionModel / ResnetBlock2D / Transformer2DModel / BasicTransformerBlock / GEGLU /
 *   Downsample2D / Upsample2D / AutoencoderKL and transformers CLIPTextModel for the module names, the
 *   timestep embedding (flip_sin_to_cos, freq_shift 0), LCM's `time_embedding.cond_proj` (added to the
 *   sinusoidal projection before `linear_1`), CLIP's argmax pooling, and the norm epsilons.
 *
 * Liberties, kept out of the contract: the text transformer runs at a small internal width and a fixture
 * projection `text_model.hidden_projection` (Linear, internal width -> the family's width) sits before
 * `final_layer_norm`, so `last_hidden_state` and `pooler_output` have the real width (768 for SD 1.x, 1024
 * for SD 2.x); `config.json`'s `hidden_size` is that output width. fp16 models are plain fp16 graphs (ONNX
 * Runtime's CPU provider runs them by inserting casts). Weights come from a per-tensor seeded PRNG scaled by
 * fan-in, so activations stay O(1) and the prompt visibly changes the UNet's output.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxGraphBuilder, type Dim, type ElemType, type FloatType, type WriteResult } from './OnnxGraphBuilder';

/** Bumped whenever the builder's output changes, so stale fixtures are rebuilt. */
export const BUILDER_VERSION = 1;

export type ExportStyle = 'diffusers' | 'optimum-legacy' | 'optimum';
export type Family = 'sd1' | 'sd2' | 'sdxl' | 'sdxl-refiner';
export type PipelineKind = 'text2img' | 'inpaint' | 'lcm';
export type TokenizerSource = 'clip' | 'generated';

export interface TextEncoderSpec {
  /** Internal transformer width (small in fixtures). */
  width: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  /** Width of `last_hidden_state` / `pooler_output`: 768 for SD 1.x, 1024 for SD 2.x. */
  outputWidth: number;
  maxPositions: number;
  hiddenAct: 'quick_gelu' | 'gelu';
}

export interface UNetSpec {
  blockOutChannels: number[];
  layersPerBlock: number;
  /** Heads per down block (diffusers' misnamed `attention_head_dim`); up blocks use them reversed. */
  attentionHeads: number[];
  /** Which down blocks are CrossAttnDownBlock2D (up blocks mirror them). */
  crossAttention: boolean[];
  crossAttentionDim: number;
  inChannels: number;
  outChannels: number;
  normNumGroups: number;
  /** SD 2.x: Linear proj_in/proj_out instead of 1x1 convolutions. */
  useLinearProjection: boolean;
  /** LCM: width of `timestep_cond` (256), or null. */
  timeCondProjDim: number | null;
  sampleSize: number;
}

export interface VaeSpec {
  blockOutChannels: number[];
  layersPerBlock: number;
  latentChannels: number;
  normNumGroups: number;
  scalingFactor: number;
  sampleSize: number;
}

/**
 * What SDXL adds to a model: the second text encoder (OpenCLIP bigG, exported as
 * CLIPTextModelWithProjection) and the UNet's added conditions (diffusers' `addition_embed_type:
 * "text_time"`: the pooled `text_embeds` and the size/crop `time_ids`).
 */
export interface SdxlSpec {
  /** False for the refiner, which has only `text_encoder_2` / `tokenizer_2` (`textEncoder` is then unused). */
  textEncoder1: boolean;
  textEncoder2: TextEncoderSpec;
  /** text_encoder_2's `projection_dim`: the width of `text_embeds` (1280). */
  projectionDim: number;
  /** diffusers' `addition_time_embed_dim`: each time id's sinusoidal width (256 in SDXL). */
  additionTimeEmbedDim: number;
  /** The refiner: 5 time ids (original size, crop, aesthetic score) instead of 6 (original size, crop, target size). */
  requiresAestheticsScore: boolean;
  /** model_index.json's `force_zeros_for_empty_prompt` (true for base and Turbo, false for the refiner). */
  forceZerosForEmptyPrompt: boolean;
}

export interface ModelSpec {
  name: string;
  label: string;
  demo: boolean;
  seed: number;
  family: Family;
  exportStyle: ExportStyle;
  dtype: FloatType;
  pipeline: PipelineKind;
  scheduler: Record<string, unknown>;
  textEncoder: TextEncoderSpec;
  unet: UNetSpec;
  vae: VaeSpec;
  /** SDXL models only (absent otherwise, so other specs' hashes are unchanged). */
  sdxl?: SdxlSpec;
}

export interface TensorContract {
  name: string;
  dtype: ElemType;
  shape: Dim[];
}

export interface PartContract {
  inputs: TensorContract[];
  outputs: TensorContract[];
}

export type PartName = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_encoder' | 'vae_decoder';

/** Every model has a UNet and a VAE; SD 1.x/2.x one text encoder, SDXL two, the SDXL refiner only the second. */
export type ModelContract = Record<'unet' | 'vae_encoder' | 'vae_decoder', PartContract> &
  Partial<Record<'text_encoder' | 'text_encoder_2', PartContract>>;

export interface BuildOptions {
  /** A folder with the CLIP `vocab.json` and `merges.txt`; without one a small BPE vocabulary is generated. */
  clipVocabDir?: string | null;
  /** Replace an existing folder that is not this exact build (fixtures, the app's demo model). */
  replace?: boolean;
}

export interface BuildReport {
  outDir: string;
  name: string;
  specHash: string;
  tokenizer: TokenizerSource;
  /** False when an identical build was already in place (another process finished first). */
  built: boolean;
  parts: Partial<Record<PartName, WriteResult>>;
  seconds: number;
}

export interface SumiModelMarker {
  demo: boolean;
  label: string;
  fixture: string;
  seed: number;
  builderVersion: number;
  specHash: string;
  tokenizer: TokenizerSource;
}

// ---- presets ----------------------------------------------------------------------------------------------

export const textEncoderSpec = {
  tinySd1: {
    width: 32,
    layers: 2,
    heads: 4,
    intermediateSize: 64,
    outputWidth: 768,
    maxPositions: 77,
    hiddenAct: 'quick_gelu',
  },
  tinySd2: {
    width: 32,
    layers: 2,
    heads: 4,
    intermediateSize: 64,
    outputWidth: 1024,
    maxPositions: 77,
    hiddenAct: 'gelu',
  },
  /** SDXL's text_encoder (CLIP ViT-L) at a tiny internal width, 768 wide outside. */
  tinySdxl1: {
    width: 32,
    layers: 2,
    heads: 4,
    intermediateSize: 64,
    outputWidth: 768,
    maxPositions: 77,
    hiddenAct: 'quick_gelu',
  },
  /** SDXL's text_encoder_2 (OpenCLIP bigG) at a tiny internal width, 1280 wide outside. */
  tinySdxl2: {
    width: 32,
    layers: 2,
    heads: 4,
    intermediateSize: 64,
    outputWidth: 1280,
    maxPositions: 77,
    hiddenAct: 'gelu',
  },
} satisfies Record<string, TextEncoderSpec>;

export const unetSpec = {
  tinySd1: {
    blockOutChannels: [32, 64, 64],
    layersPerBlock: 1,
    attentionHeads: [2, 4, 4],
    crossAttention: [true, true, false],
    crossAttentionDim: 768,
    inChannels: 4,
    outChannels: 4,
    normNumGroups: 8,
    useLinearProjection: false,
    timeCondProjDim: null,
    sampleSize: 64,
  },
  tinySd2: {
    blockOutChannels: [32, 64, 64],
    layersPerBlock: 1,
    attentionHeads: [2, 4, 4],
    crossAttention: [true, true, false],
    crossAttentionDim: 1024,
    inChannels: 4,
    outChannels: 4,
    normNumGroups: 8,
    useLinearProjection: true,
    timeCondProjDim: null,
    sampleSize: 96,
  },
  /** SDXL's layout (no attention in the first block, linear projections) with the real 2048 context width. */
  tinySdxl: {
    blockOutChannels: [32, 64, 64],
    layersPerBlock: 1,
    attentionHeads: [2, 4, 4],
    crossAttention: [false, true, true],
    crossAttentionDim: 2048,
    inChannels: 4,
    outChannels: 4,
    normNumGroups: 8,
    useLinearProjection: true,
    timeCondProjDim: null,
    sampleSize: 128,
  },
  /** runwayml/stable-diffusion-v1-5's UNet geometry (859.5 M parameters). */
  sd15Full: {
    blockOutChannels: [320, 640, 1280, 1280],
    layersPerBlock: 2,
    attentionHeads: [8, 8, 8, 8],
    crossAttention: [true, true, true, false],
    crossAttentionDim: 768,
    inChannels: 4,
    outChannels: 4,
    normNumGroups: 32,
    useLinearProjection: false,
    timeCondProjDim: null,
    sampleSize: 64,
  },
} satisfies Record<string, UNetSpec>;

export const vaeSpec = {
  tiny: {
    blockOutChannels: [16, 32, 32, 32],
    layersPerBlock: 1,
    latentChannels: 4,
    normNumGroups: 8,
    scalingFactor: 0.18215,
    sampleSize: 512,
  },
  tinySdxl: {
    blockOutChannels: [16, 32, 32, 32],
    layersPerBlock: 1,
    latentChannels: 4,
    normNumGroups: 8,
    scalingFactor: 0.13025,
    sampleSize: 1024,
  },
} satisfies Record<string, VaeSpec>;

/** runwayml/stable-diffusion-v1-5 `scheduler/scheduler_config.json`. */
const sd15Scheduler = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** stabilityai/stable-diffusion-2-1 (768, v-prediction) `scheduler/scheduler_config.json`. */
const sd21Scheduler = {
  _class_name: 'DDIMScheduler',
  _diffusers_version: '0.8.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'v_prediction',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** SimianLuo/LCM_Dreamshaper_v7 `scheduler/scheduler_config.json`. */
const lcmScheduler = {
  _class_name: 'LCMScheduler',
  _diffusers_version: '0.22.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  clip_sample_range: 1.0,
  dynamic_thresholding_ratio: 0.995,
  num_train_timesteps: 1000,
  original_inference_steps: 50,
  prediction_type: 'epsilon',
  rescale_betas_zero_snr: false,
  sample_max_value: 1.0,
  set_alpha_to_one: true,
  steps_offset: 1,
  thresholding: false,
  timestep_scaling: 10.0,
  timestep_spacing: 'leading',
  trained_betas: null,
};

/** stabilityai/stable-diffusion-xl-base-1.0 (and refiner-1.0) `scheduler/scheduler_config.json`. */
const sdxlScheduler = {
  _class_name: 'EulerDiscreteScheduler',
  _diffusers_version: '0.19.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  interpolation_type: 'linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  sample_max_value: 1.0,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: 'leading',
  trained_betas: null,
  use_karras_sigmas: false,
};

/** stabilityai/sdxl-turbo `scheduler/scheduler_config.json`. */
const sdxlTurboScheduler = {
  ...sdxlScheduler,
  _class_name: 'EulerAncestralDiscreteScheduler',
  _diffusers_version: '0.24.0.dev0',
  timestep_spacing: 'trailing',
};

/** SDXL base/Turbo parts: both text encoders, 6 time ids, zeros for an empty negative prompt. */
const sdxlBase: SdxlSpec = {
  textEncoder1: true,
  textEncoder2: textEncoderSpec.tinySdxl2,
  projectionDim: 1280,
  additionTimeEmbedDim: 32,
  requiresAestheticsScore: false,
  forceZerosForEmptyPrompt: true,
};

function fixtureSpec(name: string, label: string, overrides: Partial<ModelSpec>): ModelSpec {
  return {
    name,
    label,
    demo: false,
    seed: 1234,
    family: 'sd1',
    exportStyle: 'optimum',
    dtype: 'float32',
    pipeline: 'text2img',
    scheduler: sd15Scheduler,
    textEncoder: textEncoderSpec.tinySd1,
    unet: unetSpec.tinySd1,
    vae: vaeSpec.tiny,
    ...overrides,
  };
}

export type SdxlFixtureVariant = 'sdxl-base' | 'sdxl-refiner' | 'sdxl-turbo';
export type FixtureVariant =
  | 'sd1-diffusers'
  | 'sd1-optimum-old'
  | 'sd1-optimum'
  | 'sd2-v'
  | 'sd1-fp16'
  | 'sd1-inpaint'
  | 'sd1-lcm'
  | SdxlFixtureVariant;

/** The fixture models the engine is tested on: one per exporter contract the studio must load. */
export const fixtureVariants: Record<FixtureVariant, ModelSpec> = {
  'sd1-diffusers': fixtureSpec('sd1-diffusers', 'SD 1.x, diffusers conversion script', { exportStyle: 'diffusers' }),
  'sd1-optimum-old': fixtureSpec('sd1-optimum-old', 'SD 1.x, older Optimum export', { exportStyle: 'optimum-legacy' }),
  'sd1-optimum': fixtureSpec('sd1-optimum', 'SD 1.x, Optimum export', {}),
  'sd2-v': fixtureSpec('sd2-v', 'SD 2.1-v (v-prediction), Optimum export', {
    family: 'sd2',
    scheduler: sd21Scheduler,
    textEncoder: textEncoderSpec.tinySd2,
    unet: unetSpec.tinySd2,
    vae: { ...vaeSpec.tiny, sampleSize: 768 },
  }),
  'sd1-fp16': fixtureSpec('sd1-fp16', 'SD 1.x fp16, diffusers conversion script --fp16', {
    exportStyle: 'diffusers',
    dtype: 'float16',
  }),
  'sd1-inpaint': fixtureSpec('sd1-inpaint', 'SD 1.x inpainting (9-channel UNet), Optimum export', {
    pipeline: 'inpaint',
    unet: { ...unetSpec.tinySd1, inChannels: 9 },
  }),
  'sd1-lcm': fixtureSpec('sd1-lcm', 'SD 1.x latent consistency model, Optimum export', {
    pipeline: 'lcm',
    scheduler: lcmScheduler,
    unet: { ...unetSpec.tinySd1, timeCondProjDim: 256 },
  }),
  'sdxl-base': fixtureSpec('sdxl-base', 'SDXL base, Optimum export', {
    family: 'sdxl',
    scheduler: sdxlScheduler,
    textEncoder: textEncoderSpec.tinySdxl1,
    unet: unetSpec.tinySdxl,
    vae: vaeSpec.tinySdxl,
    sdxl: sdxlBase,
  }),
  'sdxl-refiner': fixtureSpec('sdxl-refiner', 'SDXL refiner, Optimum export', {
    family: 'sdxl-refiner',
    seed: 4321,
    scheduler: sdxlScheduler,
    textEncoder: textEncoderSpec.tinySdxl2,
    unet: { ...unetSpec.tinySdxl, crossAttentionDim: 1280 },
    vae: vaeSpec.tinySdxl,
    sdxl: { ...sdxlBase, textEncoder1: false, requiresAestheticsScore: true, forceZerosForEmptyPrompt: false },
  }),
  'sdxl-turbo': fixtureSpec('sdxl-turbo', 'SDXL Turbo (512 px, few steps, no CFG), Optimum export', {
    family: 'sdxl',
    seed: 2024,
    scheduler: sdxlTurboScheduler,
    textEncoder: textEncoderSpec.tinySdxl1,
    unet: { ...unetSpec.tinySdxl, sampleSize: 64 },
    vae: { ...vaeSpec.tinySdxl, sampleSize: 512 },
    sdxl: sdxlBase,
  }),
};

/** Larger models for benchmarks, not for tests. */
export const benchmarkVariants = {
  /** SD 1.5's full-size UNet (fp16, ~1.7 GB) with the tiny text encoder and VAE. */
  'sd15-full-unet': fixtureSpec('sd15-full-unet', 'SD 1.5-size UNet (random weights, fp16)', {
    exportStyle: 'diffusers',
    dtype: 'float16',
    unet: unetSpec.sd15Full,
  }),
} satisfies Record<string, ModelSpec>;

/** The model the studio writes on first run so there is something to generate with. */
export const demoModelSpec: ModelSpec = fixtureSpec('demo', 'Sumi demo model (tiny, random weights)', {
  demo: true,
  seed: 7,
});

// ---- contracts --------------------------------------------------------------------------------------------

function generatedDims(opType: string, output: string, rank: number): string[] {
  return Array.from({ length: rank }, (_, i) => `${opType}${output}_dim_${i}`);
}

/** The exact inputs and outputs (names, dtypes, shapes) each part of `spec` has. */
export function modelContract(spec: ModelSpec): ModelContract {
  if (spec.sdxl) return sdxlContract(spec, spec.sdxl);
  const f = spec.dtype;
  const width = spec.textEncoder.outputWidth;
  const { inChannels, outChannels, crossAttentionDim, timeCondProjDim } = spec.unet;
  const latent = spec.vae.latentChannels;
  const factor = 2 ** (spec.vae.blockOutChannels.length - 1);
  const cond = (batch: Dim): TensorContract[] =>
    timeCondProjDim === null ? [] : [{ name: 'timestep_cond', dtype: f, shape: [batch, timeCondProjDim] }];

  switch (spec.exportStyle) {
    case 'diffusers':
      return {
        text_encoder: {
          inputs: [{ name: 'input_ids', dtype: 'int32', shape: ['batch', 'sequence'] }],
          outputs: [
            {
              name: 'last_hidden_state',
              dtype: f,
              shape: [...generatedDims('LayerNormalization', 'last_hidden_state', 2), width],
            },
            { name: 'pooler_output', dtype: f, shape: generatedDims('GatherND', 'pooler_output', 2) },
          ],
        },
        unet: {
          inputs: [
            { name: 'sample', dtype: f, shape: ['batch', 'channels', 'height', 'width'] },
            { name: 'timestep', dtype: f, shape: ['batch'] },
            { name: 'encoder_hidden_states', dtype: f, shape: ['batch', 'sequence', crossAttentionDim] },
            ...cond('batch'),
          ],
          outputs: [{ name: 'out_sample', dtype: f, shape: generatedDims('Conv', 'out_sample', 4) }],
        },
        vae_encoder: {
          inputs: [{ name: 'sample', dtype: f, shape: ['batch', 'channels', 'height', 'width'] }],
          outputs: [{ name: 'latent_sample', dtype: f, shape: generatedDims('Add', 'latent_sample', 4) }],
        },
        vae_decoder: {
          inputs: [{ name: 'latent_sample', dtype: f, shape: ['batch', 'channels', 'height', 'width'] }],
          outputs: [{ name: 'sample', dtype: f, shape: generatedDims('Conv', 'sample', 4) }],
        },
      };
    case 'optimum-legacy':
      return {
        text_encoder: {
          inputs: [{ name: 'input_ids', dtype: 'int32', shape: ['batch_size', 'sequence_length'] }],
          outputs: [
            { name: 'last_hidden_state', dtype: f, shape: ['batch_size', 'sequence_length', 'feature_dim'] },
            { name: 'pooler_output', dtype: f, shape: ['batch_size', 'feature_dim'] },
          ],
        },
        unet: {
          inputs: [
            { name: 'sample', dtype: f, shape: ['batch_size', 'num_channels', 'height', 'width'] },
            { name: 'timestep', dtype: 'int64', shape: ['steps'] },
            { name: 'encoder_hidden_states', dtype: f, shape: ['batch_size', 'sequence_length', 'feature_dim'] },
            ...cond('batch_size'),
          ],
          outputs: [{ name: 'out_sample', dtype: f, shape: ['batch_size', 'num_channels', 'height', 'width'] }],
        },
        vae_encoder: {
          inputs: [{ name: 'sample', dtype: f, shape: ['batch_size', 'num_channels', 'height', 'width'] }],
          outputs: [
            {
              name: 'latent_sample',
              dtype: f,
              shape: ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent'],
            },
          ],
        },
        vae_decoder: {
          inputs: [
            {
              name: 'latent_sample',
              dtype: f,
              shape: ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent'],
            },
          ],
          outputs: [{ name: 'sample', dtype: f, shape: ['batch_size', 'num_channels', 'height', 'width'] }],
        },
      };
    case 'optimum':
      return {
        text_encoder: {
          inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch_size', 'sequence_length'] }],
          outputs: [
            { name: 'last_hidden_state', dtype: f, shape: ['batch_size', 'sequence_length', width] },
            { name: 'pooler_output', dtype: f, shape: ['batch_size', width] },
          ],
        },
        unet: {
          inputs: [
            { name: 'sample', dtype: f, shape: ['batch_size', inChannels, 'height', 'width'] },
            { name: 'timestep', dtype: f, shape: [] },
            { name: 'encoder_hidden_states', dtype: f, shape: ['batch_size', 'sequence_length', crossAttentionDim] },
            ...cond('batch_size'),
          ],
          outputs: [{ name: 'out_sample', dtype: f, shape: ['batch_size', outChannels, 'height', 'width'] }],
        },
        vae_encoder: {
          inputs: [{ name: 'sample', dtype: f, shape: ['batch_size', 3, 'sample_height', 'sample_width'] }],
          outputs: [
            {
              name: 'latent_parameters',
              dtype: f,
              shape: ['batch_size', 2 * latent, `sample_height / ${factor}`, `sample_width / ${factor}`],
            },
          ],
        },
        vae_decoder: {
          inputs: [{ name: 'latent_sample', dtype: f, shape: ['batch_size', latent, 'latent_height', 'latent_width'] }],
          outputs: [
            {
              name: 'sample',
              dtype: f,
              shape: ['batch_size', 3, `latent_height * ${factor}`, `latent_width * ${factor}`],
            },
          ],
        },
      };
  }
}

/**
 * SDXL as current Optimum exports it (`get_diffusion_models_for_export` sets `output_hidden_states` on
 * both text encoders for SDXL): CLIPTextOnnxConfig adds `hidden_states.0` ... `hidden_states.<layers>`
 * {batch_size, sequence_length} to `last_hidden_state` and `pooler_output`; CLIPTextWithProjectionOnnxConfig
 * outputs `text_embeds` {0: batch_size, 1: sequence_length} (its second axis carries that name although it
 * is the projection width), `last_hidden_state` and the hidden states; UNetOnnxConfig adds `text_embeds`
 * and `time_ids` {0: batch_size} for `addition_embed_type == "text_time"`, drawn by DummyTimestepInputGenerator
 * as float tensors [batch, text_encoder_projection_dim] and [batch, 5 if requires_aesthetics_score else 6].
 */
function sdxlContract(spec: ModelSpec, sdxl: SdxlSpec): ModelContract {
  if (spec.exportStyle !== 'optimum') throw new Error(`${spec.name}: SDXL fixtures are Optimum exports`);
  const f = spec.dtype;
  const base = modelContract({ ...spec, sdxl: undefined });
  const hidden = (te: TextEncoderSpec): TensorContract[] =>
    Array.from({ length: te.layers + 1 }, (_, i) => ({
      name: `hidden_states.${i}`,
      dtype: f,
      shape: ['batch_size', 'sequence_length', te.outputWidth],
    }));
  const ids: TensorContract = { name: 'input_ids', dtype: 'int64', shape: ['batch_size', 'sequence_length'] };
  const te1 = spec.textEncoder;
  const te2 = sdxl.textEncoder2;
  const contract: ModelContract = {
    text_encoder_2: {
      inputs: [ids],
      outputs: [
        { name: 'text_embeds', dtype: f, shape: ['batch_size', 'sequence_length'] },
        { name: 'last_hidden_state', dtype: f, shape: ['batch_size', 'sequence_length', te2.outputWidth] },
        ...hidden(te2),
      ],
    },
    unet: {
      inputs: [
        ...base.unet.inputs,
        { name: 'text_embeds', dtype: f, shape: ['batch_size', sdxl.projectionDim] },
        { name: 'time_ids', dtype: f, shape: ['batch_size', sdxl.requiresAestheticsScore ? 5 : 6] },
      ],
      outputs: base.unet.outputs,
    },
    vae_encoder: base.vae_encoder,
    vae_decoder: base.vae_decoder,
  };
  if (sdxl.textEncoder1) {
    contract.text_encoder = {
      inputs: [ids],
      outputs: [
        { name: 'last_hidden_state', dtype: f, shape: ['batch_size', 'sequence_length', te1.outputWidth] },
        { name: 'pooler_output', dtype: f, shape: ['batch_size', te1.outputWidth] },
        ...hidden(te1),
      ],
    };
  }
  return contract;
}

function declare(b: OnnxGraphBuilder, part: PartContract): void {
  for (const output of part.outputs) b.output(output.name, output.dtype, output.shape);
}

function inputOf(b: OnnxGraphBuilder, part: PartContract, name: string): string {
  const found = part.inputs.find((i) => i.name === name);
  if (!found) throw new Error(`contract has no input ${name}`);
  return b.input(found.name, found.dtype, found.shape);
}

// ---- shared blocks ----------------------------------------------------------------------------------------

interface AttentionNames {
  q: string;
  k: string;
  v: string;
  out: string;
  bias: boolean;
}

const diffusersAttention: AttentionNames = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0', bias: false };
const vaeAttention: AttentionNames = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0', bias: true };
const clipAttention: AttentionNames = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj', bias: true };

/**
 * Multi-head attention on [B, S, C] tensors (SDPA as torch lowers it): per-head MatMul, scale, optional
 * additive mask, Softmax, MatMul, then the output projection (with bias).
 */
function attention(
  b: OnnxGraphBuilder,
  path: string,
  x: string,
  context: string,
  dim: number,
  contextDim: number,
  heads: number,
  names: AttentionNames,
  mask: string | null = null,
): string {
  const headDim = dim / heads;
  if (!Number.isInteger(headDim)) throw new Error(`${path}: ${dim} channels do not split into ${heads} heads`);
  const rank = 3;
  const q = b.linear(`${path}.${names.q}`, x, dim, dim, { bias: names.bias, rank });
  const k = b.linear(`${path}.${names.k}`, context, contextDim, dim, { bias: names.bias, rank });
  const v = b.linear(`${path}.${names.v}`, context, contextDim, dim, { bias: names.bias, rank });
  const split = (t: string, perm: number[]): string =>
    b.op1(path, 'Transpose', [b.op1(path, 'Reshape', [t, b.int64s(path, [0, -1, heads, headDim])])], {
      perm: { ints: perm },
    });
  const qh = split(q, [0, 2, 1, 3]);
  const kt = split(k, [0, 2, 3, 1]);
  const vh = split(v, [0, 2, 1, 3]);
  let scores = b.op1(path, 'MatMul', [qh, kt]);
  scores = b.op1(path, 'Mul', [scores, b.scalar(path, b.weightType, 1 / Math.sqrt(headDim))]);
  if (mask) scores = b.op1(path, 'Add', [scores, mask]);
  const probs = b.op1(path, 'Softmax', [scores], { axis: { int: -1 } });
  const merged = b.op1(path, 'Transpose', [b.op1(path, 'MatMul', [probs, vh])], { perm: { ints: [0, 2, 1, 3] } });
  const flat = b.op1(path, 'Reshape', [merged, b.int64s(path, [0, -1, dim])]);
  return b.linear(`${path}.${names.out}`, flat, dim, dim, { bias: true, rank });
}

/** diffusers ResnetBlock2D (SiLU, dropout 0, output_scale_factor 1). `temb` is null in the VAE. */
function resnet(
  b: OnnxGraphBuilder,
  path: string,
  x: string,
  inChannels: number,
  outChannels: number,
  groups: number,
  eps: number,
  temb: { value: string; channels: number } | null,
): string {
  let h = b.groupNorm(`${path}.norm1`, x, inChannels, groups, eps);
  h = b.silu(`${path}.nonlinearity`, h);
  h = b.conv2d(`${path}.conv1`, h, inChannels, outChannels, { kernel: 3, pad: 1 });
  if (temb) {
    let t = b.silu(`${path}.nonlinearity`, temb.value);
    t = b.linear(`${path}.time_emb_proj`, t, temb.channels, outChannels, { bias: true, rank: 2 });
    t = b.op1(path, 'Unsqueeze', [t, b.int64s(path, [2, 3])]);
    h = b.op1(path, 'Add', [h, t]);
  }
  h = b.groupNorm(`${path}.norm2`, h, outChannels, groups, eps);
  h = b.silu(`${path}.nonlinearity`, h);
  h = b.conv2d(`${path}.conv2`, h, outChannels, outChannels, { kernel: 3, pad: 1, gain: 0.5 });
  const shortcut =
    inChannels === outChannels ? x : b.conv2d(`${path}.conv_shortcut`, x, inChannels, outChannels, { kernel: 1 });
  const sum = b.op1(path, 'Add', [shortcut, h]);
  return b.op1(path, 'Div', [sum, b.scalar(path, b.weightType, 1)]);
}

/** Nearest 2x upsampling then a 3x3 conv (diffusers Upsample2D). */
function upsample(b: OnnxGraphBuilder, path: string, x: string, channels: number): string {
  const scales = b.constant(path, 'float32', [4], [1, 1, 2, 2]);
  const resized = b.op1(path, 'Resize', [x, '', scales], {
    coordinate_transformation_mode: { string: 'asymmetric' },
    cubic_coeff_a: { float: -0.75 },
    mode: { string: 'nearest' },
    nearest_mode: { string: 'floor' },
  });
  return b.conv2d(`${path}.conv`, resized, channels, channels, { kernel: 3, pad: 1 });
}

// ---- text encoder -----------------------------------------------------------------------------------------

/**
 * CLIPTextModel, or CLIPTextModelWithProjection when the contract asks for `text_embeds` (SDXL's second
 * encoder: `text_projection`, a bias-free Linear, on the pooled state). `hidden_states.<i>` outputs are
 * the embeddings (i = 0) and each layer's output, before `final_layer_norm`, as transformers returns them
 * with `output_hidden_states`.
 */
function buildTextEncoder(
  b: OnnxGraphBuilder,
  te: TextEncoderSpec,
  part: PartContract,
  vocabSize: number,
  projectionDim: number | null,
): void {
  const f = b.weightType;
  const inputIds = inputOf(b, part, 'input_ids');
  declare(b, part);

  const emb = 'text_model.embeddings';
  const tokenTable = b.param(`${emb}.token_embedding.weight`, [vocabSize, te.width], { kind: 'uniform', bound: 1 });
  const positionTable = b.param(`${emb}.position_embedding.weight`, [te.maxPositions, te.width], {
    kind: 'uniform',
    bound: 0.5,
  });
  const positionIds = b.tensor(`${emb}.position_ids`, 'int64', [1, te.maxPositions], {
    kind: 'values',
    data: BigInt64Array.from({ length: te.maxPositions }, (_, i) => BigInt(i)),
  });
  const tokens = b.op1(`${emb}.token_embedding`, 'Gather', [tokenTable, inputIds]);
  const idsShape = b.op1(emb, 'Shape', [inputIds]);
  const seqLen = b.op1(emb, 'Slice', [idsShape, b.int64s(emb, [1]), b.int64s(emb, [2]), b.int64s(emb, [0])]);
  const positions = b.op1(emb, 'Slice', [positionIds, b.int64s(emb, [0]), seqLen, b.int64s(emb, [1])]);
  const positional = b.op1(`${emb}.position_embedding`, 'Gather', [positionTable, positions]);
  let h = b.op1(emb, 'Add', [tokens, positional]);

  // The fixture's widening projection (see the module header), one module shared by every place that
  // shows a hidden state outside: its parameters are created on first use, in `b.linear`'s order.
  const projection = 'text_model.hidden_projection';
  let projectionWeight: string | null = null;
  let projectionBias: string | null = null;
  const widen = (x: string, outputName?: string): string => {
    if (te.width === te.outputWidth) return outputName ? b.op1(projection, 'Identity', [x], {}, outputName) : x;
    projectionWeight ??= b.anonymousParam(
      'MatMul',
      [te.width, te.outputWidth],
      { kind: 'uniform', bound: Math.sqrt(3 / te.width) },
      { seedKey: `${projection}.weight` },
    );
    const product = b.op1(projection, 'MatMul', [x, projectionWeight]);
    projectionBias ??= b.param(`${projection}.bias`, [te.outputWidth], {
      kind: 'uniform',
      bound: 0.5 / Math.sqrt(te.width),
    });
    return b.op1(projection, 'Add', [projectionBias, product], {}, outputName);
  };
  const hiddenOutputs = new Set(part.outputs.map((o) => o.name).filter((n) => n.startsWith('hidden_states.')));
  if (hiddenOutputs.size > 0 && hiddenOutputs.size !== te.layers + 1) {
    throw new Error(`text encoder: ${hiddenOutputs.size} hidden_states outputs for ${te.layers} layers`);
  }
  if (hiddenOutputs.size > 0) widen(h, 'hidden_states.0');

  // Causal mask [S, S]: the dtype's lowest finite value above the diagonal, as transformers builds it.
  const tm = 'text_model';
  const maskShape = b.op1(tm, 'Concat', [seqLen, seqLen], { axis: { int: 0 } });
  const lowest = f === 'float16' ? -65504 : -3.4028234663852886e38;
  const full = b.op1(tm, 'ConstantOfShape', [maskShape], {
    value: { tensor: { dtype: 'float32', dims: [1], data: [lowest] } },
  });
  let mask = b.op1(tm, 'Trilu', [full, b.scalar(tm, 'int64', 1)], { upper: { int: 1 } });
  if (f === 'float16') mask = b.op1(tm, 'Cast', [mask], { to: { int: 10 } });

  for (let l = 0; l < te.layers; l++) {
    const layer = `text_model.encoder.layers.${l}`;
    let x = b.layerNorm(`${layer}.layer_norm1`, h, te.width, 1e-5);
    x = attention(b, `${layer}.self_attn`, x, x, te.width, te.width, te.heads, clipAttention, mask);
    h = b.op1(layer, 'Add', [h, x]);
    x = b.layerNorm(`${layer}.layer_norm2`, h, te.width, 1e-5);
    x = b.linear(`${layer}.mlp.fc1`, x, te.width, te.intermediateSize, { bias: true, rank: 3 });
    x =
      te.hiddenAct === 'quick_gelu'
        ? b.quickGelu(`${layer}.mlp.activation_fn`, x)
        : b.gelu(`${layer}.mlp.activation_fn`, x);
    x = b.linear(`${layer}.mlp.fc2`, x, te.intermediateSize, te.width, { bias: true, rank: 3, gain: 0.5 });
    h = b.op1(layer, 'Add', [h, x]);
    if (hiddenOutputs.size > 0 && l < te.layers - 1) widen(h, `hidden_states.${l + 1}`);
  }
  h = widen(h, hiddenOutputs.size > 0 ? `hidden_states.${te.layers}` : undefined);
  const lastHidden = b.layerNorm('text_model.final_layer_norm', h, te.outputWidth, 1e-5, 'last_hidden_state');

  // pooler_output: the hidden state at each row's argmax(input_ids), the end-of-text token.
  const idsInt = b.op1(tm, 'Cast', [inputIds], { to: { int: 6 } });
  const eos = b.op1(tm, 'ArgMax', [idsInt], { axis: { int: -1 }, keepdims: { int: 0 }, select_last_index: { int: 0 } });
  const index = b.op1(tm, 'Unsqueeze', [eos, b.int64s(tm, [1])]);
  const pooledName = part.outputs.some((o) => o.name === 'pooler_output') ? 'pooler_output' : undefined;
  const pooled = b.op1(tm, 'GatherND', [lastHidden, index], { batch_dims: { int: 1 } }, pooledName);
  if (part.outputs.some((o) => o.name === 'text_embeds')) {
    if (projectionDim === null) throw new Error('text encoder: text_embeds needs a projection_dim');
    b.linear('text_projection', pooled, te.outputWidth, projectionDim, {
      bias: false,
      rank: 2,
      outputName: 'text_embeds',
    });
  }
}

// ---- UNet -------------------------------------------------------------------------------------------------

function transformer2d(
  b: OnnxGraphBuilder,
  path: string,
  x: string,
  channels: number,
  heads: number,
  context: string,
  u: UNetSpec,
): string {
  const shape = b.op1(path, 'Shape', [x]);
  let h = b.groupNorm(`${path}.norm`, x, channels, u.normNumGroups, 1e-6);
  const toTokens = (t: string): string =>
    b.op1(path, 'Reshape', [
      b.op1(path, 'Transpose', [t], { perm: { ints: [0, 2, 3, 1] } }),
      b.int64s(path, [0, -1, channels]),
    ]);
  const toImage = (t: string): string =>
    b.op1(path, 'Reshape', [b.op1(path, 'Transpose', [t], { perm: { ints: [0, 2, 1] } }), shape]);

  if (u.useLinearProjection) {
    h = b.linear(`${path}.proj_in`, toTokens(h), channels, channels, { bias: true, rank: 3 });
  } else {
    h = toTokens(b.conv2d(`${path}.proj_in`, h, channels, channels, { kernel: 1 }));
  }

  const block = `${path}.transformer_blocks.0`;
  let n = b.layerNorm(`${block}.norm1`, h, channels, 1e-5);
  h = b.op1(block, 'Add', [attention(b, `${block}.attn1`, n, n, channels, channels, heads, diffusersAttention), h]);
  n = b.layerNorm(`${block}.norm2`, h, channels, 1e-5);
  const cross = attention(b, `${block}.attn2`, n, context, channels, u.crossAttentionDim, heads, diffusersAttention);
  h = b.op1(block, 'Add', [cross, h]);
  n = b.layerNorm(`${block}.norm3`, h, channels, 1e-5);
  const inner = 4 * channels;
  const geglu = `${block}.ff.net.0`;
  const projected = b.linear(`${geglu}.proj`, n, channels, 2 * inner, { bias: true, rank: 3 });
  const [hidden, gate] = b.op(
    geglu,
    'Split',
    [projected, b.int64s(geglu, [inner, inner])],
    { axis: { int: -1 } },
    { outputs: 2 },
  );
  const gated = b.op1(geglu, 'Mul', [hidden as string, b.gelu(geglu, gate as string)]);
  const ff = b.linear(`${block}.ff.net.2`, gated, inner, channels, { bias: true, rank: 3, gain: 0.5 });
  h = b.op1(block, 'Add', [ff, h]);

  if (u.useLinearProjection) {
    h = toImage(b.linear(`${path}.proj_out`, h, channels, channels, { bias: true, rank: 3 }));
  } else {
    h = b.conv2d(`${path}.proj_out`, toImage(h), channels, channels, { kernel: 1 });
  }
  return b.op1(path, 'Add', [h, x]);
}

function buildUNet(b: OnnxGraphBuilder, spec: ModelSpec, part: PartContract): void {
  const u = spec.unet;
  const f = b.weightType;
  const channels = u.blockOutChannels;
  const blocks = channels.length;
  if (u.attentionHeads.length !== blocks || u.crossAttention.length !== blocks) {
    throw new Error('unet spec: attentionHeads and crossAttention need one entry per block');
  }
  const sample = inputOf(b, part, 'sample');
  const timestep = inputOf(b, part, 'timestep');
  const context = inputOf(b, part, 'encoder_hidden_states');
  const timestepCond = u.timeCondProjDim === null ? null : inputOf(b, part, 'timestep_cond');
  const textEmbeds = spec.sdxl ? inputOf(b, part, 'text_embeds') : null;
  const timeIds = spec.sdxl ? inputOf(b, part, 'time_ids') : null;
  declare(b, part);
  const timestepInfo = part.inputs.find((i) => i.name === 'timestep') as TensorContract;

  // timesteps[None] when rank 0, then expand to the batch, as UNet2DConditionModel.forward does.
  let t = timestep;
  if (timestepInfo.shape.length === 0) t = b.op1('', 'Unsqueeze', [t, b.int64s('', [0])]);
  const batch = b.op1('', 'Slice', [
    b.op1('', 'Shape', [sample]),
    b.int64s('', [0]),
    b.int64s('', [1]),
    b.int64s('', [0]),
  ]);
  t = b.op1('', 'Expand', [t, batch]);

  // time_proj: sinusoidal embedding in float32 (flip_sin_to_cos=True, freq_shift=0).
  const c0 = channels[0] as number;
  const half = c0 / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  if (timestepInfo.dtype !== 'float32') t = b.op1('time_proj', 'Cast', [t], { to: { int: 1 } });
  const angles = b.op1('time_proj', 'Mul', [
    b.op1('time_proj', 'Unsqueeze', [t, b.int64s('time_proj', [1])]),
    b.anonymousParam('Mul', [1, half], { kind: 'values', data: freqs }, { seedKey: 'time_proj', dtype: 'float32' }),
  ]);
  let tEmb = b.op1('time_proj', 'Concat', [b.op1('time_proj', 'Cos', [angles]), b.op1('time_proj', 'Sin', [angles])], {
    axis: { int: -1 },
  });
  if (f !== 'float32') tEmb = b.op1('', 'Cast', [tEmb], { to: { int: 10 } });
  if (timestepCond && u.timeCondProjDim !== null) {
    const projected = b.linear('time_embedding.cond_proj', timestepCond, u.timeCondProjDim, c0, {
      bias: false,
      rank: 2,
    });
    tEmb = b.op1('time_embedding', 'Add', [tEmb, projected]);
  }
  const tembChannels = 4 * c0;
  let emb = b.linear('time_embedding.linear_1', tEmb, c0, tembChannels, { bias: true, rank: 2 });
  emb = b.silu('time_embedding.act', emb);
  emb = b.linear('time_embedding.linear_2', emb, tembChannels, tembChannels, { bias: true, rank: 2 });
  if (spec.sdxl && textEmbeds && timeIds) {
    emb = b.op1('', 'Add', [emb, sdxlAugEmbedding(b, spec.sdxl, part, textEmbeds, timeIds, tembChannels)]);
  }
  const temb = { value: emb, channels: tembChannels };
  const groups = u.normNumGroups;

  let h = b.conv2d('conv_in', sample, u.inChannels, c0, { kernel: 3, pad: 1 });
  const skips: { value: string; channels: number }[] = [{ value: h, channels: c0 }];
  let current = c0;
  for (let i = 0; i < blocks; i++) {
    const out = channels[i] as number;
    for (let j = 0; j < u.layersPerBlock; j++) {
      h = resnet(b, `down_blocks.${i}.resnets.${j}`, h, current, out, groups, 1e-5, temb);
      current = out;
      if (u.crossAttention[i]) {
        h = transformer2d(b, `down_blocks.${i}.attentions.${j}`, h, out, u.attentionHeads[i] as number, context, u);
      }
      skips.push({ value: h, channels: out });
    }
    if (i < blocks - 1) {
      h = b.conv2d(`down_blocks.${i}.downsamplers.0.conv`, h, out, out, { kernel: 3, stride: 2, pad: 1 });
      skips.push({ value: h, channels: out });
    }
  }

  const midHeads = u.attentionHeads[blocks - 1] as number;
  h = resnet(b, 'mid_block.resnets.0', h, current, current, groups, 1e-5, temb);
  h = transformer2d(b, 'mid_block.attentions.0', h, current, midHeads, context, u);
  h = resnet(b, 'mid_block.resnets.1', h, current, current, groups, 1e-5, temb);

  for (let i = 0; i < blocks; i++) {
    const down = blocks - 1 - i;
    const out = channels[down] as number;
    for (let j = 0; j <= u.layersPerBlock; j++) {
      const skip = skips.pop();
      if (!skip) throw new Error('unet: skip connections ran out');
      h = b.op1(`up_blocks.${i}`, 'Concat', [h, skip.value], { axis: { int: 1 } });
      h = resnet(b, `up_blocks.${i}.resnets.${j}`, h, current + skip.channels, out, groups, 1e-5, temb);
      current = out;
      if (u.crossAttention[down]) {
        h = transformer2d(b, `up_blocks.${i}.attentions.${j}`, h, out, u.attentionHeads[down] as number, context, u);
      }
    }
    if (i < blocks - 1) h = upsample(b, `up_blocks.${i}.upsamplers.0`, h, out);
  }
  if (skips.length !== 0) throw new Error('unet: unused skip connections');

  h = b.groupNorm('conv_norm_out', h, current, groups, 1e-5);
  h = b.silu('conv_act', h);
  b.conv2d('conv_out', h, current, u.outChannels, { kernel: 3, pad: 1, outputName: 'out_sample' });
}

/**
 * UNet2DConditionModel's `addition_embed_type == "text_time"` (get_aug_embed): each time id through
 * `add_time_proj` (Timesteps: sinusoidal, flip_sin_to_cos, freq_shift 0), flattened per row, concatenated
 * after `text_embeds`, then `add_embedding` (TimestepEmbedding: linear_1, SiLU, linear_2).
 */
function sdxlAugEmbedding(
  b: OnnxGraphBuilder,
  sdxl: SdxlSpec,
  part: PartContract,
  textEmbeds: string,
  timeIds: string,
  tembChannels: number,
): string {
  const f = b.weightType;
  const count = sdxl.requiresAestheticsScore ? 5 : 6;
  const dim = sdxl.additionTimeEmbedDim;
  const half = dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const timeIdsInfo = part.inputs.find((i) => i.name === 'time_ids') as TensorContract;
  let ids = b.op1('', 'Reshape', [timeIds, b.int64s('', [-1])]);
  if (timeIdsInfo.dtype !== 'float32') ids = b.op1('add_time_proj', 'Cast', [ids], { to: { int: 1 } });
  const angles = b.op1('add_time_proj', 'Mul', [
    b.op1('add_time_proj', 'Unsqueeze', [ids, b.int64s('add_time_proj', [1])]),
    b.anonymousParam('Mul', [1, half], { kind: 'values', data: freqs }, { seedKey: 'add_time_proj', dtype: 'float32' }),
  ]);
  let timeEmbeds = b.op1(
    'add_time_proj',
    'Concat',
    [b.op1('add_time_proj', 'Cos', [angles]), b.op1('add_time_proj', 'Sin', [angles])],
    { axis: { int: -1 } },
  );
  if (f !== 'float32') timeEmbeds = b.op1('', 'Cast', [timeEmbeds], { to: { int: 10 } });
  timeEmbeds = b.op1('', 'Reshape', [timeEmbeds, b.int64s('', [-1, count * dim])]);
  const addEmbeds = b.op1('', 'Concat', [textEmbeds, timeEmbeds], { axis: { int: -1 } });
  const inputDim = sdxl.projectionDim + count * dim;
  let aug = b.linear('add_embedding.linear_1', addEmbeds, inputDim, tembChannels, { bias: true, rank: 2 });
  aug = b.silu('add_embedding.act', aug);
  return b.linear('add_embedding.linear_2', aug, tembChannels, tembChannels, { bias: true, rank: 2 });
}

// ---- VAE --------------------------------------------------------------------------------------------------

function vaeMidBlock(b: OnnxGraphBuilder, path: string, x: string, channels: number, groups: number): string {
  let h = resnet(b, `${path}.resnets.0`, x, channels, channels, groups, 1e-6, null);
  const attn = `${path}.attentions.0`;
  const shape = b.op1(attn, 'Shape', [h]);
  let a = b.groupNorm(`${attn}.group_norm`, h, channels, groups, 1e-6);
  a = b.op1(attn, 'Transpose', [b.op1(attn, 'Reshape', [a, b.int64s(attn, [0, channels, -1])])], {
    perm: { ints: [0, 2, 1] },
  });
  a = attention(b, attn, a, a, channels, channels, 1, vaeAttention);
  a = b.op1(attn, 'Reshape', [b.op1(attn, 'Transpose', [a], { perm: { ints: [0, 2, 1] } }), shape]);
  h = b.op1(attn, 'Div', [b.op1(attn, 'Add', [a, h]), b.scalar(attn, b.weightType, 1)]);
  return resnet(b, `${path}.resnets.1`, h, channels, channels, groups, 1e-6, null);
}

function buildVaeEncoder(b: OnnxGraphBuilder, spec: ModelSpec, part: PartContract): void {
  const v = spec.vae;
  const groups = v.normNumGroups;
  const sample = inputOf(b, part, 'sample');
  declare(b, part);
  const outputName = (part.outputs[0] as TensorContract).name;
  const channels = v.blockOutChannels;

  let h = b.conv2d('encoder.conv_in', sample, 3, channels[0] as number, { kernel: 3, pad: 1 });
  let current = channels[0] as number;
  for (let i = 0; i < channels.length; i++) {
    const out = channels[i] as number;
    for (let j = 0; j < v.layersPerBlock; j++) {
      h = resnet(b, `encoder.down_blocks.${i}.resnets.${j}`, h, current, out, groups, 1e-6, null);
      current = out;
    }
    if (i < channels.length - 1) {
      // Downsample2D(padding=0): F.pad(x, (0, 1, 0, 1)) then a stride-2 conv.
      const path = `encoder.down_blocks.${i}.downsamplers.0`;
      const padded = b.op1(
        path,
        'Pad',
        [h, b.int64s(path, [0, 0, 0, 0, 0, 0, 1, 1]), b.scalar(path, b.weightType, 0)],
        {
          mode: { string: 'constant' },
        },
      );
      h = b.conv2d(`${path}.conv`, padded, out, out, { kernel: 3, stride: 2 });
    }
  }
  h = vaeMidBlock(b, 'encoder.mid_block', h, current, groups);
  h = b.groupNorm('encoder.conv_norm_out', h, current, groups, 1e-6);
  h = b.silu('encoder.conv_act', h);
  const moments = 2 * v.latentChannels;
  h = b.conv2d('encoder.conv_out', h, current, moments, { kernel: 3, pad: 1 });

  // A trained SD VAE has a very narrow posterior; a log-variance bias near -12 gives std ~ 0.0025.
  const quantBias = {
    kind: 'values' as const,
    data: Float32Array.from({ length: moments }, (_, i) => (i < v.latentChannels ? 0 : -12)),
  };
  if (outputName === 'latent_parameters') {
    b.conv2d('quant_conv', h, moments, moments, { kernel: 1, biasInit: quantBias, outputName });
    return;
  }
  // latent_dist.sample(): mean + exp(0.5 * clamp(logvar, -30, 20)) * randn_like(mean).
  const params = b.conv2d('quant_conv', h, moments, moments, { kernel: 1, biasInit: quantBias });
  const [mean, logvar] = b.op(
    '',
    'Split',
    [params, b.int64s('', [v.latentChannels, v.latentChannels])],
    { axis: { int: 1 } },
    { outputs: 2 },
  );
  const clipped = b.op1('', 'Clip', [
    logvar as string,
    b.scalar('', b.weightType, -30),
    b.scalar('', b.weightType, 20),
  ]);
  const std = b.op1('', 'Exp', [b.op1('', 'Mul', [clipped, b.scalar('', b.weightType, 0.5)])]);
  const noise = b.op1('', 'RandomNormalLike', [mean as string], {
    dtype: { int: b.weightType === 'float16' ? 10 : 1 },
    mean: { float: 0 },
    scale: { float: 1 },
  });
  b.op1('', 'Add', [mean as string, b.op1('', 'Mul', [std, noise])], {}, outputName);
}

function buildVaeDecoder(b: OnnxGraphBuilder, spec: ModelSpec, part: PartContract): void {
  const v = spec.vae;
  const groups = v.normNumGroups;
  const latent = inputOf(b, part, 'latent_sample');
  declare(b, part);
  const reversed = [...v.blockOutChannels].reverse();

  const z = b.conv2d('post_quant_conv', latent, v.latentChannels, v.latentChannels, { kernel: 1 });
  let current = reversed[0] as number;
  let h = b.conv2d('decoder.conv_in', z, v.latentChannels, current, { kernel: 3, pad: 1 });
  h = vaeMidBlock(b, 'decoder.mid_block', h, current, groups);
  for (let i = 0; i < reversed.length; i++) {
    const out = reversed[i] as number;
    for (let j = 0; j <= v.layersPerBlock; j++) {
      h = resnet(b, `decoder.up_blocks.${i}.resnets.${j}`, h, current, out, groups, 1e-6, null);
      current = out;
    }
    if (i < reversed.length - 1) h = upsample(b, `decoder.up_blocks.${i}.upsamplers.0`, h, out);
  }
  h = b.groupNorm('decoder.conv_norm_out', h, current, groups, 1e-6);
  h = b.silu('decoder.conv_act', h);
  b.conv2d('decoder.conv_out', h, current, 3, { kernel: 3, pad: 1, gain: 0.5, outputName: 'sample' });
}

// ---- tokenizer --------------------------------------------------------------------------------------------

const START_TOKEN = '<|startoftext|>';
const END_TOKEN = '<|endoftext|>';

/**
 * GPT-2/CLIP's reversible byte -> printable character table (`charOf[byte]`), and the order CLIP's
 * vocabulary lists the bytes in (printable ones first), so that "!" is id 0.
 */
function byteEncoder(): { charOf: string[]; order: number[] } {
  const printable: number[] = [];
  for (let c = 33; c <= 126; c++) printable.push(c);
  for (let c = 161; c <= 172; c++) printable.push(c);
  for (let c = 174; c <= 255; c++) printable.push(c);
  const charOf = new Array<string>(256);
  for (const byte of printable) charOf[byte] = String.fromCodePoint(byte);
  const order = [...printable];
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (charOf[byte] === undefined) {
      charOf[byte] = String.fromCodePoint(256 + extra++);
      order.push(byte);
    }
  }
  return { charOf, order };
}

/** Prompt-flavoured English the fallback BPE merges are learnt from. */
const BPE_CORPUS = `
a photo of an astronaut riding a horse on the moon, highly detailed, digital painting, artstation,
concept art, smooth, sharp focus, illustration, a beautiful landscape with mountains and a river at sunset,
portrait of a woman with long hair, oil painting, by the sea, a cat sitting on a chair in the kitchen,
a dog running in the park, city street at night with neon lights and rain, cinematic lighting, trending,
the old castle in the forest, a red car parked near the house, watercolor of flowers in a vase, golden hour,
a small boat on the lake under the stars, studio photograph of a man wearing a black jacket, soft light,
fantasy dragon flying over the ocean, ultra realistic, high quality, masterpiece, best quality, 4k, 8k,
an ancient temple in the jungle, a futuristic city with flying cars, snow covered trees in winter morning,
the girl and the boy are reading books in the library, green grass and blue sky with white clouds,
painting of a bowl of fruit on a wooden table, stained glass window, close up of an eye, black and white,
there is a bird singing in the garden, children playing with a ball, a cup of coffee and a piece of cake,
`.repeat(3);

/** A small byte-level BPE vocabulary and merge list in the Hugging Face CLIPTokenizer layout. */
export function generateBpeVocabulary(maxMerges = 400): { vocab: Record<string, number>; merges: string[] } {
  const { charOf, order } = byteEncoder();
  const alphabet = order.map((byte) => charOf[byte] as string);
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const word of BPE_CORPUS.toLowerCase().match(/[a-z]+|[0-9]|[^\sa-z0-9]+/g) ?? []) {
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const words = [...counts.entries()].map(([word, count]) => {
    const symbols = [...encoder.encode(word)].map((byte) => charOf[byte] as string);
    symbols[symbols.length - 1] += '</w>';
    return { symbols, count };
  });

  const merges: string[] = [];
  while (merges.length < maxMerges) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i < symbols.length - 1; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | null = null;
    let bestCount = 1;
    for (const [pair, count] of pairs) {
      if (count > bestCount || (count === bestCount && best !== null && pair < best)) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === null) break;
    merges.push(best);
    const [left, right] = best.split(' ') as [string, string];
    for (const word of words) {
      const next: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i < word.symbols.length - 1 && word.symbols[i] === left && word.symbols[i + 1] === right) {
          next.push(left + right);
          i += 1;
        } else {
          next.push(word.symbols[i] as string);
        }
      }
      word.symbols = next;
    }
  }

  const tokens = [...alphabet, ...alphabet.map((ch) => `${ch}</w>`), ...merges.map((m) => m.replace(' ', ''))];
  tokens.push(START_TOKEN, END_TOKEN);
  // Two merge orders can spell the same token; ids stay dense, as in a trained vocabulary.
  const vocab: Record<string, number> = {};
  let nextId = 0;
  for (const token of tokens) if (!(token in vocab)) vocab[token] = nextId++;
  return { vocab, merges };
}

/** 'clip' when `dir` holds the CLIP vocabulary files. */
export function resolveTokenizerSource(clipVocabDir: string | null | undefined): TokenizerSource {
  if (!clipVocabDir) return 'generated';
  return existsSync(join(clipVocabDir, 'vocab.json')) && existsSync(join(clipVocabDir, 'merges.txt'))
    ? 'clip'
    : 'generated';
}

/** `pad` is the padding token: SD 1.x and SDXL's first tokenizer pad with end-of-text, SD 2.x and `tokenizer_2` with "!". */
async function writeTokenizer(dir: string, spec: ModelSpec, options: BuildOptions, pad: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  let vocabSize: number;
  if (resolveTokenizerSource(options.clipVocabDir) === 'clip' && options.clipVocabDir) {
    await copyFile(join(options.clipVocabDir, 'vocab.json'), join(dir, 'vocab.json'));
    await copyFile(join(options.clipVocabDir, 'merges.txt'), join(dir, 'merges.txt'));
    const vocab = JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
    vocabSize = Math.max(...Object.values(vocab)) + 1;
  } else {
    const { vocab, merges } = generateBpeVocabulary();
    await writeText(join(dir, 'vocab.json'), JSON.stringify(vocab));
    await writeText(join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
    vocabSize = Math.max(...Object.values(vocab)) + 1;
  }
  const special = (content: string): Record<string, unknown> => ({
    content,
    lstrip: false,
    normalized: true,
    rstrip: false,
    single_word: false,
  });
  await writeJson(join(dir, 'special_tokens_map.json'), {
    bos_token: special(START_TOKEN),
    eos_token: special(END_TOKEN),
    pad_token: pad,
    unk_token: special(END_TOKEN),
  });
  await writeJson(join(dir, 'tokenizer_config.json'), {
    add_prefix_space: false,
    bos_token: { __type: 'AddedToken', ...special(START_TOKEN) },
    do_lower_case: true,
    eos_token: { __type: 'AddedToken', ...special(END_TOKEN) },
    errors: 'replace',
    model_max_length: spec.textEncoder.maxPositions,
    pad_token: pad,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: { __type: 'AddedToken', ...special(END_TOKEN) },
  });
  return vocabSize;
}

// ---- folder -----------------------------------------------------------------------------------------------

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Identifies a build: the builder version, the spec and the tokenizer source. */
export function specHash(spec: ModelSpec, tokenizer: TokenizerSource): string {
  return createHash('sha256')
    .update(canonicalJson({ builderVersion: BUILDER_VERSION, spec, tokenizer }))
    .digest('hex')
    .slice(0, 16);
}

/** True when `dir` holds a finished build of exactly this spec (its `sumi_model.json` says so). */
export async function isUpToDate(dir: string, spec: ModelSpec, options: BuildOptions = {}): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(join(dir, 'sumi_model.json'), 'utf8')) as Partial<SumiModelMarker>;
    return (
      marker.builderVersion === BUILDER_VERSION &&
      marker.specHash === specHash(spec, resolveTokenizerSource(options.clipVocabDir))
    );
  } catch {
    return false;
  }
}

function pipelineClass(spec: ModelSpec): string {
  if (spec.sdxl) return spec.sdxl.textEncoder1 ? 'StableDiffusionXLPipeline' : 'StableDiffusionXLImg2ImgPipeline';
  if (spec.exportStyle === 'diffusers') {
    return spec.pipeline === 'inpaint' ? 'OnnxStableDiffusionInpaintPipeline' : 'OnnxStableDiffusionPipeline';
  }
  if (spec.pipeline === 'inpaint') return 'ORTStableDiffusionInpaintPipeline';
  if (spec.pipeline === 'lcm') return 'ORTLatentConsistencyModelPipeline';
  return 'ORTStableDiffusionPipeline';
}

function textEncoderConfig(
  spec: ModelSpec,
  te: TextEncoderSpec,
  vocabSize: number,
  architecture: 'CLIPTextModel' | 'CLIPTextModelWithProjection',
  projectionDim: number,
): Record<string, unknown> {
  return {
    architectures: [architecture],
    attention_dropout: 0.0,
    bos_token_id: 0,
    dropout: 0.0,
    eos_token_id: 2,
    hidden_act: te.hiddenAct,
    hidden_size: te.outputWidth,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: te.intermediateSize,
    layer_norm_eps: 1e-5,
    max_position_embeddings: te.maxPositions,
    model_type: 'clip_text_model',
    num_attention_heads: te.heads,
    num_hidden_layers: te.layers,
    pad_token_id: 1,
    projection_dim: projectionDim,
    torch_dtype: spec.dtype,
    vocab_size: vocabSize,
  };
}

/** Keys in alphabetical order, as diffusers and transformers write configs. */
function sortedKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function componentConfigs(spec: ModelSpec, vocabSize: number): Record<PartName, Record<string, unknown>> {
  const u = spec.unet;
  const v = spec.vae;
  const heads = u.attentionHeads.every((h) => h === u.attentionHeads[0]) ? u.attentionHeads[0] : u.attentionHeads;
  const downTypes = u.crossAttention.map((c) => (c ? 'CrossAttnDownBlock2D' : 'DownBlock2D'));
  const upTypes = [...u.crossAttention].reverse().map((c) => (c ? 'CrossAttnUpBlock2D' : 'UpBlock2D'));
  const vae = {
    _class_name: 'AutoencoderKL',
    _diffusers_version: '0.30.0',
    act_fn: 'silu',
    block_out_channels: v.blockOutChannels,
    down_block_types: v.blockOutChannels.map(() => 'DownEncoderBlock2D'),
    in_channels: 3,
    latent_channels: v.latentChannels,
    layers_per_block: v.layersPerBlock,
    norm_num_groups: v.normNumGroups,
    out_channels: 3,
    sample_size: v.sampleSize,
    scaling_factor: v.scalingFactor,
    up_block_types: v.blockOutChannels.map(() => 'UpDecoderBlock2D'),
  };
  const sdxl = spec.sdxl;
  // SDXL's UNet config: the added-condition keys and `requires_aesthetics_score` (set by Optimum's export
  // from the pipeline config, which decides the number of time ids); its VAE runs in fp32 (`force_upcast`).
  const sdxlUnet = sdxl
    ? {
        addition_embed_type: 'text_time',
        addition_time_embed_dim: sdxl.additionTimeEmbedDim,
        projection_class_embeddings_input_dim:
          sdxl.projectionDim + (sdxl.requiresAestheticsScore ? 5 : 6) * sdxl.additionTimeEmbedDim,
        requires_aesthetics_score: sdxl.requiresAestheticsScore,
        text_encoder_projection_dim: sdxl.projectionDim,
        transformer_layers_per_block: 1,
      }
    : {};
  const sdxlVae = sdxl ? sortedKeys({ ...vae, force_upcast: true }) : vae;
  return {
    text_encoder: textEncoderConfig(
      spec,
      spec.textEncoder,
      vocabSize,
      'CLIPTextModel',
      spec.family === 'sd2' ? 512 : 768,
    ),
    text_encoder_2: sdxl
      ? textEncoderConfig(spec, sdxl.textEncoder2, vocabSize, 'CLIPTextModelWithProjection', sdxl.projectionDim)
      : {},
    unet: sortedKeys({
      ...sdxlUnet,
      _class_name: 'UNet2DConditionModel',
      _diffusers_version: '0.30.0',
      act_fn: 'silu',
      attention_head_dim: heads,
      block_out_channels: u.blockOutChannels,
      center_input_sample: false,
      cross_attention_dim: u.crossAttentionDim,
      down_block_types: downTypes,
      downsample_padding: 1,
      flip_sin_to_cos: true,
      freq_shift: 0,
      in_channels: u.inChannels,
      layers_per_block: u.layersPerBlock,
      mid_block_scale_factor: 1,
      norm_eps: 1e-5,
      norm_num_groups: u.normNumGroups,
      out_channels: u.outChannels,
      sample_size: u.sampleSize,
      time_cond_proj_dim: u.timeCondProjDim,
      up_block_types: upTypes,
      use_linear_projection: u.useLinearProjection,
    }),
    vae_encoder: sdxlVae,
    vae_decoder: sdxlVae,
  };
}

/**
 * Writes a complete diffusers-ONNX folder for `spec` at `outDir`. The folder is assembled next to
 * `outDir` and renamed into place, so a reader never sees half a model and concurrent builders (several
 * test workers) do not collide: when another process lands an identical build first, that one is kept.
 * An existing different folder is an error unless `options.replace` is set.
 */
export async function buildStableDiffusion(
  outDir: string,
  spec: ModelSpec,
  options: BuildOptions = {},
): Promise<BuildReport> {
  const started = performance.now();
  const tokenizer = resolveTokenizerSource(options.clipVocabDir);
  const hash = specHash(spec, tokenizer);
  const staging = `${outDir}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  const parts: Partial<Record<PartName, WriteResult>> = {};
  try {
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const sdxl = spec.sdxl;
    const hasTextEncoder1 = sdxl?.textEncoder1 ?? true;
    let vocabSize = 0;
    if (hasTextEncoder1) {
      const pad = spec.family === 'sd2' ? '!' : END_TOKEN;
      vocabSize = await writeTokenizer(join(staging, 'tokenizer'), spec, options, pad);
    }
    if (sdxl) vocabSize = await writeTokenizer(join(staging, 'tokenizer_2'), spec, options, '!');
    const contract = modelContract(spec);
    const configs = componentConfigs(spec, vocabSize);
    const partBuilders: Partial<Record<PartName, (b: OnnxGraphBuilder) => void>> = {};
    const textEncoder1 = contract.text_encoder;
    const textEncoder2 = contract.text_encoder_2;
    if (textEncoder1)
      partBuilders.text_encoder = (b) => buildTextEncoder(b, spec.textEncoder, textEncoder1, vocabSize, null);
    if (sdxl && textEncoder2) {
      partBuilders.text_encoder_2 = (b) =>
        buildTextEncoder(b, sdxl.textEncoder2, textEncoder2, vocabSize, sdxl.projectionDim);
    }
    partBuilders.unet = (b) => buildUNet(b, spec, contract.unet);
    partBuilders.vae_encoder = (b) => buildVaeEncoder(b, spec, contract.vae_encoder);
    partBuilders.vae_decoder = (b) => buildVaeDecoder(b, spec, contract.vae_decoder);
    for (const [name, buildPart] of Object.entries(partBuilders) as [PartName, (b: OnnxGraphBuilder) => void][]) {
      const dir = join(staging, name);
      await mkdir(dir, { recursive: true });
      const builder = new OnnxGraphBuilder({ seed: partSeed(spec.seed, name), weightType: spec.dtype });
      buildPart(builder);
      const external =
        name === 'unet'
          ? { location: spec.exportStyle === 'diffusers' ? 'weights.pb' : 'model.onnx_data', thresholdBytes: 1024 }
          : undefined;
      parts[name] = await builder.writeModel(join(dir, 'model.onnx'), {
        external,
        docString: `${spec.label}: ${name}`,
      });
      if (spec.exportStyle !== 'diffusers') await writeJson(join(dir, 'config.json'), configs[name]);
    }

    await mkdir(join(staging, 'scheduler'), { recursive: true });
    await writeJson(join(staging, 'scheduler', 'scheduler_config.json'), spec.scheduler);
    const onnxPart = ['diffusers', 'OnnxRuntimeModel'];
    if (sdxl) {
      const none = [null, null];
      await writeJson(join(staging, 'model_index.json'), {
        _class_name: pipelineClass(spec),
        _diffusers_version: '0.30.0',
        feature_extractor: none,
        force_zeros_for_empty_prompt: sdxl.forceZerosForEmptyPrompt,
        image_encoder: none,
        ...(sdxl.requiresAestheticsScore ? { requires_aesthetics_score: true } : {}),
        scheduler: ['diffusers', spec.scheduler._class_name],
        text_encoder: sdxl.textEncoder1 ? onnxPart : none,
        text_encoder_2: onnxPart,
        tokenizer: sdxl.textEncoder1 ? ['transformers', 'CLIPTokenizer'] : none,
        tokenizer_2: ['transformers', 'CLIPTokenizer'],
        unet: onnxPart,
        vae_decoder: onnxPart,
        vae_encoder: onnxPart,
      });
    } else
      await writeJson(join(staging, 'model_index.json'), {
        _class_name: pipelineClass(spec),
        _diffusers_version: spec.exportStyle === 'diffusers' ? '0.14.0' : '0.30.0',
        feature_extractor: [null, null],
        requires_safety_checker: false,
        safety_checker: [null, null],
        scheduler: ['diffusers', spec.scheduler._class_name],
        text_encoder: onnxPart,
        tokenizer: ['transformers', 'CLIPTokenizer'],
        unet: onnxPart,
        vae_decoder: onnxPart,
        vae_encoder: onnxPart,
      });
    const marker: SumiModelMarker = {
      demo: spec.demo,
      label: spec.label,
      fixture: spec.name,
      seed: spec.seed,
      builderVersion: BUILDER_VERSION,
      specHash: hash,
      tokenizer,
    };
    await writeJson(join(staging, 'sumi_model.json'), marker);

    const built = await moveIntoPlace(staging, outDir, spec, options);
    return {
      outDir,
      name: spec.name,
      specHash: hash,
      tokenizer,
      built,
      parts,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function moveIntoPlace(
  staging: string,
  outDir: string,
  spec: ModelSpec,
  options: BuildOptions,
): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await rename(staging, outDir);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM' && code !== 'EISDIR') throw error;
      if (await isUpToDate(outDir, spec, options)) return false;
      if (!options.replace) throw new Error(`${outDir} already exists and holds a different model`);
      const stale = `${outDir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await rename(outDir, stale);
      } catch (moveError) {
        if ((moveError as NodeJS.ErrnoException).code !== 'ENOENT') throw moveError;
      }
      await rm(stale, { recursive: true, force: true });
    }
  }
  throw new Error(`could not move the new model into ${outDir}`);
}

/** Each part gets its own seed so parts stay identical when another part's spec changes. */
function partSeed(seed: number, part: PartName): number {
  return createHash('sha256').update(`${seed}:${part}`).digest().readUInt32LE(0);
}

async function writeText(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeText(path, `${JSON.stringify(value, null, 2)}\n`);
}
