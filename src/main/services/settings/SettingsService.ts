import { mkdirSync } from 'node:fs';
import {
  SETTINGS_VERSION,
  zGenerationDefaults,
  zSettings,
  zSettingsPatch,
  type Settings,
  type SettingsPatch,
} from '@contract';
import type { Emit } from '../../ipc/EventHub';
import { fieldError, validationError } from '../../ipc/router';
import { AppError } from '../AppError';
import type { NoticeBoard } from '../app/NoticeBoard';
import { migrateSettings } from './migrations';
import type { SettingsStore, StoreRecovery } from './SettingsStore';

export interface SettingsServiceDeps {
  store: SettingsStore;
  defaults: Settings;
  emit: Emit;
  notices: NoticeBoard;
  /** Set when the store had to be recreated because its file was unreadable. */
  recovery?: StoreRecovery | null;
}

/**
 * Settings with a versioned schema. Reading never fails: a file from an older version is migrated,
 * a field that does not validate falls back to its default (and the user is told which), a corrupt
 * file was already moved aside by the store adapter. Writing refuses invalid values with VALIDATION.
 */
export class SettingsService {
  private current: Settings;
  private readonly store: SettingsStore;
  private readonly emit: Emit;

  constructor(private readonly deps: SettingsServiceDeps) {
    this.store = deps.store;
    this.emit = deps.emit;
    if (deps.recovery) {
      deps.notices.post(
        'warning',
        'Your settings file could not be read, so Sumi Studio started with default settings.',
        `${deps.recovery.reason} The old file was kept as ${deps.recovery.movedTo}.`,
      );
    }
    const { settings, repaired, from } = this.load();
    this.current = settings;
    if (repaired.length > 0) {
      deps.notices.post(
        'warning',
        `Some settings were invalid and were reset to their defaults: ${repaired.map((r) => r.field).join(', ')}.`,
        repaired.map((r) => `${r.field}: ${r.message}`).join('\n'),
      );
    }
    if (repaired.length > 0 || from !== SETTINGS_VERSION || deps.recovery) this.store.write(settings);
    this.ensureFolders(settings, false);
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  update(patch: SettingsPatch): Settings {
    const parsedPatch = zSettingsPatch.safeParse(patch);
    if (!parsedPatch.success) throw new AppError('VALIDATION', ...messageOf(parsedPatch.error));
    const { defaults, ...rest } = parsedPatch.data;
    const next = { ...this.current, ...dropUndefined(rest) };
    if (defaults) next.defaults = { ...this.current.defaults, ...dropUndefined(defaults) };
    const parsed = zSettings.safeParse(next);
    if (!parsed.success) throw new AppError('VALIDATION', ...messageOf(parsed.error));
    this.ensureFolders(parsed.data, true);
    return this.commit(parsed.data);
  }

  reset(): Settings {
    return this.commit(structuredClone(this.deps.defaults));
  }

  private commit(settings: Settings): Settings {
    this.store.write(settings);
    this.current = settings;
    this.emit('settings.changed', this.get());
    return this.get();
  }

  private load(): { settings: Settings; repaired: { field: string; message: string }[]; from: number } {
    const raw = this.store.read();
    const defaults = structuredClone(this.deps.defaults);
    const found = typeof raw.schemaVersion === 'number' ? raw.schemaVersion : 0;
    if (found > SETTINGS_VERSION) {
      return {
        settings: defaults,
        from: found,
        repaired: [
          {
            field: 'schemaVersion',
            message: `the file was written by a newer Sumi Studio (settings version ${found}, this build reads ${SETTINGS_VERSION})`,
          },
        ],
      };
    }
    const { value, from } = migrateSettings(raw);
    const repaired: { field: string; message: string }[] = [];
    const settings = defaults as Record<string, unknown>;
    const shape = zSettings.shape;
    for (const key of Object.keys(shape) as (keyof Settings)[]) {
      if (key === 'schemaVersion' || value[key] === undefined) continue;
      if (key === 'defaults') {
        const inner = value.defaults;
        if (typeof inner !== 'object' || inner === null) {
          repaired.push({ field: 'defaults', message: 'is not an object' });
          continue;
        }
        const merged = settings.defaults as Record<string, unknown>;
        for (const [field, schema] of Object.entries(zGenerationDefaults.shape)) {
          const v = (inner as Record<string, unknown>)[field];
          if (v === undefined) continue;
          const r = schema.safeParse(v);
          if (r.success) merged[field] = r.data;
          else repaired.push({ field: `defaults.${field}`, message: r.error.issues[0]?.message ?? 'invalid' });
        }
        continue;
      }
      const r = shape[key].safeParse(value[key]);
      if (r.success) settings[key] = r.data;
      else repaired.push({ field: key, message: r.error.issues[0]?.message ?? 'invalid' });
    }
    return { settings: zSettings.parse(settings), repaired, from };
  }

  private ensureFolders(settings: Settings, strict: boolean): void {
    for (const field of ['modelsDir', 'outputDir'] as const) {
      try {
        mkdirSync(settings[field], { recursive: true });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (strict) throw fieldError(field, `the folder cannot be created (${reason})`);
        this.deps.notices.post('warning', `The folder for ${field} cannot be created.`, reason);
      }
    }
  }
}

function messageOf(error: Parameters<typeof validationError>[1]): [string, unknown] {
  const shape = validationError('settings.update', error);
  return [shape.message, shape.details];
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
