/**
 * Gallery database benchmark, on a real file in a temp folder with the app's settings (WAL,
 * synchronous=FULL). Prints one JSON object:
 *   insertRatePerSec      generations (one image each) per second, each in its own transaction, as
 *                         the queue writes them
 *   bulkInsertRatePerSec  the same in transactions of 1,000 (imports, index rebuilds)
 *   openMs                opening the full file: pragmas, quick_check, migration check
 *   search{P50,P95}Ms     a page of 60 images for a prompt search of 1-3 words (200 random queries)
 *   filter{P50,P95}Ms     a page of 60 images for 1-3 random filters (200 random queries)
 * Both query sets time the first page and the page after it (keyset cursor).
 *
 *   npm run bench:gallery [-- --generations 100000] [-- --queries 200] [-- --seed 1]
 */
import { samplerNames } from '../src/preload/contract';
import { rmSync, statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ImageStore } from '../src/main/services/gallery/ImageStore';
import {
  GalleryRepository,
  type GenerationInput,
  type GenerationMode,
  type ImageInput,
  type PageFilters,
  type PageQuery,
} from '../src/main/services/gallery/db/GalleryRepository';
import { openGalleryDb, type GalleryDb } from '../src/main/services/gallery/db/openGalleryDb';

const { values } = parseArgs({
  options: {
    generations: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    'single-inserts': { type: 'string', default: '2000' },
  },
});
const TOTAL = Number(values.generations);
const QUERIES = Number(values.queries);
const SINGLE = Math.min(Number(values['single-inserts']), TOTAL);
const LIMIT = 60;
const YEAR_MS = 365 * 86_400_000;
const START = Date.UTC(2025, 0, 1);

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(Number(values.seed));
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

// A vocabulary with a Zipf-like spread, as prompts have: a few words everywhere, most words rare.
const syllables = ['ka', 'ri', 'mo', 'su', 'ne', 'to', 'ha', 'yu', 'shi', 'ra', 'no', 'mi', 'ta', 'ko', 'e', 'an'];
const vocabulary = Array.from({ length: 4000 }, (_, k) => {
  let word = '';
  for (let n = k + 1; n > 0; n = Math.floor(n / 16)) word += syllables[n % 16];
  return word;
});
function zipfWord(): string {
  return (
    vocabulary[Math.min(vocabulary.length - 1, Math.floor(Math.exp(random() * Math.log(vocabulary.length))) - 1)] ??
    'ka'
  );
}

const models = [
  'sd15',
  'sd21',
  'sdxl-base',
  'dreamshaper',
  'anything-v5',
  'realistic-vision',
  'juggernaut',
  'lcm-sd15',
];
const samplers = samplerNames;
const sizes = [
  [512, 512],
  [512, 768],
  [768, 512],
  [768, 768],
  [1024, 1024],
  [832, 1216],
] as const;
const modes: GenerationMode[] = ['txt2img', 'txt2img', 'txt2img', 'img2img', 'inpaint', 'outpaint'];

function makeEntry(k: number, createdAt: number): { generation: GenerationInput; images: ImageInput[] } {
  const [width, height] = pick(sizes);
  const words = Array.from({ length: 8 + Math.floor(random() * 30) }, zipfWord);
  const prompt = words.join(random() < 0.5 ? ' ' : ', ');
  return {
    generation: {
      createdAt,
      mode: pick(modes),
      prompt,
      negativePrompt: 'blurry, lowres, bad anatomy',
      seed: Math.floor(random() * 4294967295),
      sampler: pick(samplers),
      steps: 20 + Math.floor(random() * 30),
      cfg: 7,
      width,
      height,
      strength: null,
      modelName: pick(models),
      modelHash: null,
      loras: [],
      parentImageId: null,
      maskHash: null,
      initImageHash: null,
      timings: { total: 4000 },
      executionProvider: 'cuda',
      ortVersion: '1.30.0',
      rng: 'torch-cpu',
      appVersion: '0.1.0',
      recipe: { prompt, width, height },
    },
    images: [
      { file: `${k.toString(16).padStart(12, '0')}.png`, bytes: 500_000, width, height, seed: k, batchIndex: 0 },
    ],
  };
}

/** Seconds resolution, so that many rows tie on created_at as they do when a batch lands. */
const randomTime = (): number => START + Math.floor((random() * YEAR_MS) / 1000) * 1000;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Number((sorted[i] ?? NaN).toFixed(3));
}

function timePages(
  repo: GalleryRepository,
  queries: Omit<PageQuery, 'cursor'>[],
): { p50: number; p95: number; rows: number } {
  const times: number[] = [];
  let rows = 0;
  for (const q of queries) {
    let cursor: string | null = null;
    for (let page = 0; page < 2; page++) {
      const t0 = performance.now();
      const result = repo.page({ ...q, cursor });
      times.push(performance.now() - t0);
      rows += result.items.length;
      cursor = result.nextCursor;
      if (cursor === null) break;
    }
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), rows };
}

async function open(file: string): Promise<GalleryDb> {
  const result = await openGalleryDb(file);
  if (result.status !== 'ok') throw new Error(`bench database is ${result.status}: ${result.problems.join('; ')}`);
  return result.db;
}

/** 256-px WebP thumbnails made by the image store from 512x512 PNGs (the common SD 1.x size). */
async function thumbnailThroughput(dir: string): Promise<{ perSec: number; source: string }> {
  const count = 40;
  const store = new ImageStore(() => join(dir, 'images'), join(dir, 'thumbnails'));
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(512 * 512 * 3);
    for (let p = 0; p < pixels.length; p++) pixels[p] = (Math.sin(p * 0.001 * (i + 1)) * 127 + 128) | 0;
    const png = await sharp(pixels, { raw: { width: 512, height: 512, channels: 3 } })
      .png()
      .toBuffer();
    files.push(store.put(png).file);
  }
  const t0 = performance.now();
  for (const file of files) await store.thumbnail(file);
  return { perSec: Math.round((count / (performance.now() - t0)) * 1000), source: '512x512 PNG' };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sumi-bench-gallery-'));
  const file = join(dir, 'gallery.sqlite');
  try {
    let db = await open(file);
    let repo = new GalleryRepository(db);

    let t0 = performance.now();
    for (let k = 0; k < SINGLE; k++) {
      const e = makeEntry(k, randomTime());
      repo.insertGeneration(e.generation, e.images);
    }
    const insertRatePerSec = Math.round(SINGLE / ((performance.now() - t0) / 1000));

    t0 = performance.now();
    const BATCH = 1000;
    for (let k = SINGLE; k < TOTAL; k += BATCH) {
      const n = Math.min(BATCH, TOTAL - k);
      repo.insertGenerations(Array.from({ length: n }, (_, j) => makeEntry(k + j, randomTime())));
    }
    const bulkInsertRatePerSec =
      TOTAL > SINGLE ? Math.round((TOTAL - SINGLE) / ((performance.now() - t0) / 1000)) : null;

    // Favourites, boards and trash, spread as a user would leave them.
    const boards = Array.from({ length: 10 }, (_, k) => repo.createBoard(`board ${k}`).id);
    const ids = db.read.prepare('SELECT id FROM images').pluck().all() as number[];
    const sample = (share: number): number[] => ids.filter(() => random() < share);
    repo.setFavourite(sample(0.05), true);
    for (const board of boards) repo.setBoard(sample(0.01), board);
    repo.trash(sample(0.02));
    db.close(); // as the app does at exit: PRAGMA optimize

    t0 = performance.now();
    db = await open(file);
    const openMs = Number((performance.now() - t0).toFixed(1));
    repo = new GalleryRepository(db);

    const searchQueries = Array.from({ length: QUERIES }, () => ({
      limit: LIMIT,
      sort: random() < 0.8 ? ('newest' as const) : ('oldest' as const),
      search: Array.from({ length: 1 + Math.floor(random() * 3) }, zipfWord).join(' '),
    }));
    const filterQueries = Array.from({ length: QUERIES }, () => {
      const filters: PageFilters = {};
      const kinds = ['model', 'sampler', 'size', 'mode', 'favourite', 'board', 'range', 'trashed'] as const;
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const kind = pick(kinds);
        if (kind === 'model') filters.model = pick(models);
        if (kind === 'sampler') filters.sampler = pick(samplers);
        if (kind === 'size') [filters.width, filters.height] = pick(sizes);
        if (kind === 'mode') filters.mode = pick(modes);
        if (kind === 'favourite') filters.favourite = true;
        if (kind === 'board') filters.boardId = pick(boards);
        if (kind === 'range') {
          filters.from = randomTime();
          filters.to = filters.from + 30 * 86_400_000;
        }
        if (kind === 'trashed') filters.trashed = true;
      }
      return { limit: LIMIT, sort: random() < 0.8 ? ('newest' as const) : ('oldest' as const), filters };
    });

    timePages(repo, searchQueries.slice(0, 20)); // warm the page cache and statement cache
    const search = timePages(repo, searchQueries);
    const filter = timePages(repo, filterQueries);
    const dbBytes = statSync(file).size;
    db.close();
    const thumbnails = await thumbnailThroughput(join(dir, 'thumbs'));

    console.log(
      JSON.stringify(
        {
          generations: TOTAL,
          images: TOTAL,
          insertRatePerSec,
          bulkInsertRatePerSec,
          openMs,
          pageLimit: LIMIT,
          queries: QUERIES,
          searchP50Ms: search.p50,
          searchP95Ms: search.p95,
          filterP50Ms: filter.p50,
          filterP95Ms: filter.p95,
          searchRowsReturned: search.rows,
          filterRowsReturned: filter.rows,
          dbBytes,
          thumbnailsPerSec: thumbnails.perSec,
          thumbnailSource: thumbnails.source,
          node: process.version,
        },
        null,
        2,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
