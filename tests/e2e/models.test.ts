/**
 * The Models screen in Chromium against the web host: the demo model is listed and labelled,
 * a LoRA is imported by path with progress, and a broken model says what is wrong; a model is
 * downloaded by URL from a local Hugging Face look-alike (HF_ENDPOINT), and a LoRA dropped on the
 * page is uploaded.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeSafetensors } from '../helpers/safetensorsWriter';
import { makeTempDir } from '../helpers/tempDir';
import { ensureFixture } from '../helpers/fixtures';
import { startHfServer, type HfServer } from '../helpers/hfServer';
import { launchBrowser, screenshot, startHost, watchPage, type RunningHost } from './harness';

let browser: Browser;
let host: RunningHost;
let hf: HfServer;
const temp = makeTempDir('sumi-e2e-models-');
const dataDir = join(temp.dir, 'data');

beforeAll(async () => {
  browser = await launchBrowser();
  const models = join(dataDir, 'models');
  mkdirSync(join(models, 'broken-model', 'unet'), { recursive: true });
  cpSync(await ensureFixture('sd2-v'), join(models, 'tiny-sd2'), { recursive: true });
  hf = await startHfServer({ 'test-org/tiny-sd': await ensureFixture('sd1-optimum') });
  process.env.HF_ENDPOINT = hf.baseUrl;
  try {
    host = await startHost(dataDir);
  } finally {
    delete process.env.HF_ENDPOINT;
  }
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
  await hf?.close();
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

  test('downloads a model by URL with progress, and uploads a LoRA dropped on the page', async () => {
    const page = await browser.newPage();
    const { errors } = watchPage(page);
    await page.goto(`${host.url}#/models`);
    // The connection drops half-way through the big file: the download resumes it.
    hf.cutOnce.add('test-org/tiny-sd:unet/model.onnx_data');
    await page.getByLabel('Hugging Face or .safetensors URL to download').fill(`${hf.baseUrl}/test-org/tiny-sd`);
    await page.getByRole('button', { name: 'Download' }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Imported tiny-sd' }).count(), { timeout: 60_000 })
      .toBe(1);
    const model = page.getByTestId('entry-tiny-sd');
    await expect.poll(() => model.textContent()).toContain('SD 1.x');
    expect(await model.textContent()).toContain(`Downloaded from ${hf.baseUrl}/test-org/tiny-sd`);

    const bytes = encodeSafetensors(
      {
        'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': {
          dtype: 'F32',
          shape: [2, 4],
          data: new Array(8).fill(0.5),
        },
        'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': {
          dtype: 'F32',
          shape: [4, 2],
          data: new Array(8).fill(0.5),
        },
      },
      { ss_tag_frequency: JSON.stringify({ d: { 'ink wash': 3 } }) },
    );
    const transfer = await page.evaluateHandle(
      (data) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(data)], 'ink-wash.safetensors'));
        return dt;
      },
      [...bytes],
    );
    await page.getByTestId('models-drop-zone').dispatchEvent('drop', { dataTransfer: transfer });
    const lora = page.getByTestId('entry-loras/ink-wash.safetensors');
    await expect.poll(() => lora.textContent()).toContain('Trigger words: ink wash');
    await screenshot(page, 'models-downloaded-and-dropped');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
