/**
 * Backup copies of the gallery database, kept beside it as `<file>.backup-<label>`: the migration
 * runner writes `<file>.backup-v<N>` (the file as it was at schema version N) before it changes the
 * schema. A copy is written to a temp name, synced and renamed, so a crash never leaves a half
 * backup under a backup's name.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { ReadableDB } from './dbAccess';

export interface BackupInfo {
  path: string;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  bytes: number;
}

export function backupPath(file: string, label: string): string {
  return `${file}.backup-${label}`;
}

/** Writes a consistent copy of the open database to `dest` (atomically: temp, fsync, rename). */
export async function writeBackup(source: ReadableDB, dest: string): Promise<void> {
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await source.backup(tmp);
    // The copy inherits WAL mode from the live file; a rollback-journal file is whole on its own, so
    // copying or opening a backup never needs (or leaves) -wal and -shm files beside it.
    const copy = new Database(tmp, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    syncFile(tmp);
    renameSync(tmp, dest);
    syncDir(dirname(dest));
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Backups of `file`, newest first. */
export function listBackups(file: string): BackupInfo[] {
  const dir = dirname(file);
  const prefix = `${basename(file)}.backup-`;
  const found: BackupInfo[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || name.includes('.tmp-') || /-(wal|shm|journal)$/.test(name)) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isFile()) found.push({ path, mtimeMs: st.mtimeMs, bytes: st.size });
  }
  return found.sort((a, b) => b.mtimeMs - a.mtimeMs || b.path.localeCompare(a.path));
}

export function syncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename durable. Windows cannot open a folder for fsync; there the rename is already durable. */
export function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // EISDIR/EPERM on platforms without directory fsync.
  } finally {
    closeSync(fd);
  }
}
