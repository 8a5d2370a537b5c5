/**
 * Polygon fill by scanline, for the lasso: a pixel is inside when its centre is, by the non-zero
 * winding rule (a loop drawn twice, or a figure eight, still fills what it encloses).
 */
import { intersect, type Point, type Rect } from './geometry';

/**
 * Calls `span(y, x0, x1)` for each run of inside pixels [x0, x1) on row y, clipped to `clip`.
 * Returns the bounding rectangle of the spans, or null when nothing is inside.
 */
export function scanPolygon(
  points: readonly Point[],
  clip: Rect,
  span: (y: number, x0: number, x1: number) => void,
): Rect | null {
  if (points.length < 3) return null;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of points) {
    minY = Math.min(minY, p.y);
    maxY = Math.max(maxY, p.y);
  }
  const rows = intersect(
    { x: clip.x, y: Math.floor(minY), width: clip.width, height: Math.ceil(maxY) - Math.floor(minY) + 1 },
    clip,
  );
  if (!rows) return null;
  const crossings: { x: number; dir: number }[] = [];
  let bx0 = Infinity;
  let bx1 = -Infinity;
  let by0 = Infinity;
  let by1 = -Infinity;
  for (let y = rows.y; y < rows.y + rows.height; y++) {
    const yc = y + 0.5;
    crossings.length = 0;
    for (let i = 0; i < points.length; i++) {
      const a = points[i] as Point;
      const b = points[(i + 1) % points.length] as Point;
      if (a.y <= yc && b.y > yc) crossings.push({ x: a.x + ((yc - a.y) * (b.x - a.x)) / (b.y - a.y), dir: 1 });
      else if (b.y <= yc && a.y > yc) crossings.push({ x: a.x + ((yc - a.y) * (b.x - a.x)) / (b.y - a.y), dir: -1 });
    }
    if (crossings.length < 2) continue;
    crossings.sort((p, q) => p.x - q.x);
    let winding = 0;
    for (let i = 0; i < crossings.length - 1; i++) {
      const c = crossings[i] as { x: number; dir: number };
      winding += c.dir;
      if (winding === 0) continue;
      const next = crossings[i + 1] as { x: number; dir: number };
      // Pixels whose centre x + 0.5 lies in [c.x, next.x).
      const x0 = Math.max(clip.x, Math.ceil(c.x - 0.5));
      const x1 = Math.min(clip.x + clip.width, Math.ceil(next.x - 0.5));
      if (x1 <= x0) continue;
      span(y, x0, x1);
      bx0 = Math.min(bx0, x0);
      bx1 = Math.max(bx1, x1);
      by0 = Math.min(by0, y);
      by1 = Math.max(by1, y + 1);
    }
  }
  return bx0 === Infinity ? null : { x: bx0, y: by0, width: bx1 - bx0, height: by1 - by0 };
}
