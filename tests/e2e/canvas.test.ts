/**
 * The canvas editor in Chromium against the real web host: a brush stroke with the mouse, undo and
 * redo from the keyboard, wheel zoom keeping the mask under the same document pixels, import from
 * a file and the derived mode. The mask is read through the stage's read-only debug attributes
 * (`data-mask-pixels`, `data-mask-bounds`, `data-view`) and, for alignment, from screenshots.
 */
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
const temp = makeTempDir('sumi-e2e-canvas-');

beforeAll(async () => {
  browser = await launchBrowser();
  host = await startHost(join(temp.dir, 'data'));
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

interface View {
  x: number;
  y: number;
  scale: number;
}
interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function openCanvas(page: Page): Promise<{ stage: Locator; rect: Box }> {
  await page.goto(`${host.url}#/studio`);
  const stage = page.getByTestId('canvas-stage');
  await expect.poll(() => stage.getAttribute('data-view'), { timeout: 20_000 }).toBeTruthy();
  // Panels above the canvas (first-run help) can push it below the fold; the mouse needs all of it.
  await stage.evaluate((el) => el.scrollIntoView({ block: 'end' }));
  const rect = await stage.boundingBox();
  if (!rect) throw new Error('the canvas stage has no box');
  return { stage, rect };
}

const maskPixels = async (stage: Locator): Promise<number> => Number(await stage.getAttribute('data-mask-pixels'));
async function maskBounds(stage: Locator): Promise<Box | null> {
  const raw = await stage.getAttribute('data-mask-bounds');
  if (!raw) return null;
  const [x, y, width, height] = raw.split(',').map(Number) as [number, number, number, number];
  return { x, y, width, height };
}
async function view(stage: Locator): Promise<View> {
  const [x, y, scale] = ((await stage.getAttribute('data-view')) ?? '').split(',').map(Number) as [
    number,
    number,
    number,
  ];
  return { x, y, scale };
}
const toDoc = (v: View, p: { x: number; y: number }) => ({ x: (p.x - v.x) / v.scale, y: (p.y - v.y) / v.scale });
const toScreen = (v: View, p: { x: number; y: number }) => ({ x: p.x * v.scale + v.x, y: p.y * v.scale + v.y });

/** The stage's pixel at a stage-local point, from a screenshot. */
async function pixelAt(page: Page, rect: Box, p: { x: number; y: number }): Promise<[number, number, number]> {
  const png = await page.screenshot({
    clip: { x: rect.x + Math.round(p.x), y: rect.y + Math.round(p.y), width: 1, height: 1 },
  });
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return [data[0]!, data[1]!, data[2]!];
}
/** The mask overlay is a red-pink tint: red well above blue. The theme's greys have red ~ blue. */
const tinted = ([r, , b]: [number, number, number]) => r - b > 40;

describe('Canvas editor', () => {
  test('a brush stroke paints the mask; undo and redo; wheel zoom keeps the mask on the same pixels', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const { errors } = watchPage(page);
    const { stage, rect } = await openCanvas(page);
    expect(await maskPixels(stage)).toBe(0);

    // Draw across the middle of the stage (inside the initial, fitted generation box).
    const y = rect.height / 2;
    const from = { x: rect.width * 0.35, y };
    const to = { x: rect.width * 0.65, y };
    await page.mouse.move(rect.x + from.x, rect.y + from.y);
    await page.mouse.down();
    await page.mouse.move(rect.x + to.x, rect.y + to.y, { steps: 25 });
    await page.mouse.up();
    await expect.poll(() => maskPixels(stage)).toBeGreaterThan(1000);
    const painted = await maskPixels(stage);
    const bounds = (await maskBounds(stage))!;
    const v1 = await view(stage);
    // The stroke sits on the document pixels under the pointer path (brush 48 px, centred on it).
    const start = toDoc(v1, from);
    const end = toDoc(v1, to);
    expect(Math.abs(bounds.x + 24 - start.x)).toBeLessThan(2);
    expect(Math.abs(bounds.x + bounds.width - 24 - end.x)).toBeLessThan(2);
    expect(Math.abs(bounds.y + bounds.height / 2 - start.y)).toBeLessThan(2);
    expect(tinted(await pixelAt(page, rect, { x: rect.width / 2, y }))).toBe(true);
    expect(tinted(await pixelAt(page, rect, { x: rect.width / 2, y: y - 60 * v1.scale }))).toBe(false);
    await screenshot(page, 'canvas-stroke');

    await page.keyboard.press('Control+z');
    await expect.poll(() => maskPixels(stage)).toBe(0);
    expect(tinted(await pixelAt(page, rect, { x: rect.width / 2, y }))).toBe(false);
    await screenshot(page, 'canvas-undone');
    await page.keyboard.press('Control+Shift+z');
    await expect.poll(() => maskPixels(stage)).toBe(painted);
    expect(await maskBounds(stage)).toEqual(bounds);

    // Zoom in twice at a point on the stroke, left of centre.
    // On a whole page pixel, so the pointer's stage position is exactly `at`.
    const at = { x: Math.round(rect.x + rect.width * 0.45) - rect.x, y: Math.round(rect.y + y) - rect.y };
    await page.mouse.move(rect.x + at.x, rect.y + at.y);
    await page.mouse.wheel(0, -300);
    await expect.poll(async () => (await view(stage)).scale).toBeCloseTo(v1.scale * 2, 5);
    const v2 = await view(stage);
    // The document point under the cursor did not move...
    const anchor1 = toDoc(v1, at);
    const anchor2 = toDoc(v2, at);
    expect(Math.abs(anchor2.x - anchor1.x)).toBeLessThan(0.01);
    expect(Math.abs(anchor2.y - anchor1.y)).toBeLessThan(0.01);
    // ...the mask's document bounds are unchanged, and the drawn mask is where the view says.
    expect(await maskBounds(stage)).toEqual(bounds);
    const strokeStartOnScreen = toScreen(v2, { x: bounds.x + 30, y: bounds.y + bounds.height / 2 });
    expect(tinted(await pixelAt(page, rect, strokeStartOnScreen))).toBe(true);
    const aboveOnScreen = toScreen(v2, { x: bounds.x + 30, y: bounds.y - 30 });
    expect(tinted(await pixelAt(page, rect, aboveOnScreen))).toBe(false);
    expect(tinted(await pixelAt(page, rect, at))).toBe(true);
    await screenshot(page, 'canvas-zoomed');

    // A dot drawn after zooming lands on the document pixel under the pointer.
    const dot = { x: rect.width * 0.45, y: y + 150 };
    await page.mouse.move(rect.x + dot.x, rect.y + dot.y);
    await page.mouse.down();
    await page.mouse.up();
    await expect.poll(() => maskPixels(stage)).toBeGreaterThan(painted);
    const after = (await maskBounds(stage))!;
    const dotDoc = toDoc(v2, dot);
    expect(Math.abs(after.y + after.height - 24 - dotDoc.y)).toBeLessThan(2);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });

  test('an imported image sets img2img; moving the box past its edge makes it outpaint', async () => {
    const png = join(temp.dir, 'import.png');
    await sharp({ create: { width: 320, height: 256, channels: 4, background: { r: 40, g: 120, b: 200, alpha: 1 } } })
      .png()
      .toFile(png);
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const { errors } = watchPage(page);
    const { stage, rect } = await openCanvas(page);
    const before = await stage.getAttribute('data-view');
    await page.locator('.canvas-toolbar input[type="file"]').setInputFiles(png);
    const mode = page.getByTestId('canvas-mode');
    await expect.poll(() => mode.textContent()).toBe('img2img · 320 × 256');
    // Import fits the view to the image; the stage shows it on the next frame.
    await expect.poll(() => stage.getAttribute('data-view')).not.toBe(before);

    await page.keyboard.press('v');
    expect(await page.getByRole('button', { name: 'Move box' }).getAttribute('aria-pressed')).toBe('true');
    const v = await view(stage);
    const centre = toScreen(v, { x: 160, y: 128 });
    await page.mouse.move(rect.x + centre.x, rect.y + centre.y);
    await page.mouse.down();
    await page.mouse.move(rect.x + centre.x + 101 * v.scale, rect.y + centre.y, { steps: 8 });
    await page.mouse.up();
    await expect.poll(() => mode.textContent()).toBe('outpaint · 320 × 256');
    // The south-west handle (the box is now at x = 104): a resize snaps to 8.
    const sw = toScreen(v, { x: 104, y: 256 });
    await page.mouse.move(rect.x + sw.x, rect.y + sw.y);
    await page.mouse.down();
    await page.mouse.move(rect.x + sw.x - 37 * v.scale, rect.y + sw.y - 13 * v.scale, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => mode.textContent()).not.toBe('outpaint · 320 × 256');
    const [w, h] = ((await mode.textContent()) ?? '')
      .replace(/^\w+ · /, '')
      .split(' × ')
      .map(Number);
    expect(w! % 8).toBe(0);
    expect(h! % 8).toBe(0);
    expect(w).toBeGreaterThan(320);
    await screenshot(page, 'canvas-outpaint-box');
    await page.keyboard.press('Control+z');
    await expect.poll(() => mode.textContent()).toBe('outpaint · 320 × 256');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
