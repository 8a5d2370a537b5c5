import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { SETTINGS_VERSION } from '../../../src/preload/contract';
import { AppError } from '../../../src/main/services/AppError';
import { migrateSettings } from '../../../src/main/services/settings/migrations';
import { createTestApp } from '../../helpers/appHarness';
import { makeTempDir } from '../../helpers/tempDir';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function dataDir(): string {
  const t = makeTempDir('sumi-settings-');
  cleanups.push(t.cleanup);
  return t.dir;
}

function configOf(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

describe('settings service', () => {
  test('a fresh data folder starts on defaults and creates the folders', async () => {
    const dir = dataDir();
    const app = await createTestApp(dir);
    const s = app.settings.get();
    expect(s.schemaVersion).toBe(SETTINGS_VERSION);
    expect(s.modelsDir).toBe(join(dir, 'models'));
    expect(s.theme).toBe('dark');
    expect(existsSync(join(dir, 'models'))).toBe(true);
    expect(existsSync(join(dir, 'outputs'))).toBe(true);
    expect(app.info().notices).toEqual([]);
  });

  test('an update is written to the file and read back by a new process', async () => {
    const dir = dataDir();
    const first = await createTestApp(dir);
    const seen: string[] = [];
    first.hub.subscribe((event) => seen.push(event));
    first.settings.update({ theme: 'light', defaults: { steps: 40 }, executionProviders: ['cpu'] });
    expect(seen).toContain('settings.changed');
    expect(configOf(dir)).toMatchObject({ theme: 'light', defaults: { steps: 40 } });
    const second = await createTestApp(dir);
    expect(second.settings.get()).toMatchObject({
      theme: 'light',
      executionProviders: ['cpu'],
      defaults: { steps: 40, sampler: 'euler_a' },
    });
  });

  test.each([
    [{ defaults: { steps: 0 } }, 'defaults.steps'],
    [{ defaults: { width: 500 } }, 'defaults.width'],
    [{ executionProviders: [] }, 'executionProviders'],
    [{ executionProviders: ['cpu', 'cpu'] }, 'executionProviders'],
    [{ executionProviders: ['tpu'] }, 'executionProviders[0]'],
    [{ modelsDir: 'relative/models' }, 'modelsDir'],
    [{ theme: 'neon' }, 'theme'],
  ])('an invalid value %j is refused, naming %s, and nothing changes', async (patch, field) => {
    const dir = dataDir();
    const app = await createTestApp(dir);
    const before = readFileSync(join(dir, 'config.json'), 'utf8');
    let caught: unknown;
    try {
      app.settings.update(patch as never);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('VALIDATION');
    expect((caught as AppError).message).toContain(field);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(before);
  });

  test('a models folder that cannot be created is refused naming the field', async () => {
    const dir = dataDir();
    const app = await createTestApp(dir);
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    expect(() => app.settings.update({ modelsDir: join(dir, 'a-file', 'models') })).toThrow(
      /modelsDir: the folder cannot be created/,
    );
  });

  test('a corrupt settings file is moved aside, the app starts on defaults and says so', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'config.json'), '{"theme": "light", oops');
    const app = await createTestApp(dir);
    expect(app.settings.get().theme).toBe('dark');
    const moved = readdirSync(dir).filter((f) => /^config\.corrupt-.+\.json$/.test(f));
    expect(moved).toHaveLength(1);
    expect(readFileSync(join(dir, moved[0] as string), 'utf8')).toBe('{"theme": "light", oops');
    const notices = app.info().notices;
    expect(notices).toHaveLength(1);
    expect(notices[0]?.message).toMatch(/could not be read/);
    expect(notices[0]?.detail).toContain(moved[0]);
    expect(configOf(dir).schemaVersion).toBe(SETTINGS_VERSION);
  });

  test('a field that does not validate falls back to its default and the rest is kept', async () => {
    const dir = dataDir();
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ schemaVersion: 1, theme: 'light', defaults: { steps: -4, cfg: 9 }, executionProviders: 'gpu' }),
    );
    const app = await createTestApp(dir);
    const s = app.settings.get();
    expect(s.theme).toBe('light');
    expect(s.defaults.cfg).toBe(9);
    expect(s.defaults.steps).toBe(25);
    expect(s.executionProviders).toEqual(['cuda', 'dml', 'coreml', 'cpu']);
    expect(app.info().notices[0]?.message).toContain('defaults.steps');
    expect(app.info().notices[0]?.message).toContain('executionProviders');
    expect(configOf(dir)).toMatchObject({ defaults: { steps: 25, cfg: 9 } });
  });

  test('a version-0 file is migrated: old folder names and single provider are carried over', async () => {
    const dir = dataDir();
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        modelsFolder: join(dir, 'm'),
        outputFolder: join(dir, 'o'),
        executionProvider: 'cuda',
        theme: 'light',
      }),
    );
    const app = await createTestApp(dir);
    expect(app.settings.get()).toMatchObject({
      schemaVersion: 1,
      modelsDir: join(dir, 'm'),
      outputDir: join(dir, 'o'),
      executionProviders: ['cuda', 'cpu'],
      theme: 'light',
    });
    expect(configOf(dir)).not.toHaveProperty('modelsFolder');
    expect(app.info().notices).toEqual([]);
  });

  test('a file from a newer version is not trusted: defaults, with a notice that says why', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ schemaVersion: 99, theme: 'light' }));
    const app = await createTestApp(dir);
    expect(app.settings.get().theme).toBe('dark');
    expect(app.info().notices[0]?.detail).toMatch(/newer Sumi Studio/);
  });

  test('migrations run in order and a missing step is an error', async () => {
    const steps = {
      1: (r: Record<string, unknown>) => ({ ...r, a: 1, schemaVersion: 1 }),
      2: (r: Record<string, unknown>) => ({ ...r, b: (r.a as number) + 1, schemaVersion: 2 }),
    };
    expect(migrateSettings({}, steps, 2)).toEqual({ value: { a: 1, b: 2, schemaVersion: 2 }, from: 0 });
    expect(migrateSettings({ schemaVersion: 1, a: 5 }, steps, 2).value).toEqual({ schemaVersion: 2, a: 5, b: 6 });
    expect(() => migrateSettings({}, { 1: steps[1] }, 2)).toThrow(/No settings migration to version 2/);
  });

  test('reset goes back to defaults and is saved', async () => {
    const dir = dataDir();
    const app = await createTestApp(dir);
    app.settings.update({ theme: 'light' });
    app.settings.reset();
    expect((await createTestApp(dir)).settings.get().theme).toBe('dark');
  });
});
