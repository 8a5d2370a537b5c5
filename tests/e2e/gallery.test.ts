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
