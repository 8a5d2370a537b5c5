import { copyFileSync, existsSync, openSync, closeSync, writeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { AppError } from '../../../../src/main/services/AppError';
import type { ReadableDB, WritableDB } from '../../../../src/main/services/gallery/db/dbAccess';
import { GalleryRepository } from '../../../../src/main/services/gallery/db/GalleryRepository';
import {
  openGalleryDb,
  restoreLatestBackup,
  startFresh,
  type GalleryDb,
} from '../../../../src/main/services/gallery/db/openGalleryDb';
import { latestVersion } from '../../../../src/main/services/gallery/db/runMigrations';
import { galleryMigrations } from '../../../../src/main/services/gallery/db/migrations';
import { generation, image, openOk, seedVersion1, tempGalleryFile } from './galleryHarness';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function temp(): { dir: string; file: string } {
  const t = tempGalleryFile();
  cleanups.push(t.cleanup);
  return t;
}

async function open(file: string): Promise<GalleryDb> {
  const db = await openOk(file);
  cleanups.unshift(() => db.close());
  return db;
}

function countGenerations(db: GalleryDb): number {
  return db.read.prepare('SELECT count(*) FROM generations').pluck().get() as number;
}

function addGenerations(db: GalleryDb, count: number, start = 0): void {
  const repo = new GalleryRepository(db);
  repo.insertGenerations(
    Array.from({ length: count }, (_, k) => ({
      generation: generation({ prompt: `prompt number ${start + k} `.repeat(20), createdAt: 1_700_000_000_000 + k }),
      images: [image(start + k)],
    })),
  );
}

/** Overwrites the start of one b-tree page with garbage, as a torn or bit-rotted write would. */
function corruptPageOf(file: string, table: string): void {
  const probe = new Database(file, { readonly: true });
  const root = probe.prepare('SELECT rootpage FROM sqlite_schema WHERE name = ?').pluck().get(table) as number;
  const pageSize = probe.pragma('page_size', { simple: true }) as number;
  probe.close();
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, (root - 1) * pageSize);
  closeSync(fd);
}

// Compile-time checks: a read handle is refused where writing is required, and offers no exec.
function needsWritable(db: WritableDB): number {
  return db.prepare('SELECT 1').pluck().get() as number;
}
function readerCannotWrite(db: GalleryDb): void {
  // @ts-expect-error a ReadableDB is not a WritableDB
  needsWritable(db.read);
  // @ts-expect-error a ReadableDB has no exec
  db.read.exec('DELETE FROM images');
  const reader: ReadableDB = db.write; // a writer may always read
  void reader;
}

describe('opening the gallery database', () => {
  test('WAL is engaged on both connections, with synchronous FULL, foreign keys and a busy timeout', async () => {
    const { file } = temp();
    const db = await open(file);
    for (const conn of [db.write, db.read]) {
      expect(conn.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(conn.pragma('busy_timeout', { simple: true })).toBe(5000);
    }
    expect(db.write.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.write.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(db.migration).toMatchObject({ from: 0, to: latestVersion(galleryMigrations), backup: null });
    expect(readFileSync(file).subarray(18, 20)).toEqual(Buffer.from([2, 2])); // WAL in the file header
  });

  test('a database where WAL cannot be engaged is refused with a clear error', async () => {
    const attempt = openGalleryDb(':memory:');
    await expect(attempt).rejects.toBeInstanceOf(AppError);
    await expect(attempt).rejects.toMatchObject({ code: 'UNSUPPORTED', message: /write-ahead logging.*"memory"/ });
  });

  test('the read connection refuses writes at run time as its type does at compile time', async () => {
    const { file } = temp();
    const db = await open(file);
    expect(() => db.read.prepare("INSERT INTO boards (name, created_at) VALUES ('x', 1)").run()).toThrow(/readonly/);
    expect(typeof readerCannotWrite).toBe('function');
    expect(needsWritable(db.write)).toBe(1);
  });

  test('the reader sees committed rows only: a write transaction in progress is invisible to it', async () => {
    const { file } = temp();
    const db = await open(file);
    db.write.exec('BEGIN IMMEDIATE');
    addGenerations(db, 3);
    expect(countGenerations(db)).toBe(0);
    db.write.exec('COMMIT');
    expect(countGenerations(db)).toBe(3);
  });
});

describe('a damaged database file', () => {
  async function damagedCopyWithBackup(): Promise<{ copy: string; rowsInBackup: number }> {
    const { dir, file } = temp();
    // At version 1 with 200 rows, then opened by this version: the migration writes backup-v1.
    const v1 = await openOk(file, { targetVersion: 1 });
    seedVersion1(v1.write, 200);
    v1.close();
    const latest = await openOk(file);
    expect(latest.migration.backup).toBe(`${file}.backup-v1`);
    addGenerations(latest, 50, 200);
    latest.close();
    const copy = join(dir, 'copy.sqlite');
    copyFileSync(file, copy);
    copyFileSync(`${file}.backup-v1`, `${copy}.backup-v1`);
    corruptPageOf(copy, 'generations');
    return { copy, rowsInBackup: 200 };
  }

  test('quick_check failing at open gives a corrupt status that names the problems and the backups', async () => {
    const { copy } = await damagedCopyWithBackup();
    const result = await openGalleryDb(copy);
    expect(result.status).toBe('corrupt');
    if (result.status !== 'corrupt') return;
    expect(result.problems.length).toBeGreaterThan(0);
    expect(result.problems.join('\n')).not.toBe('ok');
    expect(result.backups.map((b) => b.path)).toEqual([`${copy}.backup-v1`]);
  });

  test('restoreLatestBackup puts the backup in place, keeps the damaged file, and the next open migrates it', async () => {
    const { copy, rowsInBackup } = await damagedCopyWithBackup();
    const restored = restoreLatestBackup(copy);
    expect(restored).toMatchObject({
      status: 'restored',
      from: `${copy}.backup-v1`,
      backupVersion: 1,
      rescanImages: true,
    });
    if (restored.status !== 'restored') return;
    expect(restored.movedAside[0]).toMatch(/copy\.sqlite\.corrupt-/);
    expect(restored.movedAside.every((p) => existsSync(p))).toBe(true);
    const db = await open(copy);
    expect(db.migration).toMatchObject({ from: 1, to: latestVersion(galleryMigrations) });
    expect(countGenerations(db)).toBe(rowsInBackup);
    expect(db.write.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  test('startFresh moves the damaged file aside and the next open is an empty gallery to rebuild', async () => {
    const { copy } = await damagedCopyWithBackup();
    const fresh = startFresh(copy);
    expect(fresh.rebuildIndexFromImages).toBe(true);
    expect(fresh.movedAside.length).toBeGreaterThan(0);
    expect(existsSync(copy)).toBe(false);
    const db = await open(copy);
    expect(countGenerations(db)).toBe(0);
    expect(new GalleryRepository(db).listBoards().map((b) => b.name)).toEqual(['Recovered']);
  });

  test('a file whose header is destroyed is reported as corrupt, not thrown', async () => {
    const { file } = temp();
    const db = await openOk(file);
    addGenerations(db, 10);
    db.close();
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from('not a database at all'), 0, 21, 0);
    closeSync(fd);
    const result = await openGalleryDb(file);
    expect(result).toMatchObject({ status: 'corrupt', problems: [expect.stringMatching(/not a database/)] });
  });

  test('restoreLatestBackup skips a damaged backup and says so when none is usable', async () => {
    const { copy } = await damagedCopyWithBackup();
    corruptPageOf(`${copy}.backup-v1`, 'generations');
    const result = restoreLatestBackup(copy);
    expect(result).toMatchObject({ status: 'no-usable-backup', tried: [{ path: `${copy}.backup-v1` }] });
    expect(existsSync(copy)).toBe(true); // nothing moved when nothing could be restored
    expect(existsSync(`${copy}.restore-tmp`)).toBe(false);
  });
});
