/** Plain geometry in document pixels (integers for rasters, any number for pointer positions). */

export interface Point {
  x: number;
  y: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

/** How far a rectangle reaches past another on each side (0 where it does not). */
export interface Sides {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export const EMPTY_SIDES: Sides = Object.freeze({ left: 0, top: 0, right: 0, bottom: 0 });

export function rectsEqual(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}

export function isEmptyRect(r: Rect): boolean {
  return r.width <= 0 || r.height <= 0;
}

export function union(a: Rect | null, b: Rect | null): Rect | null {
  if (!a || isEmptyRect(a)) return b && !isEmptyRect(b) ? { ...b } : null;
  if (!b || isEmptyRect(b)) return { ...a };
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

export function intersect(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const right = Math.min(a.x + a.width, b.x + b.width);
  const bottom = Math.min(a.y + a.height, b.y + b.height);
  return right > x && bottom > y ? { x, y, width: right - x, height: bottom - y } : null;
}

export function containsRect(outer: Rect, inner: Rect): boolean {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

export function containsPoint(r: Rect, p: Point): boolean {
  return p.x >= r.x && p.y >= r.y && p.x < r.x + r.width && p.y < r.y + r.height;
}

/** The smallest integer rectangle holding `r` (fractional edges rounded outwards). */
export function pixelRect(r: Rect): Rect {
  const x = Math.floor(r.x);
  const y = Math.floor(r.y);
  return { x, y, width: Math.ceil(r.x + r.width) - x, height: Math.ceil(r.y + r.height) - y };
}

/** A rectangle from two corners in any order. */
export function rectFromPoints(a: Point, b: Point): Rect {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(b.x - a.x), height: Math.abs(b.y - a.y) };
}

/** How far `inner` reaches past `outer` on each side. */
export function overhang(inner: Rect, outer: Rect): Sides {
  return {
    left: Math.max(0, outer.x - inner.x),
    top: Math.max(0, outer.y - inner.y),
    right: Math.max(0, inner.x + inner.width - (outer.x + outer.width)),
    bottom: Math.max(0, inner.y + inner.height - (outer.y + outer.height)),
  };
}

/**
 * The area of `target` that none of `rects` covers, exact for axis-aligned rectangles: a sweep over
 * the x edges, and in each slab the union of the y intervals.
 */
export function uncoveredArea(target: Rect, rects: readonly Rect[]): number {
  const clipped = rects.map((r) => intersect(r, target)).filter((r): r is Rect => r !== null);
  const total = target.width * target.height;
  if (clipped.length === 0) return total;
  const xs = [...new Set([target.x, target.x + target.width, ...clipped.flatMap((r) => [r.x, r.x + r.width])])].sort(
    (a, b) => a - b,
  );
  let covered = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    const x0 = xs[i] as number;
    const x1 = xs[i + 1] as number;
    const spans = clipped
      .filter((r) => r.x <= x0 && r.x + r.width >= x1)
      .map((r) => [r.y, r.y + r.height] as const)
      .sort((a, b) => a[0] - b[0]);
    let length = 0;
    let end = -Infinity;
    for (const [s, e] of spans) {
      if (e <= end) continue;
      length += e - Math.max(s, end);
      end = e;
    }
    covered += length * (x1 - x0);
  }
  return total - covered;
}
