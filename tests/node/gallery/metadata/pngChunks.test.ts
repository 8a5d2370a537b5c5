import { once } from 'node:events';
import { createDeflate, deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AppError } from '@main/services/AppError';
import {
  crc32,
  PNG_SIGNATURE,
  readPngChunks,
  readPngText,
  withTextChunks,
} from '@main/services/gallery/metadata/pngChunks';
import { chunk, tinyPng } from './tinyPng';

/** A zlib stream of `megabytes` MB of zeros, deflated 1 MB at a time so the test never holds them all. */
async function deflateZeros(megabytes: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < megabytes; i++) {
    if (!deflate.write(zeros)) await once(deflate, 'drain');
  }
  deflate.end();
  await once(deflate, 'end');
  return Buffer.concat(parts);
}

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('VALIDATION');
    return err as AppError;
  }
  throw new Error('expected a VALIDATION AppError');
}

describe('crc32', () => {
  it('matches the standard check value and the IEND chunk CRC', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
  });
});

describe('withTextChunks and readPngText', () => {
  it('writes tEXt, compressed iTXt and uncompressed iTXt before the first IDAT and reads them back', () => {
    const png = withTextChunks(tinyPng(), [
      { keyword: 'parameters', text: 'a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7', kind: 'tEXt' },
      { keyword: 'sumi', text: JSON.stringify({ prompt: '猫と桜 🌸' }), kind: 'iTXt', compressed: true },
      { keyword: 'Comment', text: 'plain ünïcode', kind: 'iTXt' },
    ]);
    const types = readPngChunks(png).map((c) => c.type);
    expect(types).toEqual(['IHDR', 'tEXt', 'iTXt', 'iTXt', 'IDAT', 'IEND']);
    const texts = readPngText(png);
    expect(texts.map((t) => [t.kind, t.keyword, t.compressed])).toEqual([
      ['tEXt', 'parameters', false],
      ['iTXt', 'sumi', true],
      ['iTXt', 'Comment', false],
    ]);
    expect(texts[1]?.text).toBe(JSON.stringify({ prompt: '猫と桜 🌸' }));
    expect(texts[2]?.text).toBe('plain ünïcode');
  });

  it('keeps the image data byte for byte', () => {
    const original = tinyPng(5, 5);
    const png = withTextChunks(original, [{ keyword: 'parameters', text: 'x', kind: 'tEXt' }]);
    const idat = (b: Buffer) => readPngChunks(b).find((c) => c.type === 'IDAT')?.data;
    expect(inflateSync(idat(png)!)).toEqual(inflateSync(idat(original)!));
  });

  it('replaces an existing chunk with the same keyword, whatever its kind', () => {
    const zTxt = chunk('zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), deflateSync('old')]));
    const once = tinyPng(2, 2, [zTxt, chunk('tEXt', Buffer.from('Software\0other tool', 'latin1'))]);
    expect(readPngText(once).map((t) => [t.kind, t.text])).toEqual([
      ['zTXt', 'old'],
      ['tEXt', 'other tool'],
    ]);
    const twice = withTextChunks(once, [{ keyword: 'parameters', text: 'new', kind: 'tEXt' }]);
    expect(readPngText(twice).map((t) => [t.keyword, t.text])).toEqual([
      ['Software', 'other tool'],
      ['parameters', 'new'],
    ]);
  });

  it('writes text outside Latin-1 asked for as tEXt as iTXt, so nothing is lost', () => {
    const png = withTextChunks(tinyPng(), [{ keyword: 'parameters', text: 'ねこ', kind: 'tEXt' }]);
    expect(readPngText(png)[0]).toMatchObject({ kind: 'iTXt', text: 'ねこ' });
  });

  it('refuses an invalid keyword', () => {
    const err = refusal(() => withTextChunks(tinyPng(), [{ keyword: ' bad', text: 'x', kind: 'tEXt' }]));
    expect(err.message).toMatch(/keyword/);
  });
});

describe('hostile PNGs are refused with a clear VALIDATION error', () => {
  it('a JPEG renamed .png', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);
    expect(refusal(() => readPngText(jpeg)).message).toMatch(/not a PNG.*JPEG/);
  });

  it('a truncated file', () => {
    const png = tinyPng(8, 8);
    expect(refusal(() => readPngText(png.subarray(0, png.length - 20))).message).toMatch(/truncated/);
    expect(refusal(() => readPngText(png.subarray(0, 20))).message).toMatch(/truncated/);
  });

  it('a bad CRC', () => {
    const png = tinyPng(2, 2, [chunk('tEXt', Buffer.from('a\0b', 'latin1'), 0xdeadbeef)]);
    expect(refusal(() => readPngText(png)).message).toMatch(/tEXt.*bad CRC/);
  });

  it('an oversized chunk length field, without allocating it', () => {
    const huge = Buffer.alloc(12);
    huge.writeUInt32BE(0xfffffff0, 0);
    huge.write('tEXt', 4, 'latin1');
    const png = Buffer.concat([tinyPng().subarray(0, 33), huge]);
    const before = process.memoryUsage().arrayBuffers;
    expect(refusal(() => readPngText(png)).message).toMatch(/over the PNG limit/);
    const big = Buffer.alloc(12);
    big.writeUInt32BE(500_000_000, 0);
    big.write('zTXt', 4, 'latin1');
    expect(refusal(() => readPngText(Buffer.concat([tinyPng().subarray(0, 33), big]))).message).toMatch(
      /declares 500000000 bytes but only 0 remain/,
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('a zTXt bomb that inflates to 500 MB, stopped at the 1 MB cap while inflating', async () => {
    const bomb = await deflateZeros(500);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const png = tinyPng(2, 2, [chunk('zTXt', Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), bomb]))]);
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    expect(refusal(() => readPngText(png)).message).toMatch(/"parameters" inflates past the 1048576-byte limit/);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
  });

  it('an iTXt bomb too', () => {
    const bomb = deflateSync(Buffer.alloc(8 * 1024 * 1024, 0x41));
    const data = Buffer.concat([Buffer.from('sumi\0', 'latin1'), Buffer.from([1, 0, 0, 0]), bomb]);
    expect(refusal(() => readPngText(tinyPng(2, 2, [chunk('iTXt', data)]))).message).toMatch(/inflates past/);
  });

  it('a text chunk over the per-chunk cap before decoding, and text over the total cap', () => {
    const big = chunk('tEXt', Buffer.concat([Buffer.from('parameters\0'), Buffer.alloc(1024 * 1024, 0x61)]));
    expect(refusal(() => readPngText(tinyPng(2, 2, [big]))).message).toMatch(/over the 1048576-byte limit/);
    const three = [1, 2, 3].map((i) => chunk('tEXt', Buffer.from(`k${i}\0${'x'.repeat(400)}`, 'latin1')));
    const limits = { maxChunkTextBytes: 1000, maxTotalTextBytes: 1000 };
    expect(refusal(() => readPngText(tinyPng(2, 2, three), limits)).message).toMatch(/more than 1000 bytes in all/);
  });

  it('a file that does not start with IHDR, and an IDAT-less file given to the writer', () => {
    const noIhdr = Buffer.concat([PNG_SIGNATURE, chunk('IEND', Buffer.alloc(0))]);
    expect(refusal(() => readPngChunks(noIhdr)).message).toMatch(/IHDR/);
    const ihdrOnly = Buffer.concat([tinyPng().subarray(0, 33), chunk('IEND', Buffer.alloc(0))]);
    expect(refusal(() => withTextChunks(ihdrOnly, [])).message).toMatch(/no IDAT/);
  });
});
