/**
 * An SDXL model in the Studio, in Chromium: picking it shows its family and starts at SDXL's size,
 * steps and CFG; a refiner from the library takes over at "Switch at", and the recipe says so.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureFixture } from '../helpers/fixtures';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
const temp = makeTempDir('sumi-e2e-studio-sdxl-');
const dataDir = join(temp.dir, 'data');

beforeAll(async () => {
  cpSync(await ensureFixture('sdxl-base'), join(dataDir, 'models', 'tiny-xl'), { recursive: true });
  cpSync(await ensureFixture('sdxl-refiner'), join(dataDir, 'models', 'tiny-xl-refiner'), { recursive: true });
  browser = await launchBrowser();
  host = await startHost(dataDir);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

describe('SDXL in the Studio', () => {
  test('family defaults on picking the model; base + refiner recorded in the recipe', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const { errors } = watchPage(page);
    await page.goto(`${host.url}#/studio`);
    const model = page.getByLabel('Model', { exact: true });
    await expect.poll(() => model.locator('option', { hasText: 'tiny-xl' }).count(), { timeout: 20_000 }).toBe(2);
    await model.selectOption({ label: 'tiny-xl' });
    await expect.poll(() => page.getByTestId('model-family').textContent()).toBe('SDXL');
    expect(await page.getByLabel('Width').inputValue()).toBe('1024');
    expect(await page.getByLabel('CFG scale').inputValue()).toBe('6.5');
    expect(await page.getByLabel('Steps').inputValue()).toBe('30');

    await page.getByLabel('Refiner', { exact: true }).selectOption({ label: 'tiny-xl-refiner' });
    await page.getByLabel('Switch at').fill('0.6');
    await page.getByLabel('Prompt', { exact: true }).fill('a glass harbour');
    await page.getByLabel('Steps').fill('5');
    await page.getByLabel('Width').fill('64');
    await page.getByLabel('Height').fill('64');
    await page.getByLabel('Seed (-1 = random)').fill('606');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 90_000 }).toBe('Done on CPU');
    await screenshot(page, 'studio-sdxl-refined');

    await page.getByRole('link', { name: 'Gallery' }).click();
    await page
      .getByRole('button', { name: /^Image, seed 606: a glass harbour/ })
      .first()
      .click();
    const infotext = page.getByTestId('detail-infotext');
    await expect.poll(() => infotext.textContent()).toContain('Refiner: tiny-xl-refiner');
    expect(await infotext.textContent()).toContain('Refiner switch at: 0.6');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
