/**
 * From the Studio to the Gallery in Chromium: the image is there with its seed and recipe, search
 * finds it, regenerate makes an identical image, delete and the trash work.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
const temp = makeTempDir('sumi-e2e-gallery-');

beforeAll(async () => {
  browser = await launchBrowser();
  host = await startHost(join(temp.dir, 'data'));
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

describe('Gallery', () => {
  test('txt2img -> in the gallery with its seed and recipe -> search -> regenerate is identical', async () => {
    const page = await browser.newPage();
    const { errors } = watchPage(page);
    await page.goto(`${host.url}#/studio`);
    await page.getByLabel('Prompt', { exact: true }).fill('a lantern in the fog');
    await page.getByLabel('Steps').fill('3');
    await page.getByLabel('Width').fill('64');
    await page.getByLabel('Height').fill('64');
    await page.getByLabel('Seed (-1 = random)').fill('4242');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Done on CPU');

    await page.getByRole('link', { name: 'Gallery' }).click();
    const images = page.getByRole('list', { name: 'Images' }).getByRole('button');
    await expect.poll(() => images.count()).toBe(1);
    await images.first().click();
    await expect.poll(() => page.getByTestId('detail-seed').textContent()).toBe('4242');
    expect(await page.getByTestId('detail-prompt').textContent()).toBe('a lantern in the fog');
    await page.getByText('Parameters (A1111 format)').click();
    expect(await page.locator('.infotext').textContent()).toContain('Seed: 4242');
    await screenshot(page, 'gallery-detail');

    await page.getByRole('searchbox', { name: 'Search prompts' }).fill('bicycle');
    await expect.poll(() => page.getByText('No image matches this search.').count()).toBe(1);
    await page.getByRole('searchbox', { name: 'Search prompts' }).fill('lantern');
    await expect.poll(() => images.count()).toBe(1);
    await page.getByRole('searchbox', { name: 'Search prompts' }).fill('');

    await images.first().click();
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(() => images.count(), { timeout: 60_000 }).toBe(2);
    const hashes = await Promise.all(
      [0, 1].map(async (i) => {
        await images.nth(i).click();
        const src = await page
          .getByRole('complementary', { name: 'Image details' })
          .getByRole('img')
          .first()
          .getAttribute('src');
        const bytes = await page.evaluate(
          async (url) => Array.from(new Uint8Array(await (await fetch(url as string)).arrayBuffer())),
          src,
        );
        return createHash('sha256').update(Uint8Array.from(bytes)).digest('hex');
      }),
    );
    expect(hashes[0]).toBe(hashes[1]);

    await page.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => images.count()).toBe(1);
    await page.getByLabel('Trash').check();
    await expect.poll(() => images.count()).toBe(1);
    await page.getByRole('button', { name: 'Empty trash' }).click();
    await expect.poll(() => page.getByText('The trash is empty.').count()).toBe(1);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});

describe('recipes into the Studio', () => {
  test('Remix loads an image’s recipe into the panel; a dropped A1111 PNG fills it too', async () => {
    const page = await browser.newPage();
    await page.goto(`${host.url}#/studio`);
    await page.getByLabel('Prompt', { exact: true }).fill('a copper kettle');
    await page.getByLabel('Steps').fill('2');
    await page.getByLabel('Width').fill('64');
    await page.getByLabel('Height').fill('64');
    await page.getByLabel('Seed (-1 = random)').fill('777');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Done on CPU');
    await page.getByLabel('Prompt', { exact: true }).fill('something else');
    await page.getByLabel('Seed (-1 = random)').fill('1');

    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.getByRole('searchbox', { name: 'Search prompts' }).fill('kettle');
    const images = page.getByRole('list', { name: 'Images' }).getByRole('button');
    await expect.poll(() => images.count()).toBe(1);
    await images.first().click();
    await page.getByRole('button', { name: 'Remix' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Studio');
    await expect.poll(() => page.getByLabel('Prompt', { exact: true }).inputValue()).toBe('a copper kettle');
    expect(await page.getByLabel('Seed (-1 = random)').inputValue()).toBe('777');
    expect(await page.getByTestId('recipe-notice').textContent()).toContain('gallery image');

    // Drop a PNG carrying A1111's infotext onto the panel.
    const infotext =
      'a stone bridge at night\nNegative prompt: fog\nSteps: 12, Sampler: Euler a, CFG scale: 5.5, Seed: 99, Size: 64x96, Model: something';
    await page.evaluate(async (text) => {
      const canvas = document.createElement('canvas');
      canvas.width = 8;
      canvas.height = 8;
      const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b as Blob), 'image/png'));
      const bytes = new Uint8Array(await blob.arrayBuffer());
      // Insert a tEXt "parameters" chunk after IHDR (8-byte signature + 25-byte IHDR chunk).
      const body = new TextEncoder().encode(`parameters\0${text}`);
      const type = new TextEncoder().encode('tEXt');
      const table = Array.from({ length: 256 }, (_, n) => {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        return c >>> 0;
      });
      let crc = 0xffffffff;
      for (const b of [...type, ...body]) crc = (table[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
      crc = (crc ^ 0xffffffff) >>> 0;
      const chunk = new Uint8Array(12 + body.length);
      new DataView(chunk.buffer).setUint32(0, body.length);
      chunk.set(type, 4);
      chunk.set(body, 8);
      new DataView(chunk.buffer).setUint32(8 + body.length, crc);
      const png = new Uint8Array(bytes.length + chunk.length);
      png.set(bytes.subarray(0, 33), 0);
      png.set(chunk, 33);
      png.set(bytes.subarray(33), 33 + chunk.length);
      const transfer = new DataTransfer();
      transfer.items.add(new File([png], 'bridge.png', { type: 'image/png' }));
      const target = document.querySelector('.generate') as HTMLElement;
      target.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, infotext);
    await expect.poll(() => page.getByLabel('Prompt', { exact: true }).inputValue()).toBe('a stone bridge at night');
    expect(await page.getByLabel('Negative prompt').inputValue()).toBe('fog');
    expect(await page.getByLabel('Steps').inputValue()).toBe('12');
    expect(await page.getByLabel('Height').inputValue()).toBe('96');
    expect(await page.getByLabel('Seed (-1 = random)').inputValue()).toBe('99');
    expect(await page.getByTestId('recipe-notice').textContent()).toContain('bridge.png (a1111)');
    await screenshot(page, 'studio-recipe-dropped');
    await page.close();
  });
});

describe('organising', () => {
  test('favourite, rate, move to a new board, and filter by each', async () => {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept('Keepers'));
    await page.goto(`${host.url}#/gallery`);
    const images = page.getByRole('list', { name: 'Images' }).getByRole('button');
    await expect.poll(() => images.count()).toBeGreaterThan(1);
    const total = await images.count();
    await images.first().click();
    await page.getByRole('button', { name: '☆ Favourite' }).click();
    await expect.poll(() => page.getByRole('button', { name: '★ Favourite' }).count()).toBe(1);
    await page.getByLabel('Rating').selectOption('4');
    await page.getByRole('button', { name: 'New board' }).click();
    await expect.poll(() => page.getByLabel('Move to board').locator('option', { hasText: 'Keepers' }).count()).toBe(1);
    await page.getByLabel('Move to board').selectOption({ label: 'Keepers' });
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Moved.' }).count()).toBe(1);

    await page.getByLabel('Favourites').check();
    await expect.poll(() => images.count()).toBe(1);
    await page.getByLabel('Favourites').uncheck();
    await expect.poll(() => images.count()).toBe(total);
    await page.getByRole('combobox', { name: 'Board', exact: true }).selectOption({ label: 'Keepers (1)' });
    await expect.poll(() => images.count()).toBe(1);
    await images.first().click();
    expect(await page.getByLabel('Rating').inputValue()).toBe('4');
    await screenshot(page, 'gallery-organised');
    await page.close();
  });
});

describe('img2img from the gallery', () => {
  test('Use as init image -> img2img -> the new image records its parent, and regenerate is identical', async () => {
    const page = await browser.newPage();
    await page.goto(`${host.url}#/gallery`);
    await page.getByRole('searchbox', { name: 'Search prompts' }).fill('kettle');
    const images = page.getByRole('list', { name: 'Images' }).getByRole('button');
    await expect.poll(() => images.count()).toBe(1);
    await images.first().click();
    await page.getByRole('button', { name: 'Use as init image' }).click();
    await expect.poll(() => page.getByTestId('init-image').textContent()).toContain('img2img from gallery image #');
    await page.getByLabel('Prompt', { exact: true }).fill('a copper kettle, watercolour');
    await page.getByLabel('Strength').fill('0.5');
    await page.getByLabel('Steps').fill('4');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Done on CPU');
    await screenshot(page, 'studio-img2img-from-gallery');

    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.getByRole('searchbox', { name: 'Search prompts' }).fill('watercolour');
    await expect.poll(() => images.count()).toBe(1);
    await images.first().click();
    await expect.poll(() => page.getByText('Made from').count()).toBe(1);
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(() => images.count(), { timeout: 60_000 }).toBe(2);
    const srcs = await Promise.all(
      [0, 1].map(async (i) => {
        await images.nth(i).click();
        return page.getByRole('complementary', { name: 'Image details' }).getByRole('img').first().getAttribute('src');
      }),
    );
    // Content-addressed store: identical pixels and recipe give the very same file.
    expect(srcs[0]).toBe(srcs[1]);
    await page.close();
  });
});
