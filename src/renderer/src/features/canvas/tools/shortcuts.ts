/** The canvas's keyboard shortcuts, as data: the toolbar shows them, the key handler looks them up. */
import type { ToolId } from './types';

export type CanvasCommand =
  | { type: 'tool'; tool: ToolId }
  | { type: 'invert' }
  | { type: 'clear' }
  | { type: 'undo' }
  | { type: 'redo' }
  | { type: 'fit' }
  | { type: 'actualSize' }
  | { type: 'brushSize'; factor: number };

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
  altKey?: boolean;
}

/** Shortcut text for titles, e.g. "B" or "Ctrl+Z". */
export const TOOL_KEYS: Record<ToolId, string> = {
  brush: 'B',
  eraser: 'E',
  rect: 'R',
  lasso: 'L',
  box: 'V',
  pan: 'H',
};

/** The command for a key press, or null when it is not one of ours. */
export function shortcutFor(e: KeyLike): CanvasCommand | null {
  const mod = Boolean(e.ctrlKey || e.metaKey);
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.altKey) return null;
  if (mod) {
    if (key === 'z') return e.shiftKey ? { type: 'redo' } : { type: 'undo' };
    if (key === 'y' && !e.shiftKey) return { type: 'redo' };
    return null;
  }
  const tool = (Object.keys(TOOL_KEYS) as ToolId[]).find((t) => TOOL_KEYS[t].toLowerCase() === key);
  if (tool && !e.shiftKey) return { type: 'tool', tool };
  switch (key) {
    case 'i':
      return e.shiftKey ? null : { type: 'invert' };
    case 'Delete':
    case 'Backspace':
      return { type: 'clear' };
    case 'f':
      return e.shiftKey ? null : { type: 'fit' };
    case '1':
      return e.shiftKey ? null : { type: 'actualSize' };
    case '[':
      return { type: 'brushSize', factor: 1 / 1.25 };
    case ']':
      return { type: 'brushSize', factor: 1.25 };
    default:
      return null;
  }
}

/** True when keys typed at `target` belong to it (text fields, selects, editable content). */
export function isTextField(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).tagName !== 'string') return false;
  const el = target as HTMLElement;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return true;
  if (tag !== 'input') return false;
  const type = ((el as HTMLInputElement).type || 'text').toLowerCase();
  return !['button', 'checkbox', 'radio', 'range', 'submit', 'reset', 'file', 'color', 'image'].includes(type);
}
