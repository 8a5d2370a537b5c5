import sharp from 'sharp';
import type { ImageCodec } from '../services/generation/ImageCodec';
import { AppError } from '../services/AppError';

/** Refuse images above 64 megapixels (sharp's default is 268 MP): a hostile file must not exhaust memory. */
const PIXEL_LIMIT = 64 * 1024 * 1024;

export const sharpCodec: ImageCodec = {
  async encodePng(image) {
    return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
      raw: { width: image.width, height: image.height, channels: 4 },
    })
      .png({ compressionLevel: 6 })
      .toBuffer();
  },
  async decodeMask(bytes, width, height) {
    try {
      const input = sharp(bytes, { limitInputPixels: PIXEL_LIMIT });
      const meta = await input.metadata();
      const rescaled =
        meta.width !== width || meta.height !== height
          ? `The mask is ${meta.width}x${meta.height}; it was stretched to the image's ${width}x${height}.`
          : null;
      // Flatten onto black: a transparent pixel is "keep", whatever its colour channels hold.
      const { data } = await input
        .flatten({ background: '#000000' })
        .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
        .greyscale()
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { mask: new Uint8Array(data.buffer, data.byteOffset, width * height), rescaled };
    } catch (err) {
      throw new AppError(
        'VALIDATION',
        `mask: not a readable image (${err instanceof Error ? err.message : String(err)}).`,
        {
          issues: [{ field: 'mask', message: 'is not a readable PNG, JPEG or WebP image' }],
        },
      );
    }
  },
  async decodeTo(bytes, width, height) {
    try {
      const { data, info } = await sharp(bytes, { limitInputPixels: PIXEL_LIMIT })
        .rotate()
        .resize(width, height, { fit: 'cover', kernel: 'lanczos3' })
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      return {
        width: info.width,
        height: info.height,
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      };
    } catch (err) {
      throw new AppError(
        'VALIDATION',
        `initImage: not a readable image (${err instanceof Error ? err.message : String(err)}).`,
        {
          issues: [{ field: 'initImage', message: 'is not a readable PNG, JPEG or WebP image' }],
        },
      );
    }
  },
};
