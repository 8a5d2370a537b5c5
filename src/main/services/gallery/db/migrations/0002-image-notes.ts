/** A free-text note on each image (the gallery's detail panel). Frozen once released. */
import type { WritableDB } from '../dbAccess';
import type { Migration } from '../runMigrations';

function up(db: WritableDB): void {
  db.exec(`ALTER TABLE images ADD COLUMN note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 10000);`);
}

export default { version: 2, name: 'image-notes', up } satisfies Migration;
