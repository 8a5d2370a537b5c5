/**
 * The Electron host, driven by Playwright's `_electron`. These tests need the Electron binary,
 * which `electron` downloads on first run; machines without internet (CI here) cannot fetch it,
 * so the tests skip with a message saying so. Everything they cover that is not Electron-specific
 * runs in the web-host tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { _electron as electron } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { makeTempDir } from '../helpers/tempDir';
import { assertBuilt, repoRoot } from './harness';

function electronBinary(): string | null {
  const pathFile = join(repoRoot, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return null;
  const binary = join(repoRoot, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : null;
}

const binary = electronBinary();
if (!binary) {
  console.warn(
    '[electron tests] SKIPPED: no Electron binary in node_modules/electron/dist (it downloads on first `npm start`; ' +
      'this machine has no internet). The web-host e2e tests cover the shared app.',
  );
}

describe.skipIf(!binary)('Electron host', () => {
  test('every window runs with the hardened web preferences', async () => {
    assertBuilt();
    const { dir, cleanup } = makeTempDir('sumi-electron-');
    const app = await electron.launch({
      executablePath: binary as string,
      args: [join(repoRoot, 'out/main/index.js'), `--user-data-dir=${dir}`, '--no-sandbox'],
    });
    try {
      const page = await app.firstWindow();
      await page.waitForLoadState('domcontentloaded');
      expect(page.url()).toBe('sumi-app://bundle/index.html');
      const prefs = await app.evaluate(({ BrowserWindow }) =>
        // getLastWebPreferences() is real but missing from Electron's typings.
        BrowserWindow.getAllWindows().map((w) =>
          (w.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> }).getLastWebPreferences(),
        ),
      );
      expect(prefs.length).toBeGreaterThan(0);
      for (const p of prefs) {
        expect(p).toMatchObject({
          contextIsolation: true,
          sandbox: true,
          nodeIntegration: false,
          webSecurity: true,
          webviewTag: false,
        });
      }
      expect(await page.evaluate(() => typeof (window as unknown as { require?: unknown }).require)).toBe('undefined');
      expect(await page.evaluate(() => Object.keys((window as unknown as { studio: object }).studio).sort())).toEqual([
        'invoke',
        'subscribe',
      ]);
      const unknown = await page.evaluate(() =>
        (window as unknown as { studio: { invoke: (m: string, i: unknown) => Promise<unknown> } }).studio.invoke(
          'x.y',
          {},
        ),
      );
      expect(unknown).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
      await expect.poll(() => page.getByTestId('host-kind').textContent()).toBe('Desktop');
      // Navigation away from the app and new windows are blocked.
      await page.evaluate(() => window.open('https://example.com'));
      expect(app.windows()).toHaveLength(1);
    } finally {
      await app.close();
      cleanup();
    }
  });
});
