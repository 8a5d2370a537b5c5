/**
 * Gallery-scroll benchmark in Chromium against the built web host (`npm run build` first). Seeds a
 * data folder with `count` gallery rows (the real repository, bulk transactions; 64 real PNGs and
 * their thumbnails shared by the rows), then:
 *
 *   startup      from spawning the host to: its URL printed (the gallery's start-up check of every
 *                row included), the first grid cell in the DOM, and the first screen of thumbnails
 *                decoded and painted ("interactive"); the browser is already running.
 *   idle         requestAnimationFrame deltas with nothing happening: the refresh interval.
 *   wheel        scrolling at 120 px per frame (a fast mouse wheel) for `--frames` frames.
 *   traverse     scrolling through the whole gallery at `--px-per-frame`, pages fetched on the way
 *                (keyset pages of 200); `stalledFrames` counts frames that could not move because
 *                the next page had not arrived.
 * Frame statistics are rAF deltas collected in the page: p50/p95/p99/max, and dropped frames
 * (each delta counts round(delta / refresh) - 1 frames missed). `maxCells` is the most grid cells
 * seen in the DOM (sampled every 10th frame).
 *
 *   npx tsx scripts/bench-ui-gallery.ts [--count 100000] [--frames 600] [--px-per-frame 3000]
 *
 * `benchGalleryScroll(opts)` is the same as a function, for scripts/bench-ui.ts. Chromium runs
 * headless with --disable-gpu, as in the e2e tests: compositing and image decoding are on the CPU.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { seedGallery } from '../tests/helpers/seedGallery';

const repoRoot = resolve(import.meta.dirname, '..');
const chromiumPath = process.env.SUMI_CHROMIUM ?? '/usr/bin/chromium';

export interface GalleryScrollOptions {
  /** Gallery rows to seed (default 100,000). */
  count?: number;
  /** A running Chromium to use (its own is launched and closed otherwise). */
  browser?: Browser;
  /** A scratch folder for the data folder (a temp folder, removed, otherwise). */
  temp?: string;
  viewport?: { width: number; height: number };
  /** Frames of the wheel-speed phase (default 600). */
  wheelFrames?: number;
  /** Scroll speed of the traverse phase (default 3000 px per frame). */
  pxPerFrame?: number;
}

const round = (n: number): number => Math.round(n * 100) / 100;

function frameStats(deltas: number[], refreshMs: number): Record<string, number> {
  const sorted = [...deltas].sort((a, b) => a - b);
  const q = (p: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN);
  const dropped = deltas.reduce((sum, d) => sum + Math.max(0, Math.round(d / refreshMs) - 1), 0);
  return {
    frames: deltas.length,
    p50Ms: q(0.5),
    p95Ms: q(0.95),
    p99Ms: q(0.99),
    maxMs: round(sorted.at(-1) ?? NaN),
    droppedFrames: dropped,
    droppedPercent: round((dropped / Math.max(1, deltas.length + dropped)) * 100),
  };
}

/**
 * Scrolls the grid `pxPerFrame` per animation frame until `maxFrames` or the end of the gallery,
 * collecting rAF deltas (a string: this file is compiled without DOM types).
 */
function scrollInPage(page: Page, pxPerFrame: number, maxFrames: number, toEnd: boolean) {
  return page.evaluate(`new Promise((done) => {
    const el = document.querySelector('[data-testid="virtual-grid"]');
    const deltas = [];
    let stalled = 0, maxCells = 0, frame = 0, last = null;
    const started = performance.now();
    const tick = (t) => {
      if (last !== null) deltas.push(t - last);
      last = t;
      frame++;
      if (frame % 10 === 0) maxCells = Math.max(maxCells, el.querySelectorAll('li').length);
      const before = el.scrollTop;
      const bottom = el.scrollHeight - el.clientHeight;
      // The end of the gallery: the last page has arrived (no unknown set size) and the view is at the bottom.
      const cell = el.querySelector('li');
      const complete = cell !== null && cell.getAttribute('aria-setsize') !== '-1';
      if ((${toEnd} && complete && before >= bottom - 1) || frame > ${maxFrames}) {
        done({ deltas, stalled, maxCells, frames: frame, ms: performance.now() - started, scrollTop: el.scrollTop,
          cells: el.querySelectorAll('li').length });
        return;
      }
      if (before >= bottom - 1) stalled++;
      el.scrollTop = before + ${pxPerFrame};
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })`) as Promise<{
    deltas: number[];
    stalled: number;
    maxCells: number;
    frames: number;
    ms: number;
    scrollTop: number;
    cells: number;
  }>;
}

export async function benchGalleryScroll(opts: GalleryScrollOptions = {}): Promise<Record<string, unknown>> {
  const count = opts.count ?? 100_000;
  const wheelFrames = opts.wheelFrames ?? 600;
  const pxPerFrame = opts.pxPerFrame ?? 3000;
  if (!existsSync(join(repoRoot, 'out/main/web.js'))) throw new Error('Run `npm run build` first.');
  const ownTemp = opts.temp === undefined;
  const temp = opts.temp ?? mkdtempSync(join(tmpdir(), 'sumi-bench-gallery-ui-'));
  const dataDir = join(temp, 'gallery-bench-data');
  const browser =
    opts.browser ??
    (await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    }));
  let child: ReturnType<typeof spawn> | null = null;
  try {
    const t0 = performance.now();
    const seeded = await seedGallery(dataDir, { count, distinctImages: 64, size: 256 });
    const seedMs = Math.round(performance.now() - t0);

    // bypassCSP: the string predicates below are evaluated in the page (this file has no DOM types).
    const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1600, height: 1000 }, bypassCSP: true });
    // ---- start-up: spawn -> URL -> first cell -> first screen of thumbnails painted ----
    const spawnedAt = performance.now();
    child = spawn(process.execPath, [join(repoRoot, 'out/main/web.js'), '--port', '0', '--data', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const host = child;
    let output = '';
    const url = await new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`web host did not start:\n${output}`)), 120_000);
      host.stdout?.on('data', (d: Buffer) => {
        output += d.toString();
        const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(output);
        if (m?.[1]) {
          clearTimeout(timer);
          done(m[1]);
        }
      });
      host.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      host.once('exit', (code) => fail(new Error(`web host exited with ${code}:\n${output}`)));
    });
    const hostReadyMs = performance.now() - spawnedAt;
    await page.goto(`${url}#/gallery`);
    await page.waitForFunction(`document.querySelector('[data-testid="virtual-grid"] li button')`, undefined, {
      polling: 'raf',
      timeout: 60_000,
    });
    const firstCellMs = performance.now() - spawnedAt;
    await page.waitForFunction(
      `(() => {
        const imgs = [...document.querySelectorAll('[data-testid="virtual-grid"] li img')];
        return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
      })()`,
      undefined,
      { polling: 'raf', timeout: 60_000 },
    );
    await page.evaluate(`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`);
    const interactiveMs = performance.now() - spawnedAt;
    const inPage = (await page.evaluate(`(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return { domContentLoadedMs: nav ? nav.domContentLoadedEventEnd : null, firstContentfulPaintMs: paint ? paint.startTime : null };
    })()`)) as { domContentLoadedMs: number | null; firstContentfulPaintMs: number | null };
    const columns = (await page.evaluate(`(() => {
      const cells = [...document.querySelectorAll('[data-testid="virtual-grid"] li')];
      const top = cells[0].getBoundingClientRect().top;
      return cells.filter((c) => c.getBoundingClientRect().top === top).length;
    })()`)) as number;

    // Main-thread time by kind (script, layout, style, paint tasks), per phase, from the DevTools protocol.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const busy = async (): Promise<Record<string, number>> => {
      const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
      const pick = ['TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration'];
      return Object.fromEntries(metrics.filter((m) => pick.includes(m.name)).map((m) => [m.name, m.value * 1000]));
    };
    const perFrame = (a: Record<string, number>, b: Record<string, number>, frames: number): Record<string, number> =>
      Object.fromEntries(
        Object.keys(b).map((k) => [
          `${k.replace('Duration', '').toLowerCase()}MsPerFrame`,
          round(((b[k] ?? 0) - (a[k] ?? 0)) / frames),
        ]),
      );

    // ---- idle refresh interval ----
    const idle = await scrollInPage(page, 0, 120, false);
    const refreshMs = [...idle.deltas].sort((a, b) => a - b)[Math.floor(idle.deltas.length / 2)] ?? 16.67;

    // ---- a fast mouse wheel ----
    const wheelBefore = await busy();
    const wheel = await scrollInPage(page, 120, wheelFrames, false);
    const wheelBusy = perFrame(wheelBefore, await busy(), wheel.frames);

    // ---- the whole gallery ----
    const traverseBefore = await busy();
    const traverse = await scrollInPage(page, pxPerFrame, 200_000, true);
    const traverseBusy = perFrame(traverseBefore, await busy(), traverse.frames);
    const lastSeed = (await page.evaluate(`(() => {
      const cells = [...document.querySelectorAll('[data-testid="virtual-grid"] li button')];
      return Math.max(...cells.map((c) => Number(/seed (\\d+)/.exec(c.getAttribute('aria-label'))?.[1] ?? -1)));
    })()`)) as number;
    const heap = (await page.evaluate(`performance.memory ? performance.memory.usedJSHeapSize : null`)) as
      number | null;
    await page.close();

    return {
      rows: count,
      seedInsertMs: seeded.insertMs,
      seedTotalMs: seedMs,
      viewport: opts.viewport ?? { width: 1600, height: 1000 },
      columns,
      startup: {
        hostReadyMs: round(hostReadyMs),
        firstCellMs: round(firstCellMs),
        interactiveMs: round(interactiveMs),
        pageDomContentLoadedMs: inPage.domContentLoadedMs === null ? null : round(inPage.domContentLoadedMs),
        pageFirstContentfulPaintMs:
          inPage.firstContentfulPaintMs === null ? null : round(inPage.firstContentfulPaintMs),
      },
      idle: { refreshMs: round(refreshMs), ...frameStats(idle.deltas, refreshMs) },
      wheel: {
        pxPerFrame: 120,
        ...frameStats(wheel.deltas, refreshMs),
        stalledFrames: wheel.stalled,
        maxCells: wheel.maxCells,
        mainThread: wheelBusy,
      },
      traverse: {
        pxPerFrame,
        ...frameStats(traverse.deltas, refreshMs),
        stalledFrames: traverse.stalled,
        maxCells: traverse.maxCells,
        seconds: round(traverse.ms / 1000),
        reachedSeed: lastSeed,
        reachedEnd: lastSeed === count - 1,
        mainThread: traverseBusy,
      },
      jsHeapMB: heap === null ? null : round(heap / 1048576),
    };
  } finally {
    child?.kill('SIGTERM');
    if (!opts.browser) await browser.close();
    if (ownTemp) rmSync(temp, { recursive: true, force: true });
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      frames: { type: 'string', default: '600' },
      'px-per-frame': { type: 'string', default: '3000' },
    },
  });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const result = await benchGalleryScroll({
      browser,
      count: Number(values.count),
      wheelFrames: Number(values.frames),
      pxPerFrame: Number(values['px-per-frame']),
    });
    console.log(JSON.stringify({ chromium: browser.version(), gpu: 'disabled', galleryScroll: result }, null, 2));
  } finally {
    await browser.close();
  }
}
