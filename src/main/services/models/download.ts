/**
 * Downloads a model by URL: a Hugging Face repository laid out as diffusers ONNX (only the files
 * that layout needs, never pickles), or one `.safetensors` file (a LoRA or an embedding).
 *
 * Everything lands in `<models>/.downloads/<name>/` first, each file as `<file>.part` until its size
 * and (for LFS files) sha256 match what the repository says, and the finished folder is renamed into
 * the models folder in one step, so the library never lists half a model. A dropped connection is
 * retried with an HTTP Range request from where the `.part` file ends, and a later download of the
 * same URL picks up the `.part` files an earlier one left behind.
 *
 * Hugging Face API shape (also served by mirrors and by the tests' local server):
 * `GET {base}/api/models/{repo}/tree/{rev}[/{path}]?recursive=true` lists `{ type, path, size,
 * lfs?: { oid } }` (`lfs.oid` is the file's sha256), paginated by a `Link: <…>; rel="next"` header;
 * files come from `{base}/{repo}/resolve/{rev}/{path}` (usually a redirect to a CDN).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { AppError } from '../AppError';
import { readSafetensorsHeader, refusePickle } from './safetensors';
import { safetensorsKind } from './safetensorsKind';

export const HF_BASE_URL = 'https://huggingface.co';

/** The staging folder inside the models folder (hidden from the library listing). */
export const DOWNLOADS_FOLDER = '.downloads';

/** A file the repository lists; sha256 is known for LFS files only (git blob ids are sha1). */
export interface RemoteFile {
  path: string;
  size: number | null;
  sha256: string | null;
}

export type ModelSource =
  | { kind: 'repo'; repo: string; revision: string; subfolder: string }
  | { kind: 'file'; url: string; fileName: string; hf: { repo: string; revision: string; path: string } | null };

export interface DownloadProgress {
  doneBytes: number;
  totalBytes: number;
  /** The file being fetched, relative to the model folder (or the file name); null before the first. */
  file: string | null;
}

export interface DownloadOptions {
  /** The models folder. */
  modelsDir: string;
  /** Folder name for a model (default: the repository's name); ignored for single files. */
  name?: string;
  /** Hugging Face or a mirror; tests pass a local server. */
  baseUrl?: string;
  /** A Hugging Face token for gated or private repositories; only ever sent to `baseUrl`. */
  token?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Called once the files are known, before any is fetched, with the library id they will get. */
  onPlan?: (plan: { id: string; totalBytes: number; files: RemoteFile[] }) => void;
  /** Attempts per file after a dropped connection or a 5xx (default 5), and the first back-off. */
  retries?: number;
  retryDelayMs?: number;
}

export interface DownloadResult {
  /** The library id: the model folder's name, or `loras/x.safetensors` / `embeddings/x.safetensors`. */
  id: string;
  path: string;
  files: RemoteFile[];
  /** Repository files left out: weights in other formats, pickles, files the layout does not use. */
  skipped: string[];
}

const PICKLE = /\.(bin|ckpt|pt|pth|pkl|pickle)$/i;
/** Weights in formats the ONNX engine cannot use; a mixed repository's PyTorch weights are gigabytes. */
const OTHER_WEIGHTS = /\.(safetensors|msgpack|h5|ot|mlmodel|mlpackage|gguf)$/i;
const REQUIRED = ['unet/model.onnx', 'text_encoder/model.onnx', 'vae_decoder/model.onnx', 'tokenizer/vocab.json'];
const PROGRESS_EVERY_MS = 200;

// ---------------------------------------------------------------------------------------------
// What to download
// ---------------------------------------------------------------------------------------------

/**
 * Reads what the user pasted: `ORG/NAME`, `{base}/ORG/NAME[/tree/REV[/SUBFOLDER]]`,
 * `{base}/ORG/NAME/{resolve|blob}/REV/PATH` (one file), or any http(s) URL of a `.safetensors` file.
 * Throws AppError('VALIDATION') in words for anything else, and for pickles before a byte is fetched.
 */
export function parseModelSource(input: string, baseUrl = HF_BASE_URL): ModelSource {
  const text = input.trim();
  if (/^[\w.-]+\/[\w.-]+$/.test(text) && !text.startsWith('.')) {
    return { kind: 'repo', repo: text, revision: 'main', subfolder: '' };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`${text} is not a URL (or a Hugging Face ORG/NAME)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`${text} is not an http(s) URL`);
  const base = new URL(baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const isHf =
    url.origin === base.origin ||
    (baseUrl === HF_BASE_URL && (url.hostname === 'hf.co' || url.hostname === 'www.huggingface.co'));
  if (isHf && url.pathname.startsWith(basePath)) {
    const parts = url.pathname.slice(basePath.length).split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'datasets' || parts[0] === 'spaces')
      throw invalid(`${text} is a Hugging Face ${parts[0].slice(0, -1)}, not a model repository`);
    const [org, name, action, revision, ...rest] = parts;
    if (!org || !name) throw invalid(`${text} does not name a repository (expected ${baseUrl}/ORG/NAME)`);
    const repo = `${org}/${name}`;
    if (action === undefined) return { kind: 'repo', repo, revision: 'main', subfolder: '' };
    if (action === 'tree') return { kind: 'repo', repo, revision: revision ?? 'main', subfolder: rest.join('/') };
    if ((action === 'resolve' || action === 'blob') && revision && rest.length > 0) {
      const path = rest.join('/');
      refuseByName(path);
      return {
        kind: 'file',
        url: resolveUrl(baseUrl, repo, revision, path),
        fileName: basename(path),
        hf: { repo, revision, path },
      };
    }
    throw invalid(`${text} is not a repository, folder or file address`);
  }
  const fileName = basename(decodeURIComponent(url.pathname));
  refuseByName(fileName);
  return { kind: 'file', url: url.href, fileName, hf: null };
}

function refuseByName(path: string): void {
  if (PICKLE.test(path)) {
    throw invalid(
      `${basename(path)} is a PyTorch pickle, and Sumi Studio does not open pickles: loading one can run any code ` +
        `hidden inside it. Download a .safetensors version, or a diffusers ONNX export of the model`,
    );
  }
  if (extname(path).toLowerCase() !== '.safetensors')
    throw invalid(
      `${basename(path)}: only .safetensors files (LoRAs, embeddings) or whole diffusers ONNX repositories can be downloaded`,
    );
}

/** The repository files a diffusers ONNX model folder needs, relative to `subfolder`, and what was left out. */
export function selectOnnxFiles(
  entries: RemoteFile[],
  subfolder = '',
): { files: RemoteFile[]; skipped: string[]; pickles: string[] } {
  const prefix = subfolder ? `${subfolder.replace(/\/+$/, '')}/` : '';
  const files: RemoteFile[] = [];
  const skipped: string[] = [];
  const pickles: string[] = [];
  for (const entry of entries) {
    if (!entry.path.startsWith(prefix)) continue;
    const rel = entry.path.slice(prefix.length);
    const verdict = wanted(rel);
    if (verdict === 'take') files.push({ ...entry, path: rel });
    else if (verdict === 'pickle') pickles.push(rel);
    else skipped.push(rel);
  }
  return { files, skipped: [...pickles, ...skipped], pickles };
}

function wanted(rel: string): 'take' | 'skip' | 'pickle' {
  const parts = rel.split('/');
  if (parts.length === 1) return rel === 'model_index.json' ? 'take' : 'skip';
  if (parts.length !== 2) return 'skip';
  const [dir = '', file = ''] = parts;
  if (PICKLE.test(file)) return 'pickle';
  if (file === 'config.json') return 'take';
  if (dir === 'scheduler' || /^tokenizer(_\d+)?$/.test(dir)) return 'take';
  if (/^text_encoder(_\d+)?$/.test(dir))
    return /^(model\.onnx(_data|\.data)?|weights\.pb)$/.test(file) ? 'take' : 'skip';
  // Optimum's older exports split external data into one file per tensor, so take all but other formats.
  if (dir === 'unet' || /^vae_/.test(dir)) return OTHER_WEIGHTS.test(file) || file.startsWith('.') ? 'skip' : 'take';
  return 'skip';
}

// ---------------------------------------------------------------------------------------------
// Hugging Face API
// ---------------------------------------------------------------------------------------------

function resolveUrl(baseUrl: string, repo: string, revision: string, path: string): string {
  const enc = (p: string): string => p.split('/').map(encodeURIComponent).join('/');
  return `${baseUrl.replace(/\/+$/, '')}/${enc(repo)}/resolve/${encodeURIComponent(revision)}/${enc(path)}`;
}

interface ApiContext {
  baseUrl: string;
  fetch: typeof fetch;
  signal: AbortSignal | undefined;
  headers: Record<string, string>;
}

/** Every file of a repository (under `path`, when given), following the API's pagination. */
export async function listRepoFiles(ctx: ApiContext, repo: string, revision: string, path = ''): Promise<RemoteFile[]> {
  const base = ctx.baseUrl.replace(/\/+$/, '');
  const enc = (p: string): string => p.split('/').map(encodeURIComponent).join('/');
  let next: string | null =
    `${base}/api/models/${enc(repo)}/tree/${encodeURIComponent(revision)}${path ? `/${enc(path)}` : ''}?recursive=true`;
  const files: RemoteFile[] = [];
  while (next) {
    const res = await request(ctx, next, repo);
    if (res.status === 404 || res.status === 405) {
      await res.body?.cancel();
      if (files.length === 0) return listFromRevision(ctx, repo, revision, path);
    }
    if (!res.ok) throw await httpError(res, `${repo} (listing ${revision})`);
    const body = (await res.json()) as unknown;
    if (!Array.isArray(body)) throw new AppError('IO', `${repo}: the repository listing is not a list.`);
    for (const raw of body as { type?: string; path?: unknown; size?: unknown; lfs?: { oid?: unknown } }[]) {
      if (raw.type !== 'file' || typeof raw.path !== 'string') continue;
      files.push({
        path: raw.path,
        size: typeof raw.size === 'number' ? raw.size : null,
        sha256: typeof raw.lfs?.oid === 'string' && /^[0-9a-f]{64}$/.test(raw.lfs.oid) ? raw.lfs.oid : null,
      });
    }
    next = nextLink(res.headers.get('link'), next);
  }
  return files;
}

/** The older `revision` endpoint: `siblings` with sizes and LFS sha256 when asked for `blobs`. */
async function listFromRevision(ctx: ApiContext, repo: string, revision: string, path: string): Promise<RemoteFile[]> {
  const base = ctx.baseUrl.replace(/\/+$/, '');
  const url = `${base}/api/models/${repo.split('/').map(encodeURIComponent).join('/')}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const res = await request(ctx, url, repo);
  if (!res.ok) throw await httpError(res, `${repo} at ${revision}`);
  const body = (await res.json()) as {
    siblings?: { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown; oid?: unknown } }[];
  };
  const prefix = path ? `${path}/` : '';
  return (body.siblings ?? []).flatMap((s) => {
    if (typeof s.rfilename !== 'string' || !s.rfilename.startsWith(prefix)) return [];
    const sha = s.lfs?.sha256 ?? s.lfs?.oid;
    return [
      {
        path: s.rfilename,
        size: typeof s.size === 'number' ? s.size : null,
        sha256: typeof sha === 'string' && /^[0-9a-f]{64}$/.test(sha) ? sha : null,
      },
    ];
  });
}

/** An API request whose network failure says, in words, which server could not be reached. */
async function request(ctx: ApiContext, url: string, what: string): Promise<Response> {
  try {
    return await ctx.fetch(url, { headers: ctx.headers, signal: ctx.signal });
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    throw new AppError('IO', `${what}: could not reach ${new URL(url).origin} (${describeNetworkError(err)}).`);
  }
}

function nextLink(header: string | null, current: string): string | null {
  const match = header ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(header) : null;
  return match?.[1] ? new URL(match[1], current).href : null;
}

async function httpError(res: Response, what: string): Promise<AppError> {
  const text = (await res.text().catch(() => '')).slice(0, 200).trim();
  const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
  if (res.status === 401 || res.status === 403)
    return new AppError(
      'IO',
      `${what}: the server refused access (HTTP ${res.status}). A gated or private repository needs you to accept its terms on the website and a token (HF_TOKEN).`,
      { status: res.status },
    );
  if (res.status === 404)
    return new AppError('NOT_FOUND', `${what}: not found (HTTP 404). Check the address and the revision.`, {
      status: 404,
    });
  return new AppError('IO', `${what}: HTTP ${res.status}${text ? ` (${text})` : ''}.`, {
    status: res.status,
    retryable,
  });
}

// ---------------------------------------------------------------------------------------------
// Download
// ---------------------------------------------------------------------------------------------

/**
 * Downloads a model repository or a `.safetensors` file into the models folder (see the module
 * header). Resolves with where it landed; throws AppError: VALIDATION (not a usable model, a
 * checksum mismatch naming the file and both hashes), CONFLICT (already in the library),
 * NOT_FOUND, IO (network, after the retries), CANCELLED (the signal aborted).
 */
export async function downloadModel(input: string, options: DownloadOptions): Promise<DownloadResult> {
  const baseUrl = options.baseUrl ?? HF_BASE_URL;
  const source = parseModelSource(input, baseUrl);
  const fetchImpl = options.fetch ?? fetch;
  const authHeaders: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const ctx: ApiContext = { baseUrl, fetch: fetchImpl, signal: options.signal, headers: authHeaders };
  const downloads = join(options.modelsDir, DOWNLOADS_FOLDER);
  try {
    if (source.kind === 'repo') return await downloadRepo(source, ctx, downloads, options);
    return await downloadSingleFile(source, ctx, downloads, options);
  } catch (err) {
    if (options.signal?.aborted) throw new AppError('CANCELLED', 'The download was cancelled.');
    throw err;
  } finally {
    await rmdir(downloads).catch(() => undefined);
  }
}

async function downloadRepo(
  source: Extract<ModelSource, { kind: 'repo' }>,
  ctx: ApiContext,
  downloads: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const name = folderName(options.name ?? (source.subfolder.split('/').at(-1) || source.repo.split('/')[1] || ''));
  const target = join(options.modelsDir, name);
  if (existsSync(target)) throw new AppError('CONFLICT', `${name} is already in the library.`);
  const listed = await listRepoFiles(ctx, source.repo, source.revision, source.subfolder);
  const { files, skipped, pickles } = selectOnnxFiles(listed, source.subfolder);
  const missing = REQUIRED.filter((p) => !files.some((f) => f.path === p));
  if (missing.length > 0) {
    const hint = listed.some((f) => f.path.endsWith('/unet/model.onnx'))
      ? ` It has ONNX files in a subfolder: try ${listed.find((f) => f.path.endsWith('/unet/model.onnx'))?.path.replace(/\/unet\/model\.onnx$/, '')} (…/tree/${source.revision}/FOLDER).`
      : pickles.length > 0 || listed.some((f) => OTHER_WEIGHTS.test(f.path))
        ? ' It holds PyTorch weights; Sumi Studio runs ONNX exports (optimum-cli export onnx), often in a repository or branch named "onnx".'
        : '';
    throw invalid(
      `${source.repo}${source.subfolder ? `/${source.subfolder}` : ''} is not a diffusers ONNX model: it has no ${missing.join(', ')}.${hint}`,
    );
  }
  const staging = join(downloads, name);
  const totalBytes = files.reduce((n, f) => n + (f.size ?? 0), 0);
  options.onPlan?.({ id: name, totalBytes, files });
  const progress = new ProgressMeter(totalBytes, options.onProgress);
  for (const file of files) {
    const prefix = source.subfolder ? `${source.subfolder}/` : '';
    const dest = join(staging, ...file.path.split('/'));
    await fetchVerified(
      resolveUrl(ctx.baseUrl, source.repo, source.revision, prefix + file.path),
      dest,
      file,
      ctx,
      options,
      progress,
    );
  }
  const stillMissing = REQUIRED.filter((p) => !existsSync(join(staging, ...p.split('/'))));
  if (stillMissing.length) throw invalid(`the download of ${name} lacks ${stillMissing.join(', ')}`);
  if (existsSync(target)) throw new AppError('CONFLICT', `${name} is already in the library.`);
  await rename(staging, target);
  progress.finish();
  return { id: name, path: target, files, skipped };
}

async function downloadSingleFile(
  source: Extract<ModelSource, { kind: 'file' }>,
  ctx: ApiContext,
  downloads: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  let remote: RemoteFile = { path: source.fileName, size: null, sha256: null };
  if (source.hf) {
    const dir = dirname(source.hf.path) === '.' ? '' : dirname(source.hf.path);
    const listed = await listRepoFiles(ctx, source.hf.repo, source.hf.revision, dir).catch(() => []);
    const found = listed.find((f) => f.path === source.hf?.path);
    if (found) remote = { ...found, path: source.fileName };
  }
  for (const kind of ['loras', 'embeddings'])
    if (existsSync(join(options.modelsDir, kind, source.fileName)))
      throw new AppError('CONFLICT', `${kind}/${source.fileName} is already in the library.`);
  const staging = join(downloads, source.fileName);
  options.onPlan?.({ id: source.fileName, totalBytes: remote.size ?? 0, files: [remote] });
  const progress = new ProgressMeter(remote.size ?? 0, options.onProgress);
  // Only send the token to the Hugging Face server it belongs to, never to another host.
  const sameHost = new URL(source.url).origin === new URL(ctx.baseUrl).origin;
  await fetchVerified(source.url, staging, remote, sameHost ? ctx : { ...ctx, headers: {} }, options, progress);
  let kind: 'loras' | 'embeddings';
  try {
    await refusePickle(staging);
    const header = await readSafetensorsHeader(staging);
    kind = safetensorsKind(header.tensors.keys()) === 'embedding' ? 'embeddings' : 'loras';
  } catch (err) {
    await rm(staging, { force: true });
    throw err;
  }
  const target = join(options.modelsDir, kind, source.fileName);
  if (existsSync(target)) throw new AppError('CONFLICT', `${kind}/${source.fileName} is already in the library.`);
  await mkdir(dirname(target), { recursive: true });
  await rename(staging, target);
  progress.finish();
  return { id: `${kind}/${source.fileName}`, path: target, files: [remote], skipped: [] };
}

/** A folder name for the library: letters, digits, dot, dash, underscore; not hidden, not reserved. */
export function folderName(raw: string): string {
  const name = raw
    .trim()
    .replace(/[^\w.-]+/g, '-')
    .replace(/^[-.]+/, '');
  if (!name || ['loras', 'embeddings', 'taesd', 'taesdxl'].includes(name.toLowerCase()))
    throw invalid(`"${raw}" cannot be a model folder name`);
  return name.slice(0, 120);
}

class ProgressMeter {
  private completed = 0;
  private current = 0;
  private file: string | null = null;
  private last = 0;
  /** The current file's size from Content-Length, when the listing did not give it. */
  private guessed = 0;

  constructor(
    private total: number,
    private readonly report?: (progress: DownloadProgress) => void,
  ) {}

  start(file: string, already: number): void {
    this.file = file;
    this.current = already;
    this.emit(true);
  }

  /** The current file's byte count (it drops back to 0 when a server restarts a file). */
  set(bytes: number): void {
    this.current = bytes;
    this.emit(false);
  }

  /** The size the server announced for a file the listing gave no size for. */
  guess(size: number): void {
    this.guessed = size;
  }

  fileDone(size: number, expected: number | null): void {
    // A file whose size the listing did not give is counted now, so done never passes total.
    if (expected === null) this.total += size;
    this.guessed = 0;
    this.completed += size;
    this.current = 0;
    this.emit(true);
  }

  finish(): void {
    this.file = null;
    this.emit(true);
  }

  private emit(force: boolean): void {
    const now = Date.now();
    if (!this.report || (!force && now - this.last < PROGRESS_EVERY_MS)) return;
    this.last = now;
    const done = this.completed + this.current;
    this.report({ doneBytes: done, totalBytes: Math.max(this.total + this.guessed, done), file: this.file });
  }
}

/** Fetches `url` into `dest` through `dest.part`, resuming and retrying; verifies size and sha256 when known. */
async function fetchVerified(
  url: string,
  dest: string,
  file: RemoteFile,
  ctx: ApiContext,
  options: DownloadOptions,
  progress: ProgressMeter,
): Promise<void> {
  if (existsSync(dest) && (file.size === null || (await stat(dest)).size === file.size)) {
    // Finished (and verified) by an earlier attempt at this download.
    progress.start(file.path, 0);
    progress.fileDone((await stat(dest)).size, file.size);
    return;
  }
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = options.retries ?? 5;
  const delay = options.retryDelayMs ?? 1000;
  let sha: string;
  for (let attempt = 0; ; attempt++) {
    try {
      sha = await fetchPart(url, part, file, ctx, progress);
      break;
    } catch (err) {
      const retryable =
        !ctx.signal?.aborted &&
        (err instanceof AppError ? (err.details as { retryable?: boolean } | undefined)?.retryable === true : true);
      if (!retryable || attempt >= retries) {
        if (err instanceof AppError) throw err;
        throw new AppError('IO', `${file.path}: the download failed (${describeNetworkError(err)}).`);
      }
      await sleep(delay * 2 ** attempt, ctx.signal);
    }
  }
  const size = (await stat(part)).size;
  if (file.size !== null && size !== file.size) {
    await rm(part, { force: true });
    throw new AppError(
      'IO',
      `${file.path}: the server sent ${size} bytes, the repository lists ${file.size}; the partial file was deleted, try again.`,
    );
  }
  if (file.sha256 !== null && sha !== file.sha256) {
    await rm(part, { force: true });
    throw new AppError(
      'VALIDATION',
      `${file.path}: the download does not match the repository's checksum (expected sha256 ${file.sha256}, got ${sha}); the partial file was deleted.`,
      { file: file.path, expected: file.sha256, actual: sha },
    );
  }
  await rename(part, dest);
  progress.fileDone(size, file.size);
}

/** One request: appends to `part` from where it ends (Range), or rewrites it when the server sends it all. Returns the sha256 of the whole part. */
async function fetchPart(
  url: string,
  part: string,
  file: RemoteFile,
  ctx: ApiContext,
  progress: ProgressMeter,
): Promise<string> {
  let offset = existsSync(part) ? (await stat(part)).size : 0;
  if (file.size !== null && offset > file.size) {
    await rm(part, { force: true });
    offset = 0;
  }
  progress.start(file.path, offset);
  if (file.size !== null && offset === file.size && offset > 0) return hashFile(part);
  const headers: Record<string, string> = { ...ctx.headers };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const res = await ctx.fetch(url, { headers, signal: ctx.signal, redirect: 'follow' });
  if (res.status === 416) {
    await res.body?.cancel();
    // Our part already reaches the end (the listing gave no size), or the file shrank: start over.
    if (file.size === null && offset > 0) return hashFile(part);
    await rm(part, { force: true });
    throw new AppError('IO', `${file.path}: the server refused to resume (HTTP 416).`, { retryable: true });
  }
  if (!res.ok || !res.body) throw await httpError(res, file.path);
  let append = false;
  if (res.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (Number(range?.[1]) !== offset) {
      await res.body.cancel();
      await rm(part, { force: true });
      throw new AppError('IO', `${file.path}: the server resumed at the wrong place.`, { retryable: true });
    }
    append = true;
  }
  const length = Number(res.headers.get('content-length'));
  if (file.size === null && length > 0) progress.guess((append ? offset : 0) + length);
  // 200 to a Range request: the server sent the whole file, so the part is rewritten from the start.
  const hash = append ? await hashFile(part, true) : createHash('sha256');
  let done = append ? offset : 0;
  progress.set(done);
  const handle = await open(part, append ? 'a' : 'w');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await handle.write(chunk);
      hash.update(chunk);
      done += chunk.byteLength;
      progress.set(done);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

function hashFile(path: string): Promise<string>;
function hashFile(path: string, keepOpen: true): Promise<Hash>;
async function hashFile(path: string, keepOpen = false): Promise<string | Hash> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return keepOpen ? hash : hash.digest('hex');
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? `: ${(cause as NodeJS.ErrnoException).code ?? cause.message}` : '';
  return `${err.message}${detail}`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AppError('CANCELLED', 'The download was cancelled.'));
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort(): void {
      clearTimeout(timer);
      reject(new AppError('CANCELLED', 'The download was cancelled.'));
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

function invalid(message: string): AppError {
  return new AppError('VALIDATION', `url: ${message}.`, { issues: [{ field: 'url', message }] });
}

/** Removes a cancelled download's staging folder (a failed one is kept so that trying again resumes). */
export async function discardDownload(modelsDir: string, name: string): Promise<void> {
  const downloads = join(modelsDir, DOWNLOADS_FOLDER);
  await rm(join(downloads, name), { recursive: true, force: true });
  await rm(join(downloads, `${name}.part`), { force: true });
  if (existsSync(downloads) && (await readdir(downloads)).length === 0) await rmdir(downloads).catch(() => undefined);
}
