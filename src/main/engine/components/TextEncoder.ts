/**
 * Prompt -> text embeddings, A1111-style: the prompt is parsed for `(word:1.3)` weights and BREAK,
 * cut into 75-token chunks (77 with begin/end), each chunk is encoded, weighted with A1111's
 * mean-restoring rescale, and the chunks are concatenated along the sequence axis. The negative
 * prompt is padded to the same number of chunks so both can share one UNet batch.
 */
import type { GraphSession } from '../backend/ort';
import { EngineError } from '../EngineError';
import type { ClipTokenizer } from './ClipTokenizer';
import { applyPromptWeights, buildPromptChunks, padChunksTo, type PromptChunk } from './promptWeighting';

export interface PromptEmbeddings {
  /** [1, sequence, dim] */
  cond: Float32Array;
  /** [1, sequence, dim] */
  uncond: Float32Array;
  sequence: number;
  dim: number;
  /** Tokens the prompt used (without begin/end/padding), for the UI's counter. */
  tokenCount: number;
  /** SDXL: text_encoder_2's pooled, projected embedding (`text_embeds`) of the prompt's first chunk, [1, pooledDim]. */
  pooledCond?: Float32Array;
  /** SDXL: the same for the negative prompt (zeros where `force_zeros_for_empty_prompt` applies). */
  pooledUncond?: Float32Array;
}

/** What a pipeline needs from its text encoding: `TextEncoder` (SD 1.x/2.x), `SdxlTextEncoder` (SDXL's two). */
export interface PromptEncoder {
  /** The (first) text encoder's session and tokenizer. */
  readonly session: GraphSession;
  readonly tokenizer: ClipTokenizer;
  encode(prompt: string, negativePrompt: string): Promise<PromptEmbeddings>;
}

export class TextEncoder {
  readonly hiddenOutput: string;

  constructor(
    readonly session: GraphSession,
    readonly tokenizer: ClipTokenizer,
  ) {
    this.hiddenOutput = session.outputs.has('last_hidden_state')
      ? 'last_hidden_state'
      : (session.outputs.keys().next().value as string);
    if (!session.inputs.has('input_ids')) {
      throw new EngineError(
        'model',
        `${session.file} is not a CLIP text encoder: it has no "input_ids" input.`,
        session.file,
      );
    }
  }

  async encode(prompt: string, negativePrompt: string): Promise<PromptEmbeddings> {
    const positive = buildPromptChunks(this.tokenizer, prompt);
    const negative = buildPromptChunks(this.tokenizer, negativePrompt);
    const [condChunks, uncondChunks] = padChunksTo(positive.chunks, negative.chunks, this.tokenizer);
    const cond = await this.encodeChunks(condChunks);
    const uncond = await this.encodeChunks(uncondChunks);
    return {
      cond: cond.data,
      uncond: uncond.data,
      sequence: cond.sequence,
      dim: cond.dim,
      tokenCount: positive.tokenCount,
    };
  }

  private async encodeChunks(chunks: PromptChunk[]): Promise<{ data: Float32Array; sequence: number; dim: number }> {
    const length = chunks[0]?.ids.length ?? 77;
    const ids = new Int32Array(chunks.length * length);
    chunks.forEach((c, i) => ids.set(c.ids, i * length));
    const out = await this.session.run({ input_ids: { data: ids, dims: [chunks.length, length] } }, [
      this.hiddenOutput,
    ]);
    const hidden = out[this.hiddenOutput];
    if (!hidden)
      throw new EngineError('runtime', `${this.session.file} returned no ${this.hiddenOutput}.`, this.session.file);
    const dim = hidden.dims[2] ?? 0;
    const data = hidden.data as Float32Array;
    // [chunks, 77, dim] laid out flat is already [1, chunks * 77, dim]: weight each chunk in place.
    chunks.forEach((chunk, i) => {
      if (chunk.weights.every((w) => w === 1)) return;
      const view = data.subarray(i * length * dim, (i + 1) * length * dim);
      view.set(applyPromptWeights(view, length, dim, chunk.weights));
    });
    return { data, sequence: chunks.length * length, dim };
  }
}
