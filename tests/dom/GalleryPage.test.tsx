/**
 * The gallery page in jsdom over the real service layer (a seeded gallery database, the real
 * router), with the browser's layout stubbed: the grid's scroller is 832 x 600 px (5 columns of
 * 160 px square cells, rows 168 px apart). Keyboard navigation, selection and the scroll anchor are
 * checked against what the DOM and the database then say.
 */
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { StudioTransport } from '../../src/preload/contract';
import type { AppServices } from '../../src/main/AppServices';
import type { GenerationInput } from '../../src/main/services/gallery/db/GalleryRepository';
import { createClient } from '../../src/renderer/src/api/client';
import { StudioProvider } from '../../src/renderer/src/api/StudioProvider';
import { takeCanvasImage } from '../../src/renderer/src/app/remixStore';
import { GalleryPage } from '../../src/renderer/src/features/gallery/GalleryPage';
import { createTestApp } from '../helpers/appHarness';
import { seedGallery } from '../helpers/seedGallery';
import { makeTempDir } from '../helpers/tempDir';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const COUNT = 500;
const ROW = 168;
const temp = makeTempDir('sumi-dom-gallery-');
let app: AppServices;
let root: Root;
let container: HTMLDivElement;
const restoreLayout: (() => void)[] = [];

function stubLayout(): void {
  for (const [prop, value] of [
    ['clientWidth', 832],
    ['clientHeight', 600],
  ] as const) {
    const original = Object.getOwnPropertyDescriptor(HTMLElement.prototype, prop);
    Object.defineProperty(HTMLElement.prototype, prop, {
      configurable: true,
      get(this: HTMLElement) {
        return this.classList.contains('virtual-grid') ? value : 0;
      },
    });
    restoreLayout.push(() => original && Object.defineProperty(HTMLElement.prototype, prop, original));
  }
}

function transport(services: AppServices): StudioTransport {
  return {
    invoke: (method, input) => services.router.dispatch(method, structuredClone(input)),
    subscribe: (event, listener) => services.hub.subscribe((name, payload) => name === event && listener(payload)),
  };
}

async function waitFor<T>(read: () => T | null | undefined | false, what: string, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await act(async () => new Promise((r) => setTimeout(r, 20)));
  }
}

const grid = (): HTMLElement => container.querySelector('[data-testid="virtual-grid"]') as HTMLElement;
const cells = (): HTMLButtonElement[] => [
  ...container.querySelectorAll<HTMLButtonElement>('ul[aria-label="Images"] button'),
];
const seedOf = (el: Element | null): number => Number(/seed (\d+)/.exec(el?.getAttribute('aria-label') ?? '')?.[1]);
const cellFor = (seed: number): HTMLButtonElement | undefined => cells().find((c) => seedOf(c) === seed);

/** Inserts `count` rows copying image `likeId`'s generation with `change(n)` applied; returns the new image ids. */
function insertLike(likeId: number, count: number, change: (n: number) => Partial<GenerationInput>): number[] {
  const like = app.gallery.repo.getImage(likeId);
  const { id: _id, ...generation } = app.gallery.repo.getGeneration(like.generationId);
  return app.gallery.repo
    .insertGenerations(
      Array.from({ length: count }, (_, n) => {
        const g = { ...generation, ...change(n) };
        return {
          generation: g,
          images: [{ file: like.file, bytes: 1, width: g.width, height: g.height, seed: g.seed, batchIndex: 0 }],
        };
      }),
    )
    .flatMap((r) => r.imageIds);
}

function key(target: Element, keyName: string, init: KeyboardEventInit = {}): void {
  act(() => {
    target.dispatchEvent(new KeyboardEvent('keydown', { key: keyName, bubbles: true, cancelable: true, ...init }));
  });
}

function scrollTo(top: number): void {
  act(() => {
    grid().scrollTop = top;
    grid().dispatchEvent(new Event('scroll'));
  });
}

beforeAll(async () => {
  stubLayout();
  const dir = join(temp.dir, 'data');
  await seedGallery(dir, { count: COUNT, distinctImages: 2, size: 64 });
  app = await createTestApp(dir);
}, 60_000);

afterAll(async () => {
  await app?.dispose();
  restoreLayout.forEach((restore) => restore());
  temp.cleanup();
});

beforeEach(async () => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  act(() =>
    root.render(
      <StudioProvider client={createClient(transport(app))} hostKind="web">
        <GalleryPage />
      </StudioProvider>,
    ),
  );
  await waitFor(() => cellFor(0), 'the first cell');
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe('virtualised grid', { timeout: 20_000 }, () => {
  test('only the rows on screen and the overscan are in the DOM, newest first', async () => {
    // 600 px show rows 0-3 (and a part of 4); 3 rows of overscan below.
    expect(cells().length).toBeLessThanOrEqual(5 * 9);
    expect(seedOf(cells()[0] ?? null)).toBe(0);
    scrollTo(40 * ROW + 10);
    await waitFor(() => cellFor(200), 'row 40');
    const seeds = cells().map(seedOf);
    expect(Math.min(...seeds)).toBe(37 * 5);
    expect(Math.max(...seeds)).toBeLessThan(48 * 5);
    expect(cells().length).toBeLessThanOrEqual(5 * 11);
    // Each cell sits at its own row's offset: seed 203 is row 40, column 3.
    expect(cellFor(203)?.parentElement?.style.transform).toMatch(/translate\(\d+(\.\d+)?px, 6720px\)/);
  });

  test('pages load as the grid nears its end, and never all at once', async () => {
    const loaded = (): number => Number(grid().querySelector('ul')?.style.height.replace('px', '')) / ROW;
    const before = await waitFor(() => loaded() > 0 && loaded(), 'a height');
    scrollTo(Math.round(before * ROW) - 600);
    await waitFor(() => loaded() > before + 1 && loaded(), 'the next page');
    expect(loaded() * 5).toBeLessThan(COUNT);
  });
});

describe('keyboard', { timeout: 20_000 }, () => {
  test('arrows move the selection and focus; Shift extends; PageDown scrolls the active cell into view', async () => {
    const first = cellFor(0) as HTMLButtonElement;
    act(() => first.focus());
    key(first, 'ArrowRight');
    await waitFor(() => cellFor(1)?.getAttribute('aria-pressed') === 'true', 'seed 1 selected');
    expect(seedOf(document.activeElement)).toBe(1);
    key(document.activeElement as Element, 'ArrowDown');
    await waitFor(() => seedOf(document.activeElement) === 6, 'focus on seed 6');
    expect(cellFor(6)?.getAttribute('aria-pressed')).toBe('true');
    expect(cellFor(1)?.getAttribute('aria-pressed')).toBe('false');

    key(document.activeElement as Element, 'ArrowRight', { shiftKey: true });
    await waitFor(() => container.querySelector('[data-testid="selection-count"]'), 'the selection bar');
    expect(container.querySelector('[data-testid="selection-count"]')?.textContent).toBe('2 selected');

    key(document.activeElement as Element, 'PageDown');
    // 600 px hold 3 whole rows: from row 1 to row 4, which must be scrolled into view.
    await waitFor(() => seedOf(document.activeElement) === 22, 'focus on seed 22');
    key(document.activeElement as Element, 'PageDown');
    key(document.activeElement as Element, 'PageDown');
    await waitFor(() => seedOf(document.activeElement) === 52, 'focus on seed 52');
    const top = grid().scrollTop;
    expect(top).toBeGreaterThan(0);
    expect(top).toBeLessThanOrEqual(10 * ROW);
    expect(top + 600).toBeGreaterThanOrEqual(10 * ROW + 160);
    expect(container.querySelectorAll('[aria-pressed="true"]').length).toBe(1);
  });

  test('Enter opens the detail view, Escape goes back; F favourites; Delete trashes and selects the next', async () => {
    const cell = cellFor(3) as HTMLButtonElement;
    act(() => cell.click());
    act(() => cell.focus());
    const id = Number(cell.id.replace('gallery-item-', ''));
    key(cell, 'Enter');
    const aside = await waitFor(() => container.querySelector('aside[aria-label="Image details"]'), 'the detail view');
    expect(document.activeElement).toBe(aside);
    await waitFor(() => container.querySelector('[data-testid="detail-infotext"]'), 'the recipe');
    expect(container.querySelector('[data-testid="detail-seed"]')?.textContent).toBe('3');
    expect(container.querySelector('[data-testid="detail-infotext"]')?.textContent).toContain('Seed: 3');
    key(aside as Element, 'Escape');
    expect(document.activeElement).toBe(cellFor(3));

    key(cellFor(3) as Element, 'f');
    await waitFor(() => cellFor(3)?.querySelector('.fav'), 'the star');
    expect(app.gallery.repo.getImage(id).favourite).toBe(true);
    key(cellFor(3) as Element, 'F');
    await waitFor(() => !cellFor(3)?.querySelector('.fav'), 'no star');
    expect(app.gallery.repo.getImage(id).favourite).toBe(false);

    key(cellFor(3) as Element, 'Delete');
    await waitFor(() => !cellFor(3), 'seed 3 gone');
    expect(app.gallery.repo.getImage(id).trashedAt).not.toBeNull();
    await waitFor(() => seedOf(document.activeElement) === 4, 'focus on the next image');
    expect(cellFor(4)?.getAttribute('aria-pressed')).toBe('true');
    app.gallery.restore([id]);
  });

  test('Ctrl-click and Shift-click select several; Delete trashes them all; the trash view restores', async () => {
    act(() => cellFor(10)?.click());
    act(() => cellFor(12)?.dispatchEvent(new MouseEvent('click', { bubbles: true, ctrlKey: true })));
    act(() => cellFor(14)?.dispatchEvent(new MouseEvent('click', { bubbles: true, shiftKey: true })));
    expect(container.querySelector('[data-testid="selection-count"]')?.textContent).toBe('3 selected');
    const ids = [12, 13, 14].map((s) => Number(cellFor(s)?.id.replace('gallery-item-', '')));
    act(() => cellFor(14)?.focus());
    key(cellFor(14) as Element, 'Delete');
    await waitFor(() => !cellFor(12) && !cellFor(13) && !cellFor(14), 'three images gone');
    expect(cellFor(10)).toBeDefined();
    for (const id of ids) expect(app.gallery.repo.getImage(id).trashedAt).not.toBeNull();

    const trash = [...container.querySelectorAll('label')].find((l) => l.textContent?.includes('Trash'));
    act(() => trash?.querySelector('input')?.click());
    await waitFor(() => cells().length === 3 && cellFor(12), 'the trash view');
    act(() => cellFor(14)?.click());
    act(() => cellFor(12)?.dispatchEvent(new MouseEvent('click', { bubbles: true, shiftKey: true })));
    act(() => cellFor(12)?.focus());
    key(cellFor(12) as Element, 'Delete');
    await waitFor(() => container.textContent?.includes('The trash is empty.'), 'an empty trash');
    for (const id of ids) expect(app.gallery.repo.getImage(id).trashedAt).toBeNull();
  });
});

describe('new images on top', { timeout: 20_000 }, () => {
  test('keep the rows on screen where they were, and the selection on its image', async () => {
    scrollTo(20 * ROW + 30);
    await waitFor(() => cellFor(100), 'row 20');
    act(() => cellFor(101)?.click());
    const selectedId = cellFor(101)?.id;
    // Seven newer rows, announced as the gallery service announces a finished job.
    const ids = insertLike(1, 7, (n) => ({ createdAt: Date.now() + n, seed: 9000 + n, prompt: `fresh ${n}` }));
    const page = await app.gallery.page({ limit: 7, sort: 'newest', filters: { trashed: false } });
    expect(page.items.map((i) => i.id).sort()).toEqual(ids.sort());
    act(() => app.hub.emit('gallery.added', { items: page.items }));
    // 7 added in 5 columns: the item that began row 20 (seed 100, now index 107) begins to show in row 21.
    await waitFor(() => grid().scrollTop === 21 * ROW + 30, 'the anchored scroll position');
    expect(cellFor(101)?.id).toBe(selectedId);
    expect(cellFor(101)?.getAttribute('aria-pressed')).toBe('true');
    scrollTo(0);
    await waitFor(() => cellFor(9006), 'the new images at the top');
    expect(seedOf(cells()[0] ?? null)).toBe(9006);
  });
});

describe('detail actions', { timeout: 20_000 }, () => {
  test('lineage links open the child and back the parent; Send to canvas offers the image to the Studio', async () => {
    const parentId = Number(cellFor(2)?.id.replace('gallery-item-', ''));
    // A child made from seed 2, older than everything (so not among the loaded pages).
    const [childId] = insertLike(parentId, 1, () => ({ createdAt: 1000, seed: 7777, parentImageId: parentId }));
    act(() => cellFor(2)?.click());
    const child = await waitFor(
      () => container.querySelector<HTMLButtonElement>(`[data-testid="detail-children"] button`),
      'the child link',
    );
    expect(child.getAttribute('aria-label')).toBe(`Open image #${childId}, seed 7777`);
    act(() => child.click());
    await waitFor(() => container.querySelector('[data-testid="detail-seed"]')?.textContent === '7777', 'the child');
    const parent = await waitFor(
      () => container.querySelector<HTMLButtonElement>(`[data-testid="detail-ancestors"] button`),
      'the parent link',
    );
    act(() => parent.click());
    await waitFor(() => container.querySelector('[data-testid="detail-seed"]')?.textContent === '2', 'the parent');
    expect(cellFor(2)?.getAttribute('aria-pressed')).toBe('true');

    const send = await waitFor(
      () => [...container.querySelectorAll('button')].find((b) => b.textContent === 'Send to canvas'),
      'Send to canvas',
    );
    act(() => send.click());
    const offer = takeCanvasImage();
    expect(offer).toMatchObject({ imageId: Number(cellFor(2)?.id.replace('gallery-item-', '')), width: 64 });
    expect(offer?.media).toMatch(/^outputs\//);
    expect(window.location.hash).toBe('#/studio');
  });
});
