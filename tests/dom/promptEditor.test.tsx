/**
 * PromptField (A1111's weight keys, `<lora:` completion) and LoraPicker in jsdom. The picker reads
 * the real library: LoRA files with kohya metadata in a temp models folder, listed by the real
 * service layer through the router.
 */
import { act, useState } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { StudioTransport } from '../../src/preload/contract';
import type { AppServices } from '../../src/main/AppServices';
import { createClient } from '../../src/renderer/src/api/client';
import { StudioProvider } from '../../src/renderer/src/api/StudioProvider';
import { LoraPicker } from '../../src/renderer/src/features/generate/LoraPicker';
import { PromptField } from '../../src/renderer/src/features/generate/PromptField';
import { createTestApp } from '../helpers/appHarness';
import { writeSafetensors } from '../helpers/safetensorsWriter';
import { makeTempDir } from '../helpers/tempDir';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root;
let container: HTMLDivElement;
let latest = '';

beforeEach(() => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

function PromptHarness(props: { initial: string; names?: string[] }) {
  const [value, setValue] = useState(props.initial);
  latest = value;
  return (
    <PromptField
      id="p"
      label="Prompt"
      value={value}
      onChange={setValue}
      loraNames={props.names}
      hint="Ctrl+↑/↓ weights"
    />
  );
}

const textarea = (): HTMLTextAreaElement => container.querySelector('textarea') as HTMLTextAreaElement;
const listbox = (): HTMLElement | null => container.querySelector('[role="listbox"]');
const options = (): HTMLElement[] => [...container.querySelectorAll<HTMLElement>('[role="option"]')];

/** Types `text` at the end, as the browser would: the value changes, the caret follows. */
function typeAtEnd(text: string): void {
  const el = textarea();
  act(() => {
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')?.set;
    setter?.call(el, el.value + text);
    el.setSelectionRange(el.value.length, el.value.length);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

function select(start: number, end = start): void {
  act(() => {
    textarea().focus();
    textarea().setSelectionRange(start, end);
    textarea().dispatchEvent(new Event('select', { bubbles: true }));
  });
}

function press(key: string, init: KeyboardEventInit = {}): void {
  act(() => {
    textarea().dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init }));
  });
}

describe('PromptField', () => {
  test('is labelled, with its hint as its description', () => {
    act(() => root.render(<PromptHarness initial="" />));
    expect(container.querySelector('label[for="p"]')?.textContent).toBe('Prompt');
    const hint = document.getElementById(textarea().getAttribute('aria-describedby') ?? '');
    expect(hint?.textContent).toBe('Ctrl+↑/↓ weights');
  });

  test('Ctrl+Up and Ctrl+Down nudge the word at the caret and keep it selected', () => {
    act(() => root.render(<PromptHarness initial="a cat, sitting" />));
    select(3);
    press('ArrowUp', { ctrlKey: true });
    expect(latest).toBe('a (cat:1.1), sitting');
    expect([textarea().selectionStart, textarea().selectionEnd]).toEqual([3, 6]);
    press('ArrowUp', { metaKey: true });
    expect(latest).toBe('a (cat:1.2), sitting');
    press('ArrowDown', { ctrlKey: true });
    press('ArrowDown', { ctrlKey: true });
    expect(latest).toBe('a cat, sitting');
    expect([textarea().selectionStart, textarea().selectionEnd]).toEqual([2, 5]);
    // Without Ctrl, the arrows are the textarea's own.
    press('ArrowUp');
    expect(latest).toBe('a cat, sitting');
  });

  test('Ctrl+Up weights a selection as a whole', () => {
    act(() => root.render(<PromptHarness initial="a red hair girl" />));
    select(2, 10);
    press('ArrowUp', { ctrlKey: true });
    expect(latest).toBe('a (red hair:1.1) girl');
  });

  test('<lora: opens a listbox of matching names; arrows choose, Enter inserts the tag', () => {
    act(() => root.render(<PromptHarness initial="a cat " names={['detail tweaker', 'dusk light', 'zeta']} />));
    act(() => textarea().focus());
    typeAtEnd('<lora:d');
    const list = listbox();
    expect(list).not.toBeNull();
    expect(list?.getAttribute('aria-label')).toBe('LoRA names');
    expect(textarea().getAttribute('aria-controls')).toBe(list?.id);
    expect(options().map((o) => o.textContent)).toEqual(['detail tweaker', 'dusk light']);
    expect(textarea().getAttribute('aria-activedescendant')).toBe(options()[0]?.id);
    expect(options()[0]?.getAttribute('aria-selected')).toBe('true');
    press('ArrowDown');
    expect(textarea().getAttribute('aria-activedescendant')).toBe(options()[1]?.id);
    press('ArrowDown'); // wraps around
    press('ArrowDown');
    expect(options()[1]?.getAttribute('aria-selected')).toBe('true');
    press('Enter');
    expect(latest).toBe('a cat <lora:dusk light:1>');
    expect(textarea().selectionStart).toBe(latest.length);
    expect(listbox()).toBeNull();
    expect(textarea().hasAttribute('aria-activedescendant')).toBe(false);
  });

  test('Tab inserts too; Escape closes the list for that tag; a click on an option inserts it', () => {
    act(() => root.render(<PromptHarness initial="" names={['alpha', 'beta']} />));
    act(() => textarea().focus());
    typeAtEnd('<lora:a');
    press('Tab');
    expect(latest).toBe('<lora:alpha:1>');

    typeAtEnd(' <lora:');
    expect(options()).toHaveLength(2);
    press('Escape');
    expect(listbox()).toBeNull();
    typeAtEnd('b');
    expect(listbox()).toBeNull();
    press('Enter'); // the textarea's own Enter: nothing inserted by us
    expect(latest).toBe('<lora:alpha:1> <lora:b');

    typeAtEnd(', <lora:');
    expect(options()).toHaveLength(2);
    act(() => options()[1]?.click());
    expect(latest).toBe('<lora:alpha:1> <lora:b, <lora:beta:1>');
  });
});

describe('LoraPicker over the real library', () => {
  const temp = makeTempDir('sumi-dom-loras-');
  let app: AppServices;

  function transport(services: AppServices): StudioTransport {
    return {
      invoke: (method, input) => services.router.dispatch(method, structuredClone(input)),
      subscribe: (event, listener) => services.hub.subscribe((name, payload) => name === event && listener(payload)),
    };
  }

  beforeAll(async () => {
    const dataDir = join(temp.dir, 'data');
    const loras = join(dataDir, 'models', 'loras');
    mkdirSync(loras, { recursive: true });
    const tensor = { dtype: 'F32' as const, shape: [1, 1], data: [0.5] };
    writeSafetensors(
      join(loras, 'ink wash.safetensors'),
      { 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': tensor },
      {
        ss_base_model_version: 'sd_v1',
        'modelspec.trigger_phrase': 'inkwash style',
        ss_tag_frequency: JSON.stringify({ set: { 'sumi-e': 12, mountains: 30 } }),
      },
    );
    writeSafetensors(
      join(loras, 'xl-detail.safetensors'),
      { 'lora_unet_input_blocks_4_1_proj_in.lora_down.weight': tensor },
      { ss_base_model_version: 'sdxl_base_v1-0' },
    );
    app = await createTestApp(dataDir);
  }, 60_000);

  afterAll(async () => {
    await app?.dispose();
    temp.cleanup();
  });

  function PickerHarness(props: { initial: string }) {
    const [prompt, setPrompt] = useState(props.initial);
    latest = prompt;
    return <LoraPicker prompt={prompt} onPromptChange={setPrompt} modelFamily="sd1" />;
  }

  async function renderPicker(initial: string): Promise<void> {
    act(() =>
      root.render(
        <StudioProvider client={createClient(transport(app))} hostKind="web">
          <PickerHarness initial={initial} />
        </StudioProvider>,
      ),
    );
    for (let i = 0; i < 50 && container.querySelectorAll('.lora-row').length < 2; i++)
      await act(async () => new Promise((r) => setTimeout(r, 20)));
  }

  const checkbox = (name: string): HTMLInputElement =>
    [...container.querySelectorAll('label')]
      .find((l) => l.textContent === name)
      ?.querySelector('input') as HTMLInputElement;

  test('lists each LoRA with its family and trigger words, and flags one made for another family', async () => {
    await renderPicker('a harbour');
    const rows = [...container.querySelectorAll<HTMLElement>('.lora-row')];
    expect(rows.map((r) => r.querySelector('label')?.textContent)).toEqual(['ink wash', 'xl-detail']);
    expect(rows.map((r) => r.querySelector('.badge')?.textContent)).toEqual(['SD 1.x', 'SDXL']);
    const words = rows[0]?.querySelector('[role="group"]');
    expect(words?.getAttribute('aria-label')).toBe('ink wash trigger words');
    expect([...(words?.querySelectorAll('button') ?? [])].map((b) => b.textContent)).toEqual([
      'inkwash style',
      'mountains',
      'sumi-e',
    ]);
    const note = document.getElementById(checkbox('xl-detail').getAttribute('aria-describedby') ?? '');
    expect(note?.textContent).toBe('Made for SDXL; the model is SD 1.x.');
  });

  test('ticking adds <lora:NAME:1>, the slider re-weights it, unticking removes it; a trigger word is appended', async () => {
    await renderPicker('a harbour');
    act(() => checkbox('ink wash').click());
    expect(latest).toBe('a harbour <lora:ink wash:1>');
    const slider = container.querySelector<HTMLInputElement>('input[type="range"]');
    expect(slider?.getAttribute('aria-label')).toBe('ink wash weight');
    act(() => {
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set;
      setter?.call(slider, '0.65');
      slider?.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(latest).toBe('a harbour <lora:ink wash:0.65>');
    const word = [...container.querySelectorAll('button')].find((b) => b.textContent === 'inkwash style');
    act(() => word?.click());
    expect(latest).toBe('a harbour <lora:ink wash:0.65>, inkwash style');
    act(() => checkbox('ink wash').click());
    expect(latest).toBe('a harbour, inkwash style');
    expect(container.querySelector('input[type="range"]')).toBeNull();
  });

  test('a tag already in the prompt (any case) shows as ticked with its weight', async () => {
    await renderPicker('<LoRA:Ink Wash:0.4> a harbour');
    expect(checkbox('ink wash').checked).toBe(true);
    expect(checkbox('xl-detail').checked).toBe(false);
    expect(container.querySelector<HTMLInputElement>('input[type="range"]')?.value).toBe('0.4');
  });
});
