/**
 * electron-store (Electron host) and conf (web host) are one library family: electron-store extends
 * Conf. This opens either behind our SettingsStore port and handles the one failure their
 * constructor has: an unreadable file throws, so we move it aside and start again on defaults.
 */
import { existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SettingsStore, StoreRecovery } from '../services/settings/SettingsStore';

/** The part of Conf's API we use. */
export interface ConfLike {
  store: Record<string, unknown>;
  readonly path: string;
}

export interface OpenedStore {
  store: SettingsStore;
  recovery: StoreRecovery | null;
}

const INTERNAL_KEY = '__internal__';

export function openConfStore(
  create: () => ConfLike,
  filePath: string,
  now: () => Date = () => new Date(),
): OpenedStore {
  let conf: ConfLike;
  let recovery: StoreRecovery | null = null;
  try {
    conf = create();
    void conf.store; // the constructor reads it, but make the failure happen here in every version
  } catch (err) {
    if (!existsSync(filePath)) throw err;
    const stamp = now().toISOString().replace(/[:.]/g, '-');
    const movedTo = join(dirname(filePath), `config.corrupt-${stamp}.json`);
    renameSync(filePath, movedTo);
    recovery = { reason: err instanceof Error ? err.message : String(err), movedTo };
    conf = create();
  }
  const store: SettingsStore = {
    filePath: conf.path,
    read() {
      const { [INTERNAL_KEY]: _internal, ...rest } = conf.store;
      return rest;
    },
    write(value) {
      conf.store = { ...value };
    },
  };
  return { store, recovery };
}
