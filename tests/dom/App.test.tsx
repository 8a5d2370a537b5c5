/**
 * The shell rendered in jsdom over the real service layer: the transport hands calls straight to
 * the real router (as the WebSocket would), with a real settings file in a temp folder.
 */
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { StudioTransport } from '../../src/preload/contract';
import type { AppServices } from '../../src/main/AppServices';
import { createClient } from '../../src/renderer/src/api/client';
import { StudioProvider } from '../../src/renderer/src/api/StudioProvider';
import { App } from '../../src/renderer/src/app/App';
import { createTestApp } from '../helpers/appHarness';
import { makeTempDir } from '../helpers/tempDir';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root;
let container: HTMLDivElement;
const temp = makeTempDir('sumi-dom-');

function inProcessTransport(app: AppServices): StudioTransport {
  return {
    invoke: (method, input) => app.router.dispatch(method, structuredClone(input)),
    subscribe: (event, listener) => app.hub.subscribe((name, payload) => name === event && listener(payload)),
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

afterAll(() => temp.cleanup());

beforeEach(() => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  window.location.hash = '';
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe('App shell', () => {
  test('shows the host, the engine state and the studio page first', async () => {
    const app = await createTestApp(join(temp.dir, 'a'));
    act(() =>
      root.render(
        <StudioProvider client={createClient(inProcessTransport(app))} hostKind="web">
          <App />
        </StudioProvider>,
      ),
    );
    await settle();
    expect(container.querySelector('h1')?.textContent).toBe('Studio');
    expect(container.querySelector('[data-testid="host-kind"]')?.textContent).toBe('Web host');
    expect(container.querySelector('[data-testid="engine-state"]')?.textContent).toBe('Engine idle');
    expect(container.querySelector('[aria-current="page"]')?.textContent).toBe('Studio');
  });

  test('Ctrl+5 opens Settings, and saving writes the real settings file', async () => {
    const dir = join(temp.dir, 'b');
    const app = await createTestApp(dir);
    act(() =>
      root.render(
        <StudioProvider client={createClient(inProcessTransport(app))} hostKind="web">
          <App />
        </StudioProvider>,
      ),
    );
    await settle();
    act(() => {
      window.dispatchEvent(new KeyboardEvent('keydown', { key: '5', ctrlKey: true }));
    });
    await settle();
    expect(container.querySelector('h1')?.textContent).toBe('Settings');
    const theme = container.querySelector<HTMLSelectElement>('#theme');
    expect(theme?.value).toBe('dark');
    act(() => {
      if (!theme) return;
      const setter = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value')?.set;
      setter?.call(theme, 'light');
      theme.dispatchEvent(new Event('change', { bubbles: true }));
    });
    act(() => container.querySelector<HTMLFormElement>('form')?.requestSubmit());
    await settle();
    expect(container.textContent).toContain('Settings saved.');
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ theme: 'light' });
    expect(document.documentElement.dataset.theme).toBe('light');
  });
});
