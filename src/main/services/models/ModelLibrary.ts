/**
 * The model library: what is in the models folder, what each thing is, and whether it can be trusted.
 *
 * Layout: diffusers-ONNX model folders at the top level, LoRAs in `loras/`, textual-inversion
 * embeddings in `embeddings/`, TAESD preview decoders in `taesd/` and `taesdxl/`. Listing is cheap
 * (configs and safetensors headers only, never weights); "check" opens the model in the engine and
 * remembers what it found; hashes are computed in the background and cached by (path, size, mtime).
 * User data (display names, notes, family and prediction overrides) lives in `.sumi-library.json`.
 */
import { randomUUID } from 'node:crypto';
import {
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
import type { LibraryEntry, ModelImportProgress } from '@contract';
import type { Emit } from '../../ipc/EventHub';
import { AppError } from '../AppError';
import type { EngineClient } from '../generation/EngineClient';
import { type HashCache, a1111LoraHash, a1111ModelHash, addnetHashSafetensors } from './hashing';
import { familyFromTensors, parseKohyaMetadata } from './kohyaMetadata';
import { readSafetensorsHeader, readTensor, refusePickle } from './safetensors';
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
}

export class ModelLibrary {
  constructor(private readonly deps: ModelLibraryDeps) {}

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
      entries.push(this.describeModel(dirent.name, user[dirent.name] ?? {}));
    }
    for (const kind of ['lora', 'embedding'] as const) {
      const dir = join(this.root, kind === 'lora' ? 'loras' : 'embeddings');
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        const id = `${kind === 'lora' ? 'loras' : 'embeddings'}/${name}`;
        if (statSync(join(dir, name)).isFile()) entries.push(await this.describeFile(kind, id, user[id] ?? {}));
      }
    }
    return entries;
  }

  private describeModel(id: string, user: UserData): LibraryEntry {
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
    };
    try {
      const missing = [
        'unet/model.onnx',
        'text_encoder/model.onnx',
        'vae_decoder/model.onnx',
        'tokenizer/vocab.json',
      ].filter((p) => !existsSync(join(dir, p)));
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
      base.demo = marker.demo === true;
      if (base.demo && !user.name && typeof marker.label === 'string') base.name = marker.label;
    } catch (err) {
      base.status = 'error';
      base.problem = `Not a usable diffusers ONNX model: ${err instanceof Error ? err.message : String(err)}.`;
    }
    return base;
  }

  private async describeFile(kind: 'lora' | 'embedding', id: string, user: UserData): Promise<LibraryEntry> {
    const path = join(this.root, ...id.split('/'));
    const entry: LibraryEntry = {
      id,
      kind,
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
    };
    try {
      await refusePickle(path);
      const header = await readSafetensorsHeader(path);
      const kohya = parseKohyaMetadata(header.metadata);
      const shapes = familyFromTensors(header.tensors.values());
      entry.family = user.family ?? (shapes.family !== 'unknown' ? shapes.family : kohya.family);
      entry.triggerWords = kohya.triggerWords;
      const dtypes = new Set([...header.tensors.values()].map((t) => t.dtype));
      entry.precision = dtypes.has('F16') || dtypes.has('BF16') ? 'fp16' : 'fp32';
      const cached = await this.deps.hashes.peek(kind === 'lora' ? 'addnet' : 'sha256', path);
      if (cached) entry.shortHash = kind === 'lora' ? a1111LoraHash(cached) : a1111ModelHash(cached);
    } catch (err) {
      entry.status = 'error';
      entry.problem = err instanceof Error ? err.message : String(err);
    }
    return entry;
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
    return this.describeModel(id, data[id] ?? {});
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
  async import(source: string, move: boolean): Promise<{ importId: string; id: string }> {
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
      const names = [...header.tensors.keys()];
      const embedding = names.some(
        (n) => n === 'emb_params' || n.startsWith('string_to_param') || n === 'clip_l' || n === 'clip_g',
      );
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
    void (async () => {
      const staging = `${target}.importing-${importId.slice(0, 8)}`;
      try {
        mkdirSync(stat.isDirectory() ? staging : join(staging, '..'), { recursive: true });
        for (const file of files) {
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
      }
      this.deps.emit('models.import', structuredClone(progress));
    })();
    return { importId, id };
  }

  /** Hashes a LoRA or embedding in the background (cached); the list shows A1111's short hash afterwards. */
  async hash(id: string): Promise<string> {
    const path = this.resolveEntry(id);
    const kind = id.startsWith('loras/') ? 'addnet' : 'sha256';
    return kind === 'addnet' ? this.deps.hashes.addnet(path) : this.deps.hashes.sha256(path);
  }

  /**
   * A LoRA by the name used in prompts (`<lora:NAME:W>`: the file name without .safetensors), read and
   * checked here in main, ready to hand to the engine, with A1111's hash for the recipe.
   */
  async loadLora(name: string, weight: number): Promise<{ spec: LoraSpec; shortHash: string }> {
    const dir = join(this.root, 'loras');
    const file = existsSync(dir)
      ? readdirSync(dir).find((f) => f.toLowerCase() === `${name.toLowerCase()}.safetensors`)
      : undefined;
    if (!file) throw validation('prompt', `no LoRA named "${name}" in ${dir} (import it on the Models page)`);
    const path = join(dir, file);
    const header = await readSafetensorsHeader(path);
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
