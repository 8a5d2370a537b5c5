/**
 * A local Hugging Face look-alike over node:http, for download tests: it serves folders as model
 * repositories in the Hub's API shape (`/api/models/{repo}/tree/{rev}[/{path}]?recursive=…`, with
 * `lfs.oid` = sha256 for weights and files over 100 KB), and files at `/{repo}/resolve/{rev}/{path}`, which
 * redirect to `/cdn/…` as the Hub does, with Range support (206 + Content-Range, 416).
 *
 * Faults on demand: `cutOnce` drops the connection half-way through a file's first full request,
 * `corrupt` serves a file with one byte flipped (the listing keeps the true sha256), `ignoreRange`
 * answers Range requests with the whole file (200), `stall` sends half a file and then nothing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';

export interface HfRequest {
  path: string;
  range: string | null;
}

export interface HfServer {
  baseUrl: string;
  requests: HfRequest[];
  /** Repository-relative paths ("ORG/NAME:file") whose first full request is cut off mid-file. */
  cutOnce: Set<string>;
  corrupt: Set<string>;
  stall: Set<string>;
  ignoreRange: boolean;
  close: () => Promise<void>;
}

interface RepoFile {
  path: string;
  size: number;
  bytes: Buffer;
  sha256: string;
}

const LFS_THRESHOLD = 100 * 1024;
/** What the Hub's default .gitattributes sends to LFS whatever the size. */
const LFS_EXTENSIONS = /\.(safetensors|onnx|onnx_data|pb|bin|ckpt|pt)$/;

function readRepo(dir: string): RepoFile[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => {
      const bytes = readFileSync(join(dir, f));
      return {
        path: relative(dir, join(dir, f)).split(sep).join('/'),
        size: bytes.length,
        bytes,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
    });
}

/** Serves `repos` (repo id -> folder, or -> files by path) at revision `main`. */
export async function startHfServer(repos: Record<string, string | Record<string, Buffer>>): Promise<HfServer> {
  const files = new Map<string, RepoFile[]>();
  for (const [repo, source] of Object.entries(repos)) {
    files.set(
      repo,
      typeof source === 'string'
        ? readRepo(source)
        : Object.entries(source).map(([path, bytes]) => ({
            path,
            size: bytes.length,
            bytes,
            sha256: createHash('sha256').update(bytes).digest('hex'),
          })),
    );
  }
  const state: Omit<HfServer, 'baseUrl' | 'close'> = {
    requests: [],
    cutOnce: new Set(),
    corrupt: new Set(),
    stall: new Set(),
    ignoreRange: false,
  };
  const cut = new Set<string>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    state.requests.push({ path, range: req.headers.range ?? null });
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(path);
    if (api) {
      const [, repo = '', rev, under] = api;
      const list = files.get(repo);
      if (!list || rev !== 'main') return notFound(res);
      const prefix = under ? `${under}/` : '';
      const entries = list
        .filter((f) => f.path.startsWith(prefix))
        .map((f) => ({
          type: 'file',
          oid: createHash('sha1').update(f.path).digest('hex'),
          size: f.size,
          path: f.path,
          ...(f.size > LFS_THRESHOLD || LFS_EXTENSIONS.test(f.path)
            ? { lfs: { oid: f.sha256, size: f.size, pointerSize: 134 } }
            : {}),
        }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(entries));
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (resolve) {
      const [, repo = '', rev, file = ''] = resolve;
      if (rev !== 'main' || !files.get(repo)?.some((f) => f.path === file)) return notFound(res);
      res.writeHead(302, { location: `/cdn/${repo}/${file}` });
      res.end();
      return;
    }
    const cdn = /^\/cdn\/([^/]+\/[^/]+)\/(.+)$/.exec(path);
    const file = cdn ? files.get(cdn[1] ?? '')?.find((f) => f.path === cdn[2]) : undefined;
    if (!cdn || !file) return notFound(res);
    const key = `${cdn[1]}:${file.path}`;
    let bytes = file.bytes;
    if (state.corrupt.has(key)) {
      bytes = Buffer.from(bytes);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !state.ignoreRange) {
      const start = Number(range[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-length': bytes.length - start,
        'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        'accept-ranges': 'bytes',
      });
      res.end(bytes.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-length': bytes.length, 'accept-ranges': 'bytes' });
    if (state.stall.has(key)) {
      res.write(bytes.subarray(0, bytes.length >> 1));
      return;
    }
    if (state.cutOnce.has(key) && !cut.has(key)) {
      cut.add(key);
      // Half the file, flushed, then the connection drops: the client sees a truncated body.
      res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    res.end(bytes);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  });
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'Repository not found' }));
}
