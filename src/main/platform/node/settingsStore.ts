import Conf from 'conf';
import { join } from 'node:path';
import { openConfStore, type ConfLike, type OpenedStore } from '../openConfStore';

/** The web host's settings file: `<dataDir>/config.json`, written by conf (same family as electron-store). */
export function openNodeSettingsStore(dataDir: string): OpenedStore {
  const create = (): ConfLike =>
    new Conf<Record<string, unknown>>({
      cwd: dataDir,
      configName: 'config',
      projectName: 'sumi-studio',
      clearInvalidConfig: false,
      watch: false,
    }) as unknown as ConfLike;
  return openConfStore(create, join(dataDir, 'config.json'));
}
