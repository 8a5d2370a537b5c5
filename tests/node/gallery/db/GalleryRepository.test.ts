import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { toFtsQuery } from '../../../../src/main/services/gallery/db/ftsQuery';
import {
  GalleryRepository,
  type GalleryImage,
  type GenerationMode,
  type PageFilters,
  type PageQuery,
} from '../../../../src/main/services/gallery/db/GalleryRepository';
import type { GalleryDb } from '../../../../src/main/services/gallery/db/openGalleryDb';
import { generation, image, openOk, tempGalleryFile } from './galleryHarness';

let file: string;
let db: GalleryDb;
let repo: GalleryRepository;
let clock: number;
let cleanup: () => void;

beforeEach(async () => {
  const t = tempGalleryFile();
  cleanup = t.cleanup;
  file = t.file;
  db = await openOk(file);
  clock = 1_800_000_000_000;
  repo = new GalleryRepository(db, { now: () => clock });
});
afterEach(() => {
  db.close();
  cleanup();
});

/** Inserts one generation with one image and returns the image id. */
function add(n: number, g: Parameters<typeof generation>[0] = {}, img: Parameters<typeof image>[1] = {}): number {
  const { imageIds } = repo.insertGeneration(generation(g), [image(n, img)]);
  return imageIds[0] ?? -1;
}

/** Every page from the first to the last, as ids. */
function allPages(query: Omit<PageQuery, 'cursor'>): number[] {
  const ids: number[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    const page = repo.page({ ...query, cursor });
    ids.push(...page.items.map((i) => i.id));
    if (page.nextCursor === null) return ids;
    expect(page.items).toHaveLength(query.limit);
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

function count(table: string): number {
  return db.read.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

describe('generations and images', () => {
  test('a generation and its images are written together and read back with everything a re-run needs', () => {
    const input = generation({
      mode: 'img2img',
      strength: 0.6,
      loras: [
        { name: 'ink', weight: 0.8, hash: 'cd34' },
        { name: 'paper', weight: -0.25, hash: null },
      ],
      maskHash: 'm1',
      initImageHash: 'i1',
      timings: { load: 10, denoise: 900, total: 1000 },
      recipe: { prompt: 'x', nested: { steps: [1, 2] } },
    });
    const { generationId, imageIds } = repo.insertGeneration(input, [image(1), image(2, { batchIndex: 1, seed: 43 })]);
    expect(imageIds).toHaveLength(2);
    expect(repo.getGeneration(generationId)).toEqual({ id: generationId, ...input });
    expect(repo.getImage(imageIds[1] ?? -1)).toMatchObject({
      generationId,
      batchIndex: 1,
      seed: 43,
      createdAt: input.createdAt,
    });
  });

  test('a failing image insert leaves no generation behind', () => {
    expect(() => repo.insertGeneration(generation(), [image(1), image(2, { width: 0 })])).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
    expect(() => repo.insertGeneration(generation({ parentImageId: 12345 }), [image(1)])).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    expect(() => repo.insertGeneration(generation(), [])).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(count('generations')).toBe(0);
    expect(count('images')).toBe(0);
    expect(count('generations_fts')).toBe(0);
  });

  test('unknown ids are NOT_FOUND', () => {
    expect(() => repo.getImage(99)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => repo.getGeneration(99)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});

describe('keyset pagination', () => {
  const N = 137;
  let expected: { id: number; createdAt: number }[];

  beforeEach(() => {
    // Only seven distinct times, inserted out of order: most rows tie on created_at.
    const times = Array.from({ length: N }, (_, k) => 1_700_000_000_000 + ((k * 5) % 7) * 1000);
    expected = times.map((createdAt, k) => ({ id: add(k, { createdAt }), createdAt }));
  });

  const byKey = (a: { id: number; createdAt: number }, b: { id: number; createdAt: number }): number =>
    a.createdAt - b.createdAt || a.id - b.id;

  test.each([1, 10, 50, 136, 137, 500])('pages of %i return every row exactly once, newest first', (limit) => {
    const ids = allPages({ limit, sort: 'newest' });
    expect(ids).toEqual(
      [...expected]
        .sort(byKey)
        .reverse()
        .map((e) => e.id),
    );
  });

  test.each([1, 10, 137])('pages of %i return every row exactly once, oldest first', (limit) => {
    const ids = allPages({ limit, sort: 'oldest' });
    expect(ids).toEqual([...expected].sort(byKey).map((e) => e.id));
  });

  test('rows added between pages neither repeat nor push rows out of the pages that follow', () => {
    const first = repo.page({ limit: 40, sort: 'newest' });
    for (let k = 0; k < 25; k++) add(1000 + k, { createdAt: 1_900_000_000_000 + k });
    const rest = allPagesFrom(first.nextCursor);
    const seen = [...first.items.map((i) => i.id), ...rest];
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.sort((a, b) => a - b)).toEqual(expected.map((e) => e.id).sort((a, b) => a - b));

    function allPagesFrom(cursor: string | null): number[] {
      const ids: number[] = [];
      while (cursor !== null) {
        const page = repo.page({ limit: 40, sort: 'newest', cursor });
        ids.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor;
      }
      return ids;
    }
  });

  test('a bad limit or a forged cursor is a VALIDATION error', () => {
    for (const limit of [0, -1, 1.5, 501]) {
      expect(() => repo.page({ limit, sort: 'newest' })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
    for (const cursor of ['', 'abc', '1.2.3', "1'; DROP TABLE images; --", '1e3.4']) {
      expect(() => repo.page({ limit: 5, sort: 'newest', cursor })).toThrow(
        expect.objectContaining({ code: 'VALIDATION' }),
      );
    }
  });

  test('the page query reads an index in order instead of sorting the table', () => {
    const plan = db.read
      .prepare(
        `EXPLAIN QUERY PLAN SELECT i.id FROM images i JOIN generations g ON g.id = i.generation_id
         WHERE i.trashed_at IS NULL AND (i.created_at, i.id) < (?, ?) ORDER BY i.created_at DESC, i.id DESC LIMIT 10`,
      )
      .all(Date.now(), 1) as { detail: string }[];
    const text = plan.map((p) => p.detail).join('\n');
    expect(text).toMatch(/images_live_by_created/);
    expect(text).not.toMatch(/TEMP B-TREE/);
    const filtered = db.read
      .prepare(
        `EXPLAIN QUERY PLAN SELECT i.id FROM images i JOIN generations g ON g.id = i.generation_id
         WHERE i.trashed_at IS NULL AND i.model_name = ? AND i.sampler = ? ORDER BY i.created_at DESC, i.id DESC LIMIT 10`,
      )
      .all('sd15', 'euler') as { detail: string }[];
    expect(filtered.map((p) => p.detail).join('\n')).not.toMatch(/TEMP B-TREE/);
  });
});

describe('filters', () => {
  const models = ['sd15', 'sdxl', 'dream'];
  const samplers = ['euler', 'euler_a', 'ddim', 'lcm'];
  const modes: GenerationMode[] = ['txt2img', 'img2img', 'inpaint'];
  const sizes = [
    [512, 512],
    [768, 512],
    [512, 768],
  ] as const;
  let rows: GalleryImage[];
  let boardId: number;

  beforeEach(() => {
    boardId = repo.createBoard('Keepers').id;
    const ids: number[] = [];
    for (let k = 0; k < 120; k++) {
      const [width, height] = sizes[k % 3] ?? [512, 512];
      ids.push(
        add(
          k,
          {
            createdAt: 1_700_000_000_000 + k * 60_000,
            modelName: models[k % 3] ?? 'sd15',
            sampler: samplers[k % 4] ?? 'euler',
            mode: modes[k % 5 === 0 ? 1 : k % 7 === 0 ? 2 : 0] ?? 'txt2img',
            width,
            height,
          },
          { width, height },
        ),
      );
    }
    repo.setFavourite(
      ids.filter((_, k) => k % 4 === 1),
      true,
    );
    repo.setBoard(
      ids.filter((_, k) => k % 6 === 2),
      boardId,
    );
    repo.trash(ids.filter((_, k) => k % 10 === 9));
    rows = ids.map((id) => repo.getImage(id));
  });

  function expectedIds(f: PageFilters): number[] {
    return rows
      .filter((r) => (f.trashed ? r.trashedAt !== null : r.trashedAt === null))
      .filter((r) => f.model === undefined || r.modelName === f.model)
      .filter((r) => f.sampler === undefined || r.sampler === f.sampler)
      .filter((r) => f.mode === undefined || r.mode === f.mode)
      .filter((r) => f.width === undefined || r.width === f.width)
      .filter((r) => f.height === undefined || r.height === f.height)
      .filter((r) => f.from === undefined || r.createdAt >= f.from)
      .filter((r) => f.to === undefined || r.createdAt < f.to)
      .filter((r) => f.favourite === undefined || r.favourite === f.favourite)
      .filter((r) => f.boardId === undefined || r.boardId === f.boardId)
      .map((r) => r.id)
      .reverse();
  }

  const cases: [string, () => PageFilters][] = [
    ['no filter', () => ({})],
    ['model', () => ({ model: 'sdxl' })],
    ['sampler', () => ({ sampler: 'lcm' })],
    ['mode', () => ({ mode: 'img2img' })],
    ['width and height', () => ({ width: 768, height: 512 })],
    [
      'date range (from inclusive, to exclusive)',
      () => ({ from: 1_700_000_000_000 + 30 * 60_000, to: 1_700_000_000_000 + 50 * 60_000 }),
    ],
    ['favourites', () => ({ favourite: true })],
    ['not favourites', () => ({ favourite: false })],
    ['board', () => ({ boardId })],
    ['trash', () => ({ trashed: true })],
    ['several at once', () => ({ model: 'sd15', sampler: 'euler', favourite: false, width: 512 })],
    ['a model nobody used', () => ({ model: 'nope' })],
  ];

  test.each(cases)('%s', (_, filters) => {
    const f = filters();
    const want = expectedIds(f);
    expect(allPages({ limit: 7, sort: 'newest', filters: f })).toEqual(want);
    if (f.model !== 'nope') expect(want.length).toBeGreaterThan(0);
  });

  test('filters combine with search', () => {
    repo.insertGeneration(generation({ prompt: 'unique zebra', modelName: 'sdxl', createdAt: 1 }), [image(900)]);
    repo.insertGeneration(generation({ prompt: 'unique zebra', modelName: 'sd15', createdAt: 2 }), [image(901)]);
    const page = repo.page({ limit: 10, sort: 'newest', search: 'zebra', filters: { model: 'sdxl' } });
    expect(page.items.map((i) => i.file)).toEqual([image(900).file]);
  });
});

describe('prompt search', () => {
  const prompts = [
    'a "quoted" cat on a mat',
    'cats AND dogs playing',
    'star * field at night',
    'well-lit room -- interior',
    '(masterpiece:1.2), portrait of a knight',
    'NOT this one NEAR that one',
    'plain sunset over the sea',
    'café au lait, naïve style',
  ];
  let ids: number[];

  beforeEach(() => {
    ids = prompts.map((prompt, k) => add(k, { prompt, createdAt: 1_700_000_000_000 + k }));
  });

  function search(text: string): number[] {
    return repo
      .page({ limit: 100, sort: 'oldest', search: text })
      .items.map((i) => ids.indexOf(i.id))
      .sort((a, b) => a - b);
  }

  test.each([
    ['"quoted"', [0]],
    ['"quoted', [0]],
    ['cat', [0]],
    ['cats', [1]],
    ['lighthou', []],
    ['cats AND dogs', [1]],
    ['AND', [1]],
    ['dogs OR', []],
    ['star * field', [2]],
    ['-lit', [3]],
    ['well-lit', [3]],
    ['lit-well', []],
    ['(masterpiece:1.2)', [4]],
    ['knight portrait', [4]],
    ['portrait)', [4]],
    ['NOT', [5]],
    ['NEAR(that', [5]],
    ['NEAR(this', []],
    ['one NOT', [5]],
    ['^plain', [6]],
    ['PLAIN SUNSET', [6]],
    ['sunset:', [6]],
    ['cafe naive', [7]],
    ['col:that', []],
  ] as const)('searching %j finds prompts %j, with FTS syntax taken literally', (text, want) => {
    expect(search(text)).toEqual(want);
  });

  test.each(['*', '-', '(', ')', '"', '""', '   ', '- * ( ) "'])(
    'a search of only punctuation (%j) does not constrain the page',
    (text) => {
      expect(search(text)).toEqual(prompts.map((_, k) => k));
    },
  );

  test('the FTS query quotes every word and doubles quotes inside it', () => {
    expect(toFtsQuery('a "b" AND c*')).toBe('"a" """b""" "AND" "c*"');
    expect(toFtsQuery(' - ( ')).toBeNull();
  });

  test.each([
    ['matches first, then sorted', { few: 1e9, many: 1e9 }],
    ['walk the order, test against the set of matches', { few: 0, many: 1e9 }],
    ['walk the order, probe the index row by row', { few: 0, many: 0 }],
  ])('the search plan "%s" returns the same pages', (_, searchThresholds) => {
    const planned = new GalleryRepository(db, { searchThresholds });
    const rows = Array.from({ length: 90 }, (_, k) => ({
      k,
      id: add(100 + k, {
        prompt: `a${k % 3} b${k % 5} shared`,
        createdAt: 1_750_000_000_000 + (k % 11),
        modelName: k % 2 === 0 ? 'even' : 'odd',
      }),
    }));
    const cases: [string, PageFilters, (k: number) => boolean][] = [
      ['a1', {}, (k) => k % 3 === 1],
      ['a1 b2', {}, (k) => k % 3 === 1 && k % 5 === 2],
      ['shared', {}, () => true],
      ['B4 "shared"', { model: 'even' }, (k) => k % 5 === 4 && k % 2 === 0],
      ['nothing', {}, () => false],
    ];
    for (const [search, filters, wanted] of cases) {
      for (const sort of ['newest', 'oldest'] as const) {
        const got: number[] = [];
        let cursor: string | null = null;
        do {
          const page = planned.page({ limit: 4, sort, search, filters, cursor });
          got.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor;
        } while (cursor !== null);
        const expectedRows = rows
          .filter((r) => wanted(r.k))
          .map((r) => repo.getImage(r.id))
          .sort((x, y) => x.createdAt - y.createdAt || x.id - y.id);
        if (sort === 'newest') expectedRows.reverse();
        expect(got, `${search} ${sort}`).toEqual(expectedRows.map((r) => r.id));
      }
    }
  });

  test('the index follows edits and deletes of generations', () => {
    db.write
      .prepare("UPDATE generations SET prompt = 'renamed lighthouse' WHERE id = ?")
      .run(repo.getImage(ids[6] ?? -1).generationId);
    expect(search('sunset')).toEqual([]);
    expect(search('lighthouse')).toEqual([6]);
    repo.trash([ids[6] ?? -1]);
    repo.emptyTrash();
    expect(count('generations_fts')).toBe(prompts.length - 1);
    expect(repo.page({ limit: 10, sort: 'newest', search: 'lighthouse', filters: { trashed: true } }).items).toEqual(
      [],
    );
    db.write.exec("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)");
  });
});

describe('favourites, ratings, notes, missing files', () => {
  test('changes apply to every id, or to none when one id does not exist', () => {
    const a = add(1);
    const b = add(2);
    repo.setFavourite([a, b], true);
    repo.setRating([a], 4);
    repo.setNote(b, 'print this one');
    expect(repo.getImage(a)).toMatchObject({ favourite: true, rating: 4 });
    expect(repo.getImage(b)).toMatchObject({ favourite: true, rating: 0, note: 'print this one' });
    expect(() => repo.setFavourite([a, 999], false)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(repo.getImage(a).favourite).toBe(true);
    expect(() => repo.setRating([a], 6)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => repo.setRating([a], 2.5)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    repo.setMissing([b], true);
    expect(repo.getImage(b).missingAt).toBe(clock);
    repo.setMissing([b], false);
    expect(repo.getImage(b).missingAt).toBeNull();
  });
});

describe('trash', () => {
  test('trash hides images from the gallery, restore brings them back, trash keeps the first time', () => {
    const a = add(1, { createdAt: 1 });
    const b = add(2, { createdAt: 2 });
    repo.trash([a]);
    const trashedAt = clock;
    clock += 1000;
    repo.trash([a, b]);
    expect(repo.page({ limit: 10, sort: 'newest' }).items).toEqual([]);
    const trash = repo.page({ limit: 10, sort: 'newest', filters: { trashed: true } }).items;
    expect(trash.map((i) => [i.id, i.trashedAt])).toEqual([
      [b, trashedAt + 1000],
      [a, trashedAt],
    ]);
    repo.restore([a]);
    expect(repo.page({ limit: 10, sort: 'newest' }).items.map((i) => i.id)).toEqual([a]);
  });

  test('emptying the trash deletes rows and returns only files nothing else refers to', () => {
    const shared = 'shared.png';
    const { generationId, imageIds } = repo.insertGeneration(generation({ createdAt: 1 }), [
      image(1, { file: shared }),
      image(2, { file: 'own.png' }),
    ]);
    const keeper = add(3, { createdAt: 2 }, { file: shared });
    const [first, second] = imageIds as [number, number];
    const child = add(4, { createdAt: 3, parentImageId: first });
    repo.trash([first, second]);
    const result = repo.emptyTrash();
    expect(result).toEqual({ removedImages: 2, files: ['own.png'], inputs: [] });
    expect(() => repo.getGeneration(generationId)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(repo.getImage(keeper).file).toBe(shared);
    expect(repo.getGeneration(repo.getImage(child).generationId).parentImageId).toBeNull();
    expect(repo.emptyTrash()).toEqual({ removedImages: 0, files: [], inputs: [] });
    expect(db.write.pragma('foreign_key_check')).toEqual([]);
  });

  test('emptying with trashedBefore keeps images trashed more recently', () => {
    const old = add(1);
    const recent = add(2);
    repo.trash([old]);
    clock += 31 * 86_400_000;
    repo.trash([recent]);
    expect(repo.emptyTrash({ trashedBefore: clock - 30 * 86_400_000 }).removedImages).toBe(1);
    expect(repo.page({ limit: 10, sort: 'newest', filters: { trashed: true } }).items.map((i) => i.id)).toEqual([
      recent,
    ]);
  });
});

describe('boards', () => {
  test('create, rename, list with counts, delete; images stay in the gallery', () => {
    expect(repo.listBoards()).toEqual([
      { id: repo.recoveredBoardId(), name: 'Recovered', builtin: true, createdAt: expect.any(Number), imageCount: 0 },
    ]);
    const board = repo.createBoard('  Ink studies  ');
    expect(board).toMatchObject({ name: 'Ink studies', builtin: false, createdAt: clock, imageCount: 0 });
    const a = add(1);
    const b = add(2);
    repo.setBoard([a, b], board.id);
    repo.trash([b]);
    expect(repo.listBoards().find((x) => x.id === board.id)?.imageCount).toBe(1);
    expect(repo.renameBoard(board.id, 'Sumi-e').name).toBe('Sumi-e');
    repo.deleteBoard(board.id);
    expect(repo.getImage(a).boardId).toBeNull();
    expect(repo.listBoards().map((x) => x.name)).toEqual(['Recovered']);
  });

  test('names are unique regardless of case, and the built-in board cannot be renamed or deleted', () => {
    const board = repo.createBoard('Portraits');
    expect(() => repo.createBoard('portraits')).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => repo.createBoard('recovered')).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => repo.createBoard('   ')).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => repo.renameBoard(repo.recoveredBoardId(), 'Mine')).toThrow(
      expect.objectContaining({ code: 'CONFLICT' }),
    );
    expect(() => repo.deleteBoard(repo.recoveredBoardId())).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => repo.renameBoard(999, 'x')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => repo.setBoard([add(1)], 999)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(repo.renameBoard(board.id, 'PORTRAITS').name).toBe('PORTRAITS');
  });
});

describe('lineage', () => {
  test('ancestors run from the parent back to the original; children are the images made from one', () => {
    const a = add(1, { createdAt: 1 });
    const b = add(2, { createdAt: 2, mode: 'img2img', parentImageId: a });
    const c = add(3, { createdAt: 3, mode: 'inpaint', parentImageId: b });
    const d = add(4, { createdAt: 4, mode: 'img2img', parentImageId: a });
    const ids = (list: GalleryImage[]): number[] => list.map((i) => i.id);
    const ofA = repo.lineage(a);
    expect([ids(ofA.ancestors), ids(ofA.children)]).toEqual([[], [b, d]]);
    const ofB = repo.lineage(b);
    expect([ids(ofB.ancestors), ids(ofB.children)]).toEqual([[a], [c]]);
    const ofC = repo.lineage(c);
    expect([ids(ofC.ancestors), ids(ofC.children)]).toEqual([[b, a], []]);
    expect(() => repo.lineage(999)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});

describe('jobs', () => {
  test('queued jobs survive a restart; running ones are marked failed with the reason', async () => {
    for (const id of ['j1', 'j2', 'j3', 'j4']) repo.enqueueJob({ id, request: { prompt: id, steps: 20 } });
    repo.updateJob('j1', { status: 'done', startedAt: clock, finishedAt: clock + 5, results: [{ media: 'a.png' }] });
    repo.updateJob('j2', { status: 'running', startedAt: clock, provider: 'cpu' });
    db.close();

    db = await openOk(file);
    clock += 60_000;
    repo = new GalleryRepository(db, { now: () => clock });
    expect(repo.markInterruptedJobs('Sumi Studio stopped while this job was running.')).toEqual(['j2']);
    const jobs = repo.listJobs();
    expect(jobs.map((j) => [j.id, j.status])).toEqual([
      ['j1', 'done'],
      ['j2', 'failed'],
      ['j3', 'queued'],
      ['j4', 'queued'],
    ]);
    expect(jobs[1]).toMatchObject({
      finishedAt: clock,
      provider: 'cpu',
      error: { code: 'ENGINE', message: 'Sumi Studio stopped while this job was running.' },
    });
    expect(jobs[0]).toMatchObject({ results: [{ media: 'a.png' }], request: { prompt: 'j1', steps: 20 } });
    expect(repo.markInterruptedJobs('again')).toEqual([]);
  });

  test('moving a queued job reorders the queue only', () => {
    for (const id of ['a', 'b', 'c', 'd']) repo.enqueueJob({ id, request: {} });
    repo.updateJob('a', { status: 'running' });
    repo.moveJob('d', 0);
    expect(repo.listJobs().map((j) => j.id)).toEqual(['a', 'd', 'b', 'c']);
    repo.moveJob('d', 99);
    expect(repo.listJobs().map((j) => j.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(() => repo.moveJob('a', 0)).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => repo.moveJob('zz', 0)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => repo.updateJob('zz', { status: 'done' })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => repo.enqueueJob({ id: 'a', request: {} })).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    repo.updateJob('b', { error: { code: 'CANCELLED', message: 'stopped' }, status: 'cancelled' });
    expect(repo.getJob('b')).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    repo.updateJob('b', { error: null });
    expect(repo.getJob('b').error).toBeNull();
  });
});
