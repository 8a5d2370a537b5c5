import Store from 'electron-store';
import { join } from 'node:path';
import { openConfStore, type ConfLike, type OpenedStore } from '../openConfStore';

/** The Electron host's settings file: `<userData>/config.json`, written by electron-store. */
export function openElectronSettingsStore(userDataDir: string): OpenedStore {
  const create = (): ConfLike =>
    new Store<Record<string, unknown>>({
      cwd: userDataDir,
      name: 'config',
      clearInvalidConfig: false,
    }) as unknown as ConfLike;
  return openConfStore(create, join(userDataDir, 'config.json'));
}
