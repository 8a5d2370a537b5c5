/**
 * The virtualised gallery grid in Chromium over a seeded gallery of 12,000 images (a dozen real
 * PNGs shared by the rows): far down the grid only the rows on screen are in the DOM and they are
 * the right images; keyboard navigation moves the selection, scrolls it into view and acts on it.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { seedGallery } from '../helpers/seedGallery';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

const COUNT = 12_000;
let browser: Browser;
let host: RunningHost;
const temp = makeTempDir('sumi-e2e-grid-');

beforeAll(async () => {
  const dataDir = join(temp.dir, 'data');
  await seedGallery(dataDir, { count: COUNT, distinctImages: 12, size: 128 });
  browser = await launchBrowser();
  host = await startHost(dataDir);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

interface GridState {
  columns: number;
  /** Distance between rows: the square cells' width + the 8 px gap. */
  rowHeight: number;
  scrollTop: number;
  viewportHeight: number;
  loadedRows: number;
  /** Seeds of the cells in the DOM, in DOM order. */
  seeds: number[];
  /** Seeds of the cells that intersect the scroller's box. */
  onScreen: number[];
}

function gridState(page: Page): Promise<GridState> {
  return page.evaluate(() => {
    const scroller = document.querySelector('[data-testid="virtual-grid"]') as HTMLElement;
    const box = scroller.getBoundingClientRect();
    const seedOf = (el: Element): number => Number(/seed (\d+)/.exec(el.getAttribute('aria-label') ?? '')?.[1]);
    const buttons = [...scroller.querySelectorAll('li > button')];
    const firstRow = buttons.filter((b) => b.getBoundingClientRect().top === buttons[0]?.getBoundingClientRect().top);
    const cell = buttons[0]?.getBoundingClientRect();
    const rowHeight = (cell?.width ?? 0) + 8;
    return {
      columns: firstRow.length,
      rowHeight,
      scrollTop: scroller.scrollTop,
      viewportHeight: scroller.clientHeight,
      loadedRows: Math.round(((scroller.firstElementChild as HTMLElement).offsetHeight + 8) / rowHeight),
      seeds: buttons.map(seedOf),
      onScreen: buttons
        .filter((b) => {
          const r = b.getBoundingClientRect();
          return r.bottom > box.top && r.top < box.bottom;
        })
        .map(seedOf)
        .sort((a, b) => a - b),
    };
  });
}

const focusedSeed = (page: Page): Promise<number> =>
  page.evaluate(() => Number(/seed (\d+)/.exec(document.activeElement?.getAttribute('aria-label') ?? '')?.[1]));

describe('virtualised gallery grid', () => {
  test('12,000 images: bounded DOM far down, the right images on screen, keyboard navigation', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const { errors } = watchPage(page);
    await page.goto(`${host.url}#/gallery`);
    const grid = page.getByRole('list', { name: 'Images' });
    await expect.poll(() => grid.getByRole('button', { name: /^Image, seed 0:/ }).count()).toBe(1);
    let state = await gridState(page);
    const { columns, rowHeight: ROW } = state;
    expect(columns).toBeGreaterThanOrEqual(3);
    expect(state.onScreen[0]).toBe(0);
    // Rows on screen + 3 rows of overscan below (none above at the top).
    const visibleRows = Math.ceil(state.viewportHeight / ROW) + 1;
    expect(state.seeds.length).toBeLessThanOrEqual((visibleRows + 3) * columns);
    await expect
      .poll(() =>
        page.evaluate(() => [...document.querySelectorAll('li img')].every((i) => (i as HTMLImageElement).complete)),
      )
      .toBe(true);
    await screenshot(page, 'gallery-grid-top');

    // Far down: scroll to the end of what is loaded until row 1,500 exists (pages load on the way).
    const targetRow = 1500;
    const started = Date.now();
    while ((await gridState(page)).loadedRows <= targetRow + 10) {
      await page.evaluate(() => {
        const scroller = document.querySelector('[data-testid="virtual-grid"]') as HTMLElement;
        scroller.scrollTop = scroller.scrollHeight;
      });
      await page.waitForTimeout(30);
      if (Date.now() - started > 60_000) throw new Error('pages did not load while scrolling');
    }
    // A pixel into row 1,500 (row heights are fractional: the cells share the width).
    const farTop = Math.ceil(targetRow * ROW) + 1;
    await page.evaluate((top) => {
      (document.querySelector('[data-testid="virtual-grid"]') as HTMLElement).scrollTop = top;
    }, farTop);
    await expect.poll(async () => (await gridState(page)).onScreen[0]).toBe(targetRow * columns);
    state = await gridState(page);
    expect(Math.abs(state.scrollTop - farTop)).toBeLessThanOrEqual(1);
    // On screen: whole rows from row 1,500 on, in order, and nothing else.
    const rowsOnScreen = state.onScreen.length / columns;
    expect(Number.isInteger(rowsOnScreen)).toBe(true);
    expect(rowsOnScreen).toBeGreaterThanOrEqual(Math.floor(state.viewportHeight / ROW));
    expect(rowsOnScreen).toBeLessThanOrEqual(Math.ceil(state.viewportHeight / ROW) + 1);
    expect(state.onScreen).toEqual(Array.from(state.onScreen, (_, i) => targetRow * columns + i));
    // Only the rows on screen and 3 rows of overscan either side, out of thousands loaded.
    expect(state.loadedRows).toBeGreaterThan(targetRow);
    expect(state.seeds.length).toBeLessThanOrEqual((visibleRows + 6) * columns);
    expect(Math.min(...state.seeds)).toBe((targetRow - 3) * columns);
    await expect
      .poll(() => grid.getByRole('button', { name: new RegExp(`^Image, seed ${targetRow * columns}:`) }).count())
      .toBe(1);
    await screenshot(page, 'gallery-grid-far-down');

    // Keyboard: select a cell on screen, then move with the arrows and PageDown.
    const start = targetRow * columns + 1;
    await grid.getByRole('button', { name: new RegExp(`^Image, seed ${start}:`) }).click();
    await expect.poll(() => page.getByTestId('detail-seed').textContent()).toBe(String(start));
    // The detail view took a column's width or more: the grid reflowed around the selected image.
    state = await gridState(page);
    const narrow = state.columns;
    expect(narrow).toBeLessThan(columns);
    expect(state.onScreen).toContain(start);
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => focusedSeed(page)).toBe(start + narrow);
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => focusedSeed(page)).toBe(start + narrow + 1);
    await expect.poll(() => page.getByTestId('detail-seed').textContent()).toBe(String(start + narrow + 1));
    for (let i = 0; i < 3; i++) await page.keyboard.press('PageDown');
    const pageRows = Math.floor(state.viewportHeight / state.rowHeight);
    const afterPaging = start + narrow + 1 + 3 * pageRows * narrow;
    await expect.poll(() => focusedSeed(page)).toBe(afterPaging);
    state = await gridState(page);
    expect(state.onScreen).toContain(afterPaging);
    expect(await page.locator('[aria-pressed="true"]').count()).toBe(1);

    // F favourites, Enter opens the detail view, Escape returns, Delete trashes and moves on.
    await page.keyboard.press('f');
    await expect
      .poll(() =>
        grid
          .getByRole('button', { name: new RegExp(`^Image, seed ${afterPaging}:`) })
          .locator('.fav')
          .count(),
      )
      .toBe(1);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label')))
      .toBe('Image details');
    expect(await page.getByRole('button', { name: '★ Favourite' }).count()).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(() => focusedSeed(page)).toBe(afterPaging);
    await page.keyboard.press('Delete');
    await expect.poll(() => focusedSeed(page)).toBe(afterPaging + 1);
    expect(await grid.getByRole('button', { name: new RegExp(`^Image, seed ${afterPaging}:`) }).count()).toBe(0);
    await screenshot(page, 'gallery-grid-keyboard');

    // Shift+arrows select a range; the selection bar counts it.
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Shift+ArrowRight');
    await expect.poll(() => page.getByTestId('selection-count').textContent()).toBe('3 selected');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
