/**
 * The canvas editor in jsdom: no 2D canvas here, so the stage is a placeholder, while the toolbar
 * and the keyboard shortcuts work on the real document and tools.
 */
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CanvasEditor } from '../../../src/renderer/src/features/canvas/CanvasEditor';
import { CanvasDocument } from '../../../src/renderer/src/features/canvas/document/CanvasDocument';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root;
let container: HTMLDivElement;

beforeEach(() => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

const button = (name: string) => container.querySelector<HTMLButtonElement>(`button[aria-label="${name}"]`)!;
const key = (init: KeyboardEventInit, target: EventTarget = window) =>
  act(() => {
    target.dispatchEvent(new KeyboardEvent('keydown', { bubbles: true, cancelable: true, ...init }));
  });

describe('CanvasEditor without a 2D canvas', () => {
  test('shows a placeholder instead of the stage, and a labelled toolbar with shortcuts in titles', () => {
    const doc = new CanvasDocument();
    act(() => root.render(<CanvasEditor doc={doc} />));
    expect(container.querySelector('[data-testid="canvas-unsupported"]')).not.toBeNull();
    expect(button('Brush').title).toBe('Brush (B)');
    expect(button('Brush').getAttribute('aria-pressed')).toBe('true');
    expect(button('Move box').title).toBe('Move box (V)');
    expect(button('Clear mask').title).toBe('Clear mask (Delete)');
    expect(button('Redo').title).toContain('Shift+Ctrl+Z');
    const size = container.querySelector<HTMLInputElement>('input[type="range"]')!;
    expect(container.querySelector(`label[for="${size.id}"]`)?.textContent).toBe('Brush size');
    expect(container.querySelector('[data-testid="canvas-mode"]')?.textContent).toBe('txt2img · 512 × 512');
  });

  test('keyboard shortcuts pick tools and undo, but not while typing in a text field', () => {
    const doc = new CanvasDocument();
    act(() => root.render(<CanvasEditor doc={doc} />));
    key({ key: 'e' });
    expect(button('Eraser').getAttribute('aria-pressed')).toBe('true');
    const input = document.createElement('input');
    document.body.appendChild(input);
    key({ key: 'r' }, input);
    expect(button('Eraser').getAttribute('aria-pressed')).toBe('true');
    input.remove();

    expect(button('Undo').disabled).toBe(true);
    act(() => doc.fillRect({ x: 0, y: 0, width: 10, height: 10 }, 'fill'));
    expect(button('Undo').disabled).toBe(false);
    expect(button('Undo').title).toBe('Undo rectangle fill (Ctrl+Z)');
    key({ key: 'z', ctrlKey: true });
    expect(doc.maskPixelCount()).toBe(0);
    key({ key: 'Z', ctrlKey: true, shiftKey: true });
    expect(doc.maskPixelCount()).toBe(100);
    key({ key: 'Delete' });
    expect(doc.maskPixelCount()).toBe(0);
    act(() => button('Invert mask').click());
    expect(doc.maskPixelCount()).toBe(doc.mask.rect.width * doc.mask.rect.height);
  });
});
