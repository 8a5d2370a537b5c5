/** Which kind of generation the box asks for, derived from the document (never stored). */
import { EMPTY_SIDES, intersect, overhang, uncoveredArea, union, type Rect, type Sides } from './geometry';

export type CanvasMode = 'txt2img' | 'img2img' | 'inpaint' | 'outpaint';

export interface ModeInfo {
  mode: CanvasMode;
  box: Rect;
  /** For outpaint: how far the box reaches past the images' bounds on each side; zeros otherwise. */
  extension: Sides;
  /** Box pixels over no image. */
  uncoveredPixels: number;
  /** Box pixels with a mask value above 0. */
  maskedPixels: number;
}

/**
 * - no image under the box: txt2img
 * - any box pixel over no image: outpaint (the empty part is repainted, with the mask if any)
 * - the box fully over images, mask under it: inpaint
 * - the box fully over images, no mask: img2img
 */
export function deriveMode(imageRects: readonly Rect[], box: Rect, maskedPixels: number): ModeInfo {
  const base = { box: { ...box }, maskedPixels };
  const touching = imageRects.filter((r) => intersect(r, box) !== null);
  if (touching.length === 0) {
    return { ...base, mode: 'txt2img', extension: { ...EMPTY_SIDES }, uncoveredPixels: box.width * box.height };
  }
  const uncoveredPixels = uncoveredArea(box, imageRects);
  if (uncoveredPixels > 0) {
    const bounds = imageRects.reduce<Rect | null>((acc, r) => union(acc, r), null) as Rect;
    return { ...base, mode: 'outpaint', extension: overhang(box, bounds), uncoveredPixels };
  }
  return { ...base, mode: maskedPixels > 0 ? 'inpaint' : 'img2img', extension: { ...EMPTY_SIDES }, uncoveredPixels };
}
