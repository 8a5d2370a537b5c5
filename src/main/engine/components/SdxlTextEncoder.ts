/**
 * SDXL's prompt encoding, as diffusers' `StableDiffusionXLPipeline.encode_prompt` does it with A1111's
 * prompt syntax on top: each text encoder (CLIP ViT-L `text_encoder`, OpenCLIP bigG `text_encoder_2`;
 * the refiner has only the second) encodes the prompt, its penultimate hidden state
 * (`hidden_states[-2]`) is taken, and the two are concatenated on the feature axis (768 + 1280 = 2048).
 * The pooled embedding the UNet also takes is text_encoder_2's `text_embeds`.
 *
 * Prompt weighting and 75-token chunks work as in A1111/Forge's SDXL conditioner: each encoder weights
 * its own output with the mean-restoring rescale, chunks are concatenated on the sequence axis, and the
 * pooled embedding is the first chunk's (unweighted). An empty negative prompt becomes zeros (both the
 * sequence and the pooled embedding) when the model's `force_zeros_for_empty_prompt` says so, as in
 * diffusers and A1111.
 */
import type { GraphSession } from '../backend/ort';
import { EngineError } from '../EngineError';
import type { ClipTokenizer } from './ClipTokenizer';
import { applyPromptWeights, buildPromptChunks, emptyChunk, type PromptChunk } from './promptWeighting';
import type { PromptEmbeddings, PromptEncoder } from './TextEncoder';

/** One of SDXL's text encoders with its own tokenizer (they differ in padding: end-of-text vs "!"). */
export interface SdxlEncoderPart {
  session: GraphSession;
  tokenizer: ClipTokenizer;
}

export interface SdxlTextEncoderOptions {
  /** model_index.json's `force_zeros_for_empty_prompt` (SDXL base and Turbo: true; the refiner: false). */
  forceZerosForEmptyPrompt: boolean;
}

interface EncodedChunks {
  /** [1, chunks * 77, dim], weighted. */
  hidden: Float32Array;
  dim: number;
  /** [1, pooledDim]: the first chunk's `text_embeds` (second encoder only). */
  pooled: Float32Array | null;
}

export class SdxlTextEncoder implements PromptEncoder {
  /** The encoders in concatenation order: [text_encoder, text_encoder_2], or [text_encoder_2] for the refiner. */
  readonly encoders: readonly SdxlEncoderPart[];
  readonly pooledEncoder: SdxlEncoderPart;

  constructor(
    first: SdxlEncoderPart | null,
    second: SdxlEncoderPart,
    readonly options: SdxlTextEncoderOptions,
  ) {
    this.encoders = first ? [first, second] : [second];
    this.pooledEncoder = second;
    for (const { session } of this.encoders) {
      if (!session.inputs.has('input_ids')) {
        throw new EngineError(
          'model',
          `${session.file} is not a CLIP text encoder: it has no "input_ids" input.`,
          session.file,
        );
      }
      penultimateOutput(session);
    }
    if (!second.session.outputs.has('text_embeds')) {
      throw new EngineError(
        'model',
        `${second.session.file} is not SDXL's text_encoder_2 (CLIPTextModelWithProjection): it has no "text_embeds" output.`,
        second.session.file,
      );
    }
  }

  /** The first encoder's session: text_encoder, or text_encoder_2 for the refiner. */
  get session(): GraphSession {
    return (this.encoders[0] as SdxlEncoderPart).session;
  }

  /** The first encoder's tokenizer (the one whose count the UI shows). */
  get tokenizer(): ClipTokenizer {
    return (this.encoders[0] as SdxlEncoderPart).tokenizer;
  }

  async encode(prompt: string, negativePrompt: string): Promise<PromptEmbeddings> {
    const zeroNegative = this.options.forceZerosForEmptyPrompt && negativePrompt === '';
    const positive = this.encoders.map((e) => buildPromptChunks(e.tokenizer, prompt));
    const negative = this.encoders.map((e) => buildPromptChunks(e.tokenizer, zeroNegative ? '' : negativePrompt));
    // One chunk count for both prompts and both encoders, so the sequences line up and share a UNet batch.
    const count = Math.max(...positive.map((p) => p.chunks.length), ...negative.map((n) => n.chunks.length));
    const padded = (chunks: PromptChunk[], tokenizer: ClipTokenizer): PromptChunk[] => [
      ...chunks,
      ...Array.from({ length: count - chunks.length }, () => emptyChunk(tokenizer)),
    ];

    const cond: EncodedChunks[] = [];
    const uncond: EncodedChunks[] = [];
    for (const [i, encoder] of this.encoders.entries()) {
      const withPooled = encoder === this.pooledEncoder;
      cond.push(await this.encodeChunks(encoder, padded(positive[i]?.chunks ?? [], encoder.tokenizer), withPooled));
      if (!zeroNegative) {
        uncond.push(await this.encodeChunks(encoder, padded(negative[i]?.chunks ?? [], encoder.tokenizer), withPooled));
      }
    }

    const sequence = count * (this.tokenizer.maxLength as number);
    const condHidden = concatFeatures(cond, sequence);
    const pooledCond = cond.find((c) => c.pooled)?.pooled as Float32Array;
    const uncondHidden = zeroNegative ? new Float32Array(condHidden.length) : concatFeatures(uncond, sequence);
    const pooledUncond = zeroNegative
      ? new Float32Array(pooledCond.length)
      : (uncond.find((c) => c.pooled)?.pooled as Float32Array);
    return {
      cond: condHidden,
      uncond: uncondHidden,
      sequence,
      dim: cond.reduce((sum, c) => sum + c.dim, 0),
      tokenCount: positive[0]?.tokenCount ?? 0,
      pooledCond,
      pooledUncond,
    };
  }

  private async encodeChunks(
    { session }: SdxlEncoderPart,
    chunks: PromptChunk[],
    withPooled: boolean,
  ): Promise<EncodedChunks> {
    const length = chunks[0]?.ids.length ?? 77;
    const ids = new Int32Array(chunks.length * length);
    chunks.forEach((c, i) => ids.set(c.ids, i * length));
    const hiddenName = penultimateOutput(session);
    const names = withPooled ? [hiddenName, 'text_embeds'] : [hiddenName];
    const out = await session.run({ input_ids: { data: ids, dims: [chunks.length, length] } }, names);
    const hidden = out[hiddenName];
    if (!hidden) throw new EngineError('runtime', `${session.file} returned no ${hiddenName}.`, session.file);
    const dim = hidden.dims[2] ?? 0;
    const data = Float32Array.from(hidden.data as Float32Array);
    chunks.forEach((chunk, i) => {
      if (chunk.weights.every((w) => w === 1)) return;
      const view = data.subarray(i * length * dim, (i + 1) * length * dim);
      view.set(applyPromptWeights(view, length, dim, chunk.weights));
    });
    let pooled: Float32Array | null = null;
    if (withPooled) {
      const embeds = out.text_embeds;
      if (!embeds) throw new EngineError('runtime', `${session.file} returned no text_embeds.`, session.file);
      const width = embeds.dims[1] ?? 0;
      pooled = Float32Array.from((embeds.data as Float32Array).subarray(0, width));
    }
    return { hidden: data, dim, pooled };
  }
}

/**
 * `hidden_states[-2]`: of the `hidden_states.0` ... `hidden_states.<layers>` outputs Optimum exports for
 * SDXL, the one before the last (the penultimate layer's output, before the final layer norm).
 */
export function penultimateOutput(session: GraphSession): string {
  let last = -1;
  for (const name of session.outputs.keys()) {
    const match = /^hidden_states\.(\d+)$/.exec(name);
    if (match) last = Math.max(last, Number(match[1]));
  }
  if (last < 1) {
    throw new EngineError(
      'model',
      `${session.file} has no hidden_states outputs: SDXL needs its text encoders exported with output_hidden_states (as Optimum exports SDXL).`,
      session.file,
    );
  }
  return `hidden_states.${last - 1}`;
}

/** [1, sequence, d1] and [1, sequence, d2] -> [1, sequence, d1 + d2], token by token. */
function concatFeatures(parts: readonly EncodedChunks[], sequence: number): Float32Array {
  if (parts.length === 1) return (parts[0] as EncodedChunks).hidden;
  const dim = parts.reduce((sum, p) => sum + p.dim, 0);
  const out = new Float32Array(sequence * dim);
  for (let t = 0; t < sequence; t++) {
    let offset = t * dim;
    for (const p of parts) {
      out.set(p.hidden.subarray(t * p.dim, (t + 1) * p.dim), offset);
      offset += p.dim;
    }
  }
  return out;
}
