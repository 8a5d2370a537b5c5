import { describe, expect, test } from 'vitest';
import { CanvasDocument, type CanvasChange } from '../../../src/renderer/src/features/canvas/document/CanvasDocument';
import { compositeImages, type RgbaImage } from '../../../src/renderer/src/features/canvas/document/composite';
import { uncoveredArea, type Rect } from '../../../src/renderer/src/features/canvas/document/geometry';
import { History } from '../../../src/renderer/src/features/canvas/document/History';
import { MaskRaster } from '../../../src/renderer/src/features/canvas/document/MaskRaster';
import { dabCoverage, MaskStroke, stampDab } from '../../../src/renderer/src/features/canvas/document/MaskStroke';
import { scanPolygon } from '../../../src/renderer/src/features/canvas/document/polygonFill';
import { toDocument, toScreen } from '../../../src/renderer/src/features/canvas/document/viewTransform';

function solid(width: number, height: number, rgba: [number, number, number, number]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(rgba, i);
  return { width, height, data };
}

function rasterOf(width: number, height: number): MaskRaster {
  const m = new MaskRaster();
  m.ensure({ x: 0, y: 0, width, height });
  return m;
}

const hard = { mode: 'brush' as const, size: 10, hardness: 1 };

describe('stamping', () => {
  test('a hard dab is full inside its radius and empty outside, symmetric about its centre', () => {
    const m = rasterOf(64, 64);
    stampDab(m, 32, 32, hard);
    expect(m.get(32, 32)).toBe(255);
    expect(m.get(28, 32)).toBe(255);
    expect(m.get(38, 32)).toBe(0);
    expect(m.get(32, 20)).toBe(0);
    for (let d = 0; d < 7; d++) {
      expect(m.get(32 + d, 32)).toBe(m.get(31 - d, 32));
      expect(m.get(32, 32 + d)).toBe(m.get(32, 31 - d));
    }
    // Area close to pi r^2.
    expect(Math.abs(m.count() - Math.PI * 25)).toBeLessThan(12);
  });

  test('a soft dab falls off from the centre; hardness 1 keeps only a one-pixel edge', () => {
    expect(dabCoverage(0, 20, 0)).toBe(1);
    expect(dabCoverage(10, 20, 0)).toBeCloseTo(0.5, 1);
    expect(dabCoverage(19, 20, 0)).toBeLessThan(0.05);
    expect(dabCoverage(19, 20, 1)).toBe(1);
    expect(dabCoverage(20, 20, 1)).toBe(0.5);
    expect(dabCoverage(21, 20, 1)).toBe(0);
    const m = rasterOf(64, 64);
    stampDab(m, 32, 32, { mode: 'brush', size: 40, hardness: 0 });
    const values = [m.get(32, 32), m.get(40, 32), m.get(46, 32), m.get(50, 32)];
    expect(values[0]).toBeGreaterThanOrEqual(250);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    expect(values[2]).toBeGreaterThan(0);
    expect(values[2]).toBeLessThan(255);
  });

  test('a stroke is deterministic however a straight line is split into pointer events', () => {
    const a = rasterOf(200, 100);
    const s1 = new MaskStroke(a, hard);
    s1.moveTo({ x: 10, y: 50 });
    s1.lineTo({ x: 190, y: 50 });
    const b = rasterOf(200, 100);
    const s2 = new MaskStroke(b, hard);
    s2.moveTo({ x: 10, y: 50 });
    for (let x = 13; x < 190; x += 7) s2.lineTo({ x, y: 50 });
    s2.lineTo({ x: 190, y: 50 });
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
  });

  test('overlapping dabs in one stroke do not build up past the dab value', () => {
    const m = rasterOf(100, 100);
    const s = new MaskStroke(m, { mode: 'brush', size: 30, hardness: 0 });
    s.moveTo({ x: 50, y: 50 });
    s.lineTo({ x: 50.5, y: 50 });
    s.lineTo({ x: 50, y: 50 });
    const single = rasterOf(100, 100);
    stampDab(single, 50, 50, { mode: 'brush', size: 30, hardness: 0 });
    expect(m.get(50, 62)).toBeLessThanOrEqual(single.get(50, 62) + 10);
  });

  test('the stroke patch covers only the stroke bounding box and restores exactly', () => {
    const m = rasterOf(512, 512);
    m.write({ x: 0, y: 0, width: 512, height: 512 }, 7);
    const s = new MaskStroke(m, hard);
    s.moveTo({ x: 100, y: 100 });
    s.lineTo({ x: 300, y: 120 });
    const patch = s.finish();
    expect(patch).not.toBeNull();
    expect(patch!.rect.width).toBeLessThan(220);
    expect(patch!.rect.height).toBeLessThan(40);
    expect(patch!.tiles.every((t) => t.pixels.every((v) => v === 7))).toBe(true);
  });
});

describe('polygon fill', () => {
  test('an axis-aligned square fills exactly the pixels whose centres are inside', () => {
    const spans: [number, number, number][] = [];
    const bounds = scanPolygon(
      [
        { x: 10, y: 10 },
        { x: 20, y: 10 },
        { x: 20, y: 20 },
        { x: 10, y: 20 },
      ],
      { x: 0, y: 0, width: 100, height: 100 },
      (y, x0, x1) => spans.push([y, x0, x1]),
    );
    expect(bounds).toEqual({ x: 10, y: 10, width: 10, height: 10 });
    expect(spans).toHaveLength(10);
    expect(spans.every(([, x0, x1]) => x0 === 10 && x1 === 20)).toBe(true);
  });

  test('a triangle fills about half its bounding box; a self-overlapping loop still fills (non-zero)', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 256, height: 256 } });
    doc.fillPolygon(
      [
        { x: 0, y: 0 },
        { x: 200, y: 0 },
        { x: 0, y: 200 },
      ],
      'fill',
    );
    expect(Math.abs(doc.maskPixelCount() - 20000)).toBeLessThan(250);
    const twice = new CanvasDocument({ box: { x: 0, y: 0, width: 256, height: 256 } });
    const square = [
      { x: 10, y: 10 },
      { x: 60, y: 10 },
      { x: 60, y: 60 },
      { x: 10, y: 60 },
    ];
    twice.fillPolygon([...square, ...square], 'fill');
    expect(twice.maskPixelCount()).toBe(2500);
  });
});

describe('mask edits and history', () => {
  test('a brush stroke is one undoable edit: undo clears it, redo restores the same pixels', () => {
    const doc = new CanvasDocument();
    doc.paintStroke(
      [
        { x: 50, y: 50 },
        { x: 120, y: 80 },
        { x: 200, y: 60 },
      ],
      { mode: 'brush', size: 24, hardness: 0.5 },
    );
    const painted = doc.mask.read(doc.mask.rect);
    expect(doc.maskPixelCount()).toBeGreaterThan(1000);
    expect(doc.historyStats().undoDepth).toBe(1);
    expect(doc.undo()).toBe(true);
    expect(doc.maskPixelCount()).toBe(0);
    expect(doc.redo()).toBe(true);
    expect(Buffer.from(doc.mask.read(doc.mask.rect)).equals(Buffer.from(painted))).toBe(true);
  });

  test('the eraser removes mask; a cancelled stroke leaves nothing and records nothing', () => {
    const doc = new CanvasDocument();
    doc.fillRect({ x: 0, y: 0, width: 200, height: 200 }, 'fill');
    doc.paintStroke(
      [
        { x: 20, y: 100 },
        { x: 180, y: 100 },
      ],
      { mode: 'eraser', size: 20, hardness: 1 },
    );
    expect(doc.mask.get(100, 100)).toBe(0);
    expect(doc.mask.get(100, 130)).toBe(255);
    const before = doc.mask.read(doc.mask.rect);
    const stroke = doc.beginStroke({ mode: 'eraser', size: 40, hardness: 1 }, { x: 50, y: 50 });
    stroke.lineTo({ x: 150, y: 150 });
    stroke.cancel();
    expect(Buffer.from(doc.mask.read(doc.mask.rect)).equals(Buffer.from(before))).toBe(true);
    expect(doc.historyStats().undoDepth).toBe(2);
  });

  test('rect fill, rect erase, invert and clear each undo to the previous state', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 128, height: 128 } });
    doc.fillRect({ x: 10, y: 10, width: 30, height: 20 }, 'fill');
    expect(doc.maskPixelCount()).toBe(600);
    doc.fillRect({ x: 10, y: 10, width: 10, height: 20 }, 'erase');
    expect(doc.maskPixelCount()).toBe(400);
    const total = doc.mask.rect.width * doc.mask.rect.height;
    doc.invertMask();
    expect(doc.maskPixelCount()).toBe(total - 400);
    doc.clearMask();
    expect(doc.maskPixelCount()).toBe(0);
    doc.undo();
    expect(doc.maskPixelCount()).toBe(total - 400);
    doc.undo();
    expect(doc.maskPixelCount()).toBe(400);
    doc.undo();
    expect(doc.maskPixelCount()).toBe(600);
    doc.undo();
    expect(doc.maskPixelCount()).toBe(0);
    expect(doc.canUndo).toBe(false);
  });

  test('history is bounded by bytes, not steps: many small strokes stay, big edits push old ones out', () => {
    const doc = new CanvasDocument({ historyBudgetBytes: 200_000, box: { x: 0, y: 0, width: 1024, height: 1024 } });
    for (let i = 0; i < 100; i++) {
      doc.paintStroke([{ x: 10 + (i % 50) * 20, y: 10 + Math.floor(i / 50) * 500 }], hard);
    }
    // A dot's patch is its bounding box (about 11 x 11 x 2 bytes), not the 1 MB mask.
    expect(doc.historyStats().undoDepth).toBe(100);
    expect(doc.historyStats().bytes).toBeLessThan(100 * 400);
    doc.fillRect({ x: 0, y: 0, width: 300, height: 300 }, 'fill'); // 90 kB before-copy
    doc.fillRect({ x: 300, y: 300, width: 300, height: 300 }, 'fill');
    doc.fillRect({ x: 600, y: 600, width: 300, height: 300 }, 'fill');
    const stats = doc.historyStats();
    expect(stats.bytes).toBeLessThanOrEqual(200_000);
    expect(stats.undoDepth).toBeLessThan(103);
    expect(stats.undoDepth).toBeGreaterThanOrEqual(2);
  });

  test('History drops the oldest entries first and clears redo on a new edit', () => {
    const h = new History(100);
    const log: string[] = [];
    const entry = (label: string, bytes: number) => ({
      label,
      bytes,
      undo: () => log.push(`undo ${label}`),
      redo: () => log.push(`redo ${label}`),
    });
    h.push(entry('a', 40));
    h.push(entry('b', 40));
    h.push(entry('c', 40));
    expect(h.undoDepth).toBe(2);
    expect(h.bytes).toBe(80);
    h.undo();
    expect(h.canRedo).toBe(true);
    h.push(entry('d', 10));
    expect(h.canRedo).toBe(false);
    expect(h.bytes).toBe(50);
    expect(log).toEqual(['undo c']);
  });

  test('the mask grows with the document and older patches still undo after it grew', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 64, height: 64 } });
    doc.paintStroke([{ x: 30, y: 30 }], hard);
    const image = solid(300, 200, [10, 20, 30, 255]);
    doc.placeImage(image, { x: -100, y: -50 });
    expect(doc.mask.rect.x).toBeLessThanOrEqual(-100);
    expect(doc.mask.rect.y).toBeLessThanOrEqual(-50);
    expect(doc.mask.rect.x + doc.mask.rect.width).toBeGreaterThanOrEqual(200);
    expect(doc.mask.get(30, 30)).toBe(255);
    doc.undo(); // the image
    doc.undo(); // the stroke
    expect(doc.maskPixelCount()).toBe(0);
  });
});

describe('stroke patches per tile', () => {
  const snapshot = (doc: CanvasDocument): Buffer => Buffer.from(doc.mask.read(doc.mask.rect));

  test('a long diagonal stroke stores only the parts of the tiles it touched, far fewer bytes than its bounding box', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 2048, height: 2048 } });
    doc.paintStroke(
      [
        { x: 20, y: 20 },
        { x: 2020, y: 2020 },
      ],
      { mode: 'brush', size: 16, hardness: 1 },
    );
    const bounds = doc.maskBounds()!;
    const box = bounds.width * bounds.height;
    expect(box).toBeGreaterThan(2000 * 2000);
    const { bytes } = doc.historyStats();
    // Along the diagonal: about 3 tiles of 64 x 64 per 64 pixels, one copy each.
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(box / 20);
    expect(bytes).toBeLessThanOrEqual(3 * (2048 / 64) * 64 * 64);
  });

  test('the patch lists only changed tiles, each inside one 64-pixel tile, and holds exactly their pixels', () => {
    const m = rasterOf(512, 512);
    // Already full under the first half of the path: those tiles do not change.
    m.write({ x: 0, y: 0, width: 256, height: 512 }, 255);
    const s = new MaskStroke(m, { mode: 'brush', size: 20, hardness: 1 });
    s.moveTo({ x: 30, y: 100 });
    s.lineTo({ x: 480, y: 100 });
    const patch = s.finish()!;
    expect(patch.tiles.length).toBeGreaterThan(0);
    for (const t of patch.tiles) {
      expect(t.rect.x).toBeGreaterThanOrEqual(256 - 64);
      expect(Math.floor(t.rect.x / 64)).toBe(Math.floor((t.rect.x + t.rect.width - 1) / 64));
      expect(Math.floor(t.rect.y / 64)).toBe(Math.floor((t.rect.y + t.rect.height - 1) / 64));
      expect(t.pixels.length).toBe(t.rect.width * t.rect.height);
    }
    expect(patch.bytes).toBe(patch.tiles.reduce((n, t) => n + t.pixels.byteLength, 0));
    expect(patch.rect.x + patch.rect.width).toBeLessThanOrEqual(491);
  });

  test('undo restores exactly the previous mask and redo exactly the stroke, however often', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 640, height: 640 } });
    // Varied content to draw over: a ramp, a filled square, a soft stroke.
    for (let y = 0; y < 640; y += 7) doc.fillRect({ x: (y * 13) % 500, y, width: 90, height: 3 }, 'fill');
    doc.fillRect({ x: 300, y: 300, width: 120, height: 120 }, 'fill');
    doc.paintStroke(
      [
        { x: 10, y: 600 },
        { x: 600, y: 20 },
      ],
      { mode: 'brush', size: 60, hardness: 0 },
    );
    for (const mode of ['brush', 'eraser'] as const) {
      const before = snapshot(doc);
      const depth = doc.historyStats().undoDepth;
      doc.paintStroke(
        [
          { x: 5.5, y: 5.25 },
          { x: 630, y: 610 },
          { x: 320, y: 40 },
          { x: 100, y: 500 },
        ],
        { mode, size: 33, hardness: 0.4 },
      );
      const after = snapshot(doc);
      expect(after.equals(before)).toBe(false);
      expect(doc.historyStats().undoDepth).toBe(depth + 1);
      expect(doc.undoLabel).toBe(mode === 'brush' ? 'brush stroke' : 'eraser stroke');
      for (let i = 0; i < 3; i++) {
        doc.undo();
        expect(snapshot(doc).equals(before)).toBe(true);
        doc.redo();
        expect(snapshot(doc).equals(after)).toBe(true);
      }
    }
  });

  test('a stroke patch held in history keeps its size through undo and redo', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 512, height: 512 } });
    doc.paintStroke(
      [
        { x: 0, y: 0 },
        { x: 500, y: 500 },
      ],
      hard,
    );
    const bytes = doc.historyStats().bytes;
    doc.undo();
    expect(doc.historyStats().bytes).toBe(bytes);
    doc.redo();
    expect(doc.historyStats().bytes).toBe(bytes);
  });

  test('a stroke that changes nothing records nothing', () => {
    const doc = new CanvasDocument();
    doc.paintStroke(
      [
        { x: 20, y: 20 },
        { x: 300, y: 200 },
      ],
      { mode: 'eraser', size: 40, hardness: 1 },
    );
    expect(doc.canUndo).toBe(false);
  });

  test('the end of a stroke announces no pixels to redraw; its undo and redo announce only its tiles', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 1024, height: 1024 } });
    const changes: CanvasChange[] = [];
    doc.subscribe((c) => changes.push(c));
    doc.paintStroke(
      [
        { x: 10, y: 10 },
        { x: 1000, y: 1000 },
      ],
      hard,
    );
    const settled = changes.filter((c) => c.kind === 'mask' && !c.live);
    expect(settled).toHaveLength(1);
    expect(settled[0]).toMatchObject({ kind: 'mask', tiles: [] });
    changes.length = 0;
    doc.undo();
    const [undo] = changes;
    expect(undo?.kind).toBe('mask');
    if (undo?.kind !== 'mask') return;
    const area = (undo.tiles ?? []).reduce((n, t) => n + t.width * t.height, 0);
    expect(area).toBeGreaterThan(0);
    expect(area).toBeLessThan((undo.rect!.width * undo.rect!.height) / 10);
  });

  test('a stroke still undoes exactly after the mask grew under it', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 128, height: 128 } });
    const before = doc.mask.read({ x: -200, y: -200, width: 400, height: 400 });
    const stroke = doc.beginStroke({ mode: 'brush', size: 20, hardness: 1 }, { x: 10, y: 10 });
    stroke.lineTo({ x: 60, y: 100 });
    doc.placeImage(solid(100, 100, [0, 0, 0, 255]), { x: -150, y: -150 }); // reallocates the raster
    stroke.lineTo({ x: -100, y: -100 });
    stroke.end();
    const after = doc.mask.read({ x: -200, y: -200, width: 400, height: 400 });
    expect(doc.mask.get(-90, -90)).toBe(255);
    doc.undo();
    expect(Buffer.from(doc.mask.read({ x: -200, y: -200, width: 400, height: 400 })).equals(Buffer.from(before))).toBe(
      true,
    );
    doc.redo();
    expect(Buffer.from(doc.mask.read({ x: -200, y: -200, width: 400, height: 400 })).equals(Buffer.from(after))).toBe(
      true,
    );
  });
});

describe('mask raster', () => {
  test('count and bounds agree with a pixel-by-pixel reading, for any rectangle', () => {
    const m = new MaskRaster();
    m.ensure({ x: -70, y: -10, width: 300, height: 150 });
    let seed = 7;
    const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    for (let i = 0; i < 40; i++) {
      m.write(
        {
          x: Math.floor(rand() * 300) - 70,
          y: Math.floor(rand() * 150) - 10,
          width: 1 + Math.floor(rand() * 9),
          height: 1,
        },
        1 + Math.floor(rand() * 255),
      );
    }
    const naive = (r: Rect): { n: number; b: Rect | null } => {
      let n = 0;
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (let y = r.y; y < r.y + r.height; y++) {
        for (let x = r.x; x < r.x + r.width; x++) {
          if (m.get(x, y) === 0) continue;
          n++;
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x);
          y1 = Math.max(y1, y);
        }
      }
      return { n, b: n ? { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 } : null };
    };
    const rects: Rect[] = [m.rect];
    for (let i = 0; i < 200; i++) {
      const x = Math.floor(rand() * 320) - 80;
      const y = Math.floor(rand() * 170) - 20;
      rects.push({ x, y, width: 1 + Math.floor(rand() * 120), height: 1 + Math.floor(rand() * 40) });
    }
    for (const r of rects) {
      const expected = naive(r);
      expect(m.count(r)).toBe(expected.n);
      expect(m.bounds(r)).toEqual(expected.b);
    }
  });
});

describe('generation box', () => {
  test('snaps to multiples of 8 with at least 64 a side; one undo per change', () => {
    const doc = new CanvasDocument();
    doc.setBox({ x: 13, y: -21, width: 300, height: 10 });
    expect(doc.box).toEqual({ x: 16, y: -24, width: 304, height: 64 });
    doc.previewBox({ x: 100, y: 100, width: 512, height: 512 });
    doc.previewBox({ x: 200, y: 100, width: 512, height: 512 });
    doc.commitBox({ x: 16, y: -24, width: 304, height: 64 });
    expect(doc.historyStats().undoDepth).toBe(2);
    expect(doc.undoLabel).toBe('resize box');
    doc.undo();
    expect(doc.box).toEqual({ x: 16, y: -24, width: 304, height: 64 });
  });
});

describe('mode from the document', () => {
  test('txt2img, img2img, inpaint and outpaint with its extension per side', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 512, height: 512 } });
    expect(doc.mode().mode).toBe('txt2img');
    doc.placeImage(solid(768, 768, [200, 100, 50, 255]), { x: 0, y: 0 });
    expect(doc.mode().mode).toBe('img2img');
    doc.fillRect({ x: 600, y: 600, width: 50, height: 50 }, 'fill');
    expect(doc.mode().mode).toBe('img2img'); // mask outside the box does not count
    doc.fillRect({ x: 100, y: 100, width: 50, height: 50 }, 'fill');
    expect(doc.mode().mode).toBe('inpaint');
    expect(doc.mode().maskedPixels).toBe(2500);
    doc.setBox({ x: 512, y: -128, width: 512, height: 512 });
    const info = doc.mode();
    expect(info.mode).toBe('outpaint');
    expect(info.extension).toEqual({ left: 0, top: 128, right: 256, bottom: 0 });
    expect(info.uncoveredPixels).toBe(512 * 512 - 256 * 384);
    doc.setBox({ x: 2000, y: 0, width: 512, height: 512 });
    expect(doc.mode().mode).toBe('txt2img');
  });

  test('a gap between two images inside their bounds is outpaint with no extension', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 512, height: 512 } });
    doc.placeImage(solid(256, 512, [0, 0, 0, 255]), { x: 0, y: 0 });
    doc.placeImage(solid(200, 512, [0, 0, 0, 255]), { x: 312, y: 0 });
    const info = doc.mode();
    expect(info.mode).toBe('outpaint');
    expect(info.extension).toEqual({ left: 0, top: 0, right: 0, bottom: 0 });
    expect(info.uncoveredPixels).toBe(56 * 512);
  });

  test('uncoveredArea is exact for overlapping rectangles', () => {
    const target = { x: 0, y: 0, width: 100, height: 100 };
    expect(uncoveredArea(target, [])).toBe(10000);
    expect(
      uncoveredArea(target, [
        { x: 0, y: 0, width: 60, height: 100 },
        { x: 40, y: 0, width: 60, height: 50 },
      ]),
    ).toBe(40 * 50);
  });
});

describe('generation inputs', () => {
  test('init crop is the image under the box, transparent past its edge; outpaint mask repaints the empty part', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 64, height: 64 } });
    doc.placeImage(solid(64, 64, [255, 0, 0, 255]), { x: 0, y: 0 });
    doc.setBox({ x: 32, y: 0, width: 64, height: 64 });
    const inputs = doc.generationInputs();
    expect(inputs.mode).toBe('outpaint');
    expect(inputs.extension).toEqual({ left: 0, top: 0, right: 32, bottom: 0 });
    const px = (img: { data: Uint8ClampedArray; width: number }, x: number, y: number) =>
      Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
    expect(px(inputs.init!, 0, 0)).toEqual([255, 0, 0, 255]);
    expect(px(inputs.init!, 40, 10)).toEqual([0, 0, 0, 0]);
    expect(px(inputs.mask!, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(px(inputs.mask!, 40, 10)).toEqual([255, 255, 255, 255]);
  });

  test('inpaint mask is white where painted and black elsewhere; txt2img has no inputs', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 64, height: 64 } });
    expect(doc.generationInputs()).toMatchObject({ mode: 'txt2img', init: null, mask: null });
    doc.placeImage(solid(64, 64, [0, 255, 0, 255]), { x: 0, y: 0 });
    expect(doc.generationInputs()).toMatchObject({ mode: 'img2img', mask: null });
    doc.fillRect({ x: 8, y: 8, width: 8, height: 8 }, 'fill');
    const { mode, mask } = doc.generationInputs();
    expect(mode).toBe('inpaint');
    expect(mask!.data[(10 * 64 + 10) * 4]).toBe(255);
    expect(mask!.data[(30 * 64 + 30) * 4]).toBe(0);
    expect(doc.maskAlpha().length).toBe(64 * 64);
  });

  test('accepting a result places it at the box, grows the document, records lineage, and undoes as one edit', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 512, height: 512 } });
    doc.importImage(solid(512, 512, [0, 0, 255, 255]));
    doc.setBox({ x: 256, y: 0, width: 512, height: 512 });
    expect(doc.mode().mode).toBe('outpaint');
    const depth = doc.historyStats().undoDepth;
    doc.acceptResult(solid(512, 512, [255, 255, 0, 255]), 42);
    expect(doc.historyStats().undoDepth).toBe(depth + 1);
    expect(doc.bounds()).toEqual({ x: 0, y: 0, width: 768, height: 512 });
    expect(doc.lineage()).toEqual([42]);
    expect(doc.mode().mode).toBe('img2img');
    expect(doc.mask.rect.width).toBeGreaterThanOrEqual(768);
    const all = doc.composite()!;
    expect(Array.from(all.data.subarray(0, 4))).toEqual([0, 0, 255, 255]);
    expect(Array.from(all.data.subarray(700 * 4, 700 * 4 + 4))).toEqual([255, 255, 0, 255]);
    doc.undo();
    expect(doc.bounds()).toEqual({ x: 0, y: 0, width: 512, height: 512 });
    expect(doc.lineage()).toEqual([]);
  });

  test('importing into an empty document places it at the origin and fits the box to it', () => {
    const doc = new CanvasDocument();
    doc.importImage(solid(300, 2000, [1, 2, 3, 255]));
    expect(doc.box).toEqual({ x: 0, y: 0, width: 296, height: 1024 });
    doc.undo();
    expect(doc.images).toHaveLength(0);
    expect(doc.box).toEqual({ x: 0, y: 0, width: 512, height: 512 });
  });

  test('the composite blends translucent images over earlier ones (source-over)', () => {
    const out = compositeImages(
      [
        { id: 1, x: 0, y: 0, image: solid(2, 1, [0, 0, 255, 255]), opaque: true, source: 'import' },
        { id: 2, x: 1, y: 0, image: solid(2, 1, [255, 0, 0, 128]), opaque: false, source: 'import' },
      ],
      { x: 0, y: 0, width: 3, height: 1 },
    );
    expect(Array.from(out.data)).toEqual([0, 0, 255, 255, 128, 0, 127, 255, 255, 0, 0, 128]);
  });
});

describe('view transform', () => {
  test('zoom at a point keeps that document point under it; fit centres the document; 100% is scale 1', () => {
    const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 512, height: 512 } });
    doc.setView({ x: 30, y: 40, scale: 0.5 });
    const screen = { x: 200, y: 150 };
    const before = toDocument(doc.view, screen);
    doc.zoomAt(screen, 3);
    expect(doc.view.scale).toBe(1.5);
    const after = toDocument(doc.view, screen);
    expect(after.x).toBeCloseTo(before.x, 9);
    expect(after.y).toBeCloseTo(before.y, 9);
    doc.fit({ width: 1000, height: 600 });
    const centre = toScreen(doc.view, { x: 256, y: 256 });
    expect(centre).toEqual({ x: 500, y: 300 });
    expect(doc.view.scale * 512).toBeCloseTo(600 - 48, 6);
    doc.actualSize({ width: 1000, height: 600 });
    expect(doc.view.scale).toBe(1);
    expect(toScreen(doc.view, { x: 256, y: 256 })).toEqual({ x: 500, y: 300 });
  });
});
