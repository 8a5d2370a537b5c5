/**
 * The model library: what is in the models folder, what each thing is, and whether it can be trusted.
 *
 * Layout: diffusers-ONNX model folders at the top level, LoRAs in `loras/`, textual-inversion
 * embeddings in `embeddings/`, TAESD preview decoders in `taesd/` and `taesdxl/`. Listing is cheap
 * (configs and safetensors headers only, never weights); "check" opens the model in the engine and
 * remembers what it found; hashes are computed in the background and cached by (path, size, mtime).
 * User data (display names, notes, family and prediction overrides) lives in `.sumi-library.json`.
 *
 * Things arrive by copy (`import`), by URL (`download`, staged in `.downloads/`), or as bytes from a
 * browser (`importFile`); the folder is watched so that what a file manager does shows up too.
 */
import { loadPromptEmbeddings, type EmbeddingFile } from './embeddings';
import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { MODEL_UPLOAD_MAX_BYTES, type LibraryEntry, type ModelImportProgress } from '@contract';
import type { Emit } from '../../ipc/EventHub';
import { AppError } from '../AppError';
import type { EngineClient } from '../generation/EngineClient';
import {
  type FolderHash,
  type HashCache,
  a1111LoraHash,
  a1111ModelHash,
  addnetHashSafetensors,
  folderHash,
} from './hashing';
import { familyFromTensors, parseKohyaMetadata } from './kohyaMetadata';
import { readSafetensorsHeader, readTensor, refusePickle } from './safetensors';
import { safetensorsKind } from './safetensorsKind';
import { DOWNLOADS_FOLDER, discardDownload, downloadModel, HF_BASE_URL } from './download';
import { ModelFolderWatcher } from './ModelFolderWatcher';
import type { LoraSpec } from '../../engine/Engine';
import { familyFromCrossAttention } from '../../engine/model/modelFolder';

const LIBRARY_FILE = '.sumi-library.json';
const RESERVED = new Set(['loras', 'embeddings', 'taesd', 'taesdxl', '.trash']);

interface UserData {
  name?: string;
  notes?: string;
  family?: LibraryEntry['family'];
  predictionType?: LibraryEntry['predictionType'];
  /** What "check" found, so the list shows it without loading the model again. */
  checked?: {
    family: LibraryEntry['family'];
    predictionType: LibraryEntry['predictionType'];
    precision: LibraryEntry['precision'];
  };
}

export interface ModelLibraryDeps {
  modelsDir: () => string;
  engine: EngineClient;
  emit: Emit;
  hashes: HashCache;
  /** Hugging Face or a mirror (HF_ENDPOINT), and a token for gated repositories (HF_TOKEN). */
  download?: { baseUrl?: string; token?: string; fetch?: typeof fetch; retryDelayMs?: number };
  /** How long the folder watcher waits for a burst of changes to end (ms). */
  watchDebounceMs?: number;
}

interface Upload {
  name: string;
  dir: string;
  bytes: number;
  touched: number;
}

/** An upload nobody finished within this long is deleted when the next one starts. */
const UPLOAD_STALE_MS = 10 * 60_000;

export class ModelLibrary {
  /** Running imports and downloads, by import id, so that they can be cancelled. */
  private readonly running = new Map<string, AbortController>();
  /** Download folder names in flight: two downloads into one staging folder would corrupt both. */
  private readonly downloading = new Set<string>();
  private readonly uploads = new Map<string, Upload>();
  private readonly watcher: ModelFolderWatcher;
  private disposed = false;

  constructor(private readonly deps: ModelLibraryDeps) {
    this.watcher = new ModelFolderWatcher(() => this.deps.emit('models.changed', {}), {
      debounceMs: deps.watchDebounceMs ?? 300,
    });
  }

  /** Watches the models folder (again, when the setting changed): changes become `models.changed` events. */
  watch(): void {
    this.watcher.watch(this.root);
  }

  /** Stops watching, cancels imports and downloads, and deletes unfinished uploads. */
  dispose(): void {
    this.disposed = true;
    this.watcher.close();
    for (const controller of this.running.values()) controller.abort();
    for (const upload of this.uploads.values()) rmSync(upload.dir, { recursive: true, force: true });
    this.uploads.clear();
  }

  private get root(): string {
    return this.deps.modelsDir();
  }

  private userData(): Record<string, UserData> {
    const file = join(this.root, LIBRARY_FILE);
    if (!existsSync(file)) return {};
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, UserData>;
    } catch {
      return {};
    }
  }

  private saveUserData(data: Record<string, UserData>): void {
    const file = join(this.root, LIBRARY_FILE);
    const temp = `${file}.${randomUUID()}.tmp`;
    writeFileSync(temp, JSON.stringify(data, null, 2));
    renameSync(temp, file);
  }

  /** Everything in the models folder, cheaply identified. Never throws for one bad entry: it is listed with its error. */
  async list(): Promise<LibraryEntry[]> {
    mkdirSync(this.root, { recursive: true });
    const user = this.userData();
    const entries: LibraryEntry[] = [];
    for (const dirent of readdirSync(this.root, { withFileTypes: true })) {
      if (!dirent.isDirectory() || RESERVED.has(dirent.name) || dirent.name.startsWith('.')) continue;
      if (dirent.name.includes('.importing-')) continue;
      entries.push(await this.describeModel(dirent.name, user[dirent.name] ?? {}));
    }
    for (const kind of ['lora', 'embedding'] as const) {
      const dir = join(this.root, kind === 'lora' ? 'loras' : 'embeddings');
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        const id = `${kind === 'lora' ? 'loras' : 'embeddings'}/${name}`;
        if (name.startsWith('.') || name.includes('.importing-')) continue;
        if (statSync(join(dir, name)).isFile()) entries.push(await this.describeFile(kind, id, user[id] ?? {}));
      }
    }
    return entries;
  }

  private async describeModel(id: string, user: UserData): Promise<LibraryEntry> {
    const dir = join(this.root, id);
    const base: LibraryEntry = {
      id,
      kind: 'model',
      name: user.name ?? id,
      path: dir,
      bytes: folderBytes(dir),
      family: 'unknown',
      predictionType: null,
      precision: null,
      demo: false,
      status: 'ok',
      problem: null,
      notes: user.notes ?? '',
      overridden: Boolean(user.family || user.predictionType),
      triggerWords: [],
      shortHash: null,
      variant: null,
    };
    try {
      // An SDXL refiner has only the second text encoder; every other model has the first.
      const encoder = existsSync(join(dir, 'text_encoder'))
        ? ['text_encoder/model.onnx', 'tokenizer/vocab.json']
        : ['text_encoder_2/model.onnx', 'tokenizer_2/vocab.json'];
      const missing = ['unet/model.onnx', ...encoder, 'vae_decoder/model.onnx'].filter(
        (p) => !existsSync(join(dir, p)),
      );
      if (missing.length) throw new Error(`missing ${missing.join(', ')}`);
      const unet = readJson(join(dir, 'unet', 'config.json'));
      const scheduler = readJson(join(dir, 'scheduler', 'scheduler_config.json'));
      const marker = readJson(join(dir, 'sumi_model.json'));
      const width = typeof unet.cross_attention_dim === 'number' ? unet.cross_attention_dim : null;
      const fromConfig = width === null ? 'unknown' : familyFromCrossAttention(width);
      base.family = user.family ?? user.checked?.family ?? fromConfig;
      const prediction = scheduler.prediction_type;
      base.predictionType =
        user.predictionType ??
        user.checked?.predictionType ??
        (prediction === 'v_prediction' || prediction === 'epsilon' || prediction === 'sample' ? prediction : 'epsilon');
      base.precision = user.checked?.precision ?? null;
      base.variant = modelVariant(unet, scheduler);
      base.demo = marker.demo === true;
      if (base.demo && !user.name && typeof marker.label === 'string') base.name = marker.label;
      base.shortHash = await this.cachedModelHash(dir);
    } catch (err) {
      base.status = 'error';
      base.problem = `Not a usable diffusers ONNX model: ${err instanceof Error ? err.message : String(err)}.`;
    }
    return base;
  }

  private async describeFile(folderKind: 'lora' | 'embedding', id: string, user: UserData): Promise<LibraryEntry> {
    const path = join(this.root, ...id.split('/'));
    const entry: LibraryEntry = {
      id,
      kind: folderKind,
      name: user.name ?? basename(id, extname(id)),
      path,
      bytes: statSync(path).size,
      family: 'unknown',
      predictionType: null,
      precision: null,
      demo: false,
      status: 'ok',
      problem: null,
      notes: user.notes ?? '',
      overridden: Boolean(user.family),
      triggerWords: [],
      shortHash: null,
      variant: null,
    };
    try {
      await refusePickle(path);
      const header = await readSafetensorsHeader(path);
      // What the tensors say wins over the folder: an embedding dropped into loras/ is an embedding.
      entry.kind = safetensorsKind(header.tensors.keys());
      const kohya = parseKohyaMetadata(header.metadata);
      const shapes = familyFromTensors(header.tensors.values());
      entry.family = user.family ?? (shapes.family !== 'unknown' ? shapes.family : kohya.family);
      entry.triggerWords = kohya.triggerWords;
      const dtypes = new Set([...header.tensors.values()].map((t) => t.dtype));
      entry.precision = dtypes.has('F16') || dtypes.has('BF16') ? 'fp16' : 'fp32';
      const lora = entry.kind === 'lora';
      const cached = await this.deps.hashes.peek(lora ? 'addnet' : 'sha256', path);
      if (cached) entry.shortHash = lora ? a1111LoraHash(cached) : a1111ModelHash(cached);
    } catch (err) {
      entry.status = 'error';
      entry.problem = err instanceof Error ? err.message : String(err);
    }
    return entry;
  }

  /** The folder hash's first 10 hex when every file's sha256 is cached (never hashes: listing stays cheap). */
  private async cachedModelHash(dir: string): Promise<string | null> {
    try {
      const { sha256 } = await folderHash(dir, {
        hashFile: async (file) => {
          const cached = await this.deps.hashes.peek('sha256', file);
          if (!cached) throw new Error('not cached');
          return cached;
        },
      });
      return a1111ModelHash(sha256);
    } catch {
      return null;
    }
  }

  /** Opens the model in the engine and remembers what its graphs say (family, prediction, precision). */
  async check(id: string): Promise<LibraryEntry> {
    const entry = (await this.list()).find((e) => e.id === id);
    if (!entry) throw new AppError('NOT_FOUND', `No ${id} in the models folder.`);
    if (entry.kind !== 'model') return entry;
    const report = await this.deps.engine.probe(entry.path);
    const data = this.userData();
    data[id] = {
      ...data[id],
      checked: {
        family: report.probe.family,
        predictionType: report.probe.predictionType,
        precision: report.probe.precision,
      },
    };
    this.saveUserData(data);
    return await this.describeModel(id, data[id] ?? {});
  }

  /** Display name, notes and the family / prediction overrides; an override always wins and is remembered. */
  update(
    id: string,
    change: Partial<Pick<UserData, 'name' | 'notes' | 'family' | 'predictionType'>> & { clearOverrides?: boolean },
  ): void {
    this.resolveEntry(id);
    const data = this.userData();
    const next: UserData = { ...data[id] };
    if (change.name !== undefined) next.name = change.name;
    if (change.notes !== undefined) next.notes = change.notes;
    if (change.family !== undefined) next.family = change.family;
    if (change.predictionType !== undefined) next.predictionType = change.predictionType;
    if (change.clearOverrides) {
      delete next.family;
      delete next.predictionType;
    }
    data[id] = next;
    this.saveUserData(data);
  }

  /** The prediction type the engine should use for a model folder, when the user has overridden it. */
  predictionOverride(modelDir: string): LibraryEntry['predictionType'] {
    const rel = relative(this.root, resolve(modelDir));
    if (rel.startsWith('..') || rel.includes(sep)) return null;
    return this.userData()[rel]?.predictionType ?? null;
  }

  /** Moves an entry to `.trash/` (restorable by moving it back). */
  remove(id: string): void {
    const path = this.resolveEntry(id);
    const trash = join(this.root, '.trash');
    mkdirSync(trash, { recursive: true });
    renameSync(path, join(trash, `${Date.now()}-${basename(path)}`));
  }

  /**
   * Copies (or moves) a model folder or a .safetensors file into the library, with progress as
   * `models.import` events. A .safetensors file goes to `loras/` or `embeddings/` by its tensors;
   * pickles are refused with a message that explains why.
   */
  async import(source: string, move: boolean, afterwards?: () => void): Promise<{ importId: string; id: string }> {
    if (!existsSync(source)) throw validation('source', `${source} does not exist`);
    const stat = statSync(source);
    let target: string;
    if (stat.isDirectory()) {
      if (!existsSync(join(source, 'unet', 'model.onnx')))
        throw validation('source', `${source} is not a diffusers ONNX model folder (no unet/model.onnx)`);
      target = join(this.root, basename(source));
    } else {
      await refusePickle(source);
      if (extname(source).toLowerCase() !== '.safetensors')
        throw validation('source', `${basename(source)} is not a .safetensors file`);
      const header = await readSafetensorsHeader(source);
      const embedding = safetensorsKind(header.tensors.keys()) === 'embedding';
      target = join(this.root, embedding ? 'embeddings' : 'loras', basename(source));
    }
    if (existsSync(target)) throw new AppError('CONFLICT', `${relative(this.root, target)} is already in the library.`);
    const importId = randomUUID();
    const id = relative(this.root, target).split(sep).join('/');
    const files = stat.isDirectory() ? listFiles(source) : [''];
    const total = files.reduce((n, f) => n + statSync(join(source, f)).size, 0);
    const progress: ModelImportProgress = {
      importId,
      id,
      doneBytes: 0,
      totalBytes: total,
      finished: false,
      error: null,
    };
    const controller = new AbortController();
    this.running.set(importId, controller);
    void (async () => {
      const staging = `${target}.importing-${importId.slice(0, 8)}`;
      try {
        mkdirSync(stat.isDirectory() ? staging : join(staging, '..'), { recursive: true });
        for (const file of files) {
          if (controller.signal.aborted) throw new AppError('CANCELLED', 'cancelled');
          const from = join(source, file);
          const to = stat.isDirectory() ? join(staging, file) : staging;
          mkdirSync(join(to, '..'), { recursive: true });
          cpSync(from, to);
          progress.doneBytes += statSync(from).size;
          this.deps.emit('models.import', structuredClone(progress));
          await new Promise((r) => setImmediate(r));
        }
        renameSync(staging, target);
        if (move) rmSync(source, { recursive: true, force: true });
        // LoRAs and embeddings are hashed before the import reports done, so the list shows A1111's hash.
        if (!stat.isDirectory()) await this.hash(id).catch(() => undefined);
        progress.finished = true;
      } catch (err) {
        rmSync(staging, { recursive: true, force: true });
        progress.finished = true;
        progress.error = err instanceof Error ? err.message : String(err);
      } finally {
        this.running.delete(importId);
        afterwards?.();
      }
      this.deps.emit('models.import', structuredClone(progress));
    })();
    return { importId, id };
  }

  /**
   * Downloads a Hugging Face diffusers-ONNX repository or a .safetensors file (see `download.ts`).
   * Resolves once the file list is known (so a wrong URL, a pickle or a name already taken fails the
   * call itself), then reports progress as `models.import` events. A download that fails keeps its
   * `.downloads/` files, so asking again resumes; a cancelled one is discarded.
   */
  async download(url: string, name?: string): Promise<{ importId: string; id: string }> {
    const importId = randomUUID();
    const controller = new AbortController();
    const progress: ModelImportProgress = {
      importId,
      id: '',
      doneBytes: 0,
      totalBytes: 0,
      finished: false,
      error: null,
      file: null,
    };
    let planned!: (id: string) => void;
    let refused!: (err: unknown) => void;
    const plan = new Promise<string>((resolve, reject) => {
      planned = resolve;
      refused = reject;
    });
    let started = false;
    const root = this.root;
    const job = downloadModel(url, {
      modelsDir: root,
      ...(name ? { name } : {}),
      baseUrl: this.deps.download?.baseUrl ?? HF_BASE_URL,
      ...(this.deps.download?.token ? { token: this.deps.download.token } : {}),
      ...(this.deps.download?.fetch ? { fetch: this.deps.download.fetch } : {}),
      ...(this.deps.download?.retryDelayMs !== undefined ? { retryDelayMs: this.deps.download.retryDelayMs } : {}),
      signal: controller.signal,
      onPlan: ({ id, totalBytes }) => {
        if (this.downloading.has(id)) {
          controller.abort();
          refused(new AppError('CONFLICT', `${id} is already being downloaded.`));
          return;
        }
        started = true;
        this.downloading.add(id);
        this.running.set(importId, controller);
        progress.id = id;
        progress.totalBytes = totalBytes;
        planned(id);
      },
      onProgress: (p) => {
        if (!started) return;
        Object.assign(progress, { doneBytes: p.doneBytes, totalBytes: p.totalBytes, file: p.file });
        this.deps.emit('models.import', structuredClone(progress));
      },
    });
    job
      .then(
        async (result) => {
          progress.id = result.id;
          const data = this.userData();
          if (!data[result.id]?.notes) {
            data[result.id] = { ...data[result.id], notes: `Downloaded from ${url.trim()}` };
            this.saveUserData(data);
          }
          if (result.id.includes('/')) await this.hash(result.id).catch(() => undefined);
        },
        async (err: unknown) => {
          if (!started) return refused(err);
          progress.error = err instanceof Error ? err.message : String(err);
          // Closing the app keeps the partial files, so the same download resumes next time.
          if (controller.signal.aborted && this.disposed) progress.error = 'the app closed; download again to resume';
          else if (controller.signal.aborted) {
            progress.error = 'cancelled';
            await discardDownload(root, progress.id).catch(() => undefined);
          }
        },
      )
      .finally(() => {
        if (!started) return;
        this.downloading.delete(progress.id);
        this.running.delete(importId);
        progress.finished = true;
        progress.file = null;
        this.deps.emit('models.import', structuredClone(progress));
      });
    return { importId, id: await plan };
  }

  /** Cancels an import or a download; its last `models.import` event says "cancelled". */
  cancelImport(importId: string): void {
    const controller = this.running.get(importId);
    if (!controller) throw new AppError('NOT_FOUND', `No import ${importId} is running.`);
    controller.abort();
  }

  /**
   * A file the browser uploads in chunks (it cannot give a path). Chunks are appended to a staging
   * file under `.downloads/`; the last one imports it exactly as `import` would, then deletes it.
   */
  async importFile(chunk: {
    name: string;
    base64: string;
    uploadId?: string | undefined;
    offset: number;
    last: boolean;
  }): Promise<{ uploadId: string; importId: string | null; id: string | null }> {
    const name = chunk.name;
    if (basename(name) !== name || name.startsWith('.')) throw validation('name', `${name} must be a plain file name`);
    // By name first, before a byte is stored; the import checks the bytes again.
    if (/\.(ckpt|pt|pth|bin|pkl|pickle)$/i.test(name))
      throw validation(
        'name',
        `${name} is a PyTorch pickle, and Sumi Studio does not open pickles (loading one can run any code hidden in it); convert it to .safetensors first`,
      );
    if (extname(name).toLowerCase() !== '.safetensors')
      throw validation('name', `${name} is not a .safetensors file (folders must be imported by path)`);
    let uploadId = chunk.uploadId;
    let upload = uploadId ? this.uploads.get(uploadId) : undefined;
    if (uploadId && !upload) throw new AppError('NOT_FOUND', `No upload ${uploadId} (it expired or finished).`);
    if (!uploadId) {
      if (chunk.offset !== 0) throw validation('offset', 'must be 0 for the first chunk');
      this.dropStaleUploads();
      uploadId = randomUUID();
      upload = { name, dir: join(this.root, DOWNLOADS_FOLDER, `upload-${uploadId}`), bytes: 0, touched: Date.now() };
      mkdirSync(upload.dir, { recursive: true });
      this.uploads.set(uploadId, upload);
    }
    if (!upload) throw new AppError('INTERNAL', 'upload state lost');
    if (upload.name !== name) throw validation('name', `does not match the upload's first chunk (${upload.name})`);
    if (chunk.offset !== upload.bytes)
      throw new AppError(
        'CONFLICT',
        `Upload ${uploadId} has ${upload.bytes} bytes; a chunk at ${chunk.offset} does not follow.`,
      );
    const bytes = Buffer.from(chunk.base64, 'base64');
    if (upload.bytes + bytes.length > MODEL_UPLOAD_MAX_BYTES) {
      this.dropUpload(uploadId);
      throw validation('base64', `the file is larger than ${MODEL_UPLOAD_MAX_BYTES / 1024 ** 3} GB; import it by path`);
    }
    const part = join(upload.dir, `${name}.part`);
    appendFileSync(part, bytes);
    upload.bytes += bytes.length;
    upload.touched = Date.now();
    if (!chunk.last) return { uploadId, importId: null, id: null };
    this.uploads.delete(uploadId);
    const file = join(upload.dir, name);
    renameSync(part, file);
    const dir = upload.dir;
    try {
      const started = await this.import(file, true, () => rmSync(dir, { recursive: true, force: true }));
      return { uploadId, ...started };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private dropUpload(uploadId: string): void {
    const upload = this.uploads.get(uploadId);
    if (upload) rmSync(upload.dir, { recursive: true, force: true });
    this.uploads.delete(uploadId);
  }

  private dropStaleUploads(): void {
    for (const [id, upload] of this.uploads) if (Date.now() - upload.touched > UPLOAD_STALE_MS) this.dropUpload(id);
  }

  /** A model folder's content hash (`folderHash`), every file's sha256 from (and into) the hash cache. */
  modelHash(dir: string): Promise<FolderHash> {
    return folderHash(dir, { hashFile: (file, options) => this.deps.hashes.sha256(file, options) });
  }

  /**
   * Hashes an entry (cached): a LoRA's `addnet` hash, an embedding's sha256, a model folder's folder
   * hash; the list shows the short form afterwards.
   */
  async hash(id: string): Promise<string> {
    const path = this.resolveEntry(id);
    if (statSync(path).isDirectory()) return (await this.modelHash(path)).sha256;
    const header = await readSafetensorsHeader(path);
    return safetensorsKind(header.tensors.keys()) === 'lora'
      ? this.deps.hashes.addnet(path)
      : this.deps.hashes.sha256(path);
  }

  /**
   * A LoRA by the name used in prompts (`<lora:NAME:W>`: the file name without .safetensors), read and
   * checked here in main, ready to hand to the engine, with A1111's hash for the recipe.
   */
  /** Embeddings the texts name (`embeddings/NAME.safetensors`, whole word, any case), read and checked. */
  async loadEmbeddings(texts: readonly string[]): Promise<EmbeddingFile[]> {
    // 'unknown' leaves the width check to the engine, which knows the loaded model's family.
    return loadPromptEmbeddings(join(this.root, 'embeddings'), texts, 'unknown', (p) => this.deps.hashes.sha256(p));
  }

  async loadLora(name: string, weight: number): Promise<{ spec: LoraSpec; shortHash: string }> {
    const dir = join(this.root, 'loras');
    const file = existsSync(dir)
      ? readdirSync(dir).find((f) => f.toLowerCase() === `${name.toLowerCase()}.safetensors`)
      : undefined;
    if (!file) throw validation('prompt', `no LoRA named "${name}" in ${dir} (import it on the Models page)`);
    const path = join(dir, file);
    const header = await readSafetensorsHeader(path);
    if (safetensorsKind(header.tensors.keys()) === 'embedding')
      throw validation('prompt', `${file} is a textual-inversion embedding, not a LoRA: write its name in the prompt`);
    const tensors: Record<string, { dims: number[]; data: Float32Array }> = {};
    for (const [key, info] of header.tensors)
      tensors[key] = { dims: [...info.shape], data: await readTensor(path, header, key) };
    const addnet = await this.deps.hashes.addnet(path);
    return {
      spec: { id: addnet, name, weight, tensors, metadata: { ...header.metadata } },
      shortHash: a1111LoraHash(addnet),
    };
  }

  private resolveEntry(id: string): string {
    const parts = id.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..') || parts.length > 2)
      throw new AppError('NOT_FOUND', `No ${id} in the models folder.`);
    const path = join(this.root, ...parts);
    if (!existsSync(path)) throw new AppError('NOT_FOUND', `No ${id} in the models folder.`);
    return path;
  }
}

/** Reads a LoRA .safetensors file (strictly checked) into what the engine merges. */
export async function readLoraFile(
  path: string,
  name: string,
  weight: number,
  addnet?: string,
): Promise<{ spec: LoraSpec; shortHash: string }> {
  await refusePickle(path);
  const header = await readSafetensorsHeader(path);
  const tensors: Record<string, { dims: number[]; data: Float32Array }> = {};
  for (const [key, info] of header.tensors)
    tensors[key] = { dims: [...info.shape], data: await readTensor(path, header, key) };
  const hash = addnet ?? (await addnetHashSafetensors(path));
  return {
    spec: { id: hash, name, weight, tensors, metadata: { ...header.metadata } },
    shortHash: a1111LoraHash(hash),
  };
}

function validation(field: string, message: string): AppError {
  return new AppError('VALIDATION', `${field}: ${message}.`, { issues: [{ field, message }] });
}

function readJson(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile());
}

function folderBytes(dir: string): number {
  try {
    return listFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

/**
 * What kind of model within its family, from its configs (the UI's defaults follow it): a 9-channel
 * UNet inpaints; a guidance-embedding UNet or the LCM scheduler is LCM; "trailing" timestep spacing
 * is how Turbo and Lightning models ship.
 */
function modelVariant(unet: Record<string, unknown>, scheduler: Record<string, unknown>): LibraryEntry['variant'] {
  if (unet.in_channels === 9) return 'inpaint';
  if (typeof unet.time_cond_proj_dim === 'number' || scheduler._class_name === 'LCMScheduler') return 'lcm';
  if (scheduler.timestep_spacing === 'trailing') return 'turbo';
  return 'standard';
}
