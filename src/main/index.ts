/**
 * Electron composition root: platform adapters, then services, then IPC; the window; the
 * `sumi-app://` protocol for the renderer bundle and `sumi-media://` for images. Security settings
 * follow Electron's checklist; see docs/security.md.
 */
import { app, BrowserWindow, ipcMain, protocol, session, shell, type WebContents } from 'electron';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPC_EVENT, IPC_INVOKE, type Envelope } from '@contract';
import { AppServices } from './AppServices';
import { contentSecurityPolicy } from './platform/csp';
import { openElectronSettingsStore } from './platform/electron/settingsStore';
import { isAllowedExternalUrl } from './platform/externalUrls';
import { mimeTypeOf, resolveMediaPath } from './platform/mediaPaths';
import { utilityEngine } from './platform/electron/utilityEngine';
import { sharpCodec } from './platform/sharpCodec';
import { APP_HOST, APP_SCHEME, MEDIA_SCHEME, isAppUrl } from './platform/electron/origins';

const here = dirname(fileURLToPath(import.meta.url));
const rendererDir = join(here, '../renderer');
const preloadPath = join(here, '../preload/index.cjs');
const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  { scheme: MEDIA_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    const win = BrowserWindow.getAllWindows()[0];
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('web-contents-created', (_event, contents) => hardenContents(contents));
  app.on('window-all-closed', () => app.quit());
  void app.whenReady().then(start);
}

function isTrustedUrl(url: string | undefined): boolean {
  if (!url) return false;
  if (isAppUrl(url)) return true;
  if (devServerUrl) {
    try {
      return new URL(url).origin === new URL(devServerUrl).origin;
    } catch {
      return false;
    }
  }
  return false;
}

function hardenContents(contents: WebContents): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (isAllowedExternalUrl(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event, url) => {
    if (!isTrustedUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isTrustedUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

async function start(): Promise<void> {
  const dataDir = app.getPath('userData');
  const services = await AppServices.create({
    host: 'electron',
    version: app.getVersion(),
    dataDir,
    settingsStore: openElectronSettingsStore(dataDir),
    spawnEngine: utilityEngine(join(here, 'engine.js')),
    codec: sharpCodec,
    openExternal: async (url) => {
      await shell.openExternal(url);
      return true;
    },
    log: (message, err) => console.error(`[sumi] ${message}`, err),
  });

  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);

  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST) return new Response('Not found', { status: 404 });
    const relative = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    const file = resolveMediaPath({ app: rendererDir }, `app/${relative}`);
    if (!file) return new Response('Not found', { status: 404 });
    try {
      const body = await readFile(file);
      const headers: Record<string, string> = { 'content-type': mimeTypeOf(file), 'x-content-type-options': 'nosniff' };
      if (file.endsWith('.html')) headers['content-security-policy'] = contentSecurityPolicy([`${MEDIA_SCHEME}:`]);
      return new Response(body, { headers });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });

  protocol.handle(MEDIA_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = resolveMediaPath(services.mediaRoots(), `${url.host}${url.pathname}`);
    if (!file) return new Response('Not found', { status: 404 });
    try {
      return new Response(await readFile(file), { headers: { 'content-type': mimeTypeOf(file) } });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });

  ipcMain.handle(IPC_INVOKE, async (event, method: unknown, input: unknown): Promise<Envelope<unknown>> => {
    if (!isTrustedUrl(event.senderFrame?.url)) {
      return { ok: false, error: { code: 'UNAUTHORIZED', message: 'This frame may not call Sumi Studio.' } };
    }
    return services.router.dispatch(method, input);
  });

  services.hub.subscribe((event, payload) => {
    for (const win of BrowserWindow.getAllWindows()) {
      if (!win.isDestroyed()) win.webContents.send(IPC_EVENT, event, payload);
    }
  });

  app.on('before-quit', () => void services.dispose());
  createWindow();
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    show: false,
    backgroundColor: '#121316',
    title: 'Sumi Studio',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(devServerUrl ?? `${APP_SCHEME}://${APP_HOST}/index.html`);
  return win;
}
