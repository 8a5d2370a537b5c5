/**
 * The first gallery schema. Frozen: a later change is a new migration, never an edit here.
 *
 * Times are INTEGER milliseconds since the epoch. Ids of generations, images and boards are integer
 * row ids (the FTS index is keyed by `generations.id`, which must survive VACUUM); job ids are the
 * queue's UUID strings. JSON columns are checked with json_valid.
 */
import type { WritableDB } from '../dbAccess';
import type { Migration } from '../runMigrations';

function up(db: WritableDB): void {
  db.exec(`
    CREATE TABLE boards (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(name)) > 0),
      builtin INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
      created_at INTEGER NOT NULL
    );

    -- Everything an exact re-run needs, plus what the run took and where it ran.
    CREATE TABLE generations (
      id INTEGER PRIMARY KEY,
      created_at INTEGER NOT NULL,
      mode TEXT NOT NULL CHECK (mode IN ('txt2img', 'img2img', 'inpaint', 'outpaint')),
      prompt TEXT NOT NULL,
      negative_prompt TEXT NOT NULL DEFAULT '',
      seed INTEGER NOT NULL,
      sampler TEXT NOT NULL,
      steps INTEGER NOT NULL CHECK (steps > 0),
      cfg REAL NOT NULL,
      width INTEGER NOT NULL CHECK (width > 0),
      height INTEGER NOT NULL CHECK (height > 0),
      strength REAL,
      model_name TEXT NOT NULL,
      model_hash TEXT,
      loras TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(loras) AND json_type(loras) = 'array'),
      parent_image_id INTEGER REFERENCES images(id) ON DELETE SET NULL,
      mask_hash TEXT,
      init_image_hash TEXT,
      timings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(timings)),
      execution_provider TEXT NOT NULL,
      ort_version TEXT NOT NULL,
      rng TEXT NOT NULL,
      app_version TEXT NOT NULL,
      recipe TEXT NOT NULL CHECK (json_valid(recipe))
    );

    CREATE TABLE images (
      id INTEGER PRIMARY KEY,
      generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
      -- Copied from the generation (which never changes) so that each filter and the page order
      -- share one index: a filtered page then reads exactly its rows, already in order.
      mode TEXT NOT NULL,
      model_name TEXT NOT NULL,
      sampler TEXT NOT NULL,
      batch_index INTEGER NOT NULL DEFAULT 0 CHECK (batch_index >= 0),
      seed INTEGER NOT NULL,
      file TEXT NOT NULL CHECK (length(file) > 0),
      bytes INTEGER NOT NULL CHECK (bytes >= 0),
      width INTEGER NOT NULL CHECK (width > 0),
      height INTEGER NOT NULL CHECK (height > 0),
      favourite INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
      rating INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
      board_id INTEGER REFERENCES boards(id) ON DELETE SET NULL,
      trashed_at INTEGER,
      missing_at INTEGER,
      created_at INTEGER NOT NULL
    );

    CREATE TABLE jobs (
      id TEXT PRIMARY KEY,
      status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
      request TEXT NOT NULL CHECK (json_valid(request)),
      position INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER,
      error TEXT CHECK (error IS NULL OR json_valid(error)),
      results TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(results)),
      provider TEXT
    );

    -- Keyset pagination walks (created_at, id). Partial indexes match the page query's literal terms
    -- (trashed_at IS NULL, favourite = 1); with an equality filter in front, each filtered view of
    -- the gallery is one index read in order, never a sort of every matching row.
    CREATE INDEX images_live_by_created ON images (created_at, id) WHERE trashed_at IS NULL;
    CREATE INDEX images_trashed_by_created ON images (created_at, id) WHERE trashed_at IS NOT NULL;
    CREATE INDEX images_live_favourites ON images (created_at, id) WHERE favourite = 1 AND trashed_at IS NULL;
    CREATE INDEX images_live_by_board ON images (board_id, created_at, id) WHERE trashed_at IS NULL;
    CREATE INDEX images_live_by_model ON images (model_name, created_at, id) WHERE trashed_at IS NULL;
    CREATE INDEX images_live_by_sampler ON images (sampler, created_at, id) WHERE trashed_at IS NULL;
    CREATE INDEX images_live_by_mode ON images (mode, created_at, id) WHERE trashed_at IS NULL;
    CREATE INDEX images_live_by_size ON images (width, height, created_at, id) WHERE trashed_at IS NULL;
    CREATE INDEX images_by_generation ON images (generation_id);
    CREATE INDEX images_by_board ON images (board_id) WHERE board_id IS NOT NULL;
    CREATE INDEX images_by_file ON images (file);
    CREATE INDEX generations_by_parent ON generations (parent_image_id) WHERE parent_image_id IS NOT NULL;
    CREATE INDEX jobs_by_status ON jobs (status, position);

    -- Prompt search: an external-content FTS5 index over generations.prompt, kept in step by triggers.
    CREATE VIRTUAL TABLE generations_fts USING fts5 (
      prompt,
      content = 'generations',
      content_rowid = 'id',
      tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN
      INSERT INTO generations_fts (rowid, prompt) VALUES (new.id, new.prompt);
    END;
    CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN
      INSERT INTO generations_fts (generations_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt);
    END;
    CREATE TRIGGER generations_fts_update AFTER UPDATE OF prompt ON generations BEGIN
      INSERT INTO generations_fts (generations_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt);
      INSERT INTO generations_fts (rowid, prompt) VALUES (new.id, new.prompt);
    END;
  `);
  // The built-in board that images found on disk without a database row are filed under.
  db.prepare('INSERT INTO boards (name, builtin, created_at) VALUES (?, 1, ?)').run('Recovered', Date.now());
}

export default { version: 1, name: 'initial', up } satisfies Migration;
