/**
 * Web-host composition root: the same services as the Electron app, in plain Node, served to a
 * browser on 127.0.0.1 behind a random token. Used by `npm run serve`, by the end-to-end tests, and
 * by users who drive a GPU box from a laptop (through an SSH tunnel: we never bind other addresses).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pkg from '../../package.json';
import { AppServices } from './AppServices';
import { attachWsTransport } from './ipc/wsTransport';
import { defaultDataDir } from './platform/node/dataDir';
import { openNodeSettingsStore } from './platform/node/settingsStore';
import { startWebServer } from './platform/node/WebServer';
import { forkEngine } from './platform/node/forkEngine';
import { sharpCodec } from './platform/sharpCodec';

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.SUMI_PORT ?? '8765' },
      data: { type: 'string' },
      renderer: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: npm run serve -- [--port N] [--data DIR]\n' +
        '  --port N    port on 127.0.0.1 (default 8765, or SUMI_PORT; 0 picks a free one)\n' +
        "  --data DIR  data folder (default: the desktop app's, or SUMI_DATA_DIR)\n",
    );
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be a whole number from 0 to 65535, got ${JSON.stringify(values.port)}.`);
  }
  const dataDir = values.data ? resolve(values.data) : defaultDataDir();
  mkdirSync(dataDir, { recursive: true });

  const app = await AppServices.create({
    host: 'web',
    version: pkg.version,
    dataDir,
    settingsStore: openNodeSettingsStore(dataDir),
    openExternal: async () => false,
    spawnEngine: forkEngine(join(here, 'engine.js')),
    codec: sharpCodec,
    log: (message, err) => console.error(`[sumi] ${message}`, err),
  });

  const server = await startWebServer({
    rendererDir: values.renderer ? resolve(values.renderer) : join(here, '../renderer'),
    mediaRoots: () => app.mediaRoots(),
    port,
  });
  const detach = attachWsTransport(server.wss, app.router, app.hub);

  process.stdout.write(`Sumi Studio web host (data: ${dataDir})\nOpen: ${server.url}\n`);

  const stop = (): void => {
    detach();
    void Promise.allSettled([server.close(), app.dispose()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`Sumi Studio web host could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
