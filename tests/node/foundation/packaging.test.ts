/**
 * The packaging config, checked the way electron-builder itself checks it before a build
 * (its JSON schema), plus the security fuses we rely on. A real `--dir` build needs the Electron
 * binary, which CI machines cannot download.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';

const require = createRequire(import.meta.url);
const { load } = require('js-yaml') as { load: (s: string) => unknown };
const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  validateConfiguration: (config: unknown, debug: unknown) => Promise<void>;
};
const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };

const config = load(readFileSync('electron-builder.yml', 'utf8')) as Record<string, unknown>;

describe('electron-builder.yml', () => {
  test('passes electron-builder’s own schema validation', async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  test('a wrong key is caught by the same validation (the check can fail)', async () => {
    await expect(validateConfiguration({ ...config, asarUnpackk: true }, new DebugLogger(false))).rejects.toThrow(
      /asarUnpackk/,
    );
  });

  test('sets the security fuses', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  test('targets AppImage and deb, nsis, dmg and unpacks native modules', () => {
    expect((config.linux as { target: string[] }).target).toEqual(['AppImage', 'deb']);
    expect((config.win as { target: string[] }).target).toEqual(['nsis']);
    expect((config.mac as { target: string[] }).target).toEqual(['dmg']);
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['**/*.node']));
    expect(config.npmRebuild).toBe(true);
  });

  test('electron is pinned to a version that downloads its binary on first run', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies.electron).toBe('45.4.1');
    expect(readFileSync('.npmrc', 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });
});
