/**
 * A strict, allocation-safe reader for `.safetensors` files, and the pickle refusal.
 *
 * Model files come from strangers on the internet, so nothing here trusts a number before checking
 * it: the header length is bounded (100 MB, as the reference implementation) and must fit in the
 * file before a byte is allocated for it, and the tensor table must describe the data section
 * exactly the way huggingface/safetensors' `Metadata::validate` requires: tensors sorted by offset
 * start at 0, each begins where the previous ends (no overlap, no gap), each spans exactly
 * `shape x dtype size` bytes, and the last one ends at the end of the file. Only the 8-byte length
 * and the header are read; tensor data is read one tensor at a time at its offset.
 *
 * Pickled checkpoints (`.ckpt`, `.pt`, `.pth`, `.bin`) are refused, by extension and by magic bytes:
 * unpickling can run arbitrary code, which is why safetensors exists.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { float16ArrayToFloat32 } from '../../engine/builder/float16';
import { AppError } from '../AppError';

/** The reference implementation's bound on the JSON header (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element size in bytes of each dtype the reference implementation knows with a whole-byte size. */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte offsets relative to the start of the data section (`SafetensorsHeader.dataStart`); end exclusive. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly path: string;
  /** File size when the header was read; `readTensor` refuses a file that has changed size since. */
  readonly fileSize: number;
  /** N, the JSON header's length in bytes. */
  readonly headerBytes: number;
  /** Absolute file offset of the data section: 8 + N. */
  readonly dataStart: number;
  /** `__metadata__`, a string -> string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in file order (sorted by offset). */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
}

/** Why a file was refused; carried in `AppError.details.reason` so callers and tests can branch on it. */
export type SafetensorsProblem =
  | 'too-short'
  | 'header-too-large'
  | 'header-past-end'
  | 'header-not-utf8'
  | 'header-not-json'
  | 'header-not-object'
  | 'bad-metadata'
  | 'bad-tensor-entry'
  | 'unknown-dtype'
  | 'bad-shape'
  | 'bad-offsets'
  | 'size-mismatch'
  | 'outside-data'
  | 'overlap'
  | 'gap'
  | 'trailing-bytes'
  | 'pickle'
  | 'changed';

function refuse(path: string, reason: SafetensorsProblem, problem: string): AppError {
  return new AppError('VALIDATION', `${basename(path)}: ${problem}`, { path, reason });
}

// ---------------------------------------------------------------------------------------------
// Pickles
// ---------------------------------------------------------------------------------------------

const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.bin', '.pkl', '.pickle']);
/** Enough of the file to see a zip's first entry name or a pickle's opening opcodes. */
const SNIFF_BYTES = 4096;

/**
 * What the first bytes of a file say about pickles: `'zip-pickle'` for a PyTorch zip checkpoint
 * (a zip whose entries include `<archive>/data.pkl`; torch writes it first), `'pickle'` for a raw
 * pickle stream (the PROTO opcode 0x80 followed by a protocol number 1-5, as legacy `torch.save`
 * and plain `pickle.dump` write, and no safetensors `{` at byte 8), `null` otherwise.
 */
export function sniffPickle(head: Uint8Array): 'zip-pickle' | 'pickle' | null {
  // A safetensors header length of 0x0180..0x0580 (plus multiples of 65536) also starts 0x80 0x01-05,
  // but its JSON then opens at byte 8; a pickle's byte 8 is inside an opcode's argument and is
  // never '{' in practice (protocol 4+ frames would have to be over a terabyte).
  const protocol = head[1] ?? 0;
  if (head[0] === 0x80 && protocol >= 1 && protocol <= 5 && head[8] !== 0x7b) return 'pickle';
  const isZip = head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  if (isZip && Buffer.from(head.buffer, head.byteOffset, head.length).includes('data.pkl', 0, 'latin1')) {
    return 'zip-pickle';
  }
  return null;
}

function pickleMessage(path: string, how: string): AppError {
  return refuse(
    path,
    'pickle',
    `this is a PyTorch pickle (${how}), and Sumi Studio does not open pickles: loading one can run any ` +
      `code hidden inside it, with your user's rights. Convert it once, on a machine you trust, to ` +
      `.safetensors: a LoRA or embedding with a safetensors converter (for example ` +
      `safetensors.torch.save_file(torch.load(path, weights_only=True), "out.safetensors"), or kohya ` +
      `sd-scripts' conversion scripts); a full checkpoint with diffusers' ` +
      `scripts/convert_original_stable_diffusion_to_diffusers.py, then to ONNX with Optimum ` +
      `(optimum-cli export onnx --model <diffusers folder> <output folder>), and import that folder.`,
  );
}

/**
 * Throws AppError('VALIDATION', reason 'pickle') when `path` is a pickle: by extension (`.ckpt`,
 * `.pt`, `.pth`, `.bin`, `.pkl`, `.pickle`, whatever the contents) or by magic bytes (whatever
 * the name). Resolves when the file is neither. Never unpickles anything.
 */
export async function refusePickle(path: string): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (PICKLE_EXTENSIONS.has(ext)) throw pickleMessage(path, `a ${ext} file`);
  const handle = await openForReading(path);
  try {
    const head = await readAt(path, handle, 0, SNIFF_BYTES, true);
    const kind = sniffPickle(head);
    if (kind) throw pickleMessage(path, kind === 'zip-pickle' ? 'a zip with data.pkl inside' : 'a pickle stream');
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

/**
 * Reads and validates the header of a `.safetensors` file, reading only the 8-byte length and the
 * JSON (never tensor data). Throws AppError('VALIDATION') naming the file and the exact problem,
 * with `details.reason` a `SafetensorsProblem`; AppError('IO') when the file cannot be opened.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await openForReading(path);
  try {
    const fileSize = (await handle.stat()).size;
    const head = await readAt(path, handle, 0, Math.min(fileSize, SNIFF_BYTES), true);
    const pickle = sniffPickle(head);
    if (pickle) throw pickleMessage(path, pickle === 'zip-pickle' ? 'a zip with data.pkl inside' : 'a pickle stream');
    if (fileSize < 8) {
      throw refuse(
        path,
        'too-short',
        `the file is ${fileSize} bytes; a safetensors file starts with an 8-byte header length (empty or truncated download?)`,
      );
    }

    const claimed = Buffer.from(head.buffer, head.byteOffset, 8).readBigUInt64LE(0);
    if (claimed > BigInt(MAX_HEADER_BYTES)) {
      throw refuse(
        path,
        'header-too-large',
        `the header claims ${claimed} bytes; safetensors headers are at most ${MAX_HEADER_BYTES} bytes (not a safetensors file, or corrupted)`,
      );
    }
    const headerBytes = Number(claimed);
    if (headerBytes > fileSize - 8) {
      throw refuse(
        path,
        'header-past-end',
        `the header claims ${headerBytes} bytes but only ${fileSize - 8} bytes follow the length field (truncated download?)`,
      );
    }
    const raw = await readAt(path, handle, 8, headerBytes, false);
    const dataStart = 8 + headerBytes;
    const { metadata, tensors } = parseHeader(path, raw, fileSize - dataStart);
    return { path, fileSize, headerBytes, dataStart, metadata, tensors };
  } finally {
    await handle.close();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseHeader(
  path: string,
  raw: Uint8Array,
  dataBytes: number,
): { metadata: Record<string, string>; tensors: Map<string, TensorInfo> } {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw refuse(path, 'header-not-utf8', 'the header is not valid UTF-8 (not a safetensors file, or corrupted)');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw refuse(path, 'header-not-json', `the header is not valid JSON (${why})`);
  }
  if (!isPlainObject(json)) {
    const kind = json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`;
    throw refuse(path, 'header-not-object', `the header is ${kind}, not a JSON object of tensors`);
  }

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: TensorInfo[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      // The reference reads it as Option<HashMap<String, String>>: null is the same as absent.
      if (value === null) continue;
      if (!isPlainObject(value)) throw refuse(path, 'bad-metadata', '__metadata__ is not a map of strings');
      for (const [key, v] of Object.entries(value)) {
        if (typeof v !== 'string') {
          throw refuse(
            path,
            'bad-metadata',
            `__metadata__ key "${key}" is a ${jsonKind(v)}, but metadata values must be strings`,
          );
        }
        metadata[key] = v;
      }
      continue;
    }
    entries.push(parseTensorEntry(path, name, value, dataBytes));
  }

  // Mirrors `Metadata::validate`: in offset order, each tensor begins where the previous ended,
  // and the last ends at the end of the file.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: TensorInfo | null = null;
  for (const t of entries) {
    if (previous && t.begin < cursor) {
      throw refuse(
        path,
        'overlap',
        `tensor ${t.name} (bytes ${t.begin}-${t.end}) overlaps tensor ${previous.name} (bytes ${previous.begin}-${previous.end})`,
      );
    }
    if (t.begin > cursor) {
      throw refuse(
        path,
        'gap',
        `bytes ${cursor}-${t.begin} of the data section belong to no tensor (before ${t.name}); safetensors requires the tensors to cover the data section exactly`,
      );
    }
    cursor = t.end;
    previous = t;
  }
  if (cursor !== dataBytes) {
    throw refuse(
      path,
      'trailing-bytes',
      `the data section has ${dataBytes} bytes but its tensors cover only ${cursor}; safetensors requires the last tensor to end at the end of the file`,
    );
  }
  return { metadata, tensors: new Map(entries.map((t) => [t.name, t])) };
}

function parseTensorEntry(path: string, name: string, value: unknown, dataBytes: number): TensorInfo {
  if (!isPlainObject(value)) {
    throw refuse(path, 'bad-tensor-entry', `tensor ${name} is a ${jsonKind(value)}, not {dtype, shape, data_offsets}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw refuse(
      path,
      'unknown-dtype',
      `tensor ${name} has dtype ${JSON.stringify(dtype)}, which is not one of ${Object.keys(DTYPE_BYTES).join(', ')}`,
    );
  }
  const known = dtype as SafetensorsDtype;
  if (!Array.isArray(shape) || !shape.every(isByteCount)) {
    throw refuse(
      path,
      'bad-shape',
      `tensor ${name} has shape ${JSON.stringify(shape)}; a shape is a list of non-negative integers`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isByteCount)) {
    throw refuse(
      path,
      'bad-offsets',
      `tensor ${name} has data_offsets ${JSON.stringify(offsets)}; they must be [begin, end] as non-negative integers`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end)
    throw refuse(path, 'bad-offsets', `tensor ${name} has data_offsets [${begin}, ${end}]: begin is after end`);
  if (end > dataBytes) {
    throw refuse(
      path,
      'outside-data',
      `tensor ${name} claims bytes ${begin}-${end} but the file's data section has ${dataBytes} bytes (truncated download?)`,
    );
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  const expected = elements * DTYPE_BYTES[known];
  if (!Number.isSafeInteger(expected)) {
    throw refuse(path, 'size-mismatch', `tensor ${name} has shape [${shape.join(', ')}], whose size overflows`);
  }
  if (expected !== end - begin) {
    throw refuse(
      path,
      'size-mismatch',
      `tensor ${name} is ${known} [${shape.join(', ')}], which is ${expected} bytes, but its data_offsets span ${end - begin} bytes`,
    );
  }
  return { name, dtype: known, shape: shape as number[], begin, end };
}

// ---------------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------------

/**
 * Reads one tensor as float32, converting F16 and BF16 exactly (every half and bfloat16 value is a
 * float32). Reads only that tensor's bytes, at its offset. Little-endian data, C order, as the
 * format specifies. Throws AppError('NOT_FOUND') for an unknown name, AppError('UNSUPPORTED') for a
 * dtype other than F32/F16/BF16, AppError('VALIDATION', reason 'changed') when the file's size
 * differs from when `header` was read.
 */
export async function readTensor(path: string, header: SafetensorsHeader, name: string): Promise<Float32Array> {
  const info = header.tensors.get(name);
  if (!info) throw new AppError('NOT_FOUND', `${basename(path)}: there is no tensor named ${name}`, { path, name });
  if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
    throw new AppError(
      'UNSUPPORTED',
      `${basename(path)}: tensor ${name} is ${info.dtype}; only F32, F16 and BF16 can be read as floats`,
      {
        path,
        name,
        dtype: info.dtype,
      },
    );
  }
  const handle = await openForReading(path);
  let bytes: Uint8Array;
  try {
    const size = (await handle.stat()).size;
    if (size !== header.fileSize) {
      throw refuse(
        path,
        'changed',
        `the file changed since its header was read (${header.fileSize} bytes then, ${size} now)`,
      );
    }
    bytes = await readAt(path, handle, header.dataStart + info.begin, info.end - info.begin, false);
  } finally {
    await handle.close();
  }
  // `readAt` returns a fresh, zero-offset ArrayBuffer, so typed views over it are aligned.
  const count = bytes.byteLength / DTYPE_BYTES[info.dtype];
  if (info.dtype === 'F32') return new Float32Array(bytes.buffer, 0, count);
  const halves = new Uint16Array(bytes.buffer, 0, count);
  if (info.dtype === 'F16') return float16ArrayToFloat32(halves);
  const out = new Float32Array(count);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < count; i++) outBits[i] = (halves[i] as number) << 16;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async function openForReading(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('NOT_FOUND', `${basename(path)}: the file does not exist`, { path });
    throw new AppError('IO', `${basename(path)}: the file cannot be opened (${code ?? String(err)})`, { path, code });
  }
}

/** Reads `length` bytes at `position` into a fresh ArrayBuffer; `partial` allows a short read at EOF. */
async function readAt(
  path: string,
  handle: FileHandle,
  position: number,
  length: number,
  partial: boolean,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(out, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  if (filled < length && !partial) {
    throw new AppError(
      'IO',
      `${basename(path)}: the file ended at byte ${position + filled} while reading ${length} bytes at ${position} (did it change while being read?)`,
      { path, position, length },
    );
  }
  return filled < length ? out.subarray(0, filled) : out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isByteCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}
