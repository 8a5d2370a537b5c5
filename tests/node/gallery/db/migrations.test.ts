import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import type { WritableDB } from '../../../../src/main/services/gallery/db/dbAccess';
import { GalleryRepository } from '../../../../src/main/services/gallery/db/GalleryRepository';
import { galleryMigrations } from '../../../../src/main/services/gallery/db/migrations';
import { openGalleryDb, type GalleryDb } from '../../../../src/main/services/gallery/db/openGalleryDb';
import { latestVersion, type Migration } from '../../../../src/main/services/gallery/db/runMigrations';
import { openOk, seedVersion1, tempGalleryFile } from './galleryHarness';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const LATEST = latestVersion(galleryMigrations);
const ROWS = 30;

/** Fills a file at each schema version with rows the way that version's code wrote them. */
const seeders: Record<number, (db: WritableDB) => void> = {
  0: () => undefined, // version 0 has no gallery tables: an app that was stopped before its first migration
  1: (db) => seedVersion1(db, ROWS),
};

function temp(): string {
  const t = tempGalleryFile();
  cleanups.push(t.cleanup);
  return t.file;
}

async function fileAtVersion(version: number): Promise<string> {
  const file = temp();
  const db = await openOk(file, { targetVersion: version });
  expect(db.write.pragma('user_version', { simple: true })).toBe(version);
  const seed = seeders[version];
  if (!seed) throw new Error(`no seeder for version ${version}: add one with the migration`);
  seed(db.write);
  db.close();
  return file;
}

function count(db: { prepare: GalleryDb['read']['prepare'] }, table: string): number {
  return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

/** What rows from version `from` must look like once the file is at `to`. */
function expectSeededRowsKept(db: GalleryDb, from: number, to: number): void {
  const r = db.read;
  if (from === 0) {
    expect(count(r, 'generations')).toBe(0);
    return;
  }
  expect(count(r, 'generations')).toBe(ROWS);
  expect(count(r, 'images')).toBe(ROWS);
  expect(count(r, 'jobs')).toBe(1);
  const favourites = r.prepare('SELECT id FROM images WHERE favourite = 1 ORDER BY id').pluck().all();
  expect(favourites).toEqual(Array.from({ length: ROWS / 3 }, (_, k) => 3 * (k + 1)));
  expect(r.prepare('SELECT rating FROM images WHERE id = 5').pluck().get()).toBe(5);
  expect(r.prepare('SELECT parent_image_id FROM generations WHERE id = 7').pluck().get()).toBe(6);
  // The FTS index came along with its content.
  const hits = r.prepare('SELECT rowid FROM generations_fts WHERE generations_fts MATCH \'"prompt 17"\'').pluck().all();
  expect(hits).toEqual([17]);
  if (to >= 2) {
    expect(r.prepare('SELECT DISTINCT note FROM images').pluck().all()).toEqual(['']);
  }
}

const pairs = Array.from({ length: LATEST + 1 }, (_, from) => from).flatMap((from) =>
  Array.from({ length: LATEST - from }, (_, k) => [from, from + k + 1] as const),
);

describe('gallery migrations', () => {
  test('every version below the latest has a seeder, so every migration is tested from it', () => {
    for (let v = 0; v < LATEST; v++) expect(seeders[v], `seeder for version ${v}`).toBeDefined();
    expect(galleryMigrations.map((m) => m.version)).toEqual(Array.from({ length: LATEST }, (_, i) => i + 1));
  });

  test.each(pairs)('a file at version %i migrates to %i keeping its rows, after writing a backup', async (from, to) => {
    const file = await fileAtVersion(from);
    const db = await openOk(file, { targetVersion: to });
    cleanups.unshift(() => db.close());
    expect(db.migration.from).toBe(from);
    expect(db.migration.to).toBe(to);
    expect(db.migration.applied).toEqual(
      galleryMigrations.slice(from, to).map((m) => `${String(m.version).padStart(4, '0')}-${m.name}`),
    );
    expectSeededRowsKept(db, from, to);
    expect(db.write.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.write.pragma('foreign_key_check')).toEqual([]);

    if (from === 0) {
      // Nothing to keep: an empty version-0 file gets no backup.
      expect(db.migration.backup).toBeNull();
      return;
    }
    const backup = `${file}.backup-v${from}`;
    expect(db.migration.backup).toBe(backup);
    expect(readFileSync(backup).subarray(18, 20)).toEqual(Buffer.from([1, 1])); // standalone, no -wal needed
    const old = new Database(backup, { readonly: true });
    try {
      expect(old.pragma('user_version', { simple: true })).toBe(from);
      expect(count(old, 'generations')).toBe(ROWS);
    } finally {
      old.close();
    }
  });

  test('the repository works on a file migrated from the oldest version', async () => {
    const file = await fileAtVersion(1);
    const db = await openOk(file);
    cleanups.unshift(() => db.close());
    const repo = new GalleryRepository(db);
    const page = repo.page({ limit: 100, sort: 'newest', search: 'old prompt' });
    expect(page.items).toHaveLength(ROWS);
    expect(page.items[0]).toMatchObject({ id: ROWS, note: '', prompt: `old prompt ${ROWS}` });
    repo.setNote(1, 'kept from v1');
    expect(repo.getImage(1).note).toBe('kept from v1');
  });

  test('opening a file already at the latest version migrates nothing and writes no backup', async () => {
    const file = await fileAtVersion(1);
    (await openOk(file)).close();
    const again = await openOk(file);
    cleanups.unshift(() => again.close());
    expect(again.migration).toEqual({ from: LATEST, to: LATEST, applied: [], backup: null });
  });

  test('a file from a newer version is refused with a clear error and left untouched', async () => {
    const file = temp();
    (await openOk(file)).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST + 3}`);
    raw.close();
    const attempt = openGalleryDb(file);
    await expect(attempt).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(new RegExp(`newer version of Sumi Studio \\(schema version ${LATEST + 3}`)),
    });
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(LATEST + 3);
    check.close();
    expect(existsSync(`${file}.backup-v${LATEST + 3}`)).toBe(false);
  });

  test('a migration that fails is rolled back whole and the error names the backup', async () => {
    const file = await fileAtVersion(1);
    const broken: Migration = {
      version: 2,
      name: 'broken',
      up(db) {
        db.exec("ALTER TABLE images ADD COLUMN half_done TEXT NOT NULL DEFAULT ''");
        throw new Error('disk on fire');
      },
    };
    const [initial] = galleryMigrations;
    if (!initial) throw new Error('no initial migration');
    await expect(openGalleryDb(file, { migrations: [initial, broken] })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/version 2 \(broken\) failed: disk on fire.*left at version 1.*backup-v1/),
    });
    const db = await openOk(file, { targetVersion: 1 });
    cleanups.unshift(() => db.close());
    expect(db.read.pragma('user_version', { simple: true })).toBe(1);
    const columns = (db.read.pragma('table_info(images)') as { name: string }[]).map((c) => c.name);
    expect(columns).not.toContain('half_done');
    expect(count(db.read, 'images')).toBe(ROWS);
  });

  test('a migration that leaves rows pointing at nothing is refused', async () => {
    const file = await fileAtVersion(1);
    const dangling: Migration = {
      version: 2,
      name: 'dangling',
      up(db) {
        db.pragma('defer_foreign_keys = ON');
        db.exec('UPDATE images SET generation_id = 9999 WHERE id = 1');
      },
    };
    const [initial] = galleryMigrations;
    if (!initial) throw new Error('no initial migration');
    await expect(openGalleryDb(file, { migrations: [initial, dangling] })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/dangling.*pointing at rows that do not exist/),
    });
  });

  test('a migration list with a gap is a build error', async () => {
    const file = temp();
    const [initial] = galleryMigrations;
    if (!initial) throw new Error('no initial migration');
    const skip: Migration = { version: 3, name: 'skips-two', up: () => undefined };
    await expect(openGalleryDb(file, { migrations: [initial, skip] })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/skips-two.*version 3; expected 2/),
    });
  });
});
