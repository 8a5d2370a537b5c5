import { intersect, type Rect } from './geometry';

/** Growth is rounded out to this grid so a box nudged past the edge does not copy the raster each time. */
const GROW_ALIGN = 64;

/** What the view and the generation code may read; edits go through `CanvasDocument`. */
export interface ReadonlyMask {
  /** The area the raster covers, in document pixels. Outside it the mask is 0. */
  readonly rect: Readonly<Rect>;
  /** One byte per pixel, row-major over `rect`: 0 = keep, 255 = repaint. */
  readonly data: Uint8Array;
  /** Bumped when the raster is reallocated (it grew), so views know to rebuild rather than patch. */
  readonly generation: number;
  get(x: number, y: number): number;
  read(r: Rect): Uint8Array;
}

/**
 * The mask: an 8-bit alpha raster in document pixel coordinates. It grows (never shrinks) to cover
 * whatever the document needs; reads outside it return 0, so undo patches recorded before a growth
 * still apply after it.
 */
export class MaskRaster implements ReadonlyMask {
  rect: Rect = { x: 0, y: 0, width: 0, height: 0 };
  data = new Uint8Array(0);
  generation = 0;
  private wordView: Uint32Array | null = null;

  /** Grows to cover `r`. Returns true when it reallocated. */
  ensure(r: Rect): boolean {
    if (r.width <= 0 || r.height <= 0) return false;
    const cur = this.rect;
    if (
      cur.width > 0 &&
      r.x >= cur.x &&
      r.y >= cur.y &&
      r.x + r.width <= cur.x + cur.width &&
      r.y + r.height <= cur.y + cur.height
    ) {
      return false;
    }
    const left = Math.floor(Math.min(r.x, cur.width > 0 ? cur.x : r.x) / GROW_ALIGN) * GROW_ALIGN;
    const top = Math.floor(Math.min(r.y, cur.height > 0 ? cur.y : r.y) / GROW_ALIGN) * GROW_ALIGN;
    const right =
      Math.ceil(Math.max(r.x + r.width, cur.width > 0 ? cur.x + cur.width : -Infinity) / GROW_ALIGN) * GROW_ALIGN;
    const bottom =
      Math.ceil(Math.max(r.y + r.height, cur.height > 0 ? cur.y + cur.height : -Infinity) / GROW_ALIGN) * GROW_ALIGN;
    const next: Rect = { x: left, y: top, width: right - left, height: bottom - top };
    const data = new Uint8Array(next.width * next.height);
    for (let row = 0; row < cur.height; row++) {
      const src = row * cur.width;
      data.set(this.data.subarray(src, src + cur.width), (cur.y - next.y + row) * next.width + (cur.x - next.x));
    }
    this.rect = next;
    this.data = data;
    this.generation++;
    return true;
  }

  get(x: number, y: number): number {
    const r = this.rect;
    const lx = x - r.x;
    const ly = y - r.y;
    if (lx < 0 || ly < 0 || lx >= r.width || ly >= r.height) return 0;
    return this.data[ly * r.width + lx] as number;
  }

  /** A copy of `r` (integer rect), 0 outside the raster. */
  read(r: Rect): Uint8Array {
    const out = new Uint8Array(r.width * r.height);
    const hit = intersect(r, this.rect);
    if (!hit) return out;
    for (let row = 0; row < hit.height; row++) {
      const src = (hit.y - this.rect.y + row) * this.rect.width + (hit.x - this.rect.x);
      out.set(this.data.subarray(src, src + hit.width), (hit.y - r.y + row) * r.width + (hit.x - r.x));
    }
    return out;
  }

  /** Writes `src` (row-major over `r`, or one value for all of it) where `r` meets the raster. */
  write(r: Rect, src: Uint8Array | number): void {
    const hit = intersect(r, this.rect);
    if (!hit) return;
    for (let row = 0; row < hit.height; row++) {
      const dst = (hit.y - this.rect.y + row) * this.rect.width + (hit.x - this.rect.x);
      if (typeof src === 'number') {
        this.data.fill(src, dst, dst + hit.width);
      } else {
        const from = (hit.y - r.y + row) * r.width + (hit.x - r.x);
        this.data.set(src.subarray(from, from + hit.width), dst);
      }
    }
  }

  /**
   * Exchanges the pixels of `r` with `pixels` (row-major over `r`), so calling it twice changes
   * nothing. `r` lies inside the raster for every recorded patch (the raster never shrinks); a part
   * outside it is left as it is in `pixels`.
   */
  swap(r: Rect, pixels: Uint8Array): void {
    const hit = intersect(r, this.rect);
    if (!hit) return;
    const data = this.data;
    for (let row = 0; row < hit.height; row++) {
      const dst = (hit.y - this.rect.y + row) * this.rect.width + (hit.x - this.rect.x);
      const src = (hit.y - r.y + row) * r.width + (hit.x - r.x);
      for (let i = 0; i < hit.width; i++) {
        const v = data[dst + i] as number;
        data[dst + i] = pixels[src + i] as number;
        pixels[src + i] = v;
      }
    }
  }

  /** 255 - v over `r` (its own inverse, so undo needs no pixels). */
  invert(r: Rect): void {
    const hit = intersect(r, this.rect);
    if (!hit) return;
    for (let row = 0; row < hit.height; row++) {
      const start = (hit.y - this.rect.y + row) * this.rect.width + (hit.x - this.rect.x);
      for (let i = start; i < start + hit.width; i++) this.data[i] = 255 - (this.data[i] as number);
    }
  }

  /**
   * Pixels above 0 inside `r` (the whole raster by default). Reads four pixels at a time: after
   * every settled edit the view counts the whole mask (16 M pixels at 4096 x 4096).
   */
  count(r: Rect = this.rect): number {
    const hit = intersect(r, this.rect);
    if (!hit) return 0;
    const data = this.data;
    const words = this.words();
    let n = 0;
    for (let row = 0; row < hit.height; row++) {
      const start = (hit.y - this.rect.y + row) * this.rect.width + (hit.x - this.rect.x);
      const end = start + hit.width;
      const w0 = Math.min(end, (start + 3) & ~3) >> 2;
      const w1 = Math.max(w0, end >> 2);
      for (let i = start; i < w0 * 4; i++) if (data[i] !== 0) n++;
      for (let w = w0; w < w1; w++) {
        let v = words[w] as number;
        if (v === 0) continue;
        // One bit per non-zero byte, then add the four bits up.
        v |= v >>> 4;
        v |= v >>> 2;
        v |= v >>> 1;
        n += Math.imul(v & 0x01010101, 0x01010101) >>> 24;
      }
      for (let i = Math.max(start, w1 * 4); i < end; i++) if (data[i] !== 0) n++;
    }
    return n;
  }

  /** The bounding box of pixels above 0 inside `r`, or null. Skips zero runs four pixels at a time. */
  bounds(r: Rect = this.rect): Rect | null {
    const hit = intersect(r, this.rect);
    if (!hit) return null;
    const data = this.data;
    const words = this.words();
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    const w = this.rect.width;
    for (let row = 0; row < hit.height; row++) {
      const start = (hit.y - this.rect.y + row) * w + (hit.x - this.rect.x);
      const end = start + hit.width;
      // First non-zero byte: bytes up to a word boundary, then whole zero words, then bytes.
      let first = start;
      while (first < end && first & 3 && data[first] === 0) first++;
      if (first < end && !(first & 3)) {
        while (first + 4 <= end && words[first >> 2] === 0) first += 4;
        while (first < end && data[first] === 0) first++;
      }
      if (first === end) continue;
      let last = end - 1;
      while (last > first && (last + 1) & 3 && data[last] === 0) last--;
      if (last > first && !((last + 1) & 3)) {
        while (last - 4 >= first && words[(last - 3) >> 2] === 0) last -= 4;
        while (last > first && data[last] === 0) last--;
      }
      const y = hit.y + row;
      if (y < minY) minY = y;
      maxY = y;
      if (hit.x + first - start < minX) minX = hit.x + first - start;
      if (hit.x + last - start > maxX) maxX = hit.x + last - start;
    }
    return minX === Infinity ? null : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
  }

  /** `data` four bytes at a time (word i is bytes 4i..4i+3; the raster's width is a multiple of 64). */
  private words(): Uint32Array {
    if (this.wordView?.buffer !== this.data.buffer) {
      this.wordView = new Uint32Array(this.data.buffer, this.data.byteOffset, this.data.byteLength >> 2);
    }
    return this.wordView;
  }
}
