import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTempDir } from '../helpers/tempDir';
import { launchBrowser, repoRoot, screenshot, startHost, watchPage } from './harness';

let browser: Browser;
const temp = makeTempDir('sumi-e2e-shell-');

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  temp.cleanup();
});

describe('app shell in Chromium against the web host', () => {
  test('every page is reachable by click and by keyboard, with no console errors', async () => {
    const host = await startHost(join(temp.dir, 'nav'));
    const page = await browser.newPage();
    const { errors } = watchPage(page);
    try {
      await page.goto(host.url);
      await expect.poll(() => page.getByTestId('host-kind').textContent()).toBe('Web host');
      await expect.poll(() => page.getByTestId('engine-state').textContent()).toContain('Engine');
      for (const name of ['Gallery', 'Models', 'Queue', 'Settings', 'Studio']) {
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
        await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(name);
        expect(page.url()).toContain(`#/${name.toLowerCase()}`);
      }
      await screenshot(page, 'shell-studio');
      // Ctrl+number jumps; arrow keys move along the navigation.
      await page.keyboard.press('Control+5');
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Settings');
      await page.getByRole('link', { name: 'Settings' }).focus();
      await page.keyboard.press('ArrowUp');
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Queue');
      await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Queue');
      expect(errors, errors.join('\n')).toEqual([]);
    } finally {
      await page.close();
      await host.stop();
    }
  });

  test('a setting changed in the UI survives a restart of the host', async () => {
    const dataDir = join(temp.dir, 'persist');
    let host = await startHost(dataDir);
    let page = await browser.newPage();
    try {
      await page.goto(`${host.url}#/settings`);
      await page.getByLabel('Steps').fill('37');
      await page.getByLabel('Theme').selectOption('light');
      await page.getByRole('checkbox', { name: 'CUDA (NVIDIA)' }).uncheck();
      await page.getByRole('button', { name: 'Save settings' }).click();
      await expect.poll(() => page.getByRole('status').filter({ hasText: 'Settings saved.' }).count()).toBe(1);
      await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
      await screenshot(page, 'settings-saved-light');
    } finally {
      await page.close();
      await host.stop();
    }

    host = await startHost(dataDir);
    page = await browser.newPage();
    try {
      await page.goto(`${host.url}#/settings`);
      await expect.poll(() => page.getByLabel('Steps').inputValue()).toBe('37');
      expect(await page.getByLabel('Theme').inputValue()).toBe('light');
      expect(await page.getByRole('checkbox', { name: 'CUDA (NVIDIA)' }).isChecked()).toBe(false);
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    } finally {
      await page.close();
      await host.stop();
    }
  });

  test('an invalid value is refused with the field named, in the form', async () => {
    const host = await startHost(join(temp.dir, 'invalid'));
    const page = await browser.newPage();
    try {
      await page.goto(`${host.url}#/settings`);
      await page.getByLabel('Width').fill('500');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('defaults.width');
      await expect.poll(() => page.locator('#width-error').textContent()).toBe('must be a multiple of 8');
      await screenshot(page, 'settings-invalid-width');
    } finally {
      await page.close();
      await host.stop();
    }
  });

  test('a corrupt settings file: the app starts on defaults and tells the user', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const dataDir = join(temp.dir, 'corrupt');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'config.json'), '{ not json');
    const host = await startHost(dataDir);
    const page = await browser.newPage();
    try {
      await page.goto(host.url);
      await expect
        .poll(() => page.getByRole('region', { name: 'Notices' }).textContent())
        .toContain('could not be read');
      await screenshot(page, 'notice-corrupt-settings');
      await page.getByRole('button', { name: 'Dismiss notice' }).click();
      await expect.poll(() => page.getByRole('region', { name: 'Notices' }).count()).toBe(0);
    } finally {
      await page.close();
      await host.stop();
    }
  });

  test('the page without the token is refused', async () => {
    const host = await startHost(join(temp.dir, 'token'));
    const page = await browser.newPage();
    try {
      const response = await page.goto(host.url.replace(/\?token=.*/, ''));
      expect(response?.status()).toBe(403);
    } finally {
      await page.close();
      await host.stop();
    }
  });
});

describe('the built renderer', () => {
  test('contains no Node built-ins', () => {
    const assets = join(repoRoot, 'out/renderer/assets');
    const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    for (const file of js) {
      const code = readFileSync(join(assets, file), 'utf8');
      expect(code).not.toMatch(
        /\brequire\(\s*["'](node:)?(fs|path|child_process|os|net|crypto|worker_threads)["']\s*\)/,
      );
      expect(code).not.toMatch(/from\s*["']node:/);
      expect(code).not.toMatch(/__vite-browser-external/);
    }
  });
});
