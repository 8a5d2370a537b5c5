/**
 * The web host's HTTP and WebSocket side, started for real on 127.0.0.1 over the real services:
 * the token guards everything, and the contract answers bad calls with typed errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { WireMessage } from '../../../src/preload/contract';
import { attachWsTransport } from '../../../src/main/ipc/wsTransport';
import { startWebServer, type WebServer } from '../../../src/main/platform/node/WebServer';
import { createTestApp } from '../../helpers/appHarness';
import { makeTempDir } from '../../helpers/tempDir';

let server: WebServer;
let outputs: string;
const temp = makeTempDir('sumi-web-');

beforeAll(async () => {
  const rendererDir = join(temp.dir, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(temp.dir, 'secret.txt'), 'outside the bundle');
  const app = await createTestApp(join(temp.dir, 'data'));
  outputs = app.settings.get().outputDir;
  writeFileSync(join(outputs, 'image.png'), 'png-bytes');
  server = await startWebServer({ rendererDir, mediaRoots: () => ({ outputs }), port: 0 });
  attachWsTransport(server.wss, app.router, app.hub);
});

afterAll(async () => {
  await server.close();
  temp.cleanup();
});

function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connect(query: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api${query}`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function call(ws: WebSocket, frame: unknown): Promise<WireMessage> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data)) as WireMessage));
    ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  });
}

describe('web host', () => {
  test('binds 127.0.0.1 and prints a URL with the token', () => {
    expect(server.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/\\?token=[A-Za-z0-9_-]{32}$`));
  });

  test('a page request without the token is refused', async () => {
    expect((await get('/')).status).toBe(403);
    expect((await get('/assets/app.js')).status).toBe(403);
    expect((await get(`/?token=${server.token}x`)).status).toBe(403);
  });

  test('the token in the URL serves the page with a strict CSP and sets the cookie for its assets', async () => {
    const page = await get(`/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(String(page.headers['content-security-policy'])).not.toContain('unsafe');
    const cookie = String(page.headers['set-cookie']).split(';')[0] ?? '';
    expect(cookie).toBe(`sumi_token=${server.token}`);
    const asset = await get('/assets/app.js', { cookie });
    expect(asset.status).toBe(200);
    expect(asset.body).toBe('console.log(1)');
  });

  test('a foreign Host header is refused even with the token (DNS rebinding)', async () => {
    expect((await get(`/?token=${server.token}`, { host: `evil.example:${server.port}` })).status).toBe(403);
  });

  test('paths escaping the bundle or the media roots are refused', async () => {
    const t = `token=${server.token}`;
    expect((await get(`/..%2fsecret.txt?${t}`)).status).toBe(404);
    expect((await get(`/assets/..%2f..%2fsecret.txt?${t}`)).status).toBe(404);
    expect((await get(`/media/outputs/..%2f..%2fsecret.txt?${t}`)).status).toBe(404);
    expect((await get(`/media/elsewhere/image.png?${t}`)).status).toBe(404);
    const image = await get(`/media/outputs/image.png?${t}`);
    expect(image.status).toBe(200);
    expect(image.body).toBe('png-bytes');
    expect(image.headers['content-type']).toBe('image/png');
  });

  test('a WebSocket without the token is refused', async () => {
    await expect(connect('')).rejects.toThrow(/403/);
    await expect(connect('?token=wrong')).rejects.toThrow(/403/);
  });

  test('a WebSocket from another origin is refused even with the token', async () => {
    await expect(connect(`?token=${server.token}`, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
  });

  test('over the socket: calls work, unknown methods and malformed inputs get typed errors', async () => {
    const ws = await connect(`?token=${server.token}`);
    const ok = await call(ws, { t: 'req', id: 1, method: 'settings.get', input: {} });
    expect(ok).toMatchObject({ t: 'res', id: 1, result: { ok: true, value: { theme: 'dark' } } });

    const unknown = await call(ws, { t: 'req', id: 2, method: 'engine.selfDestruct', input: {} });
    expect(unknown).toMatchObject({ t: 'res', id: 2, result: { ok: false, error: { code: 'UNKNOWN_METHOD' } } });

    const bad = await call(ws, { t: 'req', id: 3, method: 'settings.update', input: { defaults: { cfg: 'high' } } });
    expect(bad).toMatchObject({ id: 3, result: { ok: false, error: { code: 'VALIDATION' } } });
    if (bad.t === 'res' && !bad.result.ok) expect(bad.result.error.message).toContain('defaults.cfg');

    const garbage = await call(ws, 'this is not json');
    expect(garbage).toMatchObject({ t: 'res', id: -1, result: { ok: false, error: { code: 'VALIDATION' } } });

    const shapeless = await call(ws, { id: 9, hello: 'world' });
    expect(shapeless).toMatchObject({ t: 'res', id: 9, result: { ok: false, error: { code: 'VALIDATION' } } });
    ws.close();
  });

  test('events reach every connected socket', async () => {
    const a = await connect(`?token=${server.token}`);
    const b = await connect(`?token=${server.token}`);
    const seenByB = new Promise<WireMessage>((resolve) =>
      b.once('message', (d) => resolve(JSON.parse(String(d)) as WireMessage)),
    );
    await call(a, { t: 'req', id: 1, method: 'settings.update', input: { theme: 'light' } });
    expect(await seenByB).toMatchObject({ t: 'evt', event: 'settings.changed', payload: { theme: 'light' } });
    a.close();
    b.close();
  });
});
