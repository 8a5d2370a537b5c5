/**
 * The model library without the rest of the app, for the command line: settings (for the models
 * folder), the hash cache and an engine client that starts only when something needs it. Opening
 * the whole AppServices would open the gallery database and resume its queued jobs.
 */
import { join } from 'node:path';
import { EventHub } from '../../ipc/EventHub';
import type { OpenedStore } from '../../platform/openConfStore';
import { NoticeBoard } from '../app/NoticeBoard';
import { EngineClient, type SpawnEngine } from '../generation/EngineClient';
import { defaultSettings } from '../settings/defaults';
import { SettingsService } from '../settings/SettingsService';
import { HashCache } from './hashing';
import { ModelLibrary } from './ModelLibrary';

export interface StandaloneLibrary {
  library: ModelLibrary;
  hub: EventHub;
  modelsDir: string;
  dispose: () => Promise<void>;
}

export async function openStandaloneLibrary(ports: {
  dataDir: string;
  settingsStore: OpenedStore;
  spawnEngine: SpawnEngine;
  env?: NodeJS.ProcessEnv;
}): Promise<StandaloneLibrary> {
  const hub = new EventHub();
  const settings = new SettingsService({
    store: ports.settingsStore.store,
    recovery: ports.settingsStore.recovery,
    defaults: defaultSettings(ports.dataDir),
    emit: hub.emit,
    notices: new NoticeBoard(hub.emit),
  });
  const hashes = await HashCache.open(join(ports.dataDir, 'hashes.json'));
  const engine = new EngineClient(ports.spawnEngine, { providers: settings.get().executionProviders });
  const env = ports.env ?? process.env;
  const library = new ModelLibrary({
    modelsDir: () => settings.get().modelsDir,
    engine,
    emit: hub.emit,
    hashes,
    download: {
      ...(env.HF_ENDPOINT ? { baseUrl: env.HF_ENDPOINT } : {}),
      ...(env.HF_TOKEN ? { token: env.HF_TOKEN } : {}),
    },
  });
  return {
    library,
    hub,
    modelsDir: settings.get().modelsDir,
    dispose: async () => {
      library.dispose();
      await hashes.flush();
      await engine.dispose();
    },
  };
}
