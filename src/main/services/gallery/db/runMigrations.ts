/**
 * The schema migration runner. The schema version lives in `PRAGMA user_version`; each migration is
 * a numbered file in `migrations/` exporting `{ version, name, up(db) }`. Before it changes anything
 * the runner writes a backup copy (`<file>.backup-v<N>`), then runs each pending migration in its own
 * explicit transaction that also sets `user_version`, so a crash leaves the file at the last whole
 * version. A file from a newer version of the app is refused, never downgraded or guessed at.
 */
import { AppError, isAppError } from '../../AppError';
import type { ReadableDB, WritableDB } from './dbAccess';
import { backupPath, writeBackup } from './galleryBackups';

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Runs inside the runner's transaction: never BEGIN or COMMIT here. */
  up(db: WritableDB): void;
}

export interface MigrationReport {
  from: number;
  to: number;
  /** `NNNN-name` of each migration applied, in order. */
  applied: string[];
  /** The backup written before migrating, or null when nothing was pending or there was nothing to keep. */
  backup: string | null;
}

export interface RunMigrationsOptions {
  /** The database file, for the backup's name; null for a database with no file to back up. */
  file: string | null;
  /** Stop at this version instead of the latest (test harnesses build old files with it). */
  target?: number;
}

export function schemaVersion(db: ReadableDB): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function latestVersion(migrations: readonly Migration[]): number {
  return migrations.at(-1)?.version ?? 0;
}

/** The list must be versions 1, 2, 3, … in order: a gap or a duplicate is a build mistake. */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new AppError('INTERNAL', `Migration "${m.name}" has version ${m.version}; expected ${i + 1}.`);
    }
  });
}

export function migrationLabel(m: Migration): string {
  return `${String(m.version).padStart(4, '0')}-${m.name}`;
}

export async function runMigrations(
  db: WritableDB,
  migrations: readonly Migration[],
  options: RunMigrationsOptions,
): Promise<MigrationReport> {
  checkMigrationList(migrations);
  const latest = latestVersion(migrations);
  const target = options.target ?? latest;
  const from = schemaVersion(db);
  if (from > latest) {
    throw new AppError(
      'UNSUPPORTED',
      `The gallery database was written by a newer version of Sumi Studio (schema version ${from}; this version ` +
        `understands up to ${latest}). Update Sumi Studio to open it; the file has not been changed.`,
      { file: options.file, fileVersion: from, supportedVersion: latest },
    );
  }
  const pending = migrations.filter((m) => m.version > from && m.version <= target);
  if (pending.length === 0) return { from, to: from, applied: [], backup: null };

  let backup: string | null = null;
  if (options.file !== null && hasAnySchema(db)) {
    backup = backupPath(options.file, `v${from}`);
    await writeBackup(db, backup);
  }

  const applied: string[] = [];
  for (const migration of pending) {
    applyOne(db, migration, backup);
    applied.push(migrationLabel(migration));
  }
  return { from, to: schemaVersion(db), applied, backup };
}

function applyOne(db: WritableDB, migration: Migration, backup: string | null): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    migration.up(db);
    db.pragma(`user_version = ${migration.version}`);
    const broken = db.pragma('foreign_key_check') as unknown[];
    if (broken.length > 0) {
      throw new AppError('INTERNAL', `left ${broken.length} rows pointing at rows that do not exist`, {
        rows: broken.slice(0, 10),
      });
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppError(
      'INTERNAL',
      `Updating the gallery database to version ${migration.version} (${migration.name}) failed: ${reason}. ` +
        `The database was left at version ${migration.version - 1}` +
        (backup === null ? '.' : `; a copy from before the update is at ${backup}.`),
      { migration: migrationLabel(migration), cause: isAppError(err) ? err.toShape() : reason },
    );
  }
}

/** Whether the file holds anything worth a backup (a brand-new file does not). */
function hasAnySchema(db: ReadableDB): boolean {
  return (db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number) > 0;
}
