/**
 * Generating from the Studio page in Chromium, against the web host and its real engine process,
 * on the built-in demo model (written on first use).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
const temp = makeTempDir('sumi-e2e-studio-');
const dataDir = join(temp.dir, 'data');

beforeAll(async () => {
  browser = await launchBrowser();
  host = await startHost(dataDir);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

function pngs(): string[] {
  const outputs = join(dataDir, 'outputs');
  return existsSync(outputs)
    ? readdirSync(outputs, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.png'))
    : [];
}

async function fillBasics(page: Page, steps: number): Promise<void> {
  await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse at dusk');
  await page.getByLabel('Steps').fill(String(steps));
  await page.getByLabel('Width').fill('64');
  await page.getByLabel('Height').fill('64');
  await page.getByLabel('Seed (-1 = random)').fill('1234');
}

describe('Studio: prompt to image', () => {
  test('txt2img on the demo model shows progress, then the image, saved to the output folder', async () => {
    const page = await browser.newPage();
    const { errors } = watchPage(page);
    await page.goto(`${host.url}#/studio`);
    await expect.poll(() => page.getByText('Demo model: random weights').count()).toBe(1);
    await fillBasics(page, 6);
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByRole('progressbar', { name: 'Generation progress' }).count()).toBe(1);
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Done on CPU');
    const image = page.getByRole('img', { name: 'Result, seed 1234' });
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(64);
    expect(await page.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    await expect.poll(() => page.getByTestId('engine-state').textContent()).toContain('CPU');
    await screenshot(page, 'studio-txt2img-done');
    expect(pngs()).toHaveLength(1);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });

  test('cancel mid-generation: nothing saved, and the next job runs', async () => {
    const page = await browser.newPage();
    await page.goto(`${host.url}#/studio`);
    const before = pngs().length;
    await fillBasics(page, 150);
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect
      .poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 })
      .toMatch(/^Step \d+ of 150/);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent()).toBe('Cancelled');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Nothing was saved' }).count()).toBe(1);
    expect(pngs().length).toBe(before);
    await screenshot(page, 'studio-cancelled');
    await page.getByLabel('Steps').fill('2');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 60_000 }).toBe('Done on CPU');
    expect(pngs().length).toBe(before + 1);
    await page.getByRole('link', { name: 'Queue' }).click();
    await expect.poll(() => page.getByRole('list', { name: 'Jobs' }).getByRole('listitem').count()).toBe(3);
    await page.close();
  });

  test('an invalid size is refused in words before anything runs', async () => {
    const page = await browser.newPage();
    await page.goto(`${host.url}#/studio`);
    await fillBasics(page, 2);
    await page.getByLabel('Width').fill('70');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('width: must be a multiple of 8');
    await page.close();
  });
});
