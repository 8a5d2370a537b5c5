/**
 * The mask as one Konva node: a shape whose draw function blits the mask's tinted tiles.
 *
 * Why tiles and not one offscreen canvas the size of the mask: a canvas used as an image source
 * is snapshotted, and writing to it afterwards copies the whole backing store. With a 4096 x 4096
 * mask (64 MB of RGBA) each frame of a stroke cost ~250 ms in Chromium's software canvas; with
 * 256-pixel tiles only the touched tiles are rewritten (256 KB each), and tiles that were never
 * painted are neither allocated nor drawn.
 *
 * The tint is drawn opaque; the layer's canvas gets CSS opacity, so tile edges that overlap under
 * antialiasing do not show as darker seams.
 */
import Konva from 'konva';
import { intersect, union, type Rect } from './document/geometry';
import type { ReadonlyMask } from './document/MaskRaster';

export const MASK_TILE = 256;
/** Mask tint, straight RGB. */
export const MASK_TINT = [255, 72, 110] as const;

/** Mask value -> tinted RGBA as one little-endian uint32 (RGBA in memory order). */
const TINT_LUT = (() => {
  const lut = new Uint32Array(256);
  const [r, g, b] = MASK_TINT;
  for (let v = 1; v < 256; v++) lut[v] = ((v << 24) | (b << 16) | (g << 8) | r) >>> 0;
  return lut;
})();

interface Tile {
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  rect: Rect;
}

export class MaskOverlay {
  readonly node: Konva.Shape;
  private tiles: (Tile | null)[] = [];
  private cols = 0;
  private rows = 0;
  private origin: Rect = { x: 0, y: 0, width: 0, height: 0 };
  private generation = -1;
  /**
   * What to re-tint at the next `sync`: per tile, the union of the changes inside it (not one
   * union over all of them: a stroke's undo, or a spiral, would re-tint everything in between).
   */
  private pending: Map<number, Rect> | 'all' = 'all';
  /** The document area on screen; tiles outside it are skipped when drawing. */
  visible: Rect | null = null;

  constructor() {
    this.node = new Konva.Shape({
      listening: false,
      perfectDrawEnabled: false,
      sceneFunc: (ctx) => {
        for (const tile of this.tiles) {
          if (!tile || (this.visible && !intersect(tile.rect, this.visible))) continue;
          ctx.drawImage(tile.canvas, tile.rect.x, tile.rect.y);
        }
      },
    });
  }

  /** Marks `dirty` (or everything) to be re-tinted at the next `sync`. Cheap: no pixels are read. */
  invalidate(mask: ReadonlyMask, dirty: Rect | 'all'): void {
    if (this.pending === 'all') return;
    if (dirty === 'all' || mask.generation !== this.generation) {
      this.pending = 'all';
      return;
    }
    const area = intersect(dirty, this.origin);
    if (!area) return;
    const o = this.origin;
    const c0 = Math.floor((area.x - o.x) / MASK_TILE);
    const c1 = Math.floor((area.x + area.width - 1 - o.x) / MASK_TILE);
    const r0 = Math.floor((area.y - o.y) / MASK_TILE);
    const r1 = Math.floor((area.y + area.height - 1 - o.y) / MASK_TILE);
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const index = row * this.cols + col;
        this.pending.set(index, union(this.pending.get(index) ?? null, area) as Rect);
      }
    }
  }

  /** Re-tints what was invalidated (everything after the raster was reallocated). */
  sync(mask: ReadonlyMask): void {
    const r = mask.rect;
    if (this.generation !== mask.generation) {
      this.generation = mask.generation;
      this.origin = { ...r };
      this.cols = Math.ceil(r.width / MASK_TILE);
      this.rows = Math.ceil(r.height / MASK_TILE);
      this.tiles = new Array<Tile | null>(this.cols * this.rows).fill(null);
      this.pending = 'all';
    }
    const pending = this.pending;
    this.pending = new Map();
    if (pending !== 'all') {
      // Each region is clipped to its tile in syncTile.
      for (const [index, area] of pending)
        this.syncTile(mask, area, index, index % this.cols, Math.floor(index / this.cols));
      return;
    }
    for (let row = 0; row < this.rows; row++) {
      for (let col = 0; col < this.cols; col++) this.syncTile(mask, r, row * this.cols + col, col, row);
    }
  }

  /** Tiles holding any mask (allocated), for tests and stats. */
  get liveTiles(): number {
    return this.tiles.filter(Boolean).length;
  }

  private syncTile(mask: ReadonlyMask, area: Rect, index: number, col: number, row: number): void {
    const o = this.origin;
    const tileRect: Rect = {
      x: o.x + col * MASK_TILE,
      y: o.y + row * MASK_TILE,
      width: Math.min(MASK_TILE, o.width - col * MASK_TILE),
      height: Math.min(MASK_TILE, o.height - row * MASK_TILE),
    };
    const region = intersect(tileRect, area);
    if (!region) return;
    const src = mask.data;
    const stride = mask.rect.width;
    const at = (x: number, y: number): number => (y - mask.rect.y) * stride + (x - mask.rect.x);
    let tile = this.tiles[index] ?? null;
    if (!tile) {
      // A tile never painted is all zero: allocate it only when the region brings some mask.
      let any = false;
      for (let y = region.y; y < region.y + region.height && !any; y++) {
        const s = at(region.x, y);
        for (let i = s; i < s + region.width; i++) {
          if (src[i] !== 0) {
            any = true;
            break;
          }
        }
      }
      if (!any) return;
      const canvas = document.createElement('canvas');
      canvas.width = tileRect.width;
      canvas.height = tileRect.height;
      const ctx = canvas.getContext('2d');
      if (!ctx) return;
      tile = { canvas, ctx, rect: tileRect };
      this.tiles[index] = tile;
    }
    const image = tile.ctx.createImageData(region.width, region.height);
    const out = new Uint32Array(image.data.buffer);
    for (let y = 0; y < region.height; y++) {
      const s = at(region.x, region.y + y);
      const d = y * region.width;
      for (let i = 0; i < region.width; i++) out[d + i] = TINT_LUT[src[s + i] as number] as number;
    }
    tile.ctx.putImageData(image, region.x - tileRect.x, region.y - tileRect.y);
  }
}
