/**
 * The Models screen in Chromium against the web host: the demo model is listed and labelled,
 * a LoRA is imported by path with progress, and a broken model says what is wrong.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeSafetensors } from '../helpers/safetensorsWriter';
import { makeTempDir } from '../helpers/tempDir';
import { ensureFixture } from '../helpers/fixtures';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
const temp = makeTempDir('sumi-e2e-models-');
const dataDir = join(temp.dir, 'data');

beforeAll(async () => {
  browser = await launchBrowser();
  const models = join(dataDir, 'models');
  mkdirSync(join(models, 'broken-model', 'unet'), { recursive: true });
  cpSync(await ensureFixture('sd2-v'), join(models, 'tiny-sd2'), { recursive: true });
  host = await startHost(dataDir);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  temp.cleanup();
});

describe('Models screen', () => {
  test('lists models with family and problems in words; imports a LoRA with its trigger words', async () => {
    const page = await browser.newPage();
    const { errors } = watchPage(page);
    await page.goto(`${host.url}#/models`);
    const sd2 = page.getByTestId('entry-tiny-sd2');
    await expect.poll(() => sd2.textContent()).toContain('SD 2.x');
    expect(await sd2.textContent()).toContain('v_prediction');
    await expect
      .poll(() => page.getByTestId('entry-broken-model').getByRole('alert').textContent())
      .toContain('missing unet/model.onnx');

    const lora = join(temp.dir, 'paper-lora.safetensors');
    writeFileSync(
      lora,
      encodeSafetensors(
        {
          'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': {
            dtype: 'F32',
            shape: [2, 768],
            data: new Array(1536).fill(0.01),
          },
          'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': {
            dtype: 'F32',
            shape: [768, 2],
            data: new Array(1536).fill(0.01),
          },
        },
        { ss_tag_frequency: JSON.stringify({ d: { origami: 5, 'paper craft': 2 } }) },
      ),
    );
    await page.getByLabel('Model folder or .safetensors file to import').fill(lora);
    await page.getByRole('button', { name: 'Import' }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Imported loras/paper-lora.safetensors' }).count())
      .toBe(1);
    const entry = page.getByTestId('entry-loras/paper-lora.safetensors');
    await expect.poll(() => entry.textContent()).toContain('Trigger words: origami, paper craft');
    expect(await entry.textContent()).toContain('SD 1.x');
    // Imported LoRAs are hashed as part of the import: A1111's 12-hex LoRA hash is shown.
    await expect.poll(() => entry.textContent()).toMatch(/hash [0-9a-f]{12}/);
    await screenshot(page, 'models-library');

    await page.getByLabel('Model folder or .safetensors file to import').fill(join(temp.dir, 'nothing-here'));
    await page.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toBeTruthy();
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
