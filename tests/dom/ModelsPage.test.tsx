/**
 * The Models page in jsdom over the real service layer: a .safetensors file dropped in a browser is
 * uploaded and listed; a dropped folder is refused in words; a copy made behind the app's back shows
 * up through the folder watcher; rename goes through models.update.
 */
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { StudioTransport } from '../../src/preload/contract';
import type { AppServices } from '../../src/main/AppServices';
import { createClient } from '../../src/renderer/src/api/client';
import { StudioProvider } from '../../src/renderer/src/api/StudioProvider';
import { ModelsPage } from '../../src/renderer/src/features/models/ModelsPage';
import { createTestApp } from '../helpers/appHarness';
import { encodeSafetensors } from '../helpers/safetensorsWriter';
import { makeTempDir } from '../helpers/tempDir';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root;
let container: HTMLDivElement;
const temp = makeTempDir('sumi-dom-models-');
afterAll(() => temp.cleanup());

function inProcessTransport(app: AppServices): StudioTransport {
  return {
    invoke: (method, input) => app.router.dispatch(method, structuredClone(input)),
    subscribe: (event, listener) => app.hub.subscribe((name, payload) => name === event && listener(payload)),
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await act(async () => new Promise((r) => setTimeout(r, 25)));
  }
  throw new Error(`timed out waiting for ${what}:\n${container.textContent}`);
}

function drop(items: { file: File; folder: boolean }[]): void {
  const event = new Event('drop', { bubbles: true, cancelable: true });
  Object.defineProperty(event, 'dataTransfer', {
    value: {
      types: ['Files'],
      files: items.map((i) => i.file),
      items: items.map((i) => ({
        kind: 'file',
        getAsFile: () => i.file,
        webkitGetAsEntry: () => ({ isDirectory: i.folder }),
      })),
    },
  });
  act(() => {
    container.querySelector('[data-testid="models-drop-zone"]')?.dispatchEvent(event);
  });
}

const lora = encodeSafetensors(
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
  { ss_tag_frequency: JSON.stringify({ d: { heron: 2 } }) },
);

beforeEach(() => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.restoreAllMocks();
});

describe('Models page', () => {
  test('a dropped .safetensors file is uploaded and listed; a dropped folder is refused in words', async () => {
    const app = await createTestApp(join(temp.dir, 'a'));
    try {
      act(() =>
        root.render(
          <StudioProvider client={createClient(inProcessTransport(app))} hostKind="web">
            <ModelsPage />
          </StudioProvider>,
        ),
      );
      await until(() => container.textContent?.includes('No models yet') ?? false, 'the empty library');
      expect(container.textContent).toContain('model folders are imported by path');

      drop([{ file: new File([new Uint8Array(0)], 'my-model', { type: '' }), folder: true }]);
      await until(() => container.querySelector('[role="alert"]') !== null, 'the refusal');
      expect(container.querySelector('[role="alert"]')?.textContent).toContain(
        'a browser cannot tell the app where a dropped folder is',
      );

      drop([{ file: new File([new Uint8Array(lora)], 'heron.safetensors'), folder: false }]);
      await until(
        () => container.querySelector('[data-testid="entry-loras/heron.safetensors"]') !== null,
        'the uploaded LoRA',
      );
      const row = container.querySelector('[data-testid="entry-loras/heron.safetensors"]');
      expect(row?.textContent).toContain('LoRA');
      expect(row?.textContent).toContain('Trigger words: heron');
      expect(container.querySelector('[role="status"]')?.textContent).toBe('Imported loras/heron.safetensors.');

      // Copied in behind the app's back: the watcher announces it and the table follows.
      const models = app.settings.get().modelsDir;
      mkdirSync(join(models, 'embeddings'), { recursive: true });
      writeFileSync(
        join(models, 'embeddings', 'mood.safetensors'),
        encodeSafetensors({ emb_params: { dtype: 'F32', shape: [1, 768], data: new Array(768).fill(0.1) } }),
      );
      await until(
        () => container.querySelector('[data-testid="entry-embeddings/mood.safetensors"]') !== null,
        'the embedding copied in by hand',
      );
      expect(container.querySelector('[data-testid="entry-embeddings/mood.safetensors"]')?.textContent).toContain(
        'embedding',
      );

      vi.spyOn(window, 'prompt').mockReturnValue('Grey heron');
      const renameButton = Array.from(row?.querySelectorAll('button') ?? []).find((b) => b.textContent === 'Rename');
      act(() => renameButton?.click());
      await until(() => container.textContent?.includes('Grey heron') ?? false, 'the new name');
    } finally {
      await app.dispose();
    }
  });
});
