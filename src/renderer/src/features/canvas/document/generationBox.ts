/**
 * The generation box: the region the next generation reads and writes. Its edges sit on multiples
 * of 8 (the VAE's stride) and each side is at least 64 pixels, whatever the pointer does.
 */
import type { Rect } from './geometry';

export const BOX_SNAP = 8;
export const BOX_MIN = 64;
export const BOX_MAX = 4096;

export type BoxHandle = 'nw' | 'n' | 'ne' | 'e' | 'se' | 's' | 'sw' | 'w';
export const BOX_HANDLES: readonly BoxHandle[] = ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w'];

export const snap = (v: number): number => Math.round(v / BOX_SNAP) * BOX_SNAP;
const clampSize = (v: number): number => Math.min(BOX_MAX, Math.max(BOX_MIN, snap(v)));

/** Any rectangle made into a valid box: origin snapped, sizes snapped and clamped to [64, 4096]. */
export function normaliseBox(r: Rect): Rect {
  return { x: snap(r.x), y: snap(r.y), width: clampSize(r.width), height: clampSize(r.height) };
}

/** The box dragged by (dx, dy) document pixels from where the drag started. */
export function moveBox(start: Rect, dx: number, dy: number): Rect {
  return { ...start, x: snap(start.x + dx), y: snap(start.y + dy) };
}

/**
 * The box resized by dragging `handle` by (dx, dy) from `start`. The dragged edges snap to 8; the
 * opposite edges stay put; a side never goes below 64 or above 4096 (the dragged edge stops).
 */
export function resizeBox(start: Rect, handle: BoxHandle, dx: number, dy: number): Rect {
  let left = start.x;
  let top = start.y;
  let right = start.x + start.width;
  let bottom = start.y + start.height;
  if (handle.includes('w')) left = Math.min(right - BOX_MIN, Math.max(right - BOX_MAX, snap(left + dx)));
  if (handle.includes('e')) right = Math.max(left + BOX_MIN, Math.min(left + BOX_MAX, snap(right + dx)));
  if (handle.includes('n')) top = Math.min(bottom - BOX_MIN, Math.max(bottom - BOX_MAX, snap(top + dy)));
  if (handle.includes('s')) bottom = Math.max(top + BOX_MIN, Math.min(top + BOX_MAX, snap(bottom + dy)));
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/** Where each handle sits on `box` (document pixels). */
export function handlePosition(box: Rect, handle: BoxHandle): { x: number; y: number } {
  const x = handle.includes('w') ? box.x : handle.includes('e') ? box.x + box.width : box.x + box.width / 2;
  const y = handle.includes('n') ? box.y : handle.includes('s') ? box.y + box.height : box.y + box.height / 2;
  return { x, y };
}
