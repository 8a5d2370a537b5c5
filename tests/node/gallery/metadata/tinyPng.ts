import { deflateSync } from 'node:zlib';
import { crc32, PNG_SIGNATURE } from '@main/services/gallery/metadata/pngChunks';

/** One PNG chunk with a correct CRC (or the given one, to make a broken file). */
export function chunk(type: string, data: Buffer, crc?: number): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc ?? crc32(out.subarray(4, 8), data), 8 + data.length);
  return out;
}

/** A real w x h 8-bit RGB PNG (a gradient), built from the spec: IHDR, one IDAT, IEND. */
export function tinyPng(width = 4, height = 3, extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < width; x++) rows.push((x * 60) & 255, (y * 80) & 255, 128);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
