import type { RgbaImage } from '../../engine/tensor/image';

/** Image encoding and decoding, provided by the platform (sharp in both hosts). */
export interface ImageCodec {
  encodePng(image: RgbaImage): Promise<Buffer>;
  /** Decodes PNG/JPEG/WebP bytes and resizes (cover, centred) to exactly width x height. */
  decodeTo(bytes: Buffer, width: number, height: number): Promise<RgbaImage>;
}
