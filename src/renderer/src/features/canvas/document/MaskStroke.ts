/**
 * Brush and eraser strokes, rasterised into the mask by stamping round dabs along the path.
 *
 * Deterministic by construction: a dab's value at a pixel depends only on the distance from the
 * pixel centre to the dab centre, dabs are placed at a fixed spacing along the polyline (the spacing
 * carries over from one segment to the next), and dabs combine with max (brush) or min (eraser),
 * so overlapping dabs in one stroke never build up and the order of dabs does not matter.
 */
import { intersect, union, type Point, type Rect } from './geometry';
import type { MaskRaster } from './MaskRaster';

export type StrokeMode = 'brush' | 'eraser';

export interface StrokeOptions {
  mode: StrokeMode;
  /** Diameter in document pixels, at least 1. */
  size: number;
  /** 0 = soft all the way from the centre, 1 = hard edge (one pixel of antialiasing). */
  hardness: number;
}

/** A recorded mask edit: the pixels of `rect` before and after (one value when all the same). */
export interface MaskPatch {
  rect: Rect;
  before: Uint8Array;
  after: Uint8Array | number;
}

const TILE = 64;

/** Dab opacity 0..1 at distance `d` from its centre. */
export function dabCoverage(d: number, radius: number, hardness: number): number {
  const edge = Math.min(1, Math.max(0, radius + 0.5 - d));
  if (edge <= 0) return 0;
  const inner = radius * Math.min(1, Math.max(0, hardness));
  if (d <= inner || radius <= inner) return edge;
  const t = (d - inner) / (radius - inner);
  const soft = t >= 1 ? 0 : 1 - t * t * (3 - 2 * t);
  return Math.min(edge, soft);
}

/** Distance between dabs: a tenth of the diameter keeps a hard edge within a fraction of a pixel. */
export function dabSpacing(size: number): number {
  return Math.max(1, size * 0.1);
}

/**
 * Stamps one dab into `mask`, clipped to the raster. `beforeWrite` sees the rectangle about to be
 * changed first (for undo backups). Returns the touched rectangle.
 */
export function stampDab(
  mask: MaskRaster,
  cx: number,
  cy: number,
  options: StrokeOptions,
  beforeWrite?: (r: Rect) => void,
): Rect | null {
  const radius = Math.max(0.5, options.size / 2);
  const reach = radius + 0.5;
  const box = intersect(
    {
      x: Math.floor(cx - reach),
      y: Math.floor(cy - reach),
      width: Math.ceil(cx + reach) - Math.floor(cx - reach),
      height: Math.ceil(cy + reach) - Math.floor(cy - reach),
    },
    mask.rect,
  );
  if (!box) return null;
  beforeWrite?.(box);
  const { data, rect } = mask;
  const erase = options.mode === 'eraser';
  const reach2 = reach * reach;
  for (let y = box.y; y < box.y + box.height; y++) {
    const dy = y + 0.5 - cy;
    const rowStart = (y - rect.y) * rect.width - rect.x;
    for (let x = box.x; x < box.x + box.width; x++) {
      const dx = x + 0.5 - cx;
      const d2 = dx * dx + dy * dy;
      if (d2 >= reach2) continue;
      const v = Math.round(dabCoverage(Math.sqrt(d2), radius, options.hardness) * 255);
      if (v === 0) continue;
      const i = rowStart + x;
      const cur = data[i] as number;
      if (erase) {
        const keep = 255 - v;
        if (cur > keep) data[i] = keep;
      } else if (v > cur) {
        data[i] = v;
      }
    }
  }
  return box;
}

/**
 * One stroke in progress. It writes into the mask as the pointer moves (so the view can show it at
 * once) and keeps a copy of each 64-pixel tile before its first change, so `finish` can hand back a
 * bounding-box patch without having copied the whole mask at the start.
 */
export class MaskStroke {
  private readonly backups = new Map<number, Uint8Array>();
  private readonly tilesX: number;
  private last: Point | null = null;
  /** Distance along the path still to go before the next dab. */
  private carry = 0;
  dirty: Rect | null = null;

  constructor(
    private readonly mask: MaskRaster,
    readonly options: StrokeOptions,
  ) {
    this.tilesX = Math.ceil(mask.rect.width / TILE);
  }

  /** Starts at `p` with one dab. Returns the rectangle changed. */
  moveTo(p: Point): Rect | null {
    this.last = { ...p };
    this.carry = dabSpacing(this.options.size);
    return this.dab(p.x, p.y);
  }

  /** Continues to `p`. Returns the rectangle changed (null if nothing was stamped). */
  lineTo(p: Point): Rect | null {
    if (!this.last) return this.moveTo(p);
    const from = this.last;
    const dx = p.x - from.x;
    const dy = p.y - from.y;
    const length = Math.hypot(dx, dy);
    const spacing = dabSpacing(this.options.size);
    let changed: Rect | null = null;
    let at = spacing - this.carry;
    while (at <= length) {
      const t = at / length;
      changed = union(changed, this.dab(from.x + dx * t, from.y + dy * t));
      at += spacing;
    }
    this.carry = length - (at - spacing);
    this.last = { ...p };
    return changed;
  }

  /** The patch for undo (null when the stroke changed nothing). The mask keeps the stroke. */
  finish(): (MaskPatch & { after: Uint8Array }) | null {
    const rect = this.dirty;
    if (!rect) return null;
    const after = this.mask.read(rect);
    const before = after.slice();
    this.restoreInto(before, rect);
    this.backups.clear();
    return before.every((v, i) => v === after[i]) ? null : { rect, before, after };
  }

  /** Puts the mask back as it was before the stroke. */
  cancel(): Rect | null {
    const rect = this.dirty;
    if (!rect) return null;
    const pixels = this.mask.read(rect);
    this.restoreInto(pixels, rect);
    this.mask.write(rect, pixels);
    this.backups.clear();
    this.dirty = null;
    return rect;
  }

  private dab(x: number, y: number): Rect | null {
    const changed = stampDab(this.mask, x, y, this.options, (r) => this.backup(r));
    if (changed) this.dirty = union(this.dirty, changed);
    return changed;
  }

  private backup(r: Rect): void {
    const m = this.mask.rect;
    const tx0 = Math.floor((r.x - m.x) / TILE);
    const ty0 = Math.floor((r.y - m.y) / TILE);
    const tx1 = Math.floor((r.x + r.width - 1 - m.x) / TILE);
    const ty1 = Math.floor((r.y + r.height - 1 - m.y) / TILE);
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const key = ty * this.tilesX + tx;
        if (!this.backups.has(key)) this.backups.set(key, this.mask.read(this.tileRect(tx, ty)));
      }
    }
  }

  private tileRect(tx: number, ty: number): Rect {
    const m = this.mask.rect;
    return { x: m.x + tx * TILE, y: m.y + ty * TILE, width: TILE, height: TILE };
  }

  /** Overwrites `pixels` (row-major over `rect`) with the backed-up tiles where they meet it. */
  private restoreInto(pixels: Uint8Array, rect: Rect): void {
    for (const [key, tile] of this.backups) {
      const tr = this.tileRect(key % this.tilesX, Math.floor(key / this.tilesX));
      const hit = intersect(tr, rect);
      if (!hit) continue;
      for (let row = 0; row < hit.height; row++) {
        const src = (hit.y - tr.y + row) * TILE + (hit.x - tr.x);
        pixels.set(tile.subarray(src, src + hit.width), (hit.y - rect.y + row) * rect.width + (hit.x - rect.x));
      }
    }
  }
}
