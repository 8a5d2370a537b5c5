import type { RgbaImage } from '../../engine/tensor/image';

/** Image encoding and decoding, provided by the platform (sharp in both hosts). */
export interface ImageCodec {
  encodePng(image: RgbaImage): Promise<Buffer>;
  /** Decodes PNG/JPEG/WebP bytes and resizes (cover, centred) to exactly width x height. */
  decodeTo(bytes: Buffer, width: number, height: number): Promise<RgbaImage>;
  /**
   * Decodes a mask (white = repaint) to one byte per pixel at width x height. Transparent pixels
   * count as black, so a canvas-drawn RGBA mask and a greyscale PNG mean the same. A mask of another
   * size is stretched to fit (and the caller says so); `rescaled` reports it.
   */
  decodeMask(bytes: Buffer, width: number, height: number): Promise<{ mask: Uint8Array; rescaled: string | null }>;
}
