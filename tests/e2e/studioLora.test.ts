/**
 * A LoRA from import to recipe in Chromium: imported by path on the Models screen, offered by the
 * Studio's LoRA picker, used in the prompt as `<lora:NAME:0.8>` on the demo model, and recorded in
 * the image's recipe and infotext (name, weight and A1111's hash).
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureDemoModel } from '../../src/main/services/models/demoModel';
import { fixtureModules, writeFixtureLora } from '../helpers/fixtureLoras';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
const temp = makeTempDir('sumi-e2e-studio-lora-');
const dataDir = join(temp.dir, 'data');
const loraFile = join(temp.dir, 'Ink-Fox.safetensors');

beforeAll(async () => {
  // A kohya LoRA made for the demo model's own modules (UNet and text encoder).
  const demo = await ensureDemoModel(join(dataDir, 'models'));
  writeFixtureLora(loraFile, {
    format: 'kohya',
    modules: [
      ...fixtureModules(demo, 'unet')
        .filter((m) => m.op === 'MatMul')
        .slice(0, 8),
      ...fixtureModules(demo, 'text_encoder').slice(0, 2),
    ],
    rank: 4,
    alpha: 4,
    seed: 9,
  });
  browser = await launchBrowser();
  host = await startHost(dataDir);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

describe('LoRA from the Models screen to the recipe', () => {
  test('import on Models -> picked in the Studio -> <lora:Ink-Fox:0.8> -> recorded in the recipe', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const { errors } = watchPage(page);
    await page.goto(`${host.url}#/models`);
    await page.getByLabel('Model folder or .safetensors file to import').fill(loraFile);
    await page.getByRole('button', { name: 'Import' }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Imported loras/Ink-Fox.safetensors' }).count())
      .toBe(1);

    await page.getByRole('link', { name: 'Studio' }).click();
    await page.getByLabel('Prompt', { exact: true }).fill('a fox made of ink');
    // The picker lists the imported LoRA; ticking it writes its tag into the prompt, at weight 1.
    const pick = page.getByRole('checkbox', { name: /Ink-Fox/ });
    await expect.poll(() => pick.count(), { timeout: 20_000 }).toBe(1);
    await pick.check();
    await expect.poll(() => page.getByLabel('Prompt', { exact: true }).inputValue()).toContain('<lora:Ink-Fox:1>');
    await page.getByLabel('Prompt', { exact: true }).fill('a fox made of ink <lora:Ink-Fox:0.8>');
    await page.getByLabel('Steps').fill('2');
    await page.getByLabel('Width').fill('64');
    await page.getByLabel('Height').fill('64');
    await page.getByLabel('Seed (-1 = random)').fill('5150');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 90_000 }).toBe('Done on CPU');
    await screenshot(page, 'studio-lora-generated');

    await page.getByRole('link', { name: 'Gallery' }).click();
    await page
      .getByRole('button', { name: /^Image, seed 5150: a fox made of ink/ })
      .first()
      .click();
    const infotext = page.getByTestId('detail-infotext');
    await expect.poll(() => infotext.textContent()).toContain('<lora:Ink-Fox:0.8>');
    expect(await infotext.textContent()).toMatch(/Lora hashes: "Ink-Fox: [0-9a-f]{12}"/);
    await screenshot(page, 'gallery-lora-recipe');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
