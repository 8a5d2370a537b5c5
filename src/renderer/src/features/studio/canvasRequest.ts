/**
 * From the canvas to a GenerateRequest: which mode the box asks for, the init image and mask under
 * it, and where the result goes back. Outpainting sends the part of the box that covers the image
 * (rounded inwards to multiples of 8, as the engine needs) and the pixels added on each side, so the
 * result is exactly the box.
 */
import type { GenerateRequestInput } from '@contract';
import type { GenerationInputs } from '../canvas/document/CanvasDocument';
import type { Rect, Sides } from '../canvas/document/geometry';

export type CanvasFields = Pick<GenerateRequestInput, 'mode' | 'width' | 'height' | 'initImage' | 'mask' | 'outpaint'>;

/** What the panel sends for the box, and where the result is placed when accepted. */
export interface CanvasPlan {
  mode: GenerationInputs['mode'];
  /** Pixels the request reads from the canvas (the init image's rectangle), or null for txt2img. */
  source: Rect | null;
  /** outpaint: pixels added per side of `source`. */
  extents: Sides | null;
  /** Where the result lands: always the box. */
  placeAt: Rect;
  width: number;
  height: number;
}

/**
 * The plan for `inputs` over images spanning `bounds`. Throws an Error in words when the box cannot
 * be generated (an outpaint box that covers less than 64 px of the image).
 */
export function planCanvasRequest(inputs: Pick<GenerationInputs, 'mode' | 'box'>, bounds: Rect | null): CanvasPlan {
  const box = inputs.box;
  const whole = { mode: inputs.mode, source: box, extents: null, placeAt: box, width: box.width, height: box.height };
  if (inputs.mode === 'txt2img') return { ...whole, source: null };
  if (inputs.mode !== 'outpaint' || !bounds) return whole;
  // The image part of the box, its edges moved inwards onto the box's 8-px grid.
  const x0 = Math.max(box.x, bounds.x);
  const y0 = Math.max(box.y, bounds.y);
  const x1 = Math.min(box.x + box.width, bounds.x + bounds.width);
  const y1 = Math.min(box.y + box.height, bounds.y + bounds.height);
  const left = Math.ceil((x0 - box.x) / 8) * 8;
  const top = Math.ceil((y0 - box.y) / 8) * 8;
  const right = box.width - Math.floor((x1 - box.x) / 8) * 8;
  const bottom = box.height - Math.floor((y1 - box.y) / 8) * 8;
  const width = box.width - left - right;
  const height = box.height - top - bottom;
  if (width < 64 || height < 64) {
    throw new Error(
      `To outpaint, the box must cover at least 64 × 64 px of the image (it covers ${Math.max(0, width)} × ${Math.max(0, height)}). Move it over the image a little more.`,
    );
  }
  return {
    mode: 'outpaint',
    source: { x: box.x + left, y: box.y + top, width, height },
    extents: { left, top, right, bottom },
    placeAt: box,
    width,
    height,
  };
}

/** Base64 of a Blob's bytes (the contract carries images as base64). */
export async function blobToBase64(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
