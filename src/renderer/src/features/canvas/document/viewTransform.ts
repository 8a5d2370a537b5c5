/** The view: screen = document * scale + (x, y), in CSS pixels of the stage. */
import type { Point, Rect, Size } from './geometry';

export interface ViewTransform {
  x: number;
  y: number;
  scale: number;
}

export const MIN_SCALE = 1 / 32;
export const MAX_SCALE = 32;
export const IDENTITY_VIEW: ViewTransform = Object.freeze({ x: 0, y: 0, scale: 1 });

const clampScale = (s: number): number => Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));

export function toDocument(view: ViewTransform, p: Point): Point {
  return { x: (p.x - view.x) / view.scale, y: (p.y - view.y) / view.scale };
}

export function toScreen(view: ViewTransform, p: Point): Point {
  return { x: p.x * view.scale + view.x, y: p.y * view.scale + view.y };
}

export function panBy(view: ViewTransform, dx: number, dy: number): ViewTransform {
  return { ...view, x: view.x + dx, y: view.y + dy };
}

/** Zooms by `factor` keeping the document point under `screen` where it is. */
export function zoomAt(view: ViewTransform, screen: Point, factor: number): ViewTransform {
  const scale = clampScale(view.scale * factor);
  const anchor = toDocument(view, screen);
  return { scale, x: screen.x - anchor.x * scale, y: screen.y - anchor.y * scale };
}

/** Sets the scale, keeping the document point at the viewport's centre where it is. */
export function zoomTo(view: ViewTransform, viewport: Size, scale: number): ViewTransform {
  return zoomAt(view, { x: viewport.width / 2, y: viewport.height / 2 }, scale / view.scale);
}

/** Fits `rect` inside the viewport with `padding` CSS pixels around it, centred. */
export function fitRect(rect: Rect, viewport: Size, padding = 24): ViewTransform {
  const availW = Math.max(1, viewport.width - padding * 2);
  const availH = Math.max(1, viewport.height - padding * 2);
  const scale = clampScale(Math.min(availW / Math.max(1, rect.width), availH / Math.max(1, rect.height)));
  return {
    scale,
    x: viewport.width / 2 - (rect.x + rect.width / 2) * scale,
    y: viewport.height / 2 - (rect.y + rect.height / 2) * scale,
  };
}
