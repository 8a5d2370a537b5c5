/**
 * A strict PNG chunk reader and text-chunk writer on Buffers.
 *
 * Gallery images come from anywhere (other tools, the web, renamed files), so every length, CRC and
 * size is checked before it is trusted, and compressed text is inflated under a cap so that a small
 * zTXt cannot grow into hundreds of megabytes. Only the chunk layer lives here: what the text means
 * is the readers' business (`readers.ts`).
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { AppError } from '../../AppError';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Caps on text metadata, applied before and while decoding. */
export interface PngTextLimits {
  /** Most bytes one text chunk may hold, before and after decompression. */
  maxChunkTextBytes: number;
  /** Most bytes all text chunks together may decode to. */
  maxTotalTextBytes: number;
}

export const DEFAULT_TEXT_LIMITS: PngTextLimits = {
  maxChunkTextBytes: 1024 * 1024,
  maxTotalTextBytes: 64 * 1024 * 1024,
};

/** The PNG spec's ceiling for a chunk length field (2^31 - 1). */
const MAX_CHUNK_LENGTH = 0x7fffffff;
const MAX_KEYWORD_BYTES = 79;

export type PngTextKind = 'tEXt' | 'zTXt' | 'iTXt';

export interface PngChunk {
  type: string;
  /** Offset of the chunk's length field in the file. */
  offset: number;
  /** The chunk's data (a view into the input, not a copy). */
  data: Buffer;
}

export interface PngTextChunk {
  kind: PngTextKind;
  keyword: string;
  text: string;
  compressed: boolean;
  /** iTXt only. */
  languageTag?: string;
  /** iTXt only. */
  translatedKeyword?: string;
}

export interface NewTextChunk {
  keyword: string;
  text: string;
  /** tEXt holds Latin-1 only; text outside Latin-1 is written as iTXt instead (as Pillow does). */
  kind: 'tEXt' | 'iTXt';
  /** iTXt only: deflate the text. */
  compressed?: boolean;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309 / ITU-T V.42), as PNG chunks use it. */
export function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      c = (CRC_TABLE[(c ^ part[i]!) & 0xff] ?? 0) ^ (c >>> 8);
    }
  }
  return (c ^ 0xffffffff) >>> 0;
}

function invalid(message: string, details?: Record<string, unknown>): AppError {
  return new AppError('VALIDATION', message, details);
}

function describeStart(buf: Buffer): string {
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'a JPEG';
  if (buf.length >= 4 && buf.toString('latin1', 0, 4) === 'RIFF') return 'a RIFF (WebP?) file';
  if (buf.length >= 3 && buf.toString('latin1', 0, 3) === 'GIF') return 'a GIF';
  return 'not a PNG';
}

/**
 * Walks the chunk list from the signature to IEND, checking each length, type and CRC.
 * Throws AppError('VALIDATION') naming the first thing that is wrong.
 */
export function readPngChunks(png: Buffer): PngChunk[] {
  if (png.length < PNG_SIGNATURE.length || !png.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw invalid(`The file is not a PNG (it has no PNG signature; it looks like ${describeStart(png)}).`);
  }
  const chunks: PngChunk[] = [];
  let pos = PNG_SIGNATURE.length;
  for (;;) {
    if (pos + 12 > png.length) {
      throw invalid(`The PNG is truncated: it ends at byte ${png.length} before its IEND chunk.`, { offset: pos });
    }
    const length = png.readUInt32BE(pos);
    const typeBytes = png.subarray(pos + 4, pos + 8);
    const type = typeBytes.toString('latin1');
    if (!/^[A-Za-z]{4}$/.test(type)) {
      throw invalid(`The PNG has a chunk with an invalid type at byte ${pos}.`, { offset: pos });
    }
    if (length > MAX_CHUNK_LENGTH) {
      throw invalid(`The PNG chunk ${type} at byte ${pos} declares ${length} bytes, over the PNG limit of 2^31-1.`, {
        offset: pos,
        type,
        length,
      });
    }
    const end = pos + 12 + length;
    if (end > png.length) {
      throw invalid(
        `The PNG chunk ${type} at byte ${pos} declares ${length} bytes but only ${Math.max(0, png.length - pos - 12)} remain (truncated or corrupt length).`,
        { offset: pos, type, length },
      );
    }
    const data = png.subarray(pos + 8, pos + 8 + length);
    const stored = png.readUInt32BE(pos + 8 + length);
    const actual = crc32(typeBytes, data);
    if (stored !== actual) {
      throw invalid(`The PNG chunk ${type} at byte ${pos} has a bad CRC (the file is corrupt).`, {
        offset: pos,
        type,
      });
    }
    if (chunks.length === 0 && (type !== 'IHDR' || length !== 13)) {
      throw invalid('The PNG does not start with a valid IHDR chunk.', { offset: pos, type });
    }
    chunks.push({ type, offset: pos, data });
    pos = end;
    if (type === 'IEND') return chunks;
  }
}

function keywordOf(data: Buffer, type: string): { keyword: string; rest: number } {
  const nul = data.indexOf(0);
  if (nul < 1 || nul > MAX_KEYWORD_BYTES) {
    throw invalid(`A PNG ${type} chunk has a missing or over-long keyword (1 to 79 bytes are allowed).`);
  }
  return { keyword: data.toString('latin1', 0, nul), rest: nul + 1 };
}

function inflateCapped(data: Buffer, keyword: string, maxBytes: number): Buffer {
  try {
    return inflateSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw invalid(`The PNG text chunk "${keyword}" inflates past the ${maxBytes}-byte limit; it was refused.`, {
        keyword,
        limit: maxBytes,
      });
    }
    throw invalid(`The PNG text chunk "${keyword}" holds corrupt compressed data.`, { keyword });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array, keyword: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalid(`The PNG iTXt chunk "${keyword}" is not valid UTF-8.`, { keyword });
  }
}

function decodeTextChunk(chunk: PngChunk, maxBytes: number): PngTextChunk {
  const { data, type } = chunk;
  const { keyword, rest } = keywordOf(data, type);
  if (type === 'tEXt') {
    return { kind: 'tEXt', keyword, text: data.toString('latin1', rest), compressed: false };
  }
  if (type === 'zTXt') {
    if (rest >= data.length || data[rest] !== 0) {
      throw invalid(`The PNG zTXt chunk "${keyword}" uses an unknown compression method.`, { keyword });
    }
    const text = inflateCapped(data.subarray(rest + 1), keyword, maxBytes).toString('latin1');
    return { kind: 'zTXt', keyword, text, compressed: true };
  }
  // iTXt: keyword NUL, compression flag, method, language tag NUL, translated keyword NUL, text.
  if (rest + 2 > data.length) throw invalid(`The PNG iTXt chunk "${keyword}" is truncated.`, { keyword });
  const flag = data[rest];
  const method = data[rest + 1];
  if ((flag !== 0 && flag !== 1) || (flag === 1 && method !== 0)) {
    throw invalid(`The PNG iTXt chunk "${keyword}" has an invalid compression flag or method.`, { keyword });
  }
  const langEnd = data.indexOf(0, rest + 2);
  const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
  if (transEnd < 0) throw invalid(`The PNG iTXt chunk "${keyword}" is truncated.`, { keyword });
  const languageTag = data.toString('latin1', rest + 2, langEnd);
  const translatedKeyword = decodeUtf8(data.subarray(langEnd + 1, transEnd), keyword);
  const body = data.subarray(transEnd + 1);
  const textBytes = flag === 1 ? inflateCapped(body, keyword, maxBytes) : body;
  return {
    kind: 'iTXt',
    keyword,
    text: decodeUtf8(textBytes, keyword),
    compressed: flag === 1,
    languageTag,
    translatedKeyword,
  };
}

function isTextType(type: string): type is PngTextKind {
  return type === 'tEXt' || type === 'zTXt' || type === 'iTXt';
}

/**
 * Reads every tEXt, zTXt and iTXt chunk of a PNG, in file order. Refuses (AppError VALIDATION) a
 * file that is not a well-formed PNG, a text chunk over `maxChunkTextBytes` (raw or inflated; the
 * inflater stops at the cap, so nothing larger is ever allocated), or text over `maxTotalTextBytes`.
 */
export function readPngText(png: Buffer, limits: PngTextLimits = DEFAULT_TEXT_LIMITS): PngTextChunk[] {
  const texts: PngTextChunk[] = [];
  let total = 0;
  for (const chunk of readPngChunks(png)) {
    if (!isTextType(chunk.type)) continue;
    if (chunk.data.length > limits.maxChunkTextBytes) {
      throw invalid(
        `The PNG ${chunk.type} chunk at byte ${chunk.offset} holds ${chunk.data.length} bytes, over the ${limits.maxChunkTextBytes}-byte limit for one text chunk.`,
        { offset: chunk.offset, type: chunk.type, length: chunk.data.length, limit: limits.maxChunkTextBytes },
      );
    }
    const text = decodeTextChunk(chunk, limits.maxChunkTextBytes);
    total += Buffer.byteLength(text.text, 'utf8');
    if (total > limits.maxTotalTextBytes) {
      throw invalid(`The PNG's text chunks hold more than ${limits.maxTotalTextBytes} bytes in all; refused.`, {
        limit: limits.maxTotalTextBytes,
      });
    }
    texts.push(text);
  }
  return texts;
}

function isLatin1(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u00ff]*$/.test(text);
}

function checkKeyword(keyword: string): void {
  if (
    keyword.length < 1 ||
    keyword.length > MAX_KEYWORD_BYTES ||
    !/^[\u0020-\u007e\u00a1-\u00ff]+$/.test(keyword) ||
    keyword !== keyword.trim() ||
    keyword.includes('  ')
  ) {
    throw invalid(
      `"${keyword}" is not a valid PNG text keyword (1 to 79 printable Latin-1 characters, no leading, trailing or double spaces).`,
      { keyword },
    );
  }
}

function encodeChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8), data), 8 + data.length);
  return out;
}

function encodeTextChunk(chunk: NewTextChunk): Buffer {
  checkKeyword(chunk.keyword);
  const keyword = Buffer.from(chunk.keyword, 'latin1');
  if (chunk.kind === 'tEXt' && !chunk.compressed && isLatin1(chunk.text)) {
    return encodeChunk('tEXt', Buffer.concat([keyword, Buffer.from([0]), Buffer.from(chunk.text, 'latin1')]));
  }
  if (chunk.kind === 'tEXt' && chunk.compressed && isLatin1(chunk.text)) {
    const body = deflateSync(Buffer.from(chunk.text, 'latin1'));
    return encodeChunk('zTXt', Buffer.concat([keyword, Buffer.from([0, 0]), body]));
  }
  const utf8Text = Buffer.from(chunk.text, 'utf8');
  const body = chunk.compressed ? deflateSync(utf8Text) : utf8Text;
  // keyword NUL, flag, method 0, empty language tag NUL, empty translated keyword NUL.
  const header = Buffer.from([0, chunk.compressed ? 1 : 0, 0, 0, 0]);
  return encodeChunk('iTXt', Buffer.concat([keyword, header, body]));
}

/**
 * Returns a copy of `png` with the given text chunks inserted before the first IDAT. Any existing
 * text chunk (tEXt, zTXt or iTXt) with the same keyword as a new one is removed. The input is
 * validated first, so a broken PNG is refused rather than extended.
 */
export function withTextChunks(png: Buffer, chunks: readonly NewTextChunk[]): Buffer {
  const existing = readPngChunks(png);
  const encoded = chunks.map(encodeTextChunk);
  const replaced = new Set(chunks.map((c) => c.keyword));
  const parts: Buffer[] = [PNG_SIGNATURE];
  let inserted = false;
  for (const chunk of existing) {
    if (chunk.type === 'IDAT' && !inserted) {
      parts.push(...encoded);
      inserted = true;
    }
    if (isTextType(chunk.type) && replaced.has(keywordOf(chunk.data, chunk.type).keyword)) continue;
    parts.push(png.subarray(chunk.offset, chunk.offset + 12 + chunk.data.length));
  }
  if (!inserted) throw invalid('The PNG has no IDAT chunk (no image data).');
  return Buffer.concat(parts);
}
