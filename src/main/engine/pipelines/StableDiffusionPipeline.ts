/**
 * Stable Diffusion 1.x / 2.x in every mode the canvas needs (txt2img with hires fix, img2img,
 * inpaint, outpaint, upscale), read top to bottom the way diffusers' pipelines read: check inputs,
 * encode the prompt, prepare latents, denoise, decode. Every mode is one or two denoising passes
 * (`denoise`) plus pixel work before and after (crops, fills, the paste-back).
 *
 * Inpainting runs one of two ways, by the UNet: a 9-channel inpainting UNet gets the mask and the
 * masked image's latents as extra input channels (diffusers' StableDiffusionInpaintPipeline); an
 * ordinary UNet gets masked latent blending after every step (diffusers' 4-channel path, A1111's
 * img2img inpainting). Either way the result is pasted over the original through the feathered mask,
 * so pixels where the mask is 0 come back byte for byte.
 *
 * Randomness comes only from the job's seeded RNG, drawn in diffusers' order (img2img: VAE sample,
 * then the noise; inpainting: image latents, noise, then the masked image's latents; ancestral
 * samplers draw per step), so a seed means what it means in diffusers.
 */
import { EngineError, cancelledError } from '../EngineError';
import type { HostTensor } from '../backend/ort';
import type { ModelProbe } from '../model/modelFolder';
import { createRng } from '../rng';
import type { Rng, RngKind } from '../rng/Rng';
import { createScheduler, timestepsForStrength } from '../schedulers';
import type { Scheduler, SchedulerName } from '../schedulers/Scheduler';
import type { PromptEncoder, PromptEmbeddings } from '../components/TextEncoder';
import type { Unet } from '../components/Unet';
import { defaultVaeTiles, type VaeDecoder, type VaeEncoder, type VaeTiles } from '../components/Vae';
import { guidanceScaleEmbedding } from '../components/guidanceEmbedding';
import {
  blurMask,
  compositeMasked,
  cropMask,
  cropRgba,
  expandToAspect,
  fillMasked,
  isMaskEmpty,
  maskCropRegion,
  type MaskImage,
  type Region,
} from '../imaging/mask';
import { outpaintCanvas, roundExtents, type OutpaintExtents, type OutpaintFill } from '../imaging/outpaint';
import { resizePlane, resizeRgba } from '../imaging/resize';
import { nchwToRgba, rgbaToNchw, type RgbaImage } from '../tensor/image';
import { blendMasked, concatChannels, maskToLatent, upscaleLatentsBilinear, writeSampleRows } from '../tensor/latents';
import { applyGuidance, concatBatch, firstNonFinite, repeatBatch, scale } from '../tensor/ops';
import { timestepsForDenoisingRange } from '../schedulers/denoisingRange';
import { sdxlConditioning, type SdxlConditions } from './sdxlConditioning';

export type { MaskImage } from '../imaging/mask';
export type { OutpaintExtents, OutpaintFill } from '../imaging/outpaint';

export const generationModes = ['txt2img', 'img2img', 'inpaint', 'outpaint', 'upscale'] as const;
export type GenerationMode = (typeof generationModes)[number];
export type InpaintArea = 'full' | 'masked';
export type MaskedContent = 'original' | 'latent-noise' | 'fill';
export type HiresUpscaler = 'lanczos' | 'latent';
/** How the pixels were made: which denoising path ran (or none, for a plain resize). */
export type GenerationPath = 'txt2img' | 'img2img' | 'inpaint-unet' | 'masked-blend' | 'resize';

/**
 * One generation. Plain data (it crosses the engine process boundary by structured clone). Fields
 * mirror the public contract's GenerateRequest; images arrive decoded (RGBA bytes), masks as one byte
 * per pixel (255 = repaint).
 */
export interface DiffusionRequest {
  /** Default: 'img2img' when `init` is given, else 'txt2img'. */
  mode?: GenerationMode;
  prompt: string;
  negativePrompt: string;
  /**
   * The generation size, a multiple of 8. txt2img: the base size (before hires fix); img2img, inpaint,
   * outpaint, upscale: the init image's size (outpaint's result is larger by the extents, upscale's
   * init image may be any size and is resized to this).
   */
  width: number;
  height: number;
  steps: number;
  cfg: number;
  sampler: SchedulerName;
  seed: number;
  rng: RngKind;
  batchSize: number;
  /** diffusers' guidance_rescale (0 = off). */
  guidanceRescale?: number;
  /** img2img, inpaint, outpaint, upscale: the init image (width x height) and how much of it to repaint. */
  init?: { image: RgbaImage; strength: number };
  /** inpaint: 255 = repaint; another size with the same aspect is rescaled (with a notice). */
  mask?: MaskImage;
  /** inpaint/outpaint: gaussian feather of the mask edge in px (default 4). */
  maskBlur?: number;
  /** inpaint/outpaint: 'full' (default) repaints the whole image; 'masked' crops the masked area plus padding and repaints it at width x height. */
  inpaintArea?: InpaintArea;
  /** Padding around the masked area for `inpaintArea: 'masked'`, px (default 32). */
  inpaintPadding?: number;
  /** inpaint/outpaint: what the masked area starts from (default 'original'). */
  maskedContent?: MaskedContent;
  /** outpaint: pixels added per side; the canvas is rounded up to multiples of 8 (with a notice). */
  outpaint?: OutpaintExtents;
  /** outpaint: how the new area is pre-filled (default 'edge'). */
  outpaintFill?: OutpaintFill;
  /** txt2img hires fix: upscale the base result to width x height, then img2img at `strength` (steps 0 = `steps`). */
  hires?: { width: number; height: number; strength: number; steps: number; upscaler: HiresUpscaler };
  /** upscale: img2img pass after the Lanczos resize to width x height (strength 0 = resize only; steps 0 = `steps`). */
  upscale?: { strength: number; steps: number };
  /** Decode (and encode) the VAE in tiles. Also on automatically above `vaeTiling.abovePixels`. */
  tiledVae?: boolean;
  /** Tile geometry in px (multiples of 8; defaults 512 and 128) and the automatic threshold (default 1024 x 1024 px). */
  vaeTiling?: { tile?: number; overlap?: number; abovePixels?: number };
  /** Standard-normal starting noise, [batch, 4, h/8, w/8] float32 at the first pass's size, replacing the seed's. */
  noise?: Float32Array;
  /** Overrides the scheduler config's `prediction_type` (the user knows better than a wrong config). */
  predictionType?: 'epsilon' | 'v_prediction' | 'sample';
  /** Overrides the scheduler config's `timestep_spacing` (Turbo models want 'trailing'). */
  timestepSpacing?: 'leading' | 'trailing' | 'linspace';
  /** Precomputed text embeddings, replacing the prompt's. */
  promptEmbeds?: PromptEmbeddings;
  /** SDXL's micro-conditioning (original/target size, crop, the refiner's aesthetic scores); diffusers' defaults without it. */
  sdxl?: SdxlConditions;
  /**
   * SDXL base + refiner (diffusers' "ensemble of expert denoisers"), run by `Engine.generate`: this
   * model denoises the first `switchAt` (0..1) of the schedule, the refiner at `modelDir` continues from
   * its latents, un-decoded, and decodes. txt2img and img2img, without hires fix.
   */
  refiner?: { modelDir: string; switchAt: number };
  /** diffusers' `denoising_end`: stop after this fraction (0..1) of the schedule (the base's half of a refiner run). */
  denoisingEnd?: number;
  /**
   * diffusers' `denoising_start` with latents from another model's `denoisingEnd` run: continue these
   * latents ([batch, 4, h/8, w/8], before the VAE scaling division) from this fraction of the schedule.
   */
  handover?: { latents: Float32Array; denoisingStart: number };
  /** 'latent': return the latents only, without the VAE decode (`images` is empty). Default 'image'. */
  outputType?: 'image' | 'latent';
}

/** What ran, for the UI and the recipe. */
export interface GenerationInfo {
  mode: GenerationMode;
  path: GenerationPath;
  /** inpaint/outpaint: what the masked area started from. */
  maskedContent: MaskedContent | null;
  /** outpaint: the pre-fill of the new area, and the extents used (after rounding to multiples of 8). */
  outpaintFill: OutpaintFill | null;
  outpaintExtents: OutpaintExtents | null;
  /** inpaintArea 'masked': the region of the image that was repainted (x2/y2 exclusive). */
  cropRegion: Region | null;
  /** Hires fix: the second pass's size and upscaler. */
  hires: { width: number; height: number; upscaler: HiresUpscaler } | null;
  /** The VAE ran in tiles (forced or above the threshold). */
  tiledVae: boolean;
  /** LCM: the UNet got the guidance embedding (`timestep_cond`) instead of a CFG batch. */
  guidanceEmbedding: boolean;
  /** Classifier-free guidance ran (a doubled UNet batch). */
  cfg: boolean;
  /** Things the engine adjusted and the user should know (a rescaled mask, a grown canvas). */
  notices: string[];
}

export interface StepInfo {
  /** Steps done so far in the whole job (hires fix: both passes), and the job's total. */
  step: number;
  total: number;
  /** Latents after this step (do not keep: the pipeline reuses nothing, but copy if you store it). */
  latents: Float32Array;
  latentWidth: number;
  latentHeight: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Called after every step; a returned promise (a preview decode) is awaited before the next step. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /**
   * The job's random stream, when a run continues another's (the SDXL refiner after the base): one
   * generator through both, as diffusers does when both pipelines get the same `generator`.
   */
  rng?: Rng;
}

export interface DiffusionResult {
  images: RgbaImage[];
  /** Final latents of the last pass before the VAE scaling division, [batch, 4, h/8, w/8]; empty for a plain resize. */
  latents: Float32Array;
  timings: { encodeMs: number; denoiseMs: number; decodeMs: number; unetMs: number; steps: number };
  info: GenerationInfo;
}

export interface PipelineParts {
  /** `TextEncoder` (SD 1.x/2.x) or `SdxlTextEncoder` (both SDXL encoders, with the pooled embedding). */
  textEncoder: PromptEncoder;
  unet: Unet;
  vaeDecoder: VaeDecoder;
  vaeEncoder: VaeEncoder | null;
  probe: ModelProbe;
  schedulerConfig: Record<string, unknown>;
}

/** Images above this many pixels go through the VAE in tiles unless the request says otherwise. */
export const defaultTiledVaeAbovePixels = 1024 * 1024;

/** The prompt, encoded once per job and batched for the UNet. */
interface EncodedPrompt {
  embeds: PromptEmbeddings;
  /** [uncond x batch; cond x batch] with CFG, else cond x batch. */
  context: Float32Array;
  guided: boolean;
}

/** Per-job state shared by the passes: the RNG, the clock, progress and what to report. */
interface Job {
  req: DiffusionRequest;
  rng: Rng;
  signal: AbortSignal | undefined;
  onStep: RunOptions['onStep'];
  timings: DiffusionResult['timings'];
  done: number;
  total: number;
  info: GenerationInfo;
}

/** Inpainting inputs of one pass, at the pass's latent size. */
interface PassInpaint {
  /** [1, 1, h, w] of 0/1. */
  mask: Float32Array;
  /** Ordinary UNet: blend the (noised) init latents outside the mask after every step. */
  blend: boolean;
  /** Inpainting UNet: the masked image's latents [1, 4, h, w] (scaled), encoded after the noise is drawn. */
  maskedLatents?: () => Promise<Float32Array>;
}

/** One denoising pass. */
interface Pass {
  width: number;
  height: number;
  steps: number;
  /** null: txt2img (the whole schedule from pure noise). */
  strength: number | null;
  /** Scaled init latents for the whole batch [batch, 4, h, w] (img2img, inpainting, hires). */
  init: Float32Array | null;
  /** Start from pure noise even with init latents (diffusers' inpainting at strength 1). */
  pureNoise: boolean;
  /** The caller's starting noise (first pass only). */
  noise: Float32Array | undefined;
  inpaint?: PassInpaint;
  /** `init` are another model's partly denoised latents (SDXL refiner): continue them as they are. */
  handover?: boolean;
}

export class StableDiffusionPipeline {
  constructor(readonly parts: PipelineParts) {}

  async run(req: DiffusionRequest, options: RunOptions = {}): Promise<DiffusionResult> {
    const mode = req.mode ?? (req.init ? 'img2img' : 'txt2img');
    const notices: string[] = [];
    const mask = this.checkInputs(req, mode, notices);
    const job: Job = {
      req,
      rng: options.rng ?? createRng(req.rng, req.seed),
      signal: options.signal,
      onStep: options.onStep,
      timings: { encodeMs: 0, denoiseMs: 0, decodeMs: 0, unetMs: 0, steps: 0 },
      done: 0,
      total: this.plannedSteps(req, mode),
      info: {
        mode,
        path: mode === 'txt2img' ? 'txt2img' : 'img2img',
        maskedContent: null,
        outpaintFill: null,
        outpaintExtents: null,
        cropRegion: null,
        hires: null,
        tiledVae: false,
        guidanceEmbedding: false,
        cfg: false,
        notices,
      },
    };
    if (mode === 'upscale' && !((req.upscale?.strength ?? 0) > 0)) return this.resizeOnly(req, job);

    // 1. Encode the prompt.
    const prompt = await this.encodePrompt(req, job);

    // 2-4. Prepare, denoise and decode, per mode.
    let out: { images: RgbaImage[]; latents: Float32Array };
    switch (mode) {
      case 'txt2img':
      case 'img2img':
        out = await this.generate(req, prompt, job);
        break;
      case 'inpaint':
        out = await this.inpaint(req.init!.image, mask!, req.width, req.height, prompt, job);
        break;
      case 'outpaint': {
        const fill = req.outpaintFill ?? 'edge';
        const canvas = outpaintCanvas(req.init!.image, req.outpaint!, fill, seamOverlap(req), req.seed);
        notices.push(...canvas.notices);
        job.info.outpaintFill = fill;
        job.info.outpaintExtents = canvas.extents;
        const masked = req.inpaintArea === 'masked';
        const [w, h] = masked ? [req.width, req.height] : [canvas.image.width, canvas.image.height];
        out = await this.inpaint(canvas.image, canvas.mask, w, h, prompt, job);
        break;
      }
      case 'upscale':
        out = await this.upscaleAndRefine(req, prompt, job);
        break;
    }
    throwIfAborted(job.signal);
    return { ...out, timings: job.timings, info: job.info };
  }

  /** txt2img or img2img at the request's size, then the hires fix's second pass when asked. */
  private async generate(
    req: DiffusionRequest,
    prompt: EncodedPrompt,
    job: Job,
  ): Promise<{ images: RgbaImage[]; latents: Float32Array }> {
    const batch = req.batchSize;
    const init = req.handover
      ? req.handover.latents
      : req.init
        ? repeatBatch(await this.encodeImage(req.init.image, job), batch)
        : null;
    let latents = await this.denoise(
      {
        width: req.width,
        height: req.height,
        steps: req.steps,
        strength: req.init && !req.handover ? req.init.strength : null,
        init,
        pureNoise: false,
        noise: req.noise,
        handover: req.handover !== undefined,
      },
      prompt,
      job,
    );
    if (req.outputType === 'latent') return { images: [], latents };
    if (!req.hires) return { images: await this.decode(latents, req.width, req.height, job), latents };

    // Hires fix: upscale (in latent space, or decode + Lanczos + encode), then img2img at the target size.
    const { width, height, upscaler } = req.hires;
    job.info.hires = { width, height, upscaler };
    let upscaled: Float32Array;
    if (upscaler === 'latent') {
      upscaled = upscaleLatentsBilinear(latents, batch * 4, req.width / 8, req.height / 8, width / 8, height / 8);
    } else {
      const base = await this.decode(latents, req.width, req.height, job);
      const t0 = performance.now();
      const pixels = concatAll(base.map((image) => rgbaToNchw(resizeRgba(image, width, height))));
      upscaled = await this.encodePixels(pixels, batch, width, height, job);
      job.timings.denoiseMs += performance.now() - t0;
    }
    latents = await this.denoise(
      {
        width,
        height,
        steps: req.hires.steps || req.steps,
        strength: req.hires.strength,
        init: upscaled,
        pureNoise: false,
        noise: undefined,
      },
      prompt,
      job,
    );
    return { images: await this.decode(latents, width, height, job), latents };
  }

  /**
   * Inpaints `image` where `mask` (same size) says, generating at `genW` x `genH`: the whole image
   * (inpaintArea 'full', where the image is that size) or a crop around the mask scaled to it
   * ('masked'). The result is pasted over `image` through the feathered mask.
   */
  private async inpaint(
    image: RgbaImage,
    mask: MaskImage,
    genW: number,
    genH: number,
    prompt: EncodedPrompt,
    job: Job,
  ): Promise<{ images: RgbaImage[]; latents: Float32Array }> {
    const req = job.req;
    const feathered = blurMask(mask, req.maskBlur ?? 4);
    if (req.inpaintArea !== 'masked') {
      const out = await this.inpaintAt(image, feathered, prompt, job);
      return { images: out.images.map((g) => compositeMasked(image, g, feathered)), latents: out.latents };
    }
    const region = expandToAspect(
      maskCropRegion(feathered, req.inpaintPadding ?? 32),
      genW,
      genH,
      image.width,
      image.height,
    );
    job.info.cropRegion = region;
    const regionW = region.x2 - region.x1;
    const regionH = region.y2 - region.y1;
    const crop = resizeRgba(cropRgba(image, region), genW, genH);
    const cropped = cropMask(feathered, region);
    const cropFeathered: MaskImage = {
      width: genW,
      height: genH,
      data: resizePlane(cropped.data, regionW, regionH, genW, genH),
    };
    const out = await this.inpaintAt(crop, cropFeathered, prompt, job);
    const images = out.images.map((g) =>
      compositeMasked(image, resizeRgba(g, regionW, regionH), feathered, { x: region.x1, y: region.y1 }),
    );
    return { images, latents: out.latents };
  }

  /** One inpainting generation at the image's own size; the mask is feathered already. Not composited. */
  private async inpaintAt(
    source: RgbaImage,
    mask: MaskImage,
    prompt: EncodedPrompt,
    job: Job,
  ): Promise<{ images: RgbaImage[]; latents: Float32Array }> {
    const { req, rng } = job;
    const { width, height } = source;
    const batch = req.batchSize;
    const unetInpaints = this.parts.probe.inpainting;
    const content = req.maskedContent ?? 'original';
    job.info.path = unetInpaints ? 'inpaint-unet' : 'masked-blend';
    job.info.maskedContent = content;

    const image = content === 'fill' ? fillMasked(source, mask) : source;
    const pixels = rgbaToNchw(image);
    const latentMask = maskToLatent(mask.data, width, height, width / 8, height / 8);
    const strength = req.init?.strength ?? 1;
    // diffusers: at strength 1 the start is pure noise; the image latents are still needed to blend.
    const pureNoise = strength >= 1;
    let imageLatents = !unetInpaints || !pureNoise ? await this.encodeImage(image, job) : null;
    if (imageLatents && content === 'latent-noise') {
      // A1111's "latent noise": the masked area of the init latents replaced by random latents.
      imageLatents = blendMasked(rng.randn(imageLatents.length), imageLatents, latentMask);
    }
    const inpaint: PassInpaint = { mask: latentMask, blend: !unetInpaints };
    if (unetInpaints) {
      // diffusers' prepare_mask_and_masked_image: the image where the (binarised) mask is below 0.5.
      inpaint.maskedLatents = () => {
        const masked = Float32Array.from(pixels);
        const plane = width * height;
        for (let i = 0; i < plane; i++) {
          if ((mask.data[i] as number) >= 128) for (let c = 0; c < 3; c++) masked[c * plane + i] = 0;
        }
        return this.encodePixels(masked, 1, width, height, job);
      };
    }
    const latents = await this.denoise(
      {
        width,
        height,
        steps: req.steps,
        strength,
        init: imageLatents ? repeatBatch(imageLatents, batch) : null,
        pureNoise,
        noise: req.noise,
        inpaint,
      },
      prompt,
      job,
    );
    return { images: await this.decode(latents, width, height, job), latents };
  }

  /** Upscale mode with an img2img pass: Lanczos to width x height, then img2img at the upscale strength. */
  private async upscaleAndRefine(
    req: DiffusionRequest,
    prompt: EncodedPrompt,
    job: Job,
  ): Promise<{ images: RgbaImage[]; latents: Float32Array }> {
    const resized = resizeRgba(req.init!.image, req.width, req.height);
    const init = repeatBatch(await this.encodeImage(resized, job), req.batchSize);
    const latents = await this.denoise(
      {
        width: req.width,
        height: req.height,
        steps: req.upscale!.steps || req.steps,
        strength: req.upscale!.strength,
        init,
        pureNoise: false,
        noise: req.noise,
      },
      prompt,
      job,
    );
    return { images: await this.decode(latents, req.width, req.height, job), latents };
  }

  /** Upscale mode at strength 0: a Lanczos resize, no model call. */
  private resizeOnly(req: DiffusionRequest, job: Job): DiffusionResult {
    job.info.path = 'resize';
    const image = resizeRgba(req.init!.image, req.width, req.height);
    const images = Array.from({ length: req.batchSize }, () => ({ ...image, data: Uint8Array.from(image.data) }));
    return { images, latents: new Float32Array(0), timings: job.timings, info: job.info };
  }

  /**
   * The prompt's embeddings, batched for the UNet. LCM models take the guidance scale as an
   * embedding (`timestep_cond`) and run without the CFG batch, as LatentConsistencyModelPipeline does.
   */
  private async encodePrompt(req: DiffusionRequest, job: Job): Promise<EncodedPrompt> {
    const t0 = performance.now();
    const batch = req.batchSize;
    const guided = req.cfg > 1 && !this.parts.probe.lcm;
    const embeds = req.promptEmbeds ?? (await this.parts.textEncoder.encode(req.prompt, req.negativePrompt));
    throwIfAborted(job.signal);
    const context = guided
      ? concatBatch(repeatBatch(embeds.uncond, batch), repeatBatch(embeds.cond, batch))
      : repeatBatch(embeds.cond, batch);
    job.info.cfg = guided;
    job.timings.encodeMs += performance.now() - t0;
    return { embeds, context, guided };
  }

  /**
   * The UNet inputs beyond sample, timestep and encoder_hidden_states, for a pass at `width` x
   * `height` with `unetBatch` rows: LCM's guidance embedding. (Model families with more conditioning
   * add theirs here.)
   */
  private unetExtras(
    req: DiffusionRequest,
    unetBatch: number,
    _width: number,
    _height: number,
  ): Record<string, HostTensor> {
    const extras: Record<string, HostTensor> = {};
    const cond = this.parts.unet.session.inputs.get('timestep_cond');
    if (cond) {
      const dim = typeof cond.shape[1] === 'number' && cond.shape[1] > 0 ? cond.shape[1] : 256;
      extras.timestep_cond = {
        data: guidanceScaleEmbedding(req.cfg - 1, dim, unetBatch),
        dims: [unetBatch, dim],
        stable: true,
      };
    }
    return extras;
  }

  private createScheduler(req: DiffusionRequest): Scheduler {
    const config: Record<string, unknown> = { ...this.parts.schedulerConfig };
    if (req.predictionType) config.prediction_type = req.predictionType;
    if (req.timestepSpacing) config.timestep_spacing = req.timestepSpacing;
    return createScheduler(req.sampler, config);
  }

  /** The timesteps a pass runs: the whole schedule (txt2img) or its last `strength` (img2img). */
  private schedule(
    req: DiffusionRequest,
    steps: number,
    strength: number | null,
  ): { scheduler: Scheduler; timesteps: readonly number[] } {
    const scheduler = this.createScheduler(req);
    let timesteps: readonly number[];
    if (strength === null) {
      scheduler.setTimesteps(steps);
      timesteps = scheduler.timesteps;
    } else timesteps = timestepsForStrength(scheduler, steps, strength);
    // SDXL base + refiner: the base stops at `denoisingEnd`, the refiner starts at the handover's `denoisingStart`.
    if (req.denoisingEnd === undefined && !req.handover) return { scheduler, timesteps };
    const range = { start: req.handover?.denoisingStart, end: req.denoisingEnd };
    const trainSteps = this.parts.schedulerConfig.num_train_timesteps;
    return {
      scheduler,
      timesteps: timestepsForDenoisingRange(
        scheduler,
        steps,
        range,
        typeof trainSteps === 'number' ? trainSteps : 1000,
        timesteps,
      ),
    };
  }

  /** UNet calls the whole job will make, for progress. */
  private plannedSteps(req: DiffusionRequest, mode: GenerationMode): number {
    const count = (steps: number, strength: number | null): number =>
      this.schedule(req, steps, strength).timesteps.length;
    switch (mode) {
      case 'txt2img':
        return count(req.steps, null) + (req.hires ? count(req.hires.steps || req.steps, req.hires.strength) : 0);
      case 'upscale':
        return (req.upscale?.strength ?? 0) > 0 ? count(req.upscale!.steps || req.steps, req.upscale!.strength) : 0;
      default:
        return count(req.steps, req.init?.strength ?? 1);
    }
  }

  /** Prepares the starting latents of a pass and runs its denoising loop; returns the final latents. */
  private async denoise(pass: Pass, prompt: EncodedPrompt, job: Job): Promise<Float32Array> {
    const { req, rng } = job;
    const { unet, probe } = this.parts;
    const t0 = performance.now();
    const batch = req.batchSize;
    const latentW = pass.width / 8;
    const latentH = pass.height / 8;
    const plane = latentW * latentH;
    const count = batch * probe.latentChannels * plane;
    const { guided, context, embeds } = prompt;
    const unetBatch = guided ? batch * 2 : batch;

    // Starting latents: pure noise for txt2img (and inpainting at strength 1), else noised init latents.
    const { scheduler, timesteps } = this.schedule(req, pass.steps, pass.strength);
    const first = timesteps[0];
    if (first === undefined) throw new EngineError('input', 'Strength is too low: no denoising step would run.');
    // A handover (SDXL refiner) continues the latents as they are: diffusers draws no noise for it.
    const noise = pass.handover
      ? new Float32Array(count)
      : pass.noise
        ? Float32Array.from(pass.noise)
        : rng.randn(count);
    let latents =
      pass.handover && pass.init
        ? Float32Array.from(pass.init)
        : pass.init && !pass.pureNoise && pass.strength !== null
          ? scheduler.addNoise(pass.init, noise, first)
          : scale(noise, scheduler.initNoiseSigma);

    // The UNet's sample, one buffer for all steps (null: the scaled latents go in as they are): [x; x]
    // for CFG, and for the inpainting UNet the extra channels, the mask and the masked image's latents
    // (for a pass without a mask, A1111's txt2img conditioning: everything masked, a blank image),
    // written here once; each step overwrites only the latent channels.
    let sample: Float32Array | null = null;
    if (probe.inpainting) {
      const mask = pass.inpaint?.mask ?? new Float32Array(plane).fill(1);
      const masked = pass.inpaint?.maskedLatents
        ? await pass.inpaint.maskedLatents()
        : await this.blankImageLatents(pass.width, pass.height, job);
      sample = concatChannels(
        [
          { data: new Float32Array(unetBatch * probe.latentChannels * plane), channels: probe.latentChannels },
          { data: repeatBatch(mask, unetBatch), channels: 1 },
          { data: repeatBatch(masked, unetBatch), channels: 4 },
        ],
        unetBatch,
        plane,
      );
    } else if (guided) sample = new Float32Array(unetBatch * probe.latentChannels * plane);
    const extra = this.unetExtras(req, unetBatch, pass.width, pass.height);
    const sdxl = sdxlConditioning({
      probe,
      embeds,
      width: pass.width,
      height: pass.height,
      batch,
      guided,
      conditions: req.sdxl,
    });
    Object.assign(extra, sdxl);
    job.info.guidanceEmbedding ||= 'timestep_cond' in extra;

    const total = timesteps.length;
    for (let i = 0; i < total; i++) {
      throwIfAborted(job.signal);
      const t = timesteps[i] as number;
      const scaled = scheduler.scaleModelInput(latents, t);
      if (sample) writeSampleRows(sample, scaled, batch, probe.latentChannels, probe.unetInChannels, plane);
      const u0 = performance.now();
      const output = await unet.predict({
        sample: sample ?? scaled,
        batch: unetBatch,
        channels: probe.unetInChannels,
        height: latentH,
        width: latentW,
        timestep: t,
        encoderHiddenStates: context,
        sequence: embeds.sequence,
        contextDim: embeds.dim,
        extra,
      });
      job.timings.unetMs += performance.now() - u0;
      const noisePred = guided ? applyGuidance(output, req.cfg, req.guidanceRescale ?? 0, batch) : output;
      latents = scheduler.step(noisePred, t, latents, rng);
      if (pass.inpaint?.blend && pass.init) {
        // Outside the mask, the init latents at the next step's noise level (clean after the last step).
        const next = timesteps[i + 1];
        const keep = next === undefined ? pass.init : scheduler.addNoise(pass.init, noise, next);
        latents = blendMasked(latents, keep, pass.inpaint.mask);
      }
      if (firstNonFinite(latents) >= 0) {
        throw new EngineError(
          'numerics',
          `The latents became NaN or infinite at step ${i + 1} of ${total}. Try another sampler, fewer steps, or a lower CFG scale.`,
        );
      }
      job.done++;
      await job.onStep?.({ step: job.done, total: job.total, latents, latentWidth: latentW, latentHeight: latentH });
    }
    throwIfAborted(job.signal);
    job.timings.steps += total;
    job.timings.denoiseMs += performance.now() - t0;
    return latents;
  }

  /** Latents [batch, 4, h, w] (scaled) -> one image per batch entry, through the VAE (tiled when large). */
  private async decode(latents: Float32Array, width: number, height: number, job: Job): Promise<RgbaImage[]> {
    const t0 = performance.now();
    const batch = job.req.batchSize;
    const tiles = this.vaeTiles(job, width, height);
    const pixels = await this.decodeLatents(
      scale(latents, 1 / this.parts.probe.vaeScalingFactor),
      batch,
      height / 8,
      width / 8,
      tiles,
    );
    const images = Array.from({ length: batch }, (_, b) => nchwToRgba(pixels, b, width, height));
    job.timings.decodeMs += performance.now() - t0;
    return images;
  }

  /**
   * VAE decode with A1111's answer to NansException: an fp16 VAE that overflows to NaN is run again
   * in fp32 (the same weights, upcast in memory), and that decoder is kept for the next images.
   * With `tiles` (latent units), tile by tile.
   */
  async decodeLatents(
    latents: Float32Array,
    batch: number,
    h: number,
    w: number,
    tiles?: VaeTiles,
  ): Promise<Float32Array> {
    const run = (decoder: VaeDecoder): Promise<Float32Array> =>
      tiles ? decoder.decodeTiled(latents, batch, h, w, tiles) : decoder.decode(latents, batch, h, w);
    const pixels = await run(this.parts.vaeDecoder);
    if (firstNonFinite(pixels) < 0) return pixels;
    const fp32 = this.parts.vaeDecoder.fp32();
    if (fp32) {
      const retried = await run(await fp32);
      this.upcastUsed = true;
      if (firstNonFinite(retried) < 0) return retried;
    }
    throw new EngineError(
      'numerics',
      fp32
        ? 'The VAE produced NaN values even in fp32 (A1111 calls this a NansException): the latents themselves are broken; try another sampler, fewer steps or a lower CFG scale.'
        : 'The VAE produced NaN values (A1111 calls this a NansException). Try another sampler, fewer steps or a lower CFG scale.',
    );
  }

  /** True once the fp16 VAE had to be retried in fp32 (shown to the user, recorded in timings). */
  upcastUsed = false;

  /** Tiles for a VAE call at `width` x `height` px, or undefined for one call. Marks the job as tiled. */
  private vaeTiles(job: Job, width: number, height: number): VaeTiles | undefined {
    const t = job.req.vaeTiling;
    const above = t?.abovePixels ?? defaultTiledVaeAbovePixels;
    if (!job.req.tiledVae && width * height <= above) return undefined;
    const tiles: VaeTiles = {
      tile: t?.tile ? t.tile / 8 : defaultVaeTiles.tile,
      overlap: t?.overlap !== undefined ? t.overlap / 8 : defaultVaeTiles.overlap,
    };
    if (width / 8 > tiles.tile || height / 8 > tiles.tile) job.info.tiledVae = true;
    return tiles;
  }

  /** An RGBA image -> scaled latents [1, 4, h/8, w/8] (one VAE sample from the job's RNG). */
  private async encodeImage(image: RgbaImage, job: Job): Promise<Float32Array> {
    return this.encodePixels(rgbaToNchw(image), 1, image.width, image.height, job);
  }

  /** Pixels [batch, 3, H, W] in [-1, 1] -> scaled latents (tiled when large). */
  private async encodePixels(
    pixels: Float32Array,
    batch: number,
    width: number,
    height: number,
    job: Job,
  ): Promise<Float32Array> {
    const encoder = this.parts.vaeEncoder;
    if (!encoder) throw new EngineError('input', 'This model has no vae_encoder, so it cannot do img2img.');
    const tiles = this.vaeTiles(job, width, height);
    const latents = await encoder.encode(pixels, batch, height, width, job.rng, tiles);
    return scale(latents, this.parts.probe.vaeScalingFactor);
  }

  /** The inpainting UNet's masked-image input when nothing is kept: a blank (0 = mid-grey) image, encoded. */
  private async blankImageLatents(width: number, height: number, job: Job): Promise<Float32Array> {
    if (!this.parts.vaeEncoder) return new Float32Array(4 * (width / 8) * (height / 8));
    return this.encodePixels(new Float32Array(3 * width * height), 1, width, height, job);
  }

  /** Refuses what cannot run, naming the fields; returns the inpaint mask at the image's size. */
  private checkInputs(req: DiffusionRequest, mode: GenerationMode, notices: string[]): MaskImage | null {
    const problems: string[] = [];
    const size = (w: number, h: number): string => `${w}x${h}`;
    if (req.width % 8 !== 0 || req.height % 8 !== 0)
      problems.push(`width and height must be multiples of 8 (got ${size(req.width, req.height)})`);
    if (req.width < 64 || req.height < 64) problems.push('width and height must be at least 64');
    if (!Number.isInteger(req.steps) || req.steps < 1) problems.push('steps must be a whole number of at least 1');
    if (!Number.isInteger(req.batchSize) || req.batchSize < 1) problems.push('batch size must be at least 1');
    if (!generationModes.includes(mode)) problems.push(`mode must be one of ${generationModes.join(', ')}`);

    // Blocks that belong to one mode only.
    if (req.mask && mode !== 'inpaint') problems.push(`mask clashes with mode ${mode} (a mask means inpaint)`);
    if (req.outpaint && mode !== 'outpaint') problems.push(`outpaint clashes with mode ${mode}`);
    if (req.upscale && mode !== 'upscale') problems.push(`upscale clashes with mode ${mode}`);
    if (req.hires && mode !== 'txt2img') problems.push(`hires clashes with mode ${mode} (hires fix is for txt2img)`);
    if (req.init && mode === 'txt2img') problems.push('init clashes with mode txt2img (use img2img)');
    if (!req.init && mode !== 'txt2img') problems.push(`${mode} needs an init image`);

    const init = req.init;
    const resizeOnly = mode === 'upscale' && !((req.upscale?.strength ?? 0) > 0);
    const needsEncoder = (mode !== 'txt2img' && !resizeOnly) || req.hires?.upscaler === 'lanczos';
    if (needsEncoder && !this.parts.vaeEncoder)
      problems.push(`this model has no vae_encoder, so it cannot do ${mode === 'txt2img' ? 'hires fix' : mode}`);
    if (init && mode !== 'upscale') {
      if (init.image.width !== req.width || init.image.height !== req.height)
        problems.push(
          `the init image is ${size(init.image.width, init.image.height)}, the request ${size(req.width, req.height)}`,
        );
      if (!(init.strength > 0 && init.strength <= 1)) problems.push('strength must be in (0, 1]');
    }
    if (req.hires) {
      const h = req.hires;
      if (h.width % 8 !== 0 || h.height % 8 !== 0)
        problems.push(`hires width and height must be multiples of 8 (got ${size(h.width, h.height)})`);
      if (h.width < req.width || h.height < req.height)
        problems.push(`hires is ${size(h.width, h.height)}, smaller than the base size ${size(req.width, req.height)}`);
      if (!(h.strength > 0 && h.strength <= 1)) problems.push('hires strength must be in (0, 1]');
      if (!Number.isInteger(h.steps) || h.steps < 0) problems.push('hires steps must be a whole number (0 = steps)');
    }
    if (mode === 'upscale' && !req.upscale)
      problems.push('upscale needs its strength and steps (upscale: { strength, steps })');
    if (req.upscale && !(req.upscale.strength >= 0 && req.upscale.strength <= 1))
      problems.push('upscale strength must be in [0, 1]');
    if (mode === 'outpaint') {
      const o = req.outpaint;
      if (!o) problems.push('outpaint needs the pixels to add per side (outpaint: { left, top, right, bottom })');
      else if ([o.left, o.top, o.right, o.bottom].some((v) => !Number.isInteger(v) || v < 0))
        problems.push('outpaint sides must be whole numbers of pixels, 0 or more');
      else if (o.left + o.top + o.right + o.bottom === 0)
        problems.push('outpaint adds nothing: give at least one side');
    }
    const t = req.vaeTiling;
    if (t && ((t.tile ?? 8) % 8 !== 0 || (t.overlap ?? 0) % 8 !== 0 || (t.tile ?? 512) <= 2 * (t.overlap ?? 128)))
      problems.push('vaeTiling tile and overlap must be multiples of 8, the tile more than twice the overlap');
    problems.push(...refinerProblems(req, mode, this.parts.probe.latentChannels));

    let mask: MaskImage | null = null;
    if (mode === 'inpaint') {
      if (!req.mask) problems.push('inpaint needs a mask');
      else if (req.mask.data.length !== req.mask.width * req.mask.height)
        problems.push(`the mask has ${req.mask.data.length} bytes, not ${size(req.mask.width, req.mask.height)}`);
      else if (isMaskEmpty(req.mask)) problems.push('nothing to inpaint: the mask is empty');
      else mask = fitMask(req.mask, req.width, req.height, problems, notices);
    }

    const first = this.firstPassSize(req, mode);
    const latentCount = req.batchSize * this.parts.probe.latentChannels * (first.width / 8) * (first.height / 8);
    if (req.noise && req.noise.length !== latentCount) {
      problems.push(
        `the noise has ${req.noise.length} values; this request needs ${latentCount} (batch x 4 x ${first.height / 8} x ${first.width / 8})`,
      );
    }
    if (problems.length) throw new EngineError('input', `Invalid request: ${problems.join('; ')}.`);
    return mask;
  }

  /** The size the first denoising pass runs at (what `noise` must match). */
  private firstPassSize(req: DiffusionRequest, mode: GenerationMode): { width: number; height: number } {
    if (mode === 'outpaint' && req.outpaint && req.init && req.inpaintArea !== 'masked') {
      const { extents: e } = roundExtents(req.init.image.width, req.init.image.height, req.outpaint);
      return { width: req.init.image.width + e.left + e.right, height: req.init.image.height + e.top + e.bottom };
    }
    return { width: req.width, height: req.height };
  }
}

/** What an SDXL base + refiner request (or one of its halves) cannot do. */
function refinerProblems(req: DiffusionRequest, mode: GenerationMode, latentChannels: number): string[] {
  const problems: string[] = [];
  if (req.refiner) problems.push('a refiner runs as a second model, through Engine.generate');
  if (req.denoisingEnd === undefined && !req.handover && req.outputType !== 'latent') return problems;
  if ((mode !== 'txt2img' && mode !== 'img2img') || req.hires)
    problems.push(`denoising end/start and latent output work with txt2img and img2img without hires fix, not ${mode}`);
  const count = req.batchSize * latentChannels * (req.width / 8) * (req.height / 8);
  if (req.handover && req.handover.latents.length !== count)
    problems.push(`the handed-over latents have ${req.handover.latents.length} values; this request needs ${count}`);
  return problems;
}

/** The seam of an outpaint: how far the mask reaches into the original (before the blur feathers it). */
function seamOverlap(req: DiffusionRequest): number {
  return Math.max(4, 2 * (req.maskBlur ?? 4));
}

/**
 * The mask at width x height: as it is, or rescaled (Lanczos, with a notice) when only its resolution
 * differs; refused when its aspect differs by more than 5% (it was drawn for another image).
 */
function fitMask(
  mask: MaskImage,
  width: number,
  height: number,
  problems: string[],
  notices: string[],
): MaskImage | null {
  if (mask.width === width && mask.height === height) return mask;
  const ratio = mask.width / mask.height / (width / height);
  if (Math.abs(ratio - 1) > 0.05) {
    problems.push(`the mask is ${mask.width}x${mask.height}, a different shape from the image (${width}x${height})`);
    return null;
  }
  notices.push(`The mask (${mask.width}x${mask.height}) was rescaled to the image's ${width}x${height}.`);
  return { width, height, data: resizePlane(mask.data, mask.width, mask.height, width, height) };
}

function concatAll(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}
