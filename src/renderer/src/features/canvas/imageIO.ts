/** Between browser images and the document's RGBA buffers: decode, encode as PNG, download. */
import type { RgbaImage } from './document/composite';

let supported: boolean | undefined;

/** Whether this environment can draw to a 2D canvas (jsdom without the canvas package cannot). */
export function canvasSupported(): boolean {
  if (supported === undefined) {
    try {
      supported =
        typeof HTMLCanvasElement !== 'undefined' &&
        HTMLCanvasElement.prototype.getContext.call(document.createElement('canvas'), '2d') !== null;
    } catch {
      supported = false;
    }
  }
  return supported;
}

export function isImageFile(file: File | null | undefined): boolean {
  return Boolean(file && file.type.startsWith('image/'));
}

/** A 2D canvas holding `image`'s pixels. */
export function canvasFromRgba(image: RgbaImage): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot draw to a canvas.');
  ctx.putImageData(new ImageData(image.data as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), 0, 0);
  return canvas;
}

/** Decodes an image file (PNG, JPEG, WebP...) to straight RGBA. */
export async function decodeImageFile(file: Blob): Promise<RgbaImage> {
  const bitmap = await createImageBitmap(file, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  try {
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('This browser cannot draw to a canvas.');
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    return { width: data.width, height: data.height, data: data.data };
  } finally {
    bitmap.close();
  }
}

export function encodePng(image: RgbaImage): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvasFromRgba(image).toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed.'))), 'image/png'),
  );
}

export function downloadBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
