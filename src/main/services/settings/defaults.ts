import { join } from 'node:path';
import { SETTINGS_VERSION, type Settings } from '@contract';

/** Defaults follow SD 1.5's usual recipe; the engine adjusts per model family. */
export function defaultSettings(dataDir: string): Settings {
  return {
    schemaVersion: SETTINGS_VERSION,
    modelsDir: join(dataDir, 'models'),
    outputDir: join(dataDir, 'outputs'),
    executionProviders: ['cuda', 'dml', 'coreml', 'cpu'],
    defaults: {
      sampler: 'euler_a',
      steps: 25,
      cfg: 7,
      width: 512,
      height: 512,
      batchSize: 1,
      batchCount: 1,
      seed: -1,
      rng: 'torch-cpu',
    },
    theme: 'dark',
  };
}
