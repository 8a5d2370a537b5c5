import { describe, expect, it } from 'vitest';
import { matchColours } from '../../../src/main/services/generation/colourMatch';

function solid(
  w: number,
  h: number,
  rgb: [number, number, number],
): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([...rgb, 255], p * 4);
  return { width: w, height: h, data };
}

describe('matchColours', () => {
  it('moves the repainted area towards its surroundings and leaves kept pixels alone', () => {
    const original = solid(64, 64, [200, 100, 50]);
    const result = solid(64, 64, [200, 100, 50]);
    const mask = { width: 64, height: 64, data: new Uint8Array(64 * 64) };
    for (let y = 20; y < 40; y++)
      for (let x = 20; x < 40; x++) {
        mask.data[y * 64 + x] = 255;
        result.data.set([90, 160, 120, 255], (y * 64 + x) * 4);
      }
    const matched = matchColours(result, original, mask, null);
    expect([...matched.data.subarray((30 * 64 + 30) * 4, (30 * 64 + 30) * 4 + 3)]).toEqual([200, 100, 50]);
    for (let p = 0; p < 64 * 64; p++) {
      if (mask.data[p] === 0)
        expect(matched.data.subarray(p * 4, p * 4 + 4)).toEqual(result.data.subarray(p * 4, p * 4 + 4));
    }
  });

  it('outpaint: only the new area changes, towards the original edge band', () => {
    const original = solid(32, 32, [10, 20, 30]);
    const result = solid(64, 32, [250, 250, 250]);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) result.data.set([10, 20, 30, 255], (y * 64 + x) * 4);
    const matched = matchColours(result, original, undefined, { left: 0, top: 0, right: 32, bottom: 0 });
    expect([...matched.data.subarray((5 * 64 + 50) * 4, (5 * 64 + 50) * 4 + 3)]).toEqual([10, 20, 30]);
    expect([...matched.data.subarray((5 * 64 + 5) * 4, (5 * 64 + 5) * 4 + 3)]).toEqual([10, 20, 30]);
  });
});
