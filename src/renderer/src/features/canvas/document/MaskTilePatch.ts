/**
 * A stroke's undo record: only the parts of the 64-pixel tiles it changed, one copy each.
 *
 * A bounding-box patch of a long diagonal stroke holds the whole box twice (before and after), and
 * building it at pointer-up read and compared all of it. This patch holds, per changed tile, just
 * the area the stroke's dabs covered, and only one copy of it: history is linear, so when the entry
 * is undone the mask holds exactly the stroke's result and when it is redone exactly the state
 * before it. Undo and redo are therefore the same operation, exchanging the held pixels with the
 * mask's (`swap`), and the bytes held never change.
 */
import type { Rect } from './geometry';
import type { MaskRaster } from './MaskRaster';

/** Tile edge in document pixels; tiles are aligned to document coordinates (like mask growth). */
export const PATCH_TILE = 64;

export interface MaskTile {
  /** Inside one tile, in document pixels. */
  readonly rect: Rect;
  /** Row-major over `rect`: the pixels the mask does not hold right now (see the header). */
  readonly pixels: Uint8Array;
}

export class MaskTilePatch {
  /** The bounding box of the tiles' rects. */
  readonly rect: Rect;
  /** Bytes held: the sum of the tiles' pixels, nothing else. */
  readonly bytes: number;

  /** `tiles`: pixels as they were before the stroke; the mask holds the stroke's result. */
  constructor(readonly tiles: readonly MaskTile[]) {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    let bytes = 0;
    for (const { rect: r, pixels } of tiles) {
      x0 = Math.min(x0, r.x);
      y0 = Math.min(y0, r.y);
      x1 = Math.max(x1, r.x + r.width);
      y1 = Math.max(y1, r.y + r.height);
      bytes += pixels.byteLength;
    }
    this.rect = tiles.length ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : { x: 0, y: 0, width: 0, height: 0 };
    this.bytes = bytes;
  }

  /** The changed areas (for views that redraw only those). */
  get rects(): Rect[] {
    return this.tiles.map((t) => t.rect);
  }

  /** Undo when the mask holds the stroke's result, redo when it holds the state before it. */
  swap(mask: MaskRaster): void {
    for (const t of this.tiles) mask.swap(t.rect, t.pixels);
  }
}
