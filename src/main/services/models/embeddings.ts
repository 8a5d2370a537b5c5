/**
 * Textual-inversion embeddings for the engine: read with the strict safetensors reader, checked, and
 * matched against prompts the way A1111 matches them.
 *
 * Formats (every one a `.safetensors`; pickled `.pt` embeddings are refused like every pickle):
 * - A1111 / kohya SD 1.x-2.x: `emb_params` [n, width];
 * - converted A1111 `.pt` files: one `string_to_param.*` [n, width];
 * - SDXL (kohya, A1111): `clip_l` [n, 768] and `clip_g` [n, 1280], one for each text encoder;
 * - diffusers' `learned_embeds.safetensors`: a single tensor named after its token, [width] or [n, width].
 * A1111 names an embedding after its file, and so do we: `embeddings/EasyNegative.safetensors` is used
 * by writing `EasyNegative` (any case, as a whole word) in the prompt or negative prompt.
 */
import { readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { ModelFamily } from '../../engine/model/modelFolder';
import {
  describeEmbedding,
  embeddingMismatchMessage,
  type EmbeddingSpec,
  type EmbeddingTarget,
} from '../../engine/lora/textualInversion';
import { AppError } from '../AppError';
import { sha256File } from './hashing';
import { readSafetensorsHeader, readTensor, refusePickle, type SafetensorsHeader } from './safetensors';

export type EmbeddingFormat = 'a1111' | 'string-to-param' | 'sdxl' | 'diffusers';

/** A1111 puts at most one 75-token chunk's worth of vectors behind one name. */
export const MAX_EMBEDDING_VECTORS = 75;

export interface EmbeddingFile {
  spec: EmbeddingSpec;
  format: EmbeddingFormat;
  /** What the vector widths say it was trained for (`unknown` for other widths). */
  family: ModelFamily;
  /** Vectors (tokens) the name stands for. */
  vectors: number;
  /** A1111's short hash (`TI hashes`): the first 12 hex digits of the file's SHA-256. */
  shortHash: string;
}

export interface EmbeddingLayout {
  format: EmbeddingFormat;
  /** The tensor holding each text encoder's vectors. */
  tensors: Partial<Record<EmbeddingTarget, string>>;
}

/** Which tensors hold the vectors, from the header alone; null when the file is not an embedding. */
export function embeddingLayout(header: Pick<SafetensorsHeader, 'tensors'>): EmbeddingLayout | null {
  const names = [...header.tensors.keys()];
  if (header.tensors.has('clip_l') || header.tensors.has('clip_g')) {
    const tensors: EmbeddingLayout['tensors'] = {};
    if (header.tensors.has('clip_l')) tensors.text_encoder = 'clip_l';
    if (header.tensors.has('clip_g')) tensors.text_encoder_2 = 'clip_g';
    return { format: 'sdxl', tensors };
  }
  if (header.tensors.has('emb_params')) return { format: 'a1111', tensors: { text_encoder: 'emb_params' } };
  const params = names.filter((n) => n.startsWith('string_to_param'));
  if (params.length === 1) return { format: 'string-to-param', tensors: { text_encoder: params[0] as string } };
  if (names.length === 1) return { format: 'diffusers', tensors: { text_encoder: names[0] as string } };
  return null;
}

/**
 * Reads and checks an embedding file: one known layout, each tensor [n, width] (or [width]) with
 * 1..75 vectors, F32/F16/BF16, finite; SDXL's two tensors with the same n. `sha256` (cached by the
 * caller) saves hashing the file again. Throws AppError('VALIDATION') saying what is wrong.
 */
export async function readEmbeddingFile(
  path: string,
  name = basename(path, extname(path)),
  sha256?: string,
): Promise<EmbeddingFile> {
  await refusePickle(path);
  const header = await readSafetensorsHeader(path);
  const layout = embeddingLayout(header);
  const file = basename(path);
  if (!layout) {
    throw new AppError(
      'VALIDATION',
      `${file}: not a textual-inversion embedding (expected emb_params, string_to_param.*, clip_l/clip_g or a ` +
        `single tensor; found ${[...header.tensors.keys()].slice(0, 5).join(', ') || 'no tensors'}).`,
      { path },
    );
  }
  const vectors: EmbeddingSpec['vectors'] = {};
  let count: number | null = null;
  for (const [target, tensor] of Object.entries(layout.tensors) as [EmbeddingTarget, string][]) {
    const info = header.tensors.get(tensor);
    const shape = info?.shape ?? [];
    const dims = shape.length === 1 ? [1, shape[0] as number] : [...shape];
    const [n, width] = dims as [number, number];
    if (dims.length !== 2 || !(n >= 1) || !(width >= 1)) {
      throw new AppError(
        'VALIDATION',
        `${file}: ${tensor} has shape [${shape.join(', ')}]; an embedding's vectors are [count, width].`,
        { path },
      );
    }
    if (n > MAX_EMBEDDING_VECTORS) {
      throw new AppError(
        'VALIDATION',
        `${file}: ${tensor} holds ${n} vectors; an embedding can stand for at most ${MAX_EMBEDDING_VECTORS} tokens.`,
        { path },
      );
    }
    if (count !== null && n !== count) {
      throw new AppError(
        'VALIDATION',
        `${file}: clip_l has ${count} vectors and clip_g ${n}; SDXL embeddings have as many for both encoders.`,
        { path },
      );
    }
    count = n;
    const data = await readTensor(path, header, tensor);
    if (!data.every(Number.isFinite)) {
      throw new AppError('VALIDATION', `${file}: ${tensor} holds NaN or infinite values.`, { path });
    }
    vectors[target] = { dims, data };
  }
  const hash = sha256 ?? (await sha256File(path));
  return {
    spec: { id: hash, name, vectors },
    format: layout.format,
    family: describeEmbedding(vectors).family,
    vectors: count ?? 0,
    shortHash: hash.slice(0, 12),
  };
}

/** The text-encoder widths of each family: what its embeddings' vectors must be. */
const FAMILY_WIDTHS: Partial<Record<ModelFamily, Partial<Record<EmbeddingTarget, number>>>> = {
  sd1: { text_encoder: 768 },
  sd2: { text_encoder: 1024 },
  sdxl: { text_encoder: 768, text_encoder_2: 1280 },
  'sdxl-refiner': { text_encoder_2: 1280 },
};

/**
 * Refuses an embedding made for another family, naming both widths: `Embedding "x" is an SD 2.x
 * embedding (1024), but this is an SD 1.x model (768) …`. Unknown families are left to the engine, which
 * compares with the text encoder's own token table.
 */
export function checkEmbeddingFits(embedding: Pick<EmbeddingSpec, 'name' | 'vectors'>, family: ModelFamily): void {
  const widths = FAMILY_WIDTHS[family];
  if (!widths) return;
  const targets = new Set([...Object.keys(widths), ...Object.keys(embedding.vectors)] as EmbeddingTarget[]);
  for (const target of targets) {
    if (embedding.vectors[target]?.dims[1] !== widths[target]) {
      const modelWidths = Object.values(widths);
      throw new AppError('VALIDATION', embeddingMismatchMessage(embedding, family, modelWidths), {
        name: embedding.name,
        family,
      });
    }
  }
}

const WORD = '[\\p{L}\\p{N}_]';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The embedding names (from `available`) that `texts` use, as the tokenizer will find them: whole words,
 * any case. Returned as spelled in `available`, each once.
 */
export function findEmbeddingNames(texts: readonly string[], available: readonly string[]): string[] {
  const byKey = new Map(available.map((n) => [n.toLowerCase(), n]));
  if (byKey.size === 0) return [];
  const alternatives = [...byKey.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(`(?<!${WORD})(?:${alternatives.join('|')})(?!${WORD})`, 'giu');
  const found = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(pattern)) found.add(byKey.get(match[0].toLowerCase()) as string);
  }
  return [...found];
}

/** Embedding names in a library's `embeddings/` folder (file names without `.safetensors`). */
export function listEmbeddingNames(dir: string): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files.filter((f) => extname(f).toLowerCase() === '.safetensors').map((f) => basename(f, extname(f)));
}

/**
 * The embeddings `texts` (prompt and negative prompt) name, read from `dir` and checked against the
 * model's family: what GenerationService hands the engine. `sha256` may serve cached hashes.
 */
export async function loadPromptEmbeddings(
  dir: string,
  texts: readonly string[],
  family: ModelFamily,
  sha256?: (path: string) => Promise<string>,
): Promise<EmbeddingFile[]> {
  const names = findEmbeddingNames(texts, listEmbeddingNames(dir));
  if (names.length === 0) return [];
  const files = new Map(readdirSync(dir).map((f) => [basename(f, extname(f)), f]));
  const out: EmbeddingFile[] = [];
  for (const name of names) {
    const path = join(dir, files.get(name) ?? `${name}.safetensors`);
    const embedding = await readEmbeddingFile(path, name, sha256 ? await sha256(path) : undefined);
    checkEmbeddingFits(embedding.spec, family);
    out.push(embedding);
  }
  return out;
}
