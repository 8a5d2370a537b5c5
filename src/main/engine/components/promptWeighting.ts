/**
 * AUTOMATIC1111's prompt emphasis, ported line for line so that a prompt means what it means there:
 * `parse_prompt_attention` (modules/prompt_parser.py), the chunking of
 * `FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line` and `process_tokens`
 * (modules/sd_hijack_clip.py) for plain text, and the "Original" emphasis rescale
 * (modules/sd_emphasis.py). Textual-inversion embeddings are not handled here.
 */
import { EngineError } from '../EngineError';
import type { ClipTokenizer } from './ClipTokenizer';

/** What chunking needs from a tokenizer. */
export type PromptTokenizer = Pick<ClipTokenizer, 'encode' | 'tokenId' | 'bosId' | 'eosId' | 'padId' | 'maxLength'> &
  Partial<Pick<ClipTokenizer, 'embeddingLength'>>;

/** One encoder input: `maxLength` (77) ids with bos, eos and padding, and one multiplier per id. */
export interface PromptChunk {
  ids: number[];
  weights: number[];
}

export interface PromptChunks {
  chunks: PromptChunk[];
  /** Prompt tokens as A1111 counts them: 75 for every full chunk, then what the last one holds. */
  tokenCount: number;
}

export interface PromptChunkOptions {
  /**
   * A1111's "comma padding backtrack": when a chunk fills up and its last comma is at most this many
   * tokens back, the tokens after that comma move to the next chunk. 0 turns it off.
   */
  commaPaddingBacktrack?: number;
}

// ---------------------------------------------------------------------------------------------------
// parse_prompt_attention

/** Python's `str.isspace` set: what `\s` means in A1111's `re` patterns. */
const SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

// Python's `\d` is any decimal digit (\p{Nd}), and `float()` reads them all.
const RE_ATTENTION = new RegExp(
  [
    '\\\\\\(',
    '\\\\\\)',
    '\\\\\\[',
    '\\\\\\]',
    '\\\\\\\\',
    '\\\\',
    '\\(',
    '\\[',
    `:[${SPACE}]*([+\\-]?[.\\p{Nd}]+)[${SPACE}]*\\)`,
    '\\)',
    '\\]',
    '[^\\\\()\\[\\]:]+',
    ':',
  ].join('|'),
  'gu',
);

// `\s*\bBREAK\b\s*`, with Python's Unicode word characters for `\b`.
const RE_BREAK = new RegExp(`[${SPACE}]*(?<![\\p{L}\\p{N}_])BREAK(?![\\p{L}\\p{N}_])[${SPACE}]*`, 'u');

const ROUND_BRACKET_MULTIPLIER = 1.1;
const SQUARE_BRACKET_MULTIPLIER = 1 / 1.1;

const DECIMAL_DIGIT = /\p{Nd}/u;

/** The value of a decimal digit of any script: Unicode keeps each script's 0-9 contiguous. */
function asciiDigit(char: string): string {
  let zero = char.codePointAt(0)!;
  while (DECIMAL_DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return String((char.codePointAt(0)! - zero) % 10);
}

/** Python's `float()` of what the weight pattern captured: digits of any script and dots. */
function parseWeight(text: string): number {
  const ascii = text.replace(/\p{Nd}/gu, (d) => (d >= '0' && d <= '9' ? d : asciiDigit(d)));
  const value = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(ascii) ? Number(ascii) : NaN;
  if (Number.isNaN(value)) {
    throw new EngineError('input', `"${text}" in the prompt is not a weight: write it like (word:1.2).`);
  }
  return value;
}

/**
 * A1111's `parse_prompt_attention`: the prompt as runs of text with their weights. `(a)` multiplies by
 * 1.1, `[a]` divides by 1.1, `(a:1.3)` multiplies by 1.3, `\(` `\)` `\[` `\]` `\\` are literal,
 * unbalanced brackets still apply to the end, `BREAK` becomes `['BREAK', -1]`, and neighbouring runs
 * with equal weights are merged. Throws where A1111 fails too: a weight like `(a:1.2.3)`.
 */
export function parsePromptAttention(text: string): [string, number][] {
  const res: [string, number][] = [];
  const roundBrackets: number[] = [];
  const squareBrackets: number[] = [];

  const multiplyRange = (start: number, multiplier: number): void => {
    for (let p = start; p < res.length; p++) res[p]![1] *= multiplier;
  };

  for (const m of text.matchAll(RE_ATTENTION)) {
    const part = m[0];
    const weight = m[1];
    if (part.startsWith('\\')) {
      res.push([part.slice(1), 1.0]);
    } else if (part === '(') {
      roundBrackets.push(res.length);
    } else if (part === '[') {
      squareBrackets.push(res.length);
    } else if (weight !== undefined && roundBrackets.length > 0) {
      multiplyRange(roundBrackets.pop()!, parseWeight(weight));
    } else if (part === ')' && roundBrackets.length > 0) {
      multiplyRange(roundBrackets.pop()!, ROUND_BRACKET_MULTIPLIER);
    } else if (part === ']' && squareBrackets.length > 0) {
      multiplyRange(squareBrackets.pop()!, SQUARE_BRACKET_MULTIPLIER);
    } else {
      part.split(RE_BREAK).forEach((piece, i) => {
        if (i > 0) res.push(['BREAK', -1]);
        res.push([piece, 1.0]);
      });
    }
  }

  for (const pos of roundBrackets) multiplyRange(pos, ROUND_BRACKET_MULTIPLIER);
  for (const pos of squareBrackets) multiplyRange(pos, SQUARE_BRACKET_MULTIPLIER);

  if (res.length === 0) res.push(['', 1.0]);

  for (let i = 0; i + 1 < res.length;) {
    if (res[i]![1] === res[i + 1]![1]) {
      res[i]![0] += res[i + 1]![0];
      res.splice(i + 1, 1);
    } else {
      i++;
    }
  }
  return res;
}

// ---------------------------------------------------------------------------------------------------
// tokenize_line

/**
 * A1111's `process_tokens` for encoders whose padding is not their end token (SD 2, SDXL's second
 * encoder): everything after the first end token becomes padding.
 */
function finishChunk(tokenizer: PromptTokenizer, ids: number[], weights: number[]): PromptChunk {
  if (tokenizer.padId !== tokenizer.eosId) {
    const end = ids.indexOf(tokenizer.eosId);
    for (let i = end + 1; i < ids.length; i++) ids[i] = tokenizer.padId;
  }
  return { ids, weights };
}

/** A1111's `empty_chunk`: bos, then end tokens (and padding), all with weight 1. */
export function emptyChunk(tokenizer: PromptTokenizer): PromptChunk {
  const length = tokenizer.maxLength;
  return finishChunk(
    tokenizer,
    [tokenizer.bosId, ...new Array<number>(length - 1).fill(tokenizer.eosId)],
    new Array<number>(length).fill(1),
  );
}

/**
 * A1111's `tokenize_line` for a prompt without textual-inversion embeddings: the weighted runs of
 * {@link parsePromptAttention}, each tokenized on its own, packed into chunks of `maxLength - 2` (75)
 * tokens; `BREAK` starts a new chunk, and the comma backtrack keeps phrases whole. Each chunk comes
 * back as `maxLength` ids (bos, tokens, end tokens; padding after the first end token when the
 * tokenizer pads with something else) with one weight per id (1 for bos, end and padding).
 */
export function buildPromptChunks(
  tokenizer: PromptTokenizer,
  text: string,
  { commaPaddingBacktrack = 20 }: PromptChunkOptions = {},
): PromptChunks {
  const chunkLength = tokenizer.maxLength - 2;
  const commaToken = tokenizer.tokenId(',</w>');
  const chunks: PromptChunk[] = [];
  let tokens: number[] = [];
  let multipliers: number[] = [];
  let tokenCount = 0;
  let lastComma = -1;

  const nextChunk = (isLast = false): void => {
    tokenCount += isLast ? tokens.length : chunkLength;
    const toAdd = chunkLength - tokens.length;
    if (toAdd > 0) {
      tokens.push(...new Array<number>(toAdd).fill(tokenizer.eosId));
      multipliers.push(...new Array<number>(toAdd).fill(1));
    }
    chunks.push(finishChunk(tokenizer, [tokenizer.bosId, ...tokens, tokenizer.eosId], [1, ...multipliers, 1]));
    tokens = [];
    multipliers = [];
    lastComma = -1;
  };

  for (const [fragment, weight] of parsePromptAttention(text)) {
    if (fragment === 'BREAK' && weight === -1) {
      nextChunk();
      continue;
    }
    const ids = tokenizer.encode(fragment);
    for (let at = 0; at < ids.length; at++) {
      const token = ids[at] as number;
      if (token === commaToken) {
        lastComma = tokens.length;
      } else if (
        commaPaddingBacktrack !== 0 &&
        tokens.length === chunkLength &&
        lastComma !== -1 &&
        tokens.length - lastComma <= commaPaddingBacktrack
      ) {
        const breakLocation = lastComma + 1;
        const relocatedTokens = tokens.slice(breakLocation);
        const relocatedMultipliers = multipliers.slice(breakLocation);
        tokens = tokens.slice(0, breakLocation);
        multipliers = multipliers.slice(0, breakLocation);
        nextChunk();
        tokens = relocatedTokens;
        multipliers = relocatedMultipliers;
      }
      if (tokens.length === chunkLength) nextChunk();
      // A1111 keeps an embedding's vectors in one chunk: one that would straddle the end starts the next.
      const vectors = tokenizer.embeddingLength?.(token);
      if (vectors !== undefined && vectors > 1 && vectors <= chunkLength) {
        if (tokens.length + vectors > chunkLength) nextChunk();
        tokens.push(...ids.slice(at, at + vectors));
        multipliers.push(...new Array<number>(vectors).fill(weight));
        at += vectors - 1;
        continue;
      }
      tokens.push(token);
      multipliers.push(weight);
    }
  }

  if (tokens.length > 0 || chunks.length === 0) nextChunk(true);
  return { chunks, tokenCount };
}

/**
 * Both chunk lists made as long as the longer one by appending empty chunks, as A1111 does for the
 * prompts of one batch (and for a prompt and its negative, so they can share one UNet call).
 */
export function padChunksTo(
  chunksA: PromptChunk[],
  chunksB: PromptChunk[],
  tokenizer: PromptTokenizer,
): [PromptChunk[], PromptChunk[]] {
  const count = Math.max(chunksA.length, chunksB.length);
  const pad = (chunks: PromptChunk[]): PromptChunk[] => [
    ...chunks,
    ...Array.from({ length: count - chunks.length }, () => emptyChunk(tokenizer)),
  ];
  return [pad(chunksA), pad(chunksB)];
}

// ---------------------------------------------------------------------------------------------------
// EmphasisOriginal.after_transformers

/**
 * A1111's original emphasis on one chunk's encoder output: multiply each token's vector by its weight,
 * then scale everything so that the mean over the chunk is what it was
 * (`original_mean = z.mean(); z *= multipliers; z *= original_mean / z.mean()`), in float32 as torch
 * does. `hidden` is `[tokens, dim]`, row-major; it is not modified. Where the weighted mean is 0 (A1111
 * would divide by zero and produce NaNs) the weighted values are returned without the rescale.
 */
export function applyPromptWeights(hidden: Float32Array, tokens: number, dim: number, weights: number[]): Float32Array {
  if (hidden.length !== tokens * dim || weights.length !== tokens) {
    throw new EngineError(
      'input',
      `Prompt weights do not fit the encoder output: ${hidden.length} values, ${tokens} × ${dim} expected, ${weights.length} weights.`,
    );
  }
  const count = hidden.length;
  let originalSum = 0;
  for (let i = 0; i < count; i++) originalSum += hidden[i]!;

  const out = new Float32Array(count);
  let weightedSum = 0;
  for (let t = 0; t < tokens; t++) {
    const weight = Math.fround(weights[t]!);
    for (let i = t * dim; i < (t + 1) * dim; i++) {
      out[i] = hidden[i]! * weight;
      weightedSum += out[i]!;
    }
  }

  const originalMean = Math.fround(originalSum / count);
  const weightedMean = Math.fround(weightedSum / count);
  const scale = Math.fround(originalMean / weightedMean);
  if (!Number.isFinite(scale)) return out;
  for (let i = 0; i < count; i++) out[i] = out[i]! * scale;
  return out;
}
