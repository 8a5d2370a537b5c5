/**
 * Stable Diffusion 1.x / 2.x, txt2img and img2img, read top to bottom the way diffusers'
 * StableDiffusionPipeline reads: check inputs, encode the prompt, prepare latents, denoise, decode.
 *
 * Randomness comes only from the job's seeded RNG, drawn in diffusers' order (img2img: VAE sample,
 * then the noise; ancestral samplers draw per step), so a seed means what it means in diffusers.
 */
import { EngineError, cancelledError } from '../EngineError';
import type { ModelProbe } from '../model/modelFolder';
import { createRng } from '../rng';
import type { RngKind } from '../rng/Rng';
import { createScheduler, timestepsForStrength } from '../schedulers';
import type { SchedulerName } from '../schedulers/Scheduler';
import type { TextEncoder, PromptEmbeddings } from '../components/TextEncoder';
import type { Unet } from '../components/Unet';
import type { VaeDecoder, VaeEncoder } from '../components/Vae';
import { nchwToRgba, rgbaToNchw, type RgbaImage } from '../tensor/image';
import { applyGuidance, concatBatch, firstNonFinite, repeatBatch, scale } from '../tensor/ops';

export interface DiffusionRequest {
  prompt: string;
  negativePrompt: string;
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
  /** img2img: the init image (same size as the request) and how much of it to repaint. */
  init?: { image: RgbaImage; strength: number };
  /** Standard-normal starting noise, [batch, 4, h/8, w/8] float32, replacing the seed's. */
  noise?: Float32Array;
  /** Overrides the scheduler config's `prediction_type` (the user knows better than a wrong config). */
  predictionType?: 'epsilon' | 'v_prediction' | 'sample';
  /** Precomputed text embeddings, replacing the prompt's. */
  promptEmbeds?: PromptEmbeddings;
}

export interface StepInfo {
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
}

export interface DiffusionResult {
  images: RgbaImage[];
  /** Final latents before the VAE scaling division, [batch, 4, h/8, w/8]. */
  latents: Float32Array;
  timings: { encodeMs: number; denoiseMs: number; decodeMs: number; unetMs: number; steps: number };
}

export interface PipelineParts {
  textEncoder: TextEncoder;
  unet: Unet;
  vaeDecoder: VaeDecoder;
  vaeEncoder: VaeEncoder | null;
  probe: ModelProbe;
  schedulerConfig: Record<string, unknown>;
}

export class StableDiffusionPipeline {
  constructor(readonly parts: PipelineParts) {}

  async run(req: DiffusionRequest, options: RunOptions = {}): Promise<DiffusionResult> {
    const { textEncoder, unet, probe } = this.parts;
    this.checkInputs(req);
    const signal = options.signal;
    const batch = req.batchSize;
    const latentH = req.height / 8;
    const latentW = req.width / 8;
    const latentSize = probe.latentChannels * latentH * latentW;
    const rng = createRng(req.rng, req.seed);
    const guided = req.cfg > 1;

    // 1. Encode the prompt.
    let t0 = performance.now();
    const embeds = req.promptEmbeds ?? (await textEncoder.encode(req.prompt, req.negativePrompt));
    throwIfAborted(signal);
    const context = guided
      ? concatBatch(repeatBatch(embeds.uncond, batch), repeatBatch(embeds.cond, batch))
      : repeatBatch(embeds.cond, batch);
    const encodeMs = performance.now() - t0;

    // 2. Prepare the scheduler and the starting latents.
    t0 = performance.now();
    const schedulerConfig = req.predictionType
      ? { ...this.parts.schedulerConfig, prediction_type: req.predictionType }
      : this.parts.schedulerConfig;
    const scheduler = createScheduler(req.sampler, schedulerConfig);
    scheduler.setTimesteps(req.steps);
    let timesteps: readonly number[] = scheduler.timesteps;
    let latents: Float32Array;
    if (req.init) {
      const initLatents = await this.encodeInit(req.init.image, batch, rng);
      timesteps = timestepsForStrength(scheduler, req.steps, req.init.strength);
      const first = timesteps[0];
      if (first === undefined) throw new EngineError('input', 'Strength is too low: no denoising step would run.');
      const noise = this.startingNoise(req, batch * latentSize, rng);
      latents = scheduler.addNoise(initLatents, noise, first);
    } else {
      latents = scale(this.startingNoise(req, batch * latentSize, rng), scheduler.initNoiseSigma);
    }

    // 3. Denoise.
    let unetMs = 0;
    const total = timesteps.length;
    for (let i = 0; i < total; i++) {
      throwIfAborted(signal);
      const t = timesteps[i] as number;
      const scaled = scheduler.scaleModelInput(latents, t);
      const sample = guided ? concatBatch(scaled, scaled) : scaled;
      const u0 = performance.now();
      const output = await unet.predict({
        sample,
        batch: guided ? batch * 2 : batch,
        channels: probe.latentChannels,
        height: latentH,
        width: latentW,
        timestep: t,
        encoderHiddenStates: context,
        sequence: embeds.sequence,
        contextDim: embeds.dim,
      });
      unetMs += performance.now() - u0;
      const noisePred = guided ? applyGuidance(output, req.cfg, req.guidanceRescale ?? 0, batch) : output;
      latents = scheduler.step(noisePred, t, latents, rng);
      if (firstNonFinite(latents) >= 0) {
        throw new EngineError(
          'numerics',
          `The latents became NaN or infinite at step ${i + 1} of ${total}. Try another sampler, fewer steps, or a lower CFG scale.`,
        );
      }
      await options.onStep?.({ step: i + 1, total, latents, latentWidth: latentW, latentHeight: latentH });
    }
    throwIfAborted(signal);
    const denoiseMs = performance.now() - t0;

    // 4. Decode.
    t0 = performance.now();
    const pixels = await this.decodeLatents(scale(latents, 1 / probe.vaeScalingFactor), batch, latentH, latentW);
    const images = Array.from({ length: batch }, (_, b) => nchwToRgba(pixels, b, req.width, req.height));
    const decodeMs = performance.now() - t0;

    return { images, latents, timings: { encodeMs, denoiseMs, decodeMs, unetMs, steps: total } };
  }

  /**
   * VAE decode with A1111's answer to NansException: an fp16 VAE that overflows to NaN is run again
   * in fp32 (the same weights, upcast in memory), and that decoder is kept for the next images.
   */
  async decodeLatents(latents: Float32Array, batch: number, h: number, w: number): Promise<Float32Array> {
    const pixels = await this.parts.vaeDecoder.decode(latents, batch, h, w);
    if (firstNonFinite(pixels) < 0) return pixels;
    const fp32 = this.parts.vaeDecoder.fp32();
    if (fp32) {
      const retried = await (await fp32).decode(latents, batch, h, w);
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

  private checkInputs(req: DiffusionRequest): void {
    const problems: string[] = [];
    if (req.width % 8 !== 0 || req.height % 8 !== 0)
      problems.push(`width and height must be multiples of 8 (got ${req.width}x${req.height})`);
    if (req.width < 64 || req.height < 64) problems.push('width and height must be at least 64');
    if (!Number.isInteger(req.steps) || req.steps < 1) problems.push('steps must be a whole number of at least 1');
    if (!Number.isInteger(req.batchSize) || req.batchSize < 1) problems.push('batch size must be at least 1');
    if (req.init) {
      if (req.init.image.width !== req.width || req.init.image.height !== req.height) {
        problems.push(
          `the init image is ${req.init.image.width}x${req.init.image.height}, the request ${req.width}x${req.height}`,
        );
      }
      if (!(req.init.strength > 0 && req.init.strength <= 1)) problems.push('strength must be in (0, 1]');
      if (!this.parts.vaeEncoder) problems.push('this model has no vae_encoder, so it cannot do img2img');
    }
    const latentCount = req.batchSize * this.parts.probe.latentChannels * (req.width / 8) * (req.height / 8);
    if (req.noise && req.noise.length !== latentCount) {
      problems.push(
        `the noise has ${req.noise.length} values; this request needs ${latentCount} (batch x 4 x h/8 x w/8)`,
      );
    }
    if (this.parts.probe.inpainting) problems.push('this is an inpainting model: use the inpaint mode');
    if (problems.length) throw new EngineError('input', `Invalid request: ${problems.join('; ')}.`);
  }

  private startingNoise(req: DiffusionRequest, count: number, rng: ReturnType<typeof createRng>): Float32Array {
    return req.noise ? Float32Array.from(req.noise) : rng.randn(count);
  }

  private async encodeInit(image: RgbaImage, batch: number, rng: ReturnType<typeof createRng>): Promise<Float32Array> {
    const encoder = this.parts.vaeEncoder;
    if (!encoder) throw new EngineError('input', 'This model has no vae_encoder, so it cannot do img2img.');
    const pixels = rgbaToNchw(image);
    const latents = await encoder.encode(pixels, 1, image.height, image.width, rng);
    return repeatBatch(scale(latents, this.parts.probe.vaeScalingFactor), batch);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}
