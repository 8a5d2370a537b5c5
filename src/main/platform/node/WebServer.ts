/**
 * The web host's HTTP side: serves the built renderer, the media route and the WebSocket upgrade,
 * on 127.0.0.1 only, and refuses every request and socket that lacks the session token.
 *
 * The token arrives in the URL the host prints (`?token=`); the first page load turns it into a
 * SameSite=Strict, HttpOnly cookie so that scripts, styles and images loaded by that page carry it
 * too. A Host header other than our own address is refused (DNS rebinding), and so is a WebSocket
 * from another origin.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { contentSecurityPolicy } from '../csp';
import { mimeTypeOf, resolveMediaPath } from '../mediaPaths';
import { MAX_FRAME_BYTES } from '../../ipc/wsTransport';

export interface WebServerOptions {
  /** The built renderer (index.html and assets). */
  rendererDir: string;
  /** Named folders whose files the media route may serve. Read on every request. */
  mediaRoots: () => Record<string, string>;
  port: number;
  token?: string;
}

export interface WebServer {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly wss: WebSocketServer;
  close(): Promise<void>;
}

const COOKIE = 'sumi_token';

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  let port = options.port;

  const allowedHosts = (): Set<string> => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);

  function tokenOf(req: IncomingMessage, url: URL): string | null {
    const fromQuery = url.searchParams.get('token');
    if (fromQuery) return fromQuery;
    const header = req.headers['x-sumi-token'];
    if (typeof header === 'string') return header;
    const cookie = req.headers.cookie ?? '';
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === COOKIE) return v.join('=');
    }
    return null;
  }

  function authorised(req: IncomingMessage, url: URL): boolean {
    if (!allowedHosts().has(req.headers.host ?? '')) return false;
    const given = tokenOf(req, url);
    if (!given) return false;
    const bytes = Buffer.from(given);
    return bytes.length === tokenBytes.length && timingSafeEqual(bytes, tokenBytes);
  }

  function refuse(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(message);
  }

  function sendFile(res: ServerResponse, path: string, extraHeaders: Record<string, string> = {}): void {
    let size: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) return refuse(res, 404, 'Not found');
      size = st.size;
    } catch {
      return refuse(res, 404, 'Not found');
    }
    res.writeHead(200, {
      'content-type': mimeTypeOf(path),
      'content-length': String(size),
      'x-content-type-options': 'nosniff',
      ...extraHeaders,
    });
    createReadStream(path).pipe(res);
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (!authorised(req, url))
      return refuse(res, 403, 'Sumi Studio: this address needs the token printed by `npm run serve`.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed');

    const cookieHeader: Record<string, string> = url.searchParams.has('token')
      ? { 'set-cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` }
      : {};
    if (url.pathname.startsWith('/media/')) {
      const file = resolveMediaPath(options.mediaRoots(), url.pathname.slice('/media/'.length));
      if (!file) return refuse(res, 404, 'Not found');
      return sendFile(res, file, { 'cache-control': 'private, max-age=31536000, immutable' });
    }
    const relative = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    const file = resolveMediaPath({ app: options.rendererDir }, `app/${relative}`);
    if (!file) return refuse(res, 404, 'Not found');
    const isHtml = file.endsWith('.html');
    return sendFile(res, file, {
      ...cookieHeader,
      'cache-control': isHtml ? 'no-store' : 'private, max-age=3600',
      ...(isHtml
        ? {
            'content-security-policy': contentSecurityPolicy([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]),
            'referrer-policy': 'no-referrer',
            'x-frame-options': 'DENY',
          }
        : {}),
    });
  });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const origin = req.headers.origin;
    const originOk = origin === undefined || [...allowedHosts()].some((h) => origin === `http://${h}`);
    if (url.pathname !== '/api' || !originOk || !authorised(req, url)) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolveListen());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    wss,
    close: () =>
      new Promise<void>((done) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
