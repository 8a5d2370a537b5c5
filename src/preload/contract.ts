/**
 * THE contract between the renderer and main: every method the renderer may call, every event main
 * may send, and the one error shape. Both hosts (Electron IPC and the web host's WebSocket) carry
 * exactly this and nothing else. Types are inferred from the zod schemas, so the runtime check and
 * the compile-time type cannot drift.
 *
 * This module imports only zod: it is bundled into the sandboxed preload and the renderer.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export const errorCodes = [
  'VALIDATION', // an input field is wrong; details.issues names each field
  'UNKNOWN_METHOD', // the method is not in this contract
  'UNAUTHORIZED', // the caller is not the app (wrong origin, missing token)
  'NOT_FOUND',
  'CONFLICT',
  'CANCELLED',
  'UNSUPPORTED', // this host or machine cannot do it
  'ENGINE', // the diffusion engine failed
  'UNAVAILABLE', // the host cannot be reached right now (web host restarting, socket closed)
  'IO', // a file could not be read or written
  'INTERNAL', // a bug: the message says what we know
] as const;
export const zErrorCode = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof zErrorCode>;

export const zStudioError = z.object({
  code: zErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type StudioErrorShape = z.infer<typeof zStudioError>;

/** What crosses the boundary for every call: a value or a typed error, never a thrown object. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: StudioErrorShape };

// ---------------------------------------------------------------------------------------------
// Shared vocabulary
// ---------------------------------------------------------------------------------------------

/** Execution providers in the order a user may prefer them. The engine falls back down the list. */
export const executionProviders = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export const zExecutionProvider = z.enum(executionProviders);
export type ExecutionProvider = z.infer<typeof zExecutionProvider>;

/** Sampler names, as the UI and the CLI show them; the engine maps each to a diffusers scheduler. */
export const samplerNames = [
  'pndm',
  'ddim',
  'euler',
  'euler_a',
  'dpmpp_2m',
  'dpmpp_2m_karras',
  'dpmpp_sde_karras',
  'heun',
  'lms',
  'ddpm',
  'lcm',
  'unipc',
] as const;
export const zSamplerName = z.enum(samplerNames);
export type SamplerName = z.infer<typeof zSamplerName>;

export const rngKinds = ['fast', 'torch-cpu'] as const;
export const zRngKind = z.enum(rngKinds);

export const themes = ['dark', 'light'] as const;

const zAbsolutePath = z
  .string()
  .min(1, 'must not be empty')
  .max(4096, 'is too long')
  .refine((p) => !p.includes('\0'), 'must not contain a NUL character')
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'), {
    message: 'must be an absolute folder path',
  });

/** A generation side in pixels: 64..4096, a multiple of 8 (the panel checks typed sizes with it too). */
export const zImageSide = z
  .int()
  .min(64, 'must be at least 64 px')
  .max(4096, 'must be at most 4096 px')
  .refine((v) => v % 8 === 0, 'must be a multiple of 8');

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

export const SETTINGS_VERSION = 1;

export const zGenerationDefaults = z.strictObject({
  sampler: zSamplerName,
  steps: z.int().min(1).max(150),
  cfg: z.number().min(0).max(30),
  width: zImageSide,
  height: zImageSide,
  batchSize: z.int().min(1).max(8),
  batchCount: z.int().min(1).max(100),
  /** -1 draws a new random seed for every job. */
  seed: z.int().min(-1).max(4294967295),
  rng: zRngKind,
});
export type GenerationDefaults = z.infer<typeof zGenerationDefaults>;

export const zSettings = z.strictObject({
  schemaVersion: z.literal(SETTINGS_VERSION),
  modelsDir: zAbsolutePath,
  outputDir: zAbsolutePath,
  executionProviders: z
    .array(zExecutionProvider)
    .min(1, 'needs at least one provider')
    .refine((list) => new Set(list).size === list.length, 'must not list a provider twice'),
  defaults: zGenerationDefaults,
  theme: z.enum(themes),
});
export type Settings = z.infer<typeof zSettings>;

/** A change to settings: any subset of fields; `defaults` may itself be partial. */
export const zSettingsPatch = zSettings
  .omit({ schemaVersion: true, defaults: true })
  .partial()
  .extend({ defaults: zGenerationDefaults.partial().optional() })
  .strict();
export type SettingsPatch = z.infer<typeof zSettingsPatch>;

// ---------------------------------------------------------------------------------------------
// App and engine state
// ---------------------------------------------------------------------------------------------

export const hostKinds = ['electron', 'web'] as const;

export const zNotice = z.object({
  id: z.string(),
  level: z.enum(['info', 'warning', 'error']),
  message: z.string(),
  detail: z.string().optional(),
  at: z.string(),
});
export type Notice = z.infer<typeof zNotice>;

export const engineStates = ['stopped', 'starting', 'ready', 'busy', 'crashed'] as const;
export const zEngineState = z.object({
  state: z.enum(engineStates),
  /** The execution provider the engine is using, once it knows. */
  provider: zExecutionProvider.nullable(),
  detail: z.string().optional(),
});
export type EngineState = z.infer<typeof zEngineState>;

export const zAppInfo = z.object({
  name: z.string(),
  version: z.string(),
  host: z.enum(hostKinds),
  platform: z.string(),
  dataDir: z.string(),
  engine: zEngineState,
  notices: z.array(zNotice),
});
export type AppInfo = z.infer<typeof zAppInfo>;

// ---------------------------------------------------------------------------------------------
// Generation jobs
// ---------------------------------------------------------------------------------------------

/** The built-in demo model (tiny, random weights): what `model` means when none is chosen. */
export const DEMO_MODEL = 'demo';

const zPrompt = z.string().max(20_000, 'is longer than 20,000 characters');

export const generateModes = ['txt2img', 'img2img', 'inpaint', 'outpaint', 'upscale'] as const;
export type GenerateMode = (typeof generateModes)[number];

const zBase64Png = (label: string) =>
  z
    .base64()
    .max(64 * 1024 * 1024, `${label} is larger than 48 MB`)
    .optional();

const zSide = z.int().min(0, 'must be 0 or more').max(2048, 'must be at most 2048 px');

/**
 * One request for every mode; `mode` is the discriminant and decides which of the optional blocks
 * apply. A field that belongs to another mode is refused with a message naming both fields.
 *
 * - txt2img: prompt only (optionally `hires` and, for SDXL, `refiner`);
 * - img2img: `initImage` or `initImageId` + `strength`;
 * - inpaint: an init image + `mask` (white = repaint) + the mask options;
 * - outpaint: an init image (the original, at width x height) + `outpaint` (pixels added per side);
 *   the result is (width + left + right) x (height + top + bottom);
 * - upscale: an init image resized to width x height (Lanczos), then an img2img pass at
 *   `upscale.strength` (0 = resize only).
 */
export const zGenerateRequest = z
  .strictObject({
    mode: z.enum(generateModes),
    /** A model folder path, or DEMO_MODEL. */
    model: z.string().min(1).max(4096).default(DEMO_MODEL),
    prompt: zPrompt,
    negativePrompt: zPrompt.default(''),
    sampler: zSamplerName,
    steps: z.int().min(1).max(150),
    cfg: z.number().min(0).max(30),
    width: zImageSide,
    height: zImageSide,
    /** -1 draws a random seed. */
    seed: z.int().min(-1).max(4294967295),
    rng: zRngKind,
    batchSize: z.int().min(1).max(8).default(1),
    batchCount: z.int().min(1).max(100).default(1),
    /** The init image: a PNG or JPEG as base64 (resized to width x height), and how much to repaint. */
    initImage: zBase64Png('initImage'),
    /** The init image from the gallery (recorded as the new image's parent, and re-runnable). */
    initImageId: z.int().positive().optional(),
    strength: z.number().gt(0).max(1).default(0.75),
    /** inpaint: the mask as a PNG (white = repaint, black = keep); rescaled to width x height. */
    mask: zBase64Png('mask'),
    /** inpaint/outpaint: feather of the mask edge, in pixels. */
    maskBlur: z.int().min(0).max(64).default(4),
    /** inpaint: 'full' repaints at the whole image's size; 'masked' crops the masked area (plus padding) and repaints it at full resolution. */
    inpaintArea: z.enum(['full', 'masked']).default('full'),
    inpaintPadding: z.int().min(0).max(256).default(32),
    /** inpaint: what the masked area starts from. */
    maskedContent: z.enum(['original', 'latent-noise', 'fill']).default('original'),
    /** outpaint: pixels added on each side. */
    outpaint: z.strictObject({ left: zSide, top: zSide, right: zSide, bottom: zSide }).optional(),
    /** outpaint: how the new area is pre-filled before it is inpainted. */
    outpaintFill: z.enum(['edge', 'blur', 'noise']).default('edge'),
    /** txt2img hires fix: generate at width x height, upscale, then img2img at the target size. */
    hires: z
      .strictObject({
        width: zImageSide,
        height: zImageSide,
        strength: z.number().gt(0).max(1).default(0.5),
        /** Second-pass steps; 0 = the same as `steps`. */
        steps: z.int().min(0).max(150).default(0),
        upscaler: z.enum(['lanczos', 'latent']).default('lanczos'),
      })
      .optional(),
    /** upscale: the img2img pass after the resize (strength 0 = resize only). */
    upscale: z
      .strictObject({
        strength: z.number().min(0).max(1).default(0.3),
        steps: z.int().min(0).max(150).default(0),
      })
      .optional(),
    /** SDXL: a refiner model folder that takes over for the last part of the steps. */
    refiner: z
      .strictObject({ model: z.string().min(1).max(4096), switchAt: z.number().gt(0).lt(1).default(0.8) })
      .optional(),
    /** Decode (and encode) the VAE in tiles: large sizes in bounded memory. Also automatic above a size. */
    tiledVae: z.boolean().default(false),
    /** inpaint/outpaint: match the repainted area's colours to its surroundings. */
    colorMatch: z.boolean().default(false),
    /** The gallery image this one continues (a canvas result it repaints), for lineage; initImageId implies it. */
    parentImageId: z.int().positive().optional(),
  })
  .superRefine((req, ctx) => {
    const clash = (field: string, message: string): void => {
      ctx.addIssue({ code: 'custom', path: [field], message });
    };
    const hasInit = Boolean(req.initImage) || req.initImageId !== undefined;
    if (req.initImage && req.initImageId !== undefined)
      clash('initImageId', 'clashes with initImage: give one of them');
    if (req.mode === 'txt2img') {
      if (hasInit) clash(req.initImage ? 'initImage' : 'initImageId', 'clashes with mode txt2img (use img2img)');
    } else if (!hasInit) {
      clash('initImage', `is required for ${req.mode} (or initImageId)`);
    }
    if (req.mode === 'inpaint' && !req.mask) clash('mask', 'is required for inpaint');
    if (req.mask && req.mode !== 'inpaint') clash('mask', `clashes with mode ${req.mode} (a mask means inpaint)`);
    if (req.mode === 'outpaint') {
      const o = req.outpaint;
      if (!o) clash('outpaint', 'is required for outpaint (pixels to add per side)');
      else if (o.left + o.top + o.right + o.bottom === 0) clash('outpaint', 'adds nothing: give at least one side');
    } else if (req.outpaint) clash('outpaint', `clashes with mode ${req.mode} (use outpaint)`);
    if (req.hires && req.mode !== 'txt2img') clash('hires', `clashes with mode ${req.mode} (hires fix is for txt2img)`);
    if (req.hires && (req.hires.width < req.width || req.hires.height < req.height)) {
      clash(
        'hires',
        `is ${req.hires.width}x${req.hires.height}, smaller than the base size ${req.width}x${req.height}`,
      );
    }
    if (req.upscale && req.mode !== 'upscale') clash('upscale', `clashes with mode ${req.mode} (use upscale)`);
    if (req.refiner && req.hires) clash('refiner', 'clashes with hires: use one of them');
  });
export type GenerateRequest = z.infer<typeof zGenerateRequest>;
/** A request as callers write it: fields with defaults may be left out. */
export type GenerateRequestInput = z.input<typeof zGenerateRequest>;

export const jobStatuses = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;

export const zJobResult = z.object({
  /** The gallery image this result became. */
  imageId: z.number(),
  /** Media path, served by `sumi-media://` or the web host's /media/ route. */
  media: z.string(),
  seed: z.number(),
  width: z.number(),
  height: z.number(),
});
export type JobResult = z.infer<typeof zJobResult>;

export const zJob = z.object({
  id: z.string(),
  status: z.enum(jobStatuses),
  request: z.object({
    prompt: z.string(),
    model: z.string(),
    mode: z.string(),
    width: z.number(),
    height: z.number(),
    steps: z.number(),
    batchCount: z.number(),
    batchSize: z.number(),
    seed: z.number(),
  }),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  error: zStudioError.nullable(),
  results: z.array(zJobResult),
  provider: z.string().nullable(),
  /** Which engine path ran: 'inpaint-unet' (a 9-channel model) or 'masked-blend', 'img2img', … */
  path: z.string().nullable().optional(),
  /** What the engine or the service adjusted that the user should know (a stretched mask, a grown canvas). */
  notices: z.array(z.string()).optional(),
});
export type Job = z.infer<typeof zJob>;

export const zJobProgress = z.object({
  id: z.string(),
  /** Which image of the batch count is being made (0-based) and of how many. */
  run: z.number(),
  runs: z.number(),
  step: z.number(),
  total: z.number(),
  itPerSec: z.number().nullable(),
  etaMs: z.number().nullable(),
  /** A small PNG data URL approximating the image at this step. */
  preview: z.string().nullable(),
});
export type JobProgress = z.infer<typeof zJobProgress>;

// ---------------------------------------------------------------------------------------------
// Gallery
// ---------------------------------------------------------------------------------------------

export const generationModes = ['txt2img', 'img2img', 'inpaint', 'outpaint'] as const;

export const zGalleryItem = z.object({
  id: z.number(),
  /** Media path of the PNG (`outputs/…`). */
  media: z.string(),
  /** Media path of the 256-px WebP thumbnail (`thumbs/…`); null when the file is missing. */
  thumb: z.string().nullable(),
  width: z.number(),
  height: z.number(),
  seed: z.number(),
  prompt: z.string(),
  negativePrompt: z.string(),
  mode: z.enum(generationModes),
  modelName: z.string(),
  sampler: z.string(),
  steps: z.number(),
  cfg: z.number(),
  favourite: z.boolean(),
  rating: z.number(),
  boardId: z.number().nullable(),
  trashed: z.boolean(),
  missing: z.boolean(),
  createdAt: z.string(),
});
export type GalleryItem = z.infer<typeof zGalleryItem>;

export const zGalleryPageQuery = z.strictObject({
  cursor: z.string().max(512).nullable().optional(),
  limit: z.int().min(1).max(200).default(60),
  sort: z.enum(['newest', 'oldest']).default('newest'),
  search: z.string().max(500).optional(),
  filters: z
    .strictObject({
      model: z.string().max(512).optional(),
      sampler: z.string().max(64).optional(),
      width: z.int().positive().optional(),
      height: z.int().positive().optional(),
      /** Milliseconds since the epoch, inclusive. */
      from: z.number().optional(),
      /** Milliseconds since the epoch, exclusive. */
      to: z.number().optional(),
      mode: z.enum(generationModes).optional(),
      favourite: z.boolean().optional(),
      boardId: z.int().optional(),
      trashed: z.boolean().optional(),
    })
    .optional(),
});
export type GalleryPageQuery = z.infer<typeof zGalleryPageQuery>;

export const zGalleryDetail = z.object({
  item: zGalleryItem,
  /** The full Sumi recipe; null for images recovered from files without one. */
  recipe: z.record(z.string(), z.unknown()).nullable(),
  /** A1111's infotext for this image (for "copy parameters"). */
  infotext: z.string(),
  executionProvider: z.string(),
  ortVersion: z.string(),
  timings: z.record(z.string(), z.number()),
  ancestors: z.array(zGalleryItem),
  children: z.array(zGalleryItem),
});
export type GalleryDetail = z.infer<typeof zGalleryDetail>;

const zImageIds = z.array(z.int().positive()).min(1).max(10_000);

/** A recipe recalled from a PNG (ours or another tool's): whatever fields it had. */
export const zRecall = z.object({
  source: z.enum(['sumi', 'a1111', 'invokeai', 'comfyui', 'fooocus', 'unknown']),
  recipe: z.record(z.string(), z.unknown()),
});
export type Recall = z.infer<typeof zRecall>;

export const zImportProgress = z.object({
  importId: z.string(),
  done: z.number(),
  total: z.number(),
  imported: z.number(),
  duplicates: z.number(),
  failed: z.array(z.object({ file: z.string(), reason: z.string() })),
  finished: z.boolean(),
});
export type ImportProgress = z.infer<typeof zImportProgress>;

export const zBoard = z.object({ id: z.number(), name: z.string(), builtin: z.boolean(), imageCount: z.number() });
export type Board = z.infer<typeof zBoard>;

// ---------------------------------------------------------------------------------------------
// Model library
// ---------------------------------------------------------------------------------------------

export const modelFamilies = ['sd1', 'sd2', 'sdxl', 'sdxl-refiner', 'unknown'] as const;
export const predictionTypes = ['epsilon', 'v_prediction', 'sample'] as const;
export const modelVariants = ['standard', 'inpaint', 'lcm', 'turbo'] as const;
export type ModelFamily = (typeof modelFamilies)[number];
export type ModelVariant = (typeof modelVariants)[number];

export interface FamilyDefaults {
  /** Native resolution (square side) and the size presets offered for this family. */
  size: number;
  sizes: readonly (readonly [number, number])[];
  steps: number;
  cfg: number;
  sampler: SamplerName;
}

const SD1_SIZES = [
  [512, 512],
  [512, 768],
  [768, 512],
  [640, 448],
  [448, 640],
] as const;
const SD2_SIZES = [
  [768, 768],
  [768, 1024],
  [1024, 768],
  [512, 512],
] as const;
const SDXL_SIZES = [
  [1024, 1024],
  [896, 1152],
  [1152, 896],
  [832, 1216],
  [1216, 832],
  [768, 1344],
  [1344, 768],
] as const;

/**
 * What the studio starts a model at: the family's native size and the steps and CFG its users run
 * (A1111/InvokeAI defaults); LCM and Turbo models want few steps and little or no guidance.
 */
export function familyDefaults(family: ModelFamily, variant: ModelVariant = 'standard'): FamilyDefaults {
  const xl = family === 'sdxl' || family === 'sdxl-refiner';
  const base: FamilyDefaults = xl
    ? { size: 1024, sizes: SDXL_SIZES, steps: 30, cfg: 6.5, sampler: 'euler_a' }
    : family === 'sd2'
      ? { size: 768, sizes: SD2_SIZES, steps: 25, cfg: 7, sampler: 'dpmpp_2m_karras' }
      : { size: 512, sizes: SD1_SIZES, steps: 25, cfg: 7, sampler: 'dpmpp_2m_karras' };
  if (variant === 'lcm') return { ...base, steps: 6, cfg: 1.5, sampler: 'lcm' };
  // SD-Turbo is trained at 512 px, SDXL-Turbo at 512 too: one step, no guidance.
  if (variant === 'turbo')
    return { ...base, size: 512, sizes: [[512, 512], ...base.sizes], steps: 1, cfg: 0, sampler: 'euler_a' };
  return base;
}

export const zLibraryEntry = z.object({
  /** Path relative to the models folder: `my-model`, `loras/x.safetensors`, `embeddings/y.safetensors`. */
  id: z.string(),
  kind: z.enum(['model', 'lora', 'embedding']),
  name: z.string(),
  path: z.string(),
  bytes: z.number(),
  family: z.enum(modelFamilies),
  predictionType: z.enum(predictionTypes).nullable(),
  precision: z.enum(['fp32', 'fp16']).nullable(),
  /** The built-in demo model (random weights). */
  demo: z.boolean(),
  status: z.enum(['ok', 'error']),
  /** What is wrong, in words, when status is error. */
  problem: z.string().nullable(),
  notes: z.string(),
  /** The user set the family or prediction type by hand. */
  overridden: z.boolean(),
  triggerWords: z.array(z.string()),
  /** A1111's short hash (10 hex for models, 12 for LoRAs), once hashed. */
  shortHash: z.string().nullable(),
  /** Models: inpainting, LCM or Turbo (the Studio's defaults follow it); null for LoRAs and embeddings. */
  variant: z.enum(modelVariants).nullable(),
});
export type LibraryEntry = z.infer<typeof zLibraryEntry>;

export const zModelImportProgress = z.object({
  importId: z.string(),
  id: z.string(),
  doneBytes: z.number(),
  totalBytes: z.number(),
  finished: z.boolean(),
  error: z.string().nullable(),
  /** Downloads: the file being fetched (relative to the model folder); null or absent otherwise. */
  file: z.string().nullable().optional(),
});
export type ModelImportProgress = z.infer<typeof zModelImportProgress>;

/** Raw bytes per `models.importFile` chunk; the base64 of one stays well under the web host's 16 MiB frame. */
export const MODEL_UPLOAD_CHUNK_BYTES = 6 * 1024 * 1024;
/** The largest file the browser may upload (a .safetensors LoRA or embedding). */
export const MODEL_UPLOAD_MAX_BYTES = 2 * 1024 ** 3;

const zEntryId = z.string().min(1).max(512);

// ---------------------------------------------------------------------------------------------
// Methods and events
// ---------------------------------------------------------------------------------------------

const zNone = z.strictObject({});

interface MethodSpec {
  input: z.ZodType;
  output: z.ZodType;
}

export const methods = {
  'app.info': { input: zNone, output: zAppInfo },
  'app.dismissNotice': { input: z.strictObject({ id: z.string().min(1) }), output: zNone },
  'app.openExternal': {
    input: z.strictObject({ url: z.url({ protocol: /^https$/ }) }),
    output: z.object({ opened: z.boolean() }),
  },
  'settings.get': { input: zNone, output: zSettings },
  'settings.update': { input: zSettingsPatch, output: zSettings },
  'settings.reset': { input: zNone, output: zSettings },
  'generate.submit': { input: zGenerateRequest, output: z.object({ jobId: z.string() }) },
  'jobs.list': { input: zNone, output: z.array(zJob) },
  'jobs.cancel': { input: z.strictObject({ id: z.string().min(1) }), output: zNone },
  /** Unloads the model by restarting the engine process, which gives all of its memory back (GPU memory too). */
  'engine.unload': { input: zNone, output: zNone },
  'gallery.page': {
    input: zGalleryPageQuery,
    output: z.object({ items: z.array(zGalleryItem), nextCursor: z.string().nullable() }),
  },
  'gallery.get': { input: z.strictObject({ id: z.int().positive() }), output: zGalleryDetail },
  'gallery.update': {
    input: z.strictObject({
      ids: zImageIds,
      favourite: z.boolean().optional(),
      rating: z.int().min(0).max(5).optional(),
      boardId: z.int().positive().nullable().optional(),
    }),
    output: zNone,
  },
  'gallery.trash': { input: z.strictObject({ ids: zImageIds }), output: zNone },
  'gallery.restore': { input: z.strictObject({ ids: zImageIds }), output: zNone },
  'gallery.emptyTrash': { input: zNone, output: z.object({ removed: z.number() }) },
  /** Regenerate (same seed) or, with `newSeed`, a variation; the new image records this one as its parent. */
  'gallery.rerun': {
    input: z.strictObject({ id: z.int().positive(), newSeed: z.boolean().default(false) }),
    output: z.object({ jobId: z.string() }),
  },
  /**
   * Upscales a gallery image (Lanczos, then an img2img pass at `strength` on the image's own model and
   * prompt; an image without a recipe of ours is resized only). The result records it as its parent.
   */
  'gallery.upscale': {
    input: z.strictObject({
      id: z.int().positive(),
      scale: z.number().gt(1).max(4).default(2),
      strength: z.number().min(0).max(1).default(0.3),
    }),
    output: z.object({ jobId: z.string() }),
  },
  /** Reads a dropped or pasted PNG's recipe (Sumi, A1111/Forge, InvokeAI, ComfyUI, Fooocus). */
  'gallery.recall': {
    input: z.strictObject({ png: z.base64().max(96 * 1024 * 1024, 'is larger than 64 MB') }),
    output: zRecall,
  },
  /** Imports every PNG of a folder (another tool's outputs) with its recipe; progress as `gallery.import` events. */
  'gallery.importFolder': {
    input: z.strictObject({ folder: zAbsolutePath, board: z.string().trim().min(1).max(100).optional() }),
    output: z.object({ importId: z.string(), total: z.number() }),
  },
  /** Copies images (PNG with their metadata) into a folder. */
  'gallery.export': {
    input: z.strictObject({ ids: zImageIds, folder: zAbsolutePath }),
    output: z.object({ files: z.array(z.string()) }),
  },
  'models.list': { input: zNone, output: z.array(zLibraryEntry) },
  /** Opens a model in the engine to read its graphs; remembers family, prediction type and precision. */
  'models.check': { input: z.strictObject({ id: zEntryId }), output: zLibraryEntry },
  'models.update': {
    input: z.strictObject({
      id: zEntryId,
      name: z.string().trim().min(1).max(200).optional(),
      notes: z.string().max(10_000).optional(),
      family: z.enum(modelFamilies).optional(),
      predictionType: z.enum(predictionTypes).optional(),
      clearOverrides: z.boolean().optional(),
    }),
    output: zNone,
  },
  'models.remove': { input: z.strictObject({ id: zEntryId }), output: zNone },
  'models.import': {
    input: z.strictObject({ source: zAbsolutePath, move: z.boolean().default(false) }),
    output: z.object({ importId: z.string(), id: z.string() }),
  },
  'models.hash': { input: z.strictObject({ id: zEntryId }), output: z.object({ sha256: z.string() }) },
  /**
   * Downloads a Hugging Face diffusers-ONNX repository (`https://huggingface.co/ORG/NAME[/tree/REV/DIR]`
   * or `ORG/NAME`) or one `.safetensors` file by URL; resolves once the file list is known, then
   * progress as `models.import` events (with `file`). Resumes an earlier, interrupted download.
   */
  'models.download': {
    input: z.strictObject({
      url: z.string().trim().min(1).max(2048),
      name: z
        .string()
        .trim()
        .min(1)
        .max(120)
        .regex(/^[^/\\]+$/, 'must not contain a slash')
        .optional(),
    }),
    output: z.object({ importId: z.string(), id: z.string() }),
  },
  /** Stops an import or a download; it finishes with error "cancelled" (a cancelled download is discarded). */
  'models.cancelImport': { input: z.strictObject({ importId: z.string().min(1).max(64) }), output: zNone },
  /**
   * A .safetensors file uploaded by the browser (which cannot give a path), in chunks of at most
   * MODEL_UPLOAD_CHUNK_BYTES: the first without `uploadId`, each next with the returned one and
   * `offset` = bytes sent so far; the `last` chunk starts the import and returns its ids.
   */
  'models.importFile': {
    input: z.strictObject({
      name: z.string().trim().min(1).max(255),
      base64: z.base64().max(Math.ceil(MODEL_UPLOAD_CHUNK_BYTES / 3) * 4, 'is larger than one upload chunk'),
      uploadId: z.string().min(1).max(64).optional(),
      offset: z.int().min(0).max(MODEL_UPLOAD_MAX_BYTES),
      last: z.boolean(),
    }),
    output: z.object({ uploadId: z.string(), importId: z.string().nullable(), id: z.string().nullable() }),
  },
  'boards.list': { input: zNone, output: z.array(zBoard) },
  'boards.create': { input: z.strictObject({ name: z.string().trim().min(1).max(100) }), output: zBoard },
  'boards.rename': {
    input: z.strictObject({ id: z.int().positive(), name: z.string().trim().min(1).max(100) }),
    output: zBoard,
  },
  'boards.delete': { input: z.strictObject({ id: z.int().positive() }), output: zNone },
  'jobs.move': { input: z.strictObject({ id: z.string().min(1), toIndex: z.int().min(0) }), output: zNone },
} as const satisfies Record<string, MethodSpec>;

export const events = {
  'settings.changed': zSettings,
  'app.notice': zNotice,
  'engine.state': zEngineState,
  'job.updated': zJob,
  'job.progress': zJobProgress,
  'gallery.added': z.object({ items: z.array(zGalleryItem) }),
  'gallery.import': zImportProgress,
  'models.import': zModelImportProgress,
  /** Something in the models folder changed (a file manager, an import, a download): list again. */
  'models.changed': z.object({}),
} as const satisfies Record<string, z.ZodType>;

export type Methods = typeof methods;
export type Method = keyof Methods;
/** What a caller passes (before defaults are applied). */
export type Input<M extends Method> = z.input<Methods[M]['input']>;
/** What a handler receives (after parsing). */
export type ParsedInput<M extends Method> = z.output<Methods[M]['input']>;
export type Output<M extends Method> = z.output<Methods[M]['output']>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export const methodNames = Object.keys(methods) as Method[];
export const eventNames = Object.keys(events) as EventName[];

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

/**
 * The one surface the renderer sees (`window.studio` in Electron, a WebSocket client in the web
 * host). Untyped on purpose: the typed client in the renderer's `api/` sits on top.
 */
export interface StudioTransport {
  invoke(method: string, input: unknown): Promise<Envelope<unknown>>;
  subscribe(event: string, listener: (payload: unknown) => void): () => void;
  /** Transports that can lose their host (the web host's socket) report it here. */
  onConnection?(listener: (connected: boolean) => void): () => void;
  /** Electron only: the file system path of a dropped file or folder (webUtils.getPathForFile). */
  pathForFile?(file: Blob): string;
}

// ---------------------------------------------------------------------------------------------
// The web host's wire format (one JSON message per WebSocket frame)
// ---------------------------------------------------------------------------------------------

export const zWireRequest = z.object({
  t: z.literal('req'),
  id: z.int().nonnegative(),
  method: z.string().max(128),
  input: z.unknown(),
});
export type WireRequest = z.infer<typeof zWireRequest>;

export type WireMessage =
  { t: 'res'; id: number; result: Envelope<unknown> } | { t: 'evt'; event: EventName; payload: unknown };

/** Electron IPC channel names: the only two that exist. */
export const IPC_INVOKE = 'sumi:invoke';
export const IPC_EVENT = 'sumi:event';
