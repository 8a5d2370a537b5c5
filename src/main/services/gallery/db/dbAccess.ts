/**
 * Read and write access to the gallery database as different types (after Signal-Desktop's
 * `ReadableDB` / `WritableDB`): a function that only reads takes a `ReadableDB`, one that writes
 * takes a `WritableDB`, and handing a read handle to a writer is a compile error. A `WritableDB` is
 * also a `ReadableDB`, so readers can run inside a write transaction and see its uncommitted rows.
 *
 * The read handle is a separate connection opened `readonly`, so SQLite refuses a write through it
 * at run time too (SQLITE_READONLY); the type is narrower than the connection (no `exec`, no
 * `transaction`) so the obvious ways of writing are not even offered.
 */
import type Database from 'better-sqlite3';

declare const readableBrand: unique symbol;
declare const writableBrand: unique symbol;

type Connection = Database.Database;

/** What a reader may use: statements and pragmas (a read-only connection refuses writes). */
type ReadMembers = 'prepare' | 'pragma' | 'backup' | 'name' | 'open' | 'inTransaction';

export type ReadableDB = Pick<Connection, ReadMembers> & { readonly [readableBrand]: true };
export type WritableDB = Connection & { readonly [readableBrand]: true; readonly [writableBrand]: true };

/** Brands a connection opened with `readonly: true`. Only the opener calls this. */
export function asReadable(connection: Connection): ReadableDB {
  if (!connection.readonly) throw new Error('a ReadableDB must be a read-only connection');
  return connection as unknown as ReadableDB;
}

/** Brands the one read-write connection. Only the opener (and test harnesses) call this. */
export function asWritable(connection: Connection): WritableDB {
  if (connection.readonly) throw new Error('a WritableDB cannot be a read-only connection');
  return connection as unknown as WritableDB;
}
