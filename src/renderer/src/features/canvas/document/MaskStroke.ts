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
import { MaskTilePatch, PATCH_TILE, type MaskTile } from './MaskTilePatch';

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

/** A tile the stroke changed: its pixels before the stroke and the part of it the dabs covered. */
interface TileBackup {
  rect: Rect;
  before: Uint8Array;
  dirty: Rect;
}

/** Tile coordinates (in document space, so a raster that grows keeps the grid) as one map key. */
const KEY_OFFSET = 2 ** 20;
const tileKey = (tx: number, ty: number): number => (ty + KEY_OFFSET) * 2 * KEY_OFFSET + (tx + KEY_OFFSET);

/**
 * One stroke in progress. It writes into the mask as the pointer moves (so the view can show it at
 * once) and keeps a copy of each 64-pixel tile before its first change, with the part of the tile
 * the dabs covered, so `finish` hands back a patch of just those parts without having copied the
 * whole mask at the start or reading the stroke's bounding box at the end.
 */
export class MaskStroke {
  /** In the order the tiles were first touched, so the patch is the same for the same stroke. */
  private readonly backups = new Map<number, TileBackup>();
  private last: Point | null = null;
  /** Distance along the path still to go before the next dab. */
  private carry = 0;
  /** Bounding box of everything stamped so far. */
  dirty: Rect | null = null;

  constructor(
    private readonly mask: MaskRaster,
    readonly options: StrokeOptions,
  ) {}

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

  /**
   * The patch for undo (null when the stroke changed nothing): per touched tile, the covered part
   * when it differs from before the stroke. The mask keeps the stroke. Costs the tiles the stroke
   * touched (a comparison that stops at the first difference), not its bounding box.
   */
  finish(): MaskTilePatch | null {
    const tiles: MaskTile[] = [];
    for (const b of this.backups.values()) {
      if (this.unchanged(b)) continue;
      tiles.push({ rect: b.dirty, pixels: crop(b.before, b.rect, b.dirty) });
    }
    this.backups.clear();
    return tiles.length ? new MaskTilePatch(tiles) : null;
  }

  /** Puts the mask back as it was before the stroke. */
  cancel(): Rect | null {
    const rect = this.dirty;
    if (!rect) return null;
    for (const b of this.backups.values()) this.mask.write(b.dirty, crop(b.before, b.rect, b.dirty));
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
    const tx0 = Math.floor(r.x / PATCH_TILE);
    const ty0 = Math.floor(r.y / PATCH_TILE);
    const tx1 = Math.floor((r.x + r.width - 1) / PATCH_TILE);
    const ty1 = Math.floor((r.y + r.height - 1) / PATCH_TILE);
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const key = tileKey(tx, ty);
        const tile = { x: tx * PATCH_TILE, y: ty * PATCH_TILE, width: PATCH_TILE, height: PATCH_TILE };
        const part = intersect(tile, r) as Rect;
        const b = this.backups.get(key);
        if (b) b.dirty = union(b.dirty, part) as Rect;
        else this.backups.set(key, { rect: tile, before: this.mask.read(tile), dirty: part });
      }
    }
  }

  /** Whether the mask over `b.dirty` still equals the backup (stops at the first difference). */
  private unchanged(b: TileBackup): boolean {
    const { data, rect: m } = this.mask;
    const d = b.dirty;
    for (let row = 0; row < d.height; row++) {
      const at = (d.y - m.y + row) * m.width + (d.x - m.x);
      const from = (d.y - b.rect.y + row) * b.rect.width + (d.x - b.rect.x);
      for (let i = 0; i < d.width; i++) if (data[at + i] !== b.before[from + i]) return false;
    }
    return true;
  }
}

/** The part `r` of `pixels` (row-major over `outer`, which contains `r`); `pixels` itself when whole. */
function crop(pixels: Uint8Array, outer: Rect, r: Rect): Uint8Array {
  if (r.width === outer.width && r.height === outer.height) return pixels;
  const out = new Uint8Array(r.width * r.height);
  for (let row = 0; row < r.height; row++) {
    const from = (r.y - outer.y + row) * outer.width + (r.x - outer.x);
    out.set(pixels.subarray(from, from + r.width), row * r.width);
  }
  return out;
}
