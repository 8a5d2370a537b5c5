/**
 * Opens the gallery's SQLite file: one read-write connection and one read-only connection, both in
 * WAL mode. Opening verifies that WAL is really engaged (it is not on some network and read-only
 * file systems, where durability would silently change), runs `PRAGMA quick_check`, then migrates.
 *
 * A damaged file is not an exception but a status, `{ status: 'corrupt' }`, because the app has a
 * way forward: `restoreLatestBackup` (a backup that itself passes quick_check) or `startFresh` (move
 * the damaged file aside; the index must then be rebuilt from the metadata inside the images). Both
 * keep the damaged file, renamed, for whoever wants to look at it.
 */
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../../AppError';
import { asReadable, asWritable, type ReadableDB, type WritableDB } from './dbAccess';
import { listBackups, syncDir, syncFile, type BackupInfo } from './galleryBackups';
import { galleryMigrations } from './migrations';
import { runMigrations, schemaVersion, type Migration, type MigrationReport } from './runMigrations';

const BUSY_TIMEOUT_MS = 5000;

export interface GalleryDb {
  readonly file: string;
  /** The read-only connection: page queries, lineage, lists. */
  readonly read: ReadableDB;
  /** The one read-write connection: every change, each in a transaction. */
  readonly write: WritableDB;
  /** What opening did to the schema. */
  readonly migration: MigrationReport;
  close(): void;
}

export type OpenGalleryDbResult =
  | { status: 'ok'; db: GalleryDb }
  | {
      status: 'corrupt';
      file: string;
      /** What SQLite reported (quick_check lines, or the error that stopped opening). */
      problems: string[];
      /** Candidates for `restoreLatestBackup`, newest first. */
      backups: BackupInfo[];
    };

export interface OpenGalleryDbOptions {
  migrations?: readonly Migration[];
  /** Migrate only up to this version (test harnesses build files at old versions with it). */
  targetVersion?: number;
}

export async function openGalleryDb(file: string, options: OpenGalleryDbOptions = {}): Promise<OpenGalleryDbResult> {
  let writer: Database.Database | undefined;
  let reader: Database.Database | undefined;
  try {
    writer = new Database(file);
    configure(writer, file);
    const problems = quickCheck(writer);
    if (problems.length > 0) {
      writer.close();
      return { status: 'corrupt', file, problems, backups: listBackups(file) };
    }
    const write = asWritable(writer);
    const migration = await runMigrations(write, options.migrations ?? galleryMigrations, {
      file,
      ...(options.targetVersion === undefined ? {} : { target: options.targetVersion }),
    });
    reader = new Database(file, { readonly: true, fileMustExist: true });
    reader.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const read = asReadable(reader);
    const readerRef = reader;
    const writerRef = writer;
    return {
      status: 'ok',
      db: {
        file,
        read,
        write,
        migration,
        close() {
          if (readerRef.open) readerRef.close();
          if (writerRef.open) {
            writerRef.pragma('optimize');
            writerRef.close();
          }
        },
      },
    };
  } catch (err) {
    if (reader?.open) reader.close();
    if (writer?.open) writer.close();
    if (isCorruption(err)) {
      return { status: 'corrupt', file, problems: [errorMessage(err)], backups: listBackups(file) };
    }
    throw err;
  }
}

/**
 * Sets the pragmas every connection that writes needs, and checks that each took: a pragma SQLite
 * does not honour is silently ignored, and WAL in particular can fall back to another journal mode.
 */
export function configure(connection: Database.Database, file: string): void {
  connection.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const mode = connection.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    throw new AppError(
      'UNSUPPORTED',
      `The gallery database at ${file} cannot use write-ahead logging (SQLite kept journal mode "${String(mode)}"). ` +
        'Keep the data folder on a local, writable disk.',
      { file, journalMode: mode },
    );
  }
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  const synchronous = connection.pragma('synchronous', { simple: true });
  const foreignKeys = connection.pragma('foreign_keys', { simple: true });
  if (synchronous !== 2 || foreignKeys !== 1) {
    throw new AppError('UNSUPPORTED', `SQLite refused the gallery database's settings for ${file}.`, {
      synchronous,
      foreignKeys,
    });
  }
}

/** `PRAGMA quick_check`'s complaints; an empty list means the file is sound. */
export function quickCheck(db: ReadableDB | Database.Database): string[] {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  const lines = rows.map((r) => r.quick_check);
  return lines.length === 1 && lines[0] === 'ok' ? [] : lines;
}

export type RestoreResult =
  | {
      status: 'restored';
      /** The backup now in place; images made after it was written are not in it. */
      from: string;
      /** The schema version of the backup: the next open migrates it. */
      backupVersion: number;
      /** Where the damaged file (and its -wal/-shm) went. */
      movedAside: string[];
      /** The images folder holds images the backup does not know; scan it and add them. */
      rescanImages: true;
    }
  | { status: 'no-usable-backup'; tried: { path: string; problems: string[] }[] };

/**
 * Puts the newest backup that passes quick_check in place of `file` (which must be closed), moving
 * the damaged file aside. Call `openGalleryDb` afterwards: it migrates the restored copy.
 */
export function restoreLatestBackup(file: string): RestoreResult {
  const tried: { path: string; problems: string[] }[] = [];
  for (const backup of listBackups(file)) {
    const candidate = `${file}.restore-tmp`;
    removeDatabaseFiles(candidate);
    try {
      // Backups are whole files (no -wal beside them), so a byte copy is a complete database; the
      // copy is checked rather than the backup so that checking never changes a backup.
      copyFileSync(backup.path, candidate);
      const verdict = inspect(candidate);
      if (verdict.problems.length > 0) {
        tried.push({ path: backup.path, problems: verdict.problems });
        continue;
      }
      const movedAside = moveAside(file);
      syncFile(candidate);
      renameSync(candidate, file);
      syncDir(dirname(file));
      return { status: 'restored', from: backup.path, backupVersion: verdict.version, movedAside, rescanImages: true };
    } finally {
      removeDatabaseFiles(candidate);
    }
  }
  return { status: 'no-usable-backup', tried };
}

export interface FreshStartResult {
  status: 'fresh';
  movedAside: string[];
  /** The new file is empty: rebuild the index from the metadata stored in the image files. */
  rebuildIndexFromImages: true;
}

/** Moves the damaged `file` (which must be closed) aside so that the next open starts an empty one. */
export function startFresh(file: string): FreshStartResult {
  return { status: 'fresh', movedAside: moveAside(file), rebuildIndexFromImages: true };
}

/** Opens a copy on its own connection, lets SQLite recover it, and reports its version and health. */
function inspect(path: string): { version: number; problems: string[] } {
  let connection: Database.Database | undefined;
  try {
    connection = new Database(path, { fileMustExist: true });
    connection.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const problems = quickCheck(connection);
    if (problems.length > 0) return { version: -1, problems };
    const version = schemaVersion(asWritable(connection));
    return version > 0 ? { version, problems } : { version, problems: ['holds no gallery tables (version 0)'] };
  } catch (err) {
    return { version: -1, problems: [errorMessage(err)] };
  } finally {
    connection?.close();
  }
}

const sidecars = ['', '-wal', '-shm'] as const;

function moveAside(file: string): string[] {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const moved: string[] = [];
  for (const suffix of sidecars) {
    const from = `${file}${suffix}`;
    if (!existsSync(from)) continue;
    const to = `${file}.corrupt-${stamp}${suffix}`;
    renameSync(from, to);
    moved.push(to);
  }
  syncDir(dirname(file));
  return moved;
}

function removeDatabaseFiles(file: string): void {
  for (const suffix of sidecars) rmSync(`${file}${suffix}`, { force: true });
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
