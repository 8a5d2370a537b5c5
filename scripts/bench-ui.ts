/**
 * UI frame-time benchmark in Chromium against the built web host (`npm run build` first). Prints
 * one JSON object with a key per section; each section is a function that opens its own page and
 * returns a plain object, so sections can be added without touching the others.
 *
 *   canvasStroke  a 4096 x 4096 PNG imported into the canvas (importMs: file input to the image
 *                 on screen, including the transfer to the page; decodeAndPlaceMs: in the page),
 *                 then long spiral strokes drawn with the mouse: a normal and a large brush with
 *                 the whole document in view, and a normal brush at 100%; hoverBaseline is the same
 *                 pointer path with no button down. Per run: requestAnimationFrame deltas
 *                 (p50/p95/p99/max, frames over 33 ms), input latency (pointermove timestamp to the
 *                 end of the frame that draws it, p50/p95) and long tasks on the main thread.
 *
 *   npm run bench:ui [-- --only canvasStroke|galleryScroll] [-- --moves 400]
 *
 * Chromium runs headless with --disable-gpu (as in the e2e tests), so canvas drawing is software
 * rasterised: the numbers are an upper bound for a machine with GPU canvas.
 */
import { benchGalleryScroll } from './bench-ui-gallery';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    moves: { type: 'string', default: '400' },
  },
});

const repoRoot = resolve(import.meta.dirname, '..');
const chromiumPath = process.env.SUMI_CHROMIUM ?? '/usr/bin/chromium';

export interface BenchContext {
  browser: Browser;
  /** The host's URL with its token, e.g. http://127.0.0.1:PORT/?token=... */
  url: string;
  /** A scratch folder, removed at the end. */
  temp: string;
}

export type Section = (ctx: BenchContext) => Promise<Record<string, unknown>>;

// ---- shared helpers ----

/** Frame-time statistics from a list of frame deltas (ms). */
export function frameStats(deltas: number[]): Record<string, number> {
  const sorted = [...deltas].sort((a, b) => a - b);
  const q = (p: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN);
  return {
    frames: sorted.length,
    p50Ms: q(0.5),
    p95Ms: q(0.95),
    p99Ms: q(0.99),
    maxMs: round(sorted.at(-1) ?? NaN),
    over33Ms: sorted.filter((d) => d > 33.4).length,
  };
}

const round = (n: number): number => Math.round(n * 100) / 100;

/**
 * Starts collecting in the page: requestAnimationFrame deltas, long tasks (main-thread tasks over
 * 50 ms), and, when `inputSelector` is given, input latency: for each pointermove on that element,
 * the time from the event's timestamp to the end of the next animation-frame callback (after which
 * the frame is painted). Strings, not functions: this file is compiled without DOM types.
 */
export async function startFrameCollector(page: Page, inputSelector?: string): Promise<void> {
  await page.evaluate(`(() => {
    const s = (window.__bench = { frames: [], latencies: [], pending: [], longTasks: 0, longTaskMs: 0, collect: true });
    const target = ${JSON.stringify(inputSelector ?? null)} && document.querySelector(${JSON.stringify(inputSelector ?? '')});
    const onMove = (e) => s.pending.push(e.timeStamp);
    if (target) target.addEventListener('pointermove', onMove, { capture: true });
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) { s.longTasks++; s.longTaskMs += e.duration; }
    });
    try { observer.observe({ type: 'longtask' }); } catch {}
    s.stop = () => {
      s.collect = false;
      if (target) target.removeEventListener('pointermove', onMove, { capture: true });
      observer.disconnect();
    };
    // A message posted from a frame callback runs after that frame's callbacks, style, layout and
    // paint: the moment the frame showing the event is handed to the compositor.
    const channel = new MessageChannel();
    let batches = [];
    channel.port1.onmessage = () => {
      const now = performance.now();
      for (const ts of batches.shift() ?? []) s.latencies.push(now - ts);
    };
    let last;
    const tick = (t) => {
      if (last !== undefined) s.frames.push(t - last);
      last = t;
      batches.push(s.pending.splice(0));
      channel.port2.postMessage(0);
      if (s.collect) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
}

export interface Collected {
  frames: number[];
  latencies: number[];
  longTasks: number;
  longTaskMs: number;
}

export async function stopFrameCollector(page: Page): Promise<Collected> {
  return (await page.evaluate(`(() => {
    const s = window.__bench;
    s.stop();
    return { frames: s.frames, latencies: s.latencies, longTasks: s.longTasks, longTaskMs: s.longTaskMs };
  })()`)) as Collected;
}

/** Percentiles of input latency (ms). */
export function latencyStats(latencies: number[]): Record<string, number> {
  const sorted = [...latencies].sort((a, b) => a - b);
  const q = (p: number): number => round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN);
  return { inputEvents: sorted.length, inputLatencyP50Ms: q(0.5), inputLatencyP95Ms: q(0.95) };
}

/** Two animation frames: what was just changed has been drawn. */
export async function settle(page: Page): Promise<void> {
  await page.evaluate(
    `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))`,
  );
}

// ---- sections ----

const canvasStroke: Section = async ({ browser, url, temp }) => {
  const size = 4096;
  const png = join(temp, 'canvas-4096.png');
  const raw = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      raw[i] = x >> 4;
      raw[i + 1] = y >> 4;
      raw[i + 2] = ((x ^ y) >> 3) & 255;
    }
  }
  await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toFile(png);

  // bypassCSP: the string predicates below are evaluated in the page (this file has no DOM types).
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, bypassCSP: true });
  await page.goto(`${url}#/studio`);
  const stage = page.getByTestId('canvas-stage');
  await stage.waitFor();
  await page.waitForFunction(`document.querySelector('[data-testid="canvas-stage"]')?.dataset.view`);
  const viewBefore = await stage.getAttribute('data-view');
  const t0 = performance.now();
  await page.locator('.canvas-toolbar input[type="file"]').setInputFiles(png);
  await page.waitForFunction(
    `document.querySelector('[data-testid="canvas-mode"]')?.textContent === 'img2img · 1024 × 1024'`,
    undefined,
    { timeout: 60_000 },
  );
  await page.waitForFunction(
    `document.querySelector('[data-testid="canvas-stage"]').dataset.view !== ${JSON.stringify(viewBefore)}`,
  );
  await settle(page);
  const importMs = round(performance.now() - t0);
  // Decode (createImageBitmap + getImageData) and placing it in the document, measured in the page.
  const decodeAndPlaceMs = round(
    (await page.evaluate(`performance.getEntriesByName('canvas:import').at(-1)?.duration ?? NaN`)) as number,
  );
  const box = await stage.boundingBox();
  if (!box) throw new Error('no canvas stage');

  const moves = Number(values.moves);
  /** One long spiral over most of the stage, `moves` pointer events; with the button down, a stroke. */
  const spiral = async (draw: boolean): Promise<Record<string, number>> => {
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const reach = Math.min(box.width, box.height) * 0.45;
    const point = (i: number): [number, number] => {
      const t = i / moves;
      const r = reach * (0.15 + 0.85 * t);
      const a = t * Math.PI * 10;
      return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
    };
    await page.mouse.move(...point(0));
    await startFrameCollector(page, '[data-testid="canvas-stage"]');
    const start = performance.now();
    if (draw) await page.mouse.down();
    for (let i = 1; i <= moves; i++) await page.mouse.move(...point(i));
    if (draw) await page.mouse.up();
    const durationMs = round(performance.now() - start);
    await settle(page);
    const collected = await stopFrameCollector(page);
    const pixels = Number(await stage.getAttribute('data-mask-pixels'));
    if (draw) {
      await page.keyboard.press('Control+z'); // leave the mask empty for the next run
      await settle(page);
    }
    return {
      ...frameStats(collected.frames),
      ...latencyStats(collected.latencies),
      longTasks: collected.longTasks,
      longTaskMs: round(collected.longTaskMs),
      pointerEvents: moves,
      durationMs,
      ...(draw ? { maskPixels: pixels } : {}),
    };
  };
  const stroke = (): Promise<Record<string, number>> => spiral(true);
  const setBrush = async (px: number): Promise<void> => {
    await page.getByLabel('Brush size').fill(String(px));
  };

  await setBrush(48);
  // The same pointer path with no button: what the page, the browser and this machine cost alone.
  const hoverBaseline = await spiral(false);
  await stroke(); // warm-up: JIT, first putImageData into the big mask canvas
  const fitBrush48 = await stroke();
  await setBrush(400);
  const fitBrush400 = await stroke();
  await setBrush(48);
  await page.keyboard.press('1');
  await settle(page);
  const actualSizeBrush48 = await stroke();
  const heap = (await page.evaluate(`performance.memory ? performance.memory.usedJSHeapSize : null`)) as number | null;
  await page.close();
  return {
    document: `${size} x ${size}`,
    importMs,
    decodeAndPlaceMs,
    hoverBaseline,
    fitBrush48,
    fitBrush400,
    actualSizeBrush48,
    jsHeapMB: heap === null ? null : round(heap / 1048576),
  };
};

/** Sections by name, run in this order. Add new ones here. */
/** Gallery scrolling at 100,000 items and the time from host start to the first painted grid (its own host). */
const galleryScroll: Section = ({ browser, temp }) => benchGalleryScroll({ browser, temp });

const sections: Record<string, Section> = { canvasStroke, galleryScroll };

// ---- runner ----

async function startHost(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  if (!existsSync(join(repoRoot, 'out/main/web.js'))) throw new Error('Run `npm run build` first.');
  const child = spawn(process.execPath, [join(repoRoot, 'out/main/web.js'), '--port', '0', '--data', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let output = '';
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`web host did not start:\n${output}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        done(m[1]);
      }
    });
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => fail(new Error(`web host exited with ${code}:\n${output}`)));
  });
  return { url, child };
}

async function main(): Promise<void> {
  const temp = mkdtempSync(join(tmpdir(), 'sumi-bench-ui-'));
  const { url, child } = await startHost(join(temp, 'data'));
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const results: Record<string, unknown> = { chromium: browser.version(), gpu: 'disabled' };
  try {
    for (const [name, run] of Object.entries(sections)) {
      if (values.only && !values.only.includes(name)) continue;
      results[name] = await run({ browser, url, temp });
    }
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    rmSync(temp, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
}

await main();
