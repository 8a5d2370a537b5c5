/**
 * Settings file migrations: each takes the raw object of version N-1 and returns version N.
 * Version 0 is a file without `schemaVersion` (hand-written, or from a pre-release build).
 */
import { SETTINGS_VERSION } from '@contract';

export type SettingsMigration = (raw: Record<string, unknown>) => Record<string, unknown>;

export const settingsMigrations: Record<number, SettingsMigration> = {
  // 0 -> 1: pre-release builds called the folders `modelsFolder`/`outputFolder` and kept one provider.
  1: (raw) => {
    const { modelsFolder, outputFolder, executionProvider, ...rest } = raw;
    const next: Record<string, unknown> = { ...rest, schemaVersion: 1 };
    if (next.modelsDir === undefined && modelsFolder !== undefined) next.modelsDir = modelsFolder;
    if (next.outputDir === undefined && outputFolder !== undefined) next.outputDir = outputFolder;
    if (next.executionProviders === undefined && typeof executionProvider === 'string') {
      next.executionProviders = executionProvider === 'cpu' ? ['cpu'] : [executionProvider, 'cpu'];
    }
    return next;
  },
};

export interface MigrationResult {
  value: Record<string, unknown>;
  from: number;
}

/** Runs every migration between the file's version and the current one, in order. */
export function migrateSettings(
  raw: Record<string, unknown>,
  migrations: Record<number, SettingsMigration> = settingsMigrations,
  target: number = SETTINGS_VERSION,
): MigrationResult {
  const found = raw.schemaVersion;
  const from = typeof found === 'number' && Number.isInteger(found) && found >= 0 ? found : 0;
  let value = raw;
  for (let v = from + 1; v <= target; v++) {
    const step = migrations[v];
    if (!step) throw new Error(`No settings migration to version ${v}.`);
    value = step(value);
  }
  return { value, from };
}
