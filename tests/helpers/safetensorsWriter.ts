/**
 * A tiny `.safetensors` writer for tests: well-formed files laid out the way huggingface/safetensors
 * serialises them (tensors sorted by descending dtype alignment then name, packed from offset 0,
 * the JSON header padded with spaces to a multiple of 8), plus a raw mode for hostile files.
 * F32 and F16 tensors; F16 values are rounded to nearest even, as torch's `.half()`.
 */
import { writeFileSync } from 'node:fs';
import { float32ToFloat16Bits } from '../../src/main/engine/builder/float16';

export interface TensorSpec {
  dtype: 'F32' | 'F16';
  shape: number[];
  /** Row-major values; as many as the shape holds. */
  data: ArrayLike<number>;
}

const ALIGNMENT = { F32: 4, F16: 2 } as const;

function tensorBytes(name: string, t: TensorSpec): Buffer {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count)
    throw new Error(`${name}: shape [${t.shape}] holds ${count} values, got ${t.data.length}`);
  const out = Buffer.alloc(count * ALIGNMENT[t.dtype]);
  for (let i = 0; i < count; i++) {
    if (t.dtype === 'F32') out.writeFloatLE(t.data[i] as number, i * 4);
    else out.writeUInt16LE(float32ToFloat16Bits(t.data[i] as number), i * 2);
  }
  return out;
}

/** A well-formed safetensors file's bytes. */
export function encodeSafetensors(tensors: Record<string, TensorSpec>, metadata?: Record<string, string>): Buffer {
  const names = Object.keys(tensors).sort((a, b) => {
    const ta = tensors[a] as TensorSpec;
    const tb = tensors[b] as TensorSpec;
    return ALIGNMENT[tb.dtype] - ALIGNMENT[ta.dtype] || (a < b ? -1 : a > b ? 1 : 0);
  });
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name] as TensorSpec;
    const bytes = tensorBytes(name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  }
  return encodeRawSafetensors({ header, data: Buffer.concat(chunks) });
}

export interface RawSafetensors {
  /** The JSON header: an object to stringify, or the exact header text (any string, valid or not). */
  header: unknown;
  /** The data section. */
  data?: Uint8Array;
  /** The 8-byte length to write instead of the header's true length. */
  claimedHeaderLength?: bigint;
  /** Pad the header with spaces to a multiple of 8, as the reference writer does (default true). */
  pad?: boolean;
}

/** A safetensors-shaped file whose every part the test controls, for hostile inputs. */
export function encodeRawSafetensors(raw: RawSafetensors): Buffer {
  let text = typeof raw.header === 'string' ? raw.header : JSON.stringify(raw.header);
  if (raw.pad !== false) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const header = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(raw.claimedHeaderLength ?? BigInt(header.length));
  return Buffer.concat([length, header, raw.data ?? new Uint8Array(0)]);
}

/** Writes `encodeSafetensors(...)` to `path`; returns the bytes written. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorSpec>,
  metadata?: Record<string, string>,
): Buffer {
  const bytes = encodeSafetensors(tensors, metadata);
  writeFileSync(path, bytes);
  return bytes;
}
