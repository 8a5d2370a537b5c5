/**
 * The gallery's SQL: generations and their images, pages of images (keyset pagination on
 * (created_at, id), never OFFSET, so a page costs the same at row 10 and row 100,000 and rows added
 * meanwhile neither repeat nor vanish), prompt search through FTS5, favourites, ratings, boards,
 * trash, lineage, and the persistent job queue.
 *
 * Reads go through the read-only connection, writes through the read-write one, each write in one
 * IMMEDIATE transaction. Times are milliseconds since the epoch. Ids of images, generations and
 * boards are integers; job ids are the queue's strings.
 */
import type Database from 'better-sqlite3';
import type { StudioErrorShape } from '@contract';
import { AppError } from '../../AppError';
import type { ReadableDB, WritableDB } from './dbAccess';
import { toFtsQuery } from './ftsQuery';

export type GenerationMode = 'txt2img' | 'img2img' | 'inpaint' | 'outpaint';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type SortOrder = 'newest' | 'oldest';

export interface LoraRef {
  name: string;
  weight: number;
  /** SHA-256 of the LoRA file, hex; null when it was not hashed. */
  hash: string | null;
}

/** Everything an exact re-run needs, plus what the run took and where it ran. */
export interface GenerationInput {
  createdAt: number;
  mode: GenerationMode;
  prompt: string;
  negativePrompt: string;
  /** The request's seed (the first image's); each image keeps its own. */
  seed: number;
  sampler: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  /** img2img/inpaint denoising strength in (0, 1]; null for txt2img. */
  strength: number | null;
  modelName: string;
  modelHash: string | null;
  loras: LoraRef[];
  /** The gallery image this one was made from (img2img, inpaint, outpaint, variations). */
  parentImageId: number | null;
  maskHash: string | null;
  initImageHash: string | null;
  /** Phase name to milliseconds (load, encode, denoise, decode, total). */
  timings: Record<string, number>;
  executionProvider: string;
  ortVersion: string;
  rng: string;
  appVersion: string;
  /** The whole parsed request as the engine received it: the source of truth for a re-run. */
  recipe: Record<string, unknown>;
}

export interface Generation extends GenerationInput {
  id: number;
}

export interface ImageInput {
  /** Content-addressed file name in the image store. Two rows may share one file. */
  file: string;
  bytes: number;
  width: number;
  height: number;
  seed: number;
  batchIndex: number;
  /** Defaults to the generation's createdAt. */
  createdAt?: number;
  boardId?: number | null;
}

export interface GalleryImage {
  id: number;
  generationId: number;
  batchIndex: number;
  seed: number;
  file: string;
  bytes: number;
  width: number;
  height: number;
  favourite: boolean;
  rating: number;
  boardId: number | null;
  trashedAt: number | null;
  missingAt: number | null;
  createdAt: number;
  note: string;
  prompt: string;
  negativePrompt: string;
  mode: GenerationMode;
  modelName: string;
  sampler: string;
  steps: number;
  cfg: number;
}

export interface PageFilters {
  model?: string;
  sampler?: string;
  /** Image width/height in pixels. */
  width?: number;
  height?: number;
  /** created_at >= from (inclusive), ms. */
  from?: number;
  /** created_at < to (exclusive), ms. */
  to?: number;
  mode?: GenerationMode;
  favourite?: boolean;
  boardId?: number;
  /** true: the trash; false or absent: everything not in the trash. */
  trashed?: boolean;
}

export interface PageQuery {
  /** `nextCursor` of the previous page; absent or null for the first page. */
  cursor?: string | null;
  limit: number;
  sort: SortOrder;
  filters?: PageFilters;
  /** Words that must all appear in the prompt (whole words); FTS syntax is literal. */
  search?: string;
}

export interface Page {
  items: GalleryImage[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface Board {
  id: number;
  name: string;
  /** The built-in "Recovered" board cannot be renamed or deleted. */
  builtin: boolean;
  createdAt: number;
  /** Images on the board that are not in the trash. */
  imageCount: number;
}

export interface Lineage {
  image: GalleryImage;
  /** The parent first, then its parent, and so on. */
  ancestors: GalleryImage[];
  /** Images made directly from this one, oldest first. */
  children: GalleryImage[];
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  /** The request as submitted (JSON); the service parses it with the contract's schema. */
  request: unknown;
  /** Queue order, ascending. */
  position: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: StudioErrorShape | null;
  results: unknown[];
  provider: string | null;
}

export type JobPatch = Partial<
  Pick<JobRecord, 'status' | 'startedAt' | 'finishedAt' | 'error' | 'results' | 'provider'>
>;

export interface EmptyTrashResult {
  removedImages: number;
  /** Files no image row refers to any more: delete them from the image store after this returns. */
  files: string[];
  /** Uploaded init images and masks no generation refers to any more (the inputs store). */
  inputs: string[];
}

export interface GalleryRepositoryOptions {
  /** Clock, ms since the epoch. */
  now?: () => number;
  /** Matching-prompt counts where search switches plan (tests force each plan with these). */
  searchThresholds?: { few: number; many: number };
}

export const MAX_PAGE_LIMIT = 500;
/** Search plan thresholds (matching prompts); see `searchPlan`. */
const SEARCH_THRESHOLDS = { few: 4000, many: 30_000 };
const MAX_BOARD_NAME = 100;

interface ImageRow {
  id: number;
  generation_id: number;
  batch_index: number;
  seed: number;
  file: string;
  bytes: number;
  width: number;
  height: number;
  favourite: number;
  rating: number;
  board_id: number | null;
  trashed_at: number | null;
  missing_at: number | null;
  created_at: number;
  note: string;
  prompt: string;
  negative_prompt: string;
  mode: GenerationMode;
  model_name: string;
  sampler: string;
  steps: number;
  cfg: number;
}

interface GenerationRow {
  id: number;
  created_at: number;
  mode: GenerationMode;
  prompt: string;
  negative_prompt: string;
  seed: number;
  sampler: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  strength: number | null;
  model_name: string;
  model_hash: string | null;
  loras: string;
  parent_image_id: number | null;
  mask_hash: string | null;
  init_image_hash: string | null;
  timings: string;
  execution_provider: string;
  ort_version: string;
  rng: string;
  app_version: string;
  recipe: string;
}

interface BoardRow {
  id: number;
  name: string;
  builtin: number;
  created_at: number;
  image_count: number;
}

interface JobRow {
  id: string;
  status: JobStatus;
  request: string;
  position: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  results: string;
  provider: string | null;
}

const IMAGE_COLUMNS = `i.id, i.generation_id, i.batch_index, i.seed, i.file, i.bytes, i.width, i.height, i.favourite,
  i.rating, i.board_id, i.trashed_at, i.missing_at, i.created_at, i.note, g.prompt, g.negative_prompt, g.mode,
  g.model_name, g.sampler, g.steps, g.cfg`;
const IMAGE_FROM = 'images i JOIN generations g ON g.id = i.generation_id';

type Stmt<R = unknown> = Database.Statement<unknown[], R>;

export class GalleryRepository {
  private readonly read: ReadableDB;
  private readonly write: WritableDB;
  private readonly now: () => number;
  private readonly searchThresholds: { few: number; many: number };
  private readonly pageStatements = new Map<string, Stmt<ImageRow>>();
  private readonly s;

  constructor(db: { read: ReadableDB; write: WritableDB }, options: GalleryRepositoryOptions = {}) {
    this.read = db.read;
    this.write = db.write;
    this.now = options.now ?? Date.now;
    this.searchThresholds = options.searchThresholds ?? SEARCH_THRESHOLDS;
    const r = this.read;
    const w = this.write;
    this.s = {
      insertGeneration: w.prepare(`INSERT INTO generations (created_at, mode, prompt, negative_prompt, seed, sampler,
        steps, cfg, width, height, strength, model_name, model_hash, loras, parent_image_id, mask_hash, init_image_hash,
        timings, execution_provider, ort_version, rng, app_version, recipe)
        VALUES (@createdAt, @mode, @prompt, @negativePrompt, @seed, @sampler, @steps, @cfg, @width, @height, @strength,
        @modelName, @modelHash, @loras, @parentImageId, @maskHash, @initImageHash, @timings, @executionProvider,
        @ortVersion, @rng, @appVersion, @recipe)`),
      insertImage: w.prepare(`INSERT INTO images (generation_id, mode, model_name, sampler, batch_index, seed, file,
        bytes, width, height, board_id, created_at) VALUES (@generationId, @mode, @modelName, @sampler, @batchIndex,
        @seed, @file, @bytes, @width, @height, @boardId, @createdAt)`),
      searchHits: r
        .prepare('SELECT count(*) FROM (SELECT 1 FROM generations_fts WHERE generations_fts MATCH ? LIMIT ?)')
        .pluck() as Stmt<number>,
      image: r.prepare(`SELECT ${IMAGE_COLUMNS} FROM ${IMAGE_FROM} WHERE i.id = ?`) as Stmt<ImageRow>,
      generation: r.prepare('SELECT * FROM generations WHERE id = ?') as Stmt<GenerationRow>,
      missingImageIds: w.prepare('SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM images)') as Stmt<{
        value: number;
      }>,
      setFavourite: w.prepare('UPDATE images SET favourite = ? WHERE id IN (SELECT value FROM json_each(?))'),
      setRating: w.prepare('UPDATE images SET rating = ? WHERE id IN (SELECT value FROM json_each(?))'),
      setBoard: w.prepare('UPDATE images SET board_id = ? WHERE id IN (SELECT value FROM json_each(?))'),
      setNote: w.prepare('UPDATE images SET note = ? WHERE id = ?'),
      setMissing: w.prepare('UPDATE images SET missing_at = ? WHERE id IN (SELECT value FROM json_each(?))'),
      trash: w.prepare(
        'UPDATE images SET trashed_at = ? WHERE trashed_at IS NULL AND id IN (SELECT value FROM json_each(?))',
      ),
      restore: w.prepare(
        'UPDATE images SET trashed_at = NULL WHERE trashed_at IS NOT NULL AND id IN (SELECT value FROM json_each(?))',
      ),
      trashedBefore: w.prepare(
        'SELECT id, file, generation_id FROM images WHERE trashed_at IS NOT NULL AND trashed_at < ?',
      ) as Stmt<{ id: number; file: string; generation_id: number }>,
      deleteImages: w.prepare('DELETE FROM images WHERE id IN (SELECT value FROM json_each(?))'),
      deleteEmptyGenerations: w.prepare(`DELETE FROM generations WHERE id IN (SELECT value FROM json_each(?))
        AND NOT EXISTS (SELECT 1 FROM images WHERE images.generation_id = generations.id)`),
      fileInUse: w.prepare('SELECT 1 FROM images WHERE file = ? LIMIT 1').pluck() as Stmt<number>,
      generationInputs: w.prepare(`SELECT init_image_hash AS init, mask_hash AS mask FROM generations
        WHERE id IN (SELECT value FROM json_each(?))`) as Stmt<{ init: string | null; mask: string | null }>,
      inputInUse: w
        .prepare('SELECT 1 FROM generations WHERE init_image_hash = @f OR mask_hash = @f LIMIT 1')
        .pluck() as Stmt<number>,
      ancestors: r.prepare(`WITH RECURSIVE chain (image_id, depth) AS (
          SELECT g.parent_image_id, 1 FROM ${IMAGE_FROM} WHERE i.id = ? AND g.parent_image_id IS NOT NULL
          UNION ALL
          SELECT g.parent_image_id, chain.depth + 1 FROM chain
            JOIN images i ON i.id = chain.image_id JOIN generations g ON g.id = i.generation_id
            WHERE g.parent_image_id IS NOT NULL AND chain.depth < 1000
        )
        SELECT ${IMAGE_COLUMNS} FROM chain
          JOIN images i ON i.id = chain.image_id JOIN generations g ON g.id = i.generation_id
        ORDER BY chain.depth`) as Stmt<ImageRow>,
      children: r.prepare(`SELECT ${IMAGE_COLUMNS} FROM ${IMAGE_FROM} WHERE g.parent_image_id = ?
        ORDER BY i.created_at, i.id`) as Stmt<ImageRow>,
      boards: r.prepare(`SELECT b.id, b.name, b.builtin, b.created_at,
          (SELECT count(*) FROM images i WHERE i.board_id = b.id AND i.trashed_at IS NULL) AS image_count
        FROM boards b ORDER BY b.builtin DESC, b.name COLLATE NOCASE, b.id`) as Stmt<BoardRow>,
      boardForWrite: w.prepare('SELECT id, builtin FROM boards WHERE id = ?') as Stmt<{ id: number; builtin: number }>,
      recoveredBoard: r
        .prepare("SELECT id FROM boards WHERE builtin = 1 AND name = 'Recovered'")
        .pluck() as Stmt<number>,
      insertBoard: w.prepare('INSERT INTO boards (name, created_at) VALUES (?, ?)'),
      renameBoard: w.prepare('UPDATE boards SET name = ? WHERE id = ?'),
      deleteBoard: w.prepare('DELETE FROM boards WHERE id = ?'),
      insertJob: w.prepare(`INSERT INTO jobs (id, status, request, position, created_at)
        VALUES (?, 'queued', ?, (SELECT coalesce(max(position), 0) + 1 FROM jobs), ?)`),
      job: w.prepare('SELECT * FROM jobs WHERE id = ?') as Stmt<JobRow>,
      jobs: r.prepare('SELECT * FROM jobs ORDER BY position') as Stmt<JobRow>,
      queuedJobs: w.prepare("SELECT id, position FROM jobs WHERE status = 'queued' ORDER BY position") as Stmt<{
        id: string;
        position: number;
      }>,
      setJobPosition: w.prepare('UPDATE jobs SET position = ? WHERE id = ?'),
      markInterrupted: w
        .prepare(
          `UPDATE jobs SET status = 'failed', finished_at = ?, error = ?
        WHERE status = 'running' RETURNING id`,
        )
        .pluck() as Stmt<string>,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Generations and images
  // -------------------------------------------------------------------------------------------

  /** Adds a generation and its images in one transaction: either all rows exist afterwards or none. */
  insertGeneration(
    generation: GenerationInput,
    images: readonly ImageInput[],
  ): { generationId: number; imageIds: number[] } {
    return this.inWriteTransaction(() => this.insertOne(generation, images));
  }

  /** Many generations in one transaction (index rebuilds, imports): far faster than one by one. */
  insertGenerations(
    entries: readonly { generation: GenerationInput; images: readonly ImageInput[] }[],
  ): { generationId: number; imageIds: number[] }[] {
    return this.inWriteTransaction(() => entries.map((e) => this.insertOne(e.generation, e.images)));
  }

  getImage(id: number): GalleryImage {
    const row = this.s.image.get(id);
    if (!row) throw notFound('image', id);
    return toImage(row);
  }

  getGeneration(id: number): Generation {
    const row = this.s.generation.get(id);
    if (!row) throw notFound('generation', id);
    return toGeneration(row);
  }

  /**
   * One page of images, newest or oldest first. Keyset pagination: the cursor is the last row's
   * (created_at, id), so rows that tie on created_at are ordered by id and each row appears exactly
   * once across pages.
   */
  page(query: PageQuery): Page {
    const limit = query.limit;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw validation('limit', `must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
    }
    const f = query.filters ?? {};
    const newest = query.sort === 'newest';
    // Literal terms for the flags so that SQLite can use the matching partial index.
    const where: string[] = [f.trashed === true ? 'i.trashed_at IS NOT NULL' : 'i.trashed_at IS NULL'];
    const params: unknown[] = [];
    const add = (sql: string, ...values: unknown[]): void => {
      where.push(sql);
      params.push(...values);
    };
    if (f.favourite !== undefined) where.push(f.favourite ? 'i.favourite = 1' : 'i.favourite = 0');
    if (f.boardId !== undefined) add('i.board_id = ?', integer('filters.boardId', f.boardId));
    if (f.model !== undefined) add('i.model_name = ?', f.model);
    if (f.sampler !== undefined) add('i.sampler = ?', f.sampler);
    if (f.mode !== undefined) add('i.mode = ?', f.mode);
    if (f.width !== undefined) add('i.width = ?', integer('filters.width', f.width));
    if (f.height !== undefined) add('i.height = ?', integer('filters.height', f.height));
    if (f.from !== undefined) add('i.created_at >= ?', integer('filters.from', f.from));
    if (f.to !== undefined) add('i.created_at < ?', integer('filters.to', f.to));
    const narrowed = where.length > 1;
    if (query.cursor !== undefined && query.cursor !== null) {
      const c = parseCursor(query.cursor);
      add(newest ? '(i.created_at, i.id) < (?, ?)' : '(i.created_at, i.id) > (?, ?)', c.createdAt, c.id);
    }
    let from = IMAGE_FROM;
    const fromParams: unknown[] = [];
    const match = query.search === undefined ? null : toFtsQuery(query.search);
    if (match !== null) {
      switch (this.searchPlan(match, narrowed)) {
        case 'matches-first':
          // Few prompts match: read them from the index and sort just those.
          from = `(SELECT rowid AS gid FROM generations_fts WHERE generations_fts MATCH ?) m
            CROSS JOIN images i ON i.generation_id = m.gid JOIN generations g ON g.id = i.generation_id`;
          fromParams.push(match);
          break;
        case 'walk-with-set':
          // Many match: walk the page order and test each row against the set of matches (the +
          // keeps SQLite from driving the query from that set and sorting all of it).
          add('+i.generation_id IN (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?)', match);
          break;
        case 'walk-with-probe':
          // Most prompts match: the page fills within a few rows, so probing the index row by row
          // is cheaper than building the set of matches.
          add(
            'EXISTS (SELECT 1 FROM generations_fts f WHERE f.generations_fts MATCH ? AND f.rowid = i.generation_id)',
            match,
          );
          break;
      }
    }
    const dir = newest ? 'DESC' : 'ASC';
    const sql = `SELECT ${IMAGE_COLUMNS} FROM ${from} WHERE ${where.join(' AND ')}
      ORDER BY i.created_at ${dir}, i.id ${dir} LIMIT ?`;
    let stmt = this.pageStatements.get(sql);
    if (!stmt) {
      stmt = this.read.prepare(sql) as Stmt<ImageRow>;
      this.pageStatements.set(sql, stmt);
    }
    params.unshift(...fromParams);
    const rows = stmt.all(...params, limit + 1);
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map(toImage);
    const last = items.at(-1);
    return { items, nextCursor: more && last ? formatCursor(last) : null };
  }

  setFavourite(ids: readonly number[], favourite: boolean): void {
    this.updateImages(ids, () => this.s.setFavourite.run(favourite ? 1 : 0, JSON.stringify(ids)));
  }

  /** Rating 0 (none) to 5. */
  setRating(ids: readonly number[], rating: number): void {
    if (!Number.isInteger(rating) || rating < 0 || rating > 5) throw validation('rating', 'must be 0 to 5');
    this.updateImages(ids, () => this.s.setRating.run(rating, JSON.stringify(ids)));
  }

  /** Files the images on a board, or takes them off any board with null. */
  setBoard(ids: readonly number[], boardId: number | null): void {
    this.updateImages(ids, () => {
      if (boardId !== null && !this.s.boardForWrite.get(boardId)) throw notFound('board', boardId);
      this.s.setBoard.run(boardId, JSON.stringify(ids));
    });
  }

  setNote(id: number, note: string): void {
    if (note.length > 10_000) throw validation('note', 'is longer than 10,000 characters');
    this.updateImages([id], () => this.s.setNote.run(note, id));
  }

  /** Marks images whose file the image store could not find (or clears the mark with false). */
  setMissing(ids: readonly number[], missing: boolean): void {
    this.updateImages(ids, () => this.s.setMissing.run(missing ? this.now() : null, JSON.stringify(ids)));
  }

  /** Moves images to the trash. Images already there keep their original trash time. */
  trash(ids: readonly number[]): void {
    this.updateImages(ids, () => this.s.trash.run(this.now(), JSON.stringify(ids)));
  }

  restore(ids: readonly number[]): void {
    this.updateImages(ids, () => this.s.restore.run(JSON.stringify(ids)));
  }

  /**
   * Deletes the rows of trashed images (all, or those trashed before `trashedBefore`) and of the
   * generations left with no image. Returns the files nothing refers to any more: the caller deletes
   * them after this returns, so a crash in between leaves only unreferenced files, never rows
   * pointing at deleted files. Images made from a deleted image keep their rows; their
   * `parentImageId` becomes null.
   */
  emptyTrash(options: { trashedBefore?: number } = {}): EmptyTrashResult {
    return this.inWriteTransaction(() => {
      const doomed = this.s.trashedBefore.all(options.trashedBefore ?? Number.MAX_SAFE_INTEGER);
      if (doomed.length === 0) return { removedImages: 0, files: [], inputs: [] };
      const generations = JSON.stringify([...new Set(doomed.map((d) => d.generation_id))]);
      const inputs = new Set(
        this.s.generationInputs.all(generations).flatMap((g) => [g.init, g.mask].filter((f): f is string => !!f)),
      );
      this.s.deleteImages.run(JSON.stringify(doomed.map((d) => d.id)));
      this.s.deleteEmptyGenerations.run(generations);
      const files = [...new Set(doomed.map((d) => d.file))].filter((file) => this.s.fileInUse.get(file) === undefined);
      const unusedInputs = [...inputs].filter((f) => this.s.inputInUse.get({ f }) === undefined);
      return { removedImages: doomed.length, files: files.sort(), inputs: unusedInputs.sort() };
    });
  }

  /** The image, the chain of images it was made from, and the images made from it. */
  lineage(imageId: number): Lineage {
    const image = this.getImage(imageId);
    return {
      image,
      ancestors: this.s.ancestors.all(imageId).map(toImage),
      children: this.s.children.all(imageId).map(toImage),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Boards
  // -------------------------------------------------------------------------------------------

  listBoards(): Board[] {
    return this.s.boards.all().map((b) => ({
      id: b.id,
      name: b.name,
      builtin: b.builtin === 1,
      createdAt: b.created_at,
      imageCount: b.image_count,
    }));
  }

  /** The built-in board for images found on disk without a row (index rebuilds). */
  recoveredBoardId(): number {
    const id = this.s.recoveredBoard.get();
    if (id === undefined) throw new AppError('INTERNAL', 'The built-in "Recovered" board is missing.');
    return id;
  }

  createBoard(name: string): Board {
    const clean = boardName(name);
    const id = this.inWriteTransaction(() => Number(this.s.insertBoard.run(clean, this.now()).lastInsertRowid));
    return this.board(id);
  }

  renameBoard(id: number, name: string): Board {
    const clean = boardName(name);
    this.inWriteTransaction(() => {
      this.userBoard(id, 'renamed');
      this.s.renameBoard.run(clean, id);
    });
    return this.board(id);
  }

  /** Deletes a board; its images stay in the gallery, on no board. */
  deleteBoard(id: number): void {
    this.inWriteTransaction(() => {
      this.userBoard(id, 'deleted');
      this.s.deleteBoard.run(id);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Jobs
  // -------------------------------------------------------------------------------------------

  /** Adds a job at the end of the queue. */
  enqueueJob(job: { id: string; request: unknown }): JobRecord {
    this.inWriteTransaction(() => this.s.insertJob.run(job.id, JSON.stringify(job.request), this.now()));
    return this.getJob(job.id);
  }

  getJob(id: string): JobRecord {
    const row = this.s.job.get(id);
    if (!row) throw notFound('job', id);
    return toJob(row);
  }

  /** Every job in queue order (finished ones keep the place they ran in). */
  listJobs(): JobRecord[] {
    return this.s.jobs.all().map(toJob);
  }

  updateJob(id: string, patch: JobPatch): JobRecord {
    const sets: string[] = [];
    const values: unknown[] = [];
    const set = (column: string, value: unknown): void => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (patch.status !== undefined) set('status', patch.status);
    if (patch.startedAt !== undefined) set('started_at', patch.startedAt);
    if (patch.finishedAt !== undefined) set('finished_at', patch.finishedAt);
    if (patch.error !== undefined) set('error', patch.error === null ? null : JSON.stringify(patch.error));
    if (patch.results !== undefined) set('results', JSON.stringify(patch.results));
    if (patch.provider !== undefined) set('provider', patch.provider);
    this.inWriteTransaction(() => {
      if (!this.s.job.get(id)) throw notFound('job', id);
      if (sets.length > 0) this.write.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    });
    return this.getJob(id);
  }

  /** Moves a queued job to `toIndex` among the queued jobs (clamped to the end of the queue). */
  moveJob(id: string, toIndex: number): void {
    if (!Number.isInteger(toIndex) || toIndex < 0) throw validation('toIndex', 'must be a whole number, 0 or more');
    this.inWriteTransaction(() => {
      const queued = this.s.queuedJobs.all();
      const from = queued.findIndex((j) => j.id === id);
      if (from < 0) {
        if (this.s.job.get(id)) throw new AppError('CONFLICT', 'Only a queued job can be moved.', { id });
        throw notFound('job', id);
      }
      // Reuse the queued jobs' own positions in the new order, so running and finished jobs keep theirs.
      const slots = queued.map((j) => j.position);
      const order = queued.map((j) => j.id);
      order.splice(from, 1);
      order.splice(Math.min(toIndex, order.length), 0, id);
      order.forEach((jobId, i) => this.s.setJobPosition.run(slots[i], jobId));
    });
  }

  /**
   * At start: jobs still `running` were cut off by a crash or a kill, so they become `failed` with
   * `reason`; `queued` jobs stay queued and run again. Returns the ids marked.
   */
  markInterruptedJobs(reason: string): string[] {
    const error: StudioErrorShape = { code: 'ENGINE', message: reason, details: { interrupted: true } };
    return this.inWriteTransaction(() => this.s.markInterrupted.all(this.now(), JSON.stringify(error)));
  }

  // -------------------------------------------------------------------------------------------

  /**
   * How to combine a prompt search with the page order, from how many prompts match (counted up to
   * a cap, so the count itself stays cheap). Measured on 100,000 generations: sorting the matches
   * costs about 4 µs a match; walking the order with the set of matches costs the set's build; a
   * row-by-row probe costs ~17 µs a row walked, so it only pays when nearly every row matches and no
   * filter thins the walk.
   */
  private searchPlan(match: string, narrowed: boolean): 'matches-first' | 'walk-with-set' | 'walk-with-probe' {
    const { few, many } = this.searchThresholds;
    const hits = this.s.searchHits.get(match, many + 1) ?? 0;
    if (hits <= few) return 'matches-first';
    return hits > many && !narrowed ? 'walk-with-probe' : 'walk-with-set';
  }

  private insertOne(generation: GenerationInput, images: readonly ImageInput[]) {
    if (images.length === 0) throw validation('images', 'a generation needs at least one image');
    const generationId = Number(
      this.s.insertGeneration.run({
        ...generation,
        loras: JSON.stringify(generation.loras),
        timings: JSON.stringify(generation.timings),
        recipe: JSON.stringify(generation.recipe),
      }).lastInsertRowid,
    );
    const imageIds = images.map((image) =>
      Number(
        this.s.insertImage.run({
          generationId,
          mode: generation.mode,
          modelName: generation.modelName,
          sampler: generation.sampler,
          batchIndex: image.batchIndex,
          seed: image.seed,
          file: image.file,
          bytes: image.bytes,
          width: image.width,
          height: image.height,
          boardId: image.boardId ?? null,
          createdAt: image.createdAt ?? generation.createdAt,
        }).lastInsertRowid,
      ),
    );
    return { generationId, imageIds };
  }

  private board(id: number): Board {
    const board = this.listBoards().find((b) => b.id === id);
    if (!board) throw notFound('board', id);
    return board;
  }

  private userBoard(id: number, verb: string): void {
    const row = this.s.boardForWrite.get(id);
    if (!row) throw notFound('board', id);
    if (row.builtin === 1) throw new AppError('CONFLICT', `The built-in board cannot be ${verb}.`, { id });
  }

  /** Runs `change` after checking that every id exists; nothing changes when one does not. */
  private updateImages(ids: readonly number[], change: () => void): void {
    for (const id of ids) integer('ids', id);
    this.inWriteTransaction(() => {
      const missing = this.s.missingImageIds.all(JSON.stringify(ids)).map((r) => r.value);
      if (missing.length > 0) {
        throw new AppError('NOT_FOUND', `No image with id ${missing.join(', ')}.`, { ids: missing });
      }
      change();
    });
  }

  private inWriteTransaction<T>(fn: () => T): T {
    try {
      return this.write.transaction(fn).immediate();
    } catch (err) {
      throw toAppError(err);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Cursor text: `<createdAt>.<id>` of the last row of the previous page. */
function formatCursor(image: GalleryImage): string {
  return `${image.createdAt}.${image.id}`;
}

function parseCursor(cursor: string): { createdAt: number; id: number } {
  const m = /^(\d{1,15})\.(\d{1,15})$/.exec(cursor);
  if (!m) throw validation('cursor', 'is not a cursor this gallery returned');
  return { createdAt: Number(m[1]), id: Number(m[2]) };
}

function boardName(name: string): string {
  const clean = name.trim();
  if (clean.length === 0) throw validation('name', 'must not be empty');
  if (clean.length > MAX_BOARD_NAME) throw validation('name', `must be at most ${MAX_BOARD_NAME} characters`);
  return clean;
}

function integer(field: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw validation(field, 'must be a whole number');
  return value;
}

function validation(field: string, message: string): AppError {
  return new AppError('VALIDATION', `${field} ${message}.`, { issues: [{ path: field.split('.'), message }] });
}

function notFound(kind: string, id: number | string): AppError {
  return new AppError('NOT_FOUND', `No ${kind} with id ${id}.`, { kind, id });
}

function toAppError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return new AppError('NOT_FOUND', 'A parent image or board that this refers to does not exist.', {
        sqlite: message,
      });
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return new AppError('CONFLICT', uniqueMessage(message), { sqlite: message });
    case 'SQLITE_CONSTRAINT_CHECK':
    case 'SQLITE_CONSTRAINT_NOTNULL':
      return new AppError('VALIDATION', `A value is out of range: ${message}.`, { sqlite: message });
    case 'SQLITE_FULL':
    case 'SQLITE_IOERR':
    case 'SQLITE_READONLY':
      return new AppError('IO', `The gallery database could not be written: ${message}.`, { sqlite: message });
    default:
      return err;
  }
}

function uniqueMessage(message: string): string {
  if (message.includes('boards.name')) return 'A board with that name already exists.';
  if (message.includes('jobs.id')) return 'A job with that id already exists.';
  return `That already exists: ${message}.`;
}

function toImage(r: ImageRow): GalleryImage {
  return {
    id: r.id,
    generationId: r.generation_id,
    batchIndex: r.batch_index,
    seed: r.seed,
    file: r.file,
    bytes: r.bytes,
    width: r.width,
    height: r.height,
    favourite: r.favourite === 1,
    rating: r.rating,
    boardId: r.board_id,
    trashedAt: r.trashed_at,
    missingAt: r.missing_at,
    createdAt: r.created_at,
    note: r.note,
    prompt: r.prompt,
    negativePrompt: r.negative_prompt,
    mode: r.mode,
    modelName: r.model_name,
    sampler: r.sampler,
    steps: r.steps,
    cfg: r.cfg,
  };
}

function toGeneration(r: GenerationRow): Generation {
  return {
    id: r.id,
    createdAt: r.created_at,
    mode: r.mode,
    prompt: r.prompt,
    negativePrompt: r.negative_prompt,
    seed: r.seed,
    sampler: r.sampler,
    steps: r.steps,
    cfg: r.cfg,
    width: r.width,
    height: r.height,
    strength: r.strength,
    modelName: r.model_name,
    modelHash: r.model_hash,
    loras: JSON.parse(r.loras) as LoraRef[],
    parentImageId: r.parent_image_id,
    maskHash: r.mask_hash,
    initImageHash: r.init_image_hash,
    timings: JSON.parse(r.timings) as Record<string, number>,
    executionProvider: r.execution_provider,
    ortVersion: r.ort_version,
    rng: r.rng,
    appVersion: r.app_version,
    recipe: JSON.parse(r.recipe) as Record<string, unknown>,
  };
}

function toJob(r: JobRow): JobRecord {
  return {
    id: r.id,
    status: r.status,
    request: JSON.parse(r.request) as unknown,
    position: r.position,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error === null ? null : (JSON.parse(r.error) as StudioErrorShape),
    results: JSON.parse(r.results) as unknown[],
    provider: r.provider,
  };
}
