/**
 * The Studio's canvas flows in Chromium against the web host and its real engine (demo model):
 * txt2img from an empty canvas -> staged -> accepted -> in the gallery with its seed; a brush mask
 * -> inpaint -> the pixels outside the mask unchanged -> accepted; the box dragged past the right
 * edge -> outpaint -> the canvas grows and keeps the original; undo and redo across accepted results.
 * One page walks through them in order, as a user would.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
let page: Page;
let errors: string[];
const temp = makeTempDir('sumi-e2e-studio-canvas-');
const dataDir = join(temp.dir, 'data');

beforeAll(async () => {
  browser = await launchBrowser();
  host = await startHost(dataDir);
  page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  errors = watchPage(page).errors;
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface Pixels {
  data: Buffer;
  width: number;
  height: number;
}

const stage = (): Locator => page.getByTestId('canvas-stage');
const rectAttr = async (name: string): Promise<Box | null> => {
  const raw = await stage().getAttribute(name);
  if (!raw) return null;
  const [x, y, width, height] = raw.split(',').map(Number) as [number, number, number, number];
  return { x, y, width, height };
};
async function view(): Promise<{ x: number; y: number; scale: number }> {
  const [x, y, scale] = ((await stage().getAttribute('data-view')) ?? '').split(',').map(Number) as [
    number,
    number,
    number,
  ];
  return { x, y, scale };
}
/** Page coordinates of a document point. */
async function onPage(p: { x: number; y: number }): Promise<{ x: number; y: number }> {
  const v = await view();
  const r = await stage().boundingBox();
  if (!r) throw new Error('no stage');
  return { x: r.x + p.x * v.scale + v.x, y: r.y + p.y * v.scale + v.y };
}

/** The staged result's PNG, as the page loaded it, decoded. */
async function stagedPixels(seed: number): Promise<Pixels> {
  const img = page.getByRole('region', { name: 'Staged results' }).getByRole('img', { name: `Result, seed ${seed}` });
  await expect.poll(() => img.count(), { timeout: 90_000 }).toBeGreaterThan(0);
  const src = await img.first().getAttribute('src');
  if (!src) throw new Error('staged image without src');
  const bytes = await page.evaluate(async (url) => {
    const response = await fetch(url);
    return Array.from(new Uint8Array(await response.arrayBuffer()));
  }, src);
  const { data, info } = await sharp(Buffer.from(bytes)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function generate(): Promise<void> {
  await page.getByRole('button', { name: 'Generate' }).click();
}

const mode = (): Promise<string | null> => page.getByTestId('generate-mode').textContent();

/** The canvas exported as PNG through its download button. */
async function exportCanvas(): Promise<Pixels> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export canvas PNG' }).click(),
  ]);
  const file = join(temp.dir, `canvas-${Date.now()}.png`);
  await download.saveAs(file);
  const { data, info } = await sharp(readFileSync(file)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function pixel(p: Pixels, x: number, y: number): number[] {
  const i = (y * p.width + x) * 4;
  return [...p.data.subarray(i, i + 4)];
}

let first: Pixels;
let inpainted: Pixels;

describe('Studio canvas flows', () => {
  test('txt2img from an empty canvas -> staged -> accepted -> in the gallery with its seed', async () => {
    await page.goto(`${host.url}#/studio`);
    await expect.poll(() => stage().getAttribute('data-view'), { timeout: 30_000 }).toBeTruthy();
    await page.getByLabel('Prompt', { exact: true }).fill('a lantern on a canvas');
    await page.getByLabel('Steps').fill('2');
    await page.getByLabel('Width').fill('128');
    await page.getByLabel('Height').fill('128');
    await page.getByLabel('Seed (-1 = random)').fill('4242');
    await expect.poll(() => rectAttr('data-box')).toEqual({ x: 0, y: 0, width: 128, height: 128 });
    expect(await mode()).toContain('Text to image');
    await page.getByRole('button', { name: 'Fit to view' }).click();
    await generate();
    first = await stagedPixels(4242);
    expect([first.width, first.height]).toEqual([128, 128]);
    await screenshot(page, 'studio-canvas-staged');
    await page.getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => stage().getAttribute('data-images')).toBe('1');
    expect(await rectAttr('data-image-bounds')).toEqual({ x: 0, y: 0, width: 128, height: 128 });
    await expect.poll(mode).toContain('Image to image');
    expect(await page.getByRole('region', { name: 'Staged results' }).count()).toBe(0);

    // The result is in the gallery with its seed and prompt; the canvas is still there afterwards.
    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.getByRole('searchbox', { name: 'Search prompts' }).fill('lantern');
    await page
      .getByRole('button', { name: /^Image, seed 4242: a lantern/ })
      .first()
      .click();
    await expect.poll(() => page.getByTestId('detail-seed').textContent()).toBe('4242');
    await page.getByRole('link', { name: 'Studio' }).click();
    await expect.poll(() => stage().getAttribute('data-images'), { timeout: 30_000 }).toBe('1');
  });

  test('a brush mask -> inpaint -> pixels outside the mask unchanged -> accepted', async () => {
    await page.getByRole('button', { name: 'Fit to view' }).click();
    await page.getByRole('button', { name: 'Brush', exact: true }).click();
    const from = await onPage({ x: 40, y: 64 });
    const to = await onPage({ x: 88, y: 64 });
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 12 });
    await page.mouse.up();
    await expect.poll(async () => Number(await stage().getAttribute('data-mask-pixels'))).toBeGreaterThan(500);
    await expect.poll(mode).toContain('Inpaint');
    const mask = await rectAttr('data-mask-bounds');
    if (!mask) throw new Error('no mask bounds');
    await page.getByLabel('Mask blur (px)').fill('0');
    await page.getByLabel('Strength').fill('1');
    await page.getByLabel('Seed (-1 = random)').fill('77');
    await generate();
    inpainted = await stagedPixels(77);
    await screenshot(page, 'studio-canvas-inpaint-staged');
    // Outside the mask (no feather), byte for byte the accepted image.
    let compared = 0;
    let changedInside = 0;
    for (let y = 0; y < 128; y++)
      for (let x = 0; x < 128; x++) {
        const outside = x < mask.x - 1 || x > mask.x + mask.width || y < mask.y - 1 || y > mask.y + mask.height;
        const same = pixel(inpainted, x, y).join() === pixel(first, x, y).join();
        if (outside) {
          expect(same, `pixel ${x},${y} outside the mask`).toBe(true);
          compared++;
        } else if (!same) changedInside++;
      }
    expect(compared).toBeGreaterThan(9000);
    expect(changedInside).toBeGreaterThan(300);
    expect(await page.getByTestId('job-path').textContent()).toContain('masked blending');
    await page.getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => stage().getAttribute('data-images')).toBe('2');
  });

  test('the box dragged past the right edge -> outpaint -> the canvas grows and keeps the original', async () => {
    await page.getByRole('button', { name: 'Clear mask' }).click();
    await expect.poll(async () => Number(await stage().getAttribute('data-mask-pixels'))).toBe(0);
    const before = await exportCanvas();
    expect([before.width, before.height]).toEqual([128, 128]);

    await page.getByRole('button', { name: 'Move box' }).click();
    const grab = await onPage({ x: 64, y: 64 });
    const drop = await onPage({ x: 128, y: 64 });
    await page.mouse.move(grab.x, grab.y);
    await page.mouse.down();
    await page.mouse.move(drop.x, drop.y, { steps: 10 });
    await page.mouse.up();
    await expect.poll(() => rectAttr('data-box')).toEqual({ x: 64, y: 0, width: 128, height: 128 });
    await expect.poll(mode).toContain('Outpaint');
    await page.getByLabel('Seed (-1 = random)').fill('91');
    await generate();
    const outpainted = await stagedPixels(91);
    expect([outpainted.width, outpainted.height]).toEqual([128, 128]);
    await page.getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => rectAttr('data-image-bounds')).toEqual({ x: 0, y: 0, width: 192, height: 128 });
    await screenshot(page, 'studio-canvas-outpainted');

    const after = await exportCanvas();
    expect([after.width, after.height]).toEqual([192, 128]);
    // Left of the box: untouched. Inside the box over the old image, away from the seam: the old pixels.
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 64; x++) expect(pixel(after, x, y)).toEqual(pixel(before, x, y));
      for (let x = 64; x < 100; x++) expect(pixel(after, x, y)).toEqual(pixel(before, x, y));
    }
    // The new area is filled (opaque), not left transparent.
    expect(pixel(after, 180, 64)[3]).toBe(255);
  });

  test('undo and redo step across accepted results', async () => {
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => rectAttr('data-image-bounds')).toEqual({ x: 0, y: 0, width: 128, height: 128 });
    await page.getByRole('button', { name: 'Redo' }).click();
    await expect.poll(() => rectAttr('data-image-bounds')).toEqual({ x: 0, y: 0, width: 192, height: 128 });
    expect(await stage().getAttribute('data-images')).toBe('3');
    expect(errors, errors.join('\n')).toEqual([]);
  });
});
