/**
 * Builds the real AppServices over a real settings file in a temp folder, exactly as the web host's
 * composition root does, for tests that need the whole service layer without a process.
 */
import { AppServices } from '../../src/main/AppServices';
import { openNodeSettingsStore } from '../../src/main/platform/node/settingsStore';
import { sharpCodec } from '../../src/main/platform/sharpCodec';
import { spawnTestEngine } from './engineHarness';

export function createTestApp(dataDir: string): Promise<AppServices> {
  return AppServices.create({
    host: 'web',
    version: '0.0.0-test',
    dataDir,
    settingsStore: openNodeSettingsStore(dataDir),
    openExternal: async () => false,
    spawnEngine: spawnTestEngine(),
    codec: sharpCodec,
  });
}
