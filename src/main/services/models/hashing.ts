/**
 * File hashes for the model library: streaming sha256 (never the whole file in memory), the short
 * hashes AUTOMATIC1111's web UI writes into infotext, a folder hash for diffusers-ONNX model
 * folders, and a persistent cache so an unchanged file is hashed once.
 *
 * A1111 compatibility (stable-diffusion-webui `modules/hashes.py`, `modules/sd_models.py`,
 * `extensions-builtin/Lora/network.py`):
 * - `Model hash: <10 hex>`: a checkpoint's `shorthash`, `sha256(whole file)[0:10]`.
 * - `Lora hashes: "name: <12 hex>"`: a LoRA's `shorthash`, `hash[0:12]`, where for a
 *   `.safetensors` file `hash` is `addnet_hash_safetensors`: sha256 of everything after the
 *   8-byte length and the N-byte header, i.e. the data section, so editing metadata keeps it.
 *   (A1111 prefers a `sshs_model_hash` that kohya precomputes into the metadata; it is the same
 *   data-section hash when the file was saved by kohya.)
 * - The legacy 8-hex `model_hash`: sha256 of the 64 KiB at offset 1 MiB, for old infotexts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { AppError } from '../AppError';
import { MAX_HEADER_BYTES } from './safetensors';

/** Read size for streaming hashes: large enough for throughput, small enough to never matter for memory. */
export const HASH_CHUNK_BYTES = 8 * 1024 * 1024;

export interface HashProgress {
  /** Bytes hashed so far. */
  done: number;
  /** Bytes to hash in all. */
  total: number;
}

export interface HashOptions {
  onProgress?: (progress: HashProgress) => void;
  signal?: AbortSignal;
}

/**
 * Streams sha256 over `path` from byte `start` to the end of the file, reading `HASH_CHUNK_BYTES`
 * at a time with the next read in flight while the current chunk is hashed. Lowercase hex.
 * Throws AppError('CANCELLED') when `signal` aborts, AppError('NOT_FOUND' | 'IO') on file errors.
 */
export async function sha256File(path: string, options: HashOptions & { start?: number } = {}): Promise<string> {
  const { onProgress, signal } = options;
  const start = options.start ?? 0;
  const handle = await openOrThrow(path);
  try {
    const size = (await handle.stat()).size;
    const total = Math.max(0, size - start);
    const hash = createHash('sha256');
    const buffers: [Buffer, Buffer] = [Buffer.allocUnsafe(HASH_CHUNK_BYTES), Buffer.allocUnsafe(HASH_CHUNK_BYTES)];
    let position = start;
    let which: 0 | 1 = 0;
    let pending: Promise<{ bytesRead: number; buffer: Buffer }> = handle.read(
      buffers[0],
      0,
      HASH_CHUNK_BYTES,
      position,
    );
    let done = 0;
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) break;
      position += bytesRead;
      which = which === 0 ? 1 : 0;
      // Read the next chunk into the other buffer while this one is hashed.
      pending = handle.read(buffers[which], 0, HASH_CHUNK_BYTES, position);
      hash.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
      if (signal?.aborted) {
        await pending.catch(() => undefined);
        throw new AppError('CANCELLED', `${basename(path)}: hashing was cancelled`, { path });
      }
      onProgress?.({ done, total: Math.max(total, done) });
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

/** A1111's checkpoint short hash (`Model hash` in infotext): the first 10 hex of the file's sha256. */
export function a1111ModelHash(fileSha256: string): string {
  return fileSha256.slice(0, 10);
}

/** A1111's LoRA short hash (`Lora hashes` in infotext): the first 12 hex of `addnetHashSafetensors`. */
export function a1111LoraHash(addnetHash: string): string {
  return addnetHash.slice(0, 12);
}

/**
 * kohya's / A1111's `addnet_hash_safetensors`: sha256 of the file after the 8-byte header length
 * and the header, i.e. of the data section. Full lowercase hex. The header length is checked
 * (A1111 would hash nothing for a length past the end; such a file is not a safetensors file).
 */
export async function addnetHashSafetensors(path: string, options: HashOptions = {}): Promise<string> {
  const handle = await openOrThrow(path);
  let start: number;
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    const n = head.readBigUInt64LE(0);
    if (bytesRead < 8 || n > BigInt(MAX_HEADER_BYTES) || Number(n) > size - 8) {
      throw new AppError(
        'VALIDATION',
        `${basename(path)}: not a safetensors file (its header length does not fit the file)`,
        {
          path,
        },
      );
    }
    start = 8 + Number(n);
  } finally {
    await handle.close();
  }
  return sha256File(path, { ...options, start });
}

/** A1111's legacy 8-hex `model_hash`: sha256 of the 64 KiB at offset 0x100000 (fewer at the end of a small file). */
export async function legacyModelHash(path: string): Promise<string> {
  const handle = await openOrThrow(path);
  try {
    const buf = Buffer.alloc(0x10000);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, 0x100000 + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return createHash('sha256').update(buf.subarray(0, filled)).digest('hex').slice(0, 8);
  } finally {
    await handle.close();
  }
}

export interface FolderHashOptions extends HashOptions {
  /** How each file is hashed; pass `cache.sha256.bind(cache)` to reuse a HashCache. */
  hashFile?: (path: string, options: HashOptions) => Promise<string>;
}

export interface FolderHash {
  sha256: string;
  files: { path: string; size: number; sha256: string }[];
}

/**
 * A content hash for a model folder (diffusers-ONNX layout): sha256 over, for each regular file in
 * byte order of its `/`-separated relative path, `<path>\0<file sha256 hex>\n`. Symbolic links are
 * followed to files inside or outside; directories are walked; anything else is skipped. Progress
 * counts bytes over all files.
 */
export async function folderHash(dir: string, options: FolderHashOptions = {}): Promise<FolderHash> {
  const root = resolve(dir);
  const found = await listFiles(root);
  found.sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
  const total = found.reduce((sum, f) => sum + f.size, 0);
  const hashFile = options.hashFile ?? sha256File;
  const outer = createHash('sha256');
  const files: FolderHash['files'] = [];
  let before = 0;
  for (const f of found) {
    if (options.signal?.aborted)
      throw new AppError('CANCELLED', `${basename(root)}: hashing was cancelled`, { path: root });
    const sha = await hashFile(join(root, f.rel), {
      signal: options.signal,
      onProgress: options.onProgress && ((p) => options.onProgress?.({ done: before + p.done, total })),
    });
    before += f.size;
    outer.update(f.rel, 'utf8').update('\0').update(sha).update('\n');
    files.push({ path: f.rel, size: f.size, sha256: sha });
  }
  options.onProgress?.({ done: total, total });
  return { sha256: outer.digest('hex'), files };
}

async function listFiles(root: string): Promise<{ rel: string; size: number }[]> {
  const out: { rel: string; size: number }[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const info = entry.isSymbolicLink() ? await stat(full).catch(() => null) : null;
      if (entry.isDirectory() || info?.isDirectory()) await walk(full);
      else if (entry.isFile() || info?.isFile()) {
        out.push({ rel: relative(root, full).split(sep).join('/'), size: (info ?? (await stat(full))).size });
      }
    }
  };
  await walk(root);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------

export type HashKind = 'sha256' | 'addnet';

const zCacheEntry = z.object({
  size: z.number(),
  mtimeMs: z.number(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  addnet: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
const zCacheFile = z.object({ version: z.literal(1), entries: z.record(z.string(), zCacheEntry) });
type CacheEntry = z.infer<typeof zCacheEntry>;

/**
 * Hashes keyed by (absolute path, size, mtimeMs), persisted as JSON so unchanged files are not
 * re-hashed across runs. A missing or unreadable cache file starts empty (it is only a cache).
 * Every new result is written at once, atomically (temp file, fsync, rename); a failed write
 * rejects the call (AppError 'IO'). A file that changes while it is being hashed is not cached.
 * Concurrent requests for the same file share one hashing, which reports progress to, and is
 * cancelled by, the first request's options.
 */
export class HashCache {
  private readonly inFlight = new Map<string, Promise<string>>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly entries: Map<string, CacheEntry>,
  ) {}

  /** Opens (or starts) the cache stored at `file`. */
  static async open(file: string): Promise<HashCache> {
    const entries = new Map<string, CacheEntry>();
    try {
      const parsed = zCacheFile.safeParse(JSON.parse(await readFile(file, 'utf8')));
      if (parsed.success) for (const [path, entry] of Object.entries(parsed.data.entries)) entries.set(path, entry);
    } catch {
      // Missing or corrupt: a cache can always be rebuilt.
    }
    return new HashCache(resolve(file), entries);
  }

  /** The file's full sha256, from the cache when size and mtime still match. */
  sha256(path: string, options: HashOptions = {}): Promise<string> {
    return this.get('sha256', path, options);
  }

  /** The file's `addnet_hash_safetensors`, from the cache when size and mtime still match. */
  addnet(path: string, options: HashOptions = {}): Promise<string> {
    return this.get('addnet', path, options);
  }

  /** The cached value if the file is unchanged, without hashing; null otherwise. */
  async peek(kind: HashKind, path: string): Promise<string | null> {
    const abs = resolve(path);
    const info = await statOrThrow(abs);
    const entry = this.entries.get(abs);
    return entry && entry.size === info.size && entry.mtimeMs === info.mtimeMs ? (entry[kind] ?? null) : null;
  }

  /** Resolves when every pending write has reached the disk. */
  flush(): Promise<void> {
    return this.writing;
  }

  private async get(kind: HashKind, path: string, options: HashOptions): Promise<string> {
    const abs = resolve(path);
    const cached = await this.peek(kind, abs);
    if (cached) return cached;
    const key = `${kind}\0${abs}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const job = this.compute(kind, abs, options).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, job);
    return job;
  }

  private async compute(kind: HashKind, abs: string, options: HashOptions): Promise<string> {
    const before = await statOrThrow(abs);
    const value = kind === 'sha256' ? await sha256File(abs, options) : await addnetHashSafetensors(abs, options);
    const after = await statOrThrow(abs);
    if (before.size !== after.size || before.mtimeMs !== after.mtimeMs) return value;
    const previous = this.entries.get(abs);
    const sameFile = previous && previous.size === after.size && previous.mtimeMs === after.mtimeMs;
    this.entries.set(abs, { ...(sameFile ? previous : {}), size: after.size, mtimeMs: after.mtimeMs, [kind]: value });
    await this.save();
    return value;
  }

  private save(): Promise<void> {
    // Writes are chained so two saves never race on the temp file or rename out of order.
    const next = this.writing.then(() =>
      writeJsonAtomic(this.file, { version: 1, entries: Object.fromEntries(this.entries) }),
    );
    this.writing = next.catch(() => undefined);
    return next;
  }
}

/** Writes JSON so a reader sees the old file or the new one, never a torn one: temp, fsync, rename. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'w');
  try {
    await writeFile(handle, JSON.stringify(value));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new AppError('IO', `${basename(file)}: the hash cache could not be saved (${(err as Error).message})`, {
      file,
    });
  }
  try {
    const dirHandle = await open(dirname(file), 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    // Directories cannot be opened for fsync on Windows; the rename is still atomic there.
  }
}

async function openOrThrow(path: string) {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw fileError(path, err);
  }
}

async function statOrThrow(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    throw fileError(path, err);
  }
}

function fileError(path: string, err: unknown): AppError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new AppError('NOT_FOUND', `${basename(path)}: the file does not exist`, { path });
  return new AppError('IO', `${basename(path)}: the file cannot be read (${code ?? String(err)})`, { path, code });
}
