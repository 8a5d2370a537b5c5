/** The image layer: placed rasters, composited in order (later on top) with source-over. */
import { intersect, type Rect } from './geometry';

/** Straight (not premultiplied) RGBA, row-major; `ImageData` fits this shape. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export type ImageSource = 'import' | 'result';

export interface PlacedImage {
  /** Unique within the document, for views to key their nodes. */
  readonly id: number;
  readonly x: number;
  readonly y: number;
  readonly image: RgbaImage;
  /** Every alpha is 255 (rows can be copied instead of blended). */
  readonly opaque: boolean;
  readonly source: ImageSource;
  /** The gallery image this came from (accepted results), for lineage. */
  readonly galleryId?: number;
}

export function placedRect(p: PlacedImage): Rect {
  return { x: p.x, y: p.y, width: p.image.width, height: p.image.height };
}

export function isOpaque(image: RgbaImage): boolean {
  const d = image.data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return false;
  return true;
}

export function blankImage(width: number, height: number): RgbaImage {
  return { width, height, data: new Uint8ClampedArray(width * height * 4) };
}

/** The image layer over `rect` (integer): transparent where no image is. */
export function compositeImages(images: readonly PlacedImage[], rect: Rect): RgbaImage {
  const out = blankImage(rect.width, rect.height);
  const dst = out.data;
  for (const placed of images) {
    const hit = intersect(placedRect(placed), rect);
    if (!hit) continue;
    const src = placed.image.data;
    const sw = placed.image.width;
    for (let row = 0; row < hit.height; row++) {
      const s = ((hit.y - placed.y + row) * sw + (hit.x - placed.x)) * 4;
      const d = ((hit.y - rect.y + row) * rect.width + (hit.x - rect.x)) * 4;
      if (placed.opaque) {
        dst.set(src.subarray(s, s + hit.width * 4), d);
        continue;
      }
      for (let i = 0; i < hit.width * 4; i += 4) {
        const sa = (src[s + i + 3] as number) / 255;
        if (sa === 0) continue;
        const da = (dst[d + i + 3] as number) / 255;
        const oa = sa + da * (1 - sa);
        for (let c = 0; c < 3; c++) {
          dst[d + i + c] = ((src[s + i + c] as number) * sa + (dst[d + i + c] as number) * da * (1 - sa)) / oa;
        }
        dst[d + i + 3] = oa * 255;
      }
    }
  }
  return out;
}
