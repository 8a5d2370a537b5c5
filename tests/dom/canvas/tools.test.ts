/**
 * The canvas tools driven like a user would, through the ToolController with stage-coordinate
 * pointer events and no Konva: the document is the real one.
 */
import { describe, expect, test } from 'vitest';
import { CanvasDocument } from '../../../src/renderer/src/features/canvas/document/CanvasDocument';
import { toDocument } from '../../../src/renderer/src/features/canvas/document/viewTransform';
import { hitBox } from '../../../src/renderer/src/features/canvas/tools/BoxTool';
import { isTextField, shortcutFor } from '../../../src/renderer/src/features/canvas/tools/shortcuts';
import { ToolController } from '../../../src/renderer/src/features/canvas/tools/ToolController';
import type { ToolPointerEvent } from '../../../src/renderer/src/features/canvas/tools/types';

function setup(view = { x: 0, y: 0, scale: 1 }) {
  const doc = new CanvasDocument({ box: { x: 0, y: 0, width: 512, height: 512 } });
  doc.setView(view);
  const tools = new ToolController(doc, { size: 20, hardness: 1 });
  const at = (x: number, y: number, extra: Partial<ToolPointerEvent> = {}): ToolPointerEvent => ({
    x,
    y,
    button: 0,
    ...extra,
  });
  const drag = (points: [number, number][], extra: Partial<ToolPointerEvent> = {}) => {
    const [first, ...rest] = points;
    tools.pointerDown(at(first![0], first![1], extra));
    for (const [x, y] of rest.slice(0, -1)) tools.pointerMove(at(x, y, extra));
    const last = rest.at(-1) ?? first!;
    tools.pointerUp(at(last[0], last[1], extra));
  };
  return { doc, tools, at, drag };
}

describe('brush and eraser', () => {
  test('a brush drag is one undoable stroke, drawn while the pointer moves', () => {
    const { doc, tools, at } = setup();
    expect(tools.state).toBe('brush.idle');
    tools.pointerDown(at(50, 50));
    expect(tools.state).toBe('brush.drawing');
    expect(doc.maskPixelCount()).toBeGreaterThan(0);
    for (let x = 60; x <= 300; x += 10) tools.pointerMove(at(x, 50 + x / 10));
    const during = doc.maskPixelCount();
    tools.pointerUp(at(300, 80));
    expect(tools.state).toBe('brush.idle');
    expect(doc.maskPixelCount()).toBeGreaterThanOrEqual(during);
    expect(doc.historyStats().undoDepth).toBe(1);
    expect(doc.undoLabel).toBe('brush stroke');
    doc.undo();
    expect(doc.maskPixelCount()).toBe(0);
  });

  test('strokes land in document pixels when the view is zoomed and panned', () => {
    const { doc, tools, drag } = setup({ x: 100, y: 50, scale: 2 });
    drag([
      [300, 250],
      [301, 250],
    ]);
    // Screen (300, 250) is document (100, 100); a 20 px brush at scale 2 covers 20 document px.
    const b = doc.maskBounds()!;
    expect(b.x + b.width / 2).toBeCloseTo(100, 0);
    expect(b.y + b.height / 2).toBeCloseTo(100, 0);
    expect(b.width).toBeGreaterThanOrEqual(20);
    expect(b.width).toBeLessThanOrEqual(23);
    expect(tools.hover).toEqual(toDocument(doc.view, { x: 301, y: 250 }));
  });

  test('the eraser tool removes mask as one edit', () => {
    const { doc, tools, drag } = setup();
    doc.fillRect({ x: 0, y: 0, width: 200, height: 200 }, 'fill');
    tools.select('eraser');
    drag([
      [10, 100],
      [100, 100],
      [190, 100],
    ]);
    expect(doc.mask.get(100, 100)).toBe(0);
    expect(doc.undoLabel).toBe('eraser stroke');
    doc.undo();
    expect(doc.maskPixelCount()).toBe(40000);
  });

  test('Escape-style cancel mid-stroke removes it and records nothing', () => {
    const { doc, tools, at } = setup();
    tools.pointerDown(at(50, 50));
    tools.pointerMove(at(150, 50));
    tools.cancel();
    expect(doc.maskPixelCount()).toBe(0);
    expect(doc.canUndo).toBe(false);
    expect(tools.state).toBe('brush.idle');
  });

  test('undo while drawing cancels the open stroke and undoes the one before it', () => {
    const { doc, tools, at, drag } = setup();
    drag([
      [20, 20],
      [40, 20],
    ]);
    tools.pointerDown(at(200, 200));
    tools.pointerMove(at(260, 200));
    tools.run({ type: 'undo' });
    expect(doc.maskPixelCount()).toBe(0);
    tools.pointerUp(at(260, 200));
    expect(doc.maskPixelCount()).toBe(0);
    expect(doc.canRedo).toBe(true);
  });
});

describe('pan and zoom', () => {
  test('holding Space switches to pan and back; the drag moves the view and paints nothing', () => {
    const { doc, tools, drag } = setup();
    tools.setSpace(true);
    expect(tools.state).toBe('pan.idle');
    expect(tools.cursor).toBe('grab');
    drag([
      [100, 100],
      [130, 140],
      [160, 180],
    ]);
    expect(doc.view).toEqual({ x: 60, y: 80, scale: 1 });
    expect(doc.maskPixelCount()).toBe(0);
    expect(doc.canUndo).toBe(false);
    tools.setSpace(false);
    expect(tools.state).toBe('brush.idle');
    expect(tools.tool).toBe('brush');
  });

  test('releasing Space mid-pan keeps panning until the button goes up', () => {
    const { doc, tools, at } = setup();
    tools.setSpace(true);
    tools.pointerDown(at(0, 0));
    tools.setSpace(false);
    tools.pointerMove(at(10, 0));
    expect(tools.state).toBe('pan.panning');
    tools.pointerUp(at(20, 0));
    expect(doc.view.x).toBe(20);
    expect(doc.maskPixelCount()).toBe(0);
  });

  test('the middle button pans with any tool', () => {
    const { doc, tools, drag } = setup();
    tools.select('lasso');
    drag(
      [
        [10, 10],
        [40, 10],
      ],
      { button: 1 },
    );
    expect(doc.view.x).toBe(30);
    expect(tools.state).toBe('lasso.idle');
  });

  test('H selects the pan tool', () => {
    const { doc, tools, drag } = setup();
    tools.run(shortcutFor({ key: 'h' })!);
    drag([
      [0, 0],
      [5, 7],
    ]);
    expect(doc.view).toEqual({ x: 5, y: 7, scale: 1 });
  });

  test('the wheel zooms about the cursor', () => {
    const { doc, tools } = setup();
    const before = toDocument(doc.view, { x: 321, y: 123 });
    tools.wheel({ x: 321, y: 123, deltaY: -300 });
    expect(doc.view.scale).toBeCloseTo(2, 9);
    const after = toDocument(doc.view, { x: 321, y: 123 });
    expect(after.x).toBeCloseTo(before.x, 9);
    expect(after.y).toBeCloseTo(before.y, 9);
    tools.wheel({ x: 321, y: 123, deltaY: 300 });
    expect(doc.view.scale).toBeCloseTo(1, 9);
  });
});

describe('rectangle and lasso', () => {
  test('a rectangle drag fills on release as one edit; Alt erases', () => {
    const { doc, tools, at, drag } = setup();
    tools.select('rect');
    tools.pointerDown(at(10, 10));
    tools.pointerMove(at(50, 40));
    expect(tools.overlay()).toEqual({ kind: 'rect', rect: { x: 10, y: 10, width: 40, height: 30 }, mode: 'fill' });
    expect(doc.maskPixelCount()).toBe(0);
    tools.pointerUp(at(110, 60));
    expect(doc.maskPixelCount()).toBe(100 * 50);
    drag(
      [
        [10, 10],
        [60, 60],
      ],
      { altKey: true },
    );
    expect(doc.maskPixelCount()).toBe(100 * 50 - 50 * 50);
    expect(doc.historyStats().undoDepth).toBe(2);
  });

  test('a lasso fills the closed path on release', () => {
    const { doc, tools, drag } = setup();
    tools.select('lasso');
    drag([
      [100, 100],
      [200, 100],
      [200, 200],
      [100, 200],
      [100, 100],
    ]);
    expect(doc.maskPixelCount()).toBe(100 * 100);
    expect(doc.undoLabel).toBe('lasso fill');
    expect(tools.overlay()).toBeNull();
  });
});

describe('generation box tool', () => {
  test('dragging a corner handle resizes in steps of 8 and never below 64', () => {
    const { doc, tools, drag } = setup();
    tools.select('box');
    expect(hitBox(doc.box, doc.view, { x: 512, y: 512 })).toBe('se');
    drag([
      [512, 512],
      [600, 560],
      [613, 571],
    ]);
    expect(doc.box).toEqual({ x: 0, y: 0, width: 616, height: 568 });
    expect(doc.historyStats().undoDepth).toBe(1);
    drag([
      [616, 568],
      [0, 0],
      [-200, -300],
    ]);
    expect(doc.box).toEqual({ x: 0, y: 0, width: 64, height: 64 });
    doc.undo();
    expect(doc.box).toEqual({ x: 0, y: 0, width: 616, height: 568 });
  });

  test('dragging inside the box moves it, snapped to 8, recorded once on release', () => {
    const { doc, tools, at } = setup({ x: 0, y: 0, scale: 0.5 });
    tools.select('box');
    tools.pointerDown(at(100, 100));
    expect(tools.state).toBe('box.moving');
    tools.pointerMove(at(110, 105));
    tools.pointerMove(at(120, 103));
    expect(doc.canUndo).toBe(false);
    tools.pointerUp(at(120, 103));
    // 20 x 3 screen px at scale 0.5 = 40 x 6 document px; 6 snaps to 8.
    expect(doc.box).toEqual({ x: 40, y: 8, width: 512, height: 512 });
    expect(doc.historyStats().undoDepth).toBe(1);
    expect(doc.undoLabel).toBe('move box');
  });

  test('the west handle keeps the east edge where it is', () => {
    const { doc, tools, drag } = setup();
    tools.select('box');
    drag([
      [0, 256],
      [-101, 256],
    ]);
    expect(doc.box).toEqual({ x: -104, y: 0, width: 616, height: 512 });
  });
});

describe('shortcuts', () => {
  test('map keys to commands, leaving modifier combinations to the app', () => {
    expect(shortcutFor({ key: 'b' })).toEqual({ type: 'tool', tool: 'brush' });
    expect(shortcutFor({ key: 'E' })).toEqual({ type: 'tool', tool: 'eraser' });
    expect(shortcutFor({ key: 'v' })).toEqual({ type: 'tool', tool: 'box' });
    expect(shortcutFor({ key: 'z', ctrlKey: true })).toEqual({ type: 'undo' });
    expect(shortcutFor({ key: 'Z', ctrlKey: true, shiftKey: true })).toEqual({ type: 'redo' });
    expect(shortcutFor({ key: 'z', metaKey: true })).toEqual({ type: 'undo' });
    expect(shortcutFor({ key: 'Delete' })).toEqual({ type: 'clear' });
    expect(shortcutFor({ key: 'i' })).toEqual({ type: 'invert' });
    expect(shortcutFor({ key: 'f' })).toEqual({ type: 'fit' });
    expect(shortcutFor({ key: '1' })).toEqual({ type: 'actualSize' });
    expect(shortcutFor({ key: '1', ctrlKey: true })).toBeNull(); // page navigation
    expect(shortcutFor({ key: 'q' })).toBeNull();
  });

  test('text fields keep their keys; buttons and sliders do not', () => {
    const make = (html: string) => {
      const div = document.createElement('div');
      div.innerHTML = html;
      return div.firstElementChild;
    };
    expect(isTextField(make('<input type="text">'))).toBe(true);
    expect(isTextField(make('<input>'))).toBe(true);
    expect(isTextField(make('<textarea></textarea>'))).toBe(true);
    expect(isTextField(make('<select></select>'))).toBe(true);
    expect(isTextField(make('<input type="range">'))).toBe(false);
    expect(isTextField(make('<button>x</button>'))).toBe(false);
    expect(isTextField(document.body)).toBe(false);
  });

  test('[ and ] change the brush size by at least a pixel', () => {
    const { tools } = setup();
    tools.setBrushSize(2);
    tools.run({ type: 'brushSize', factor: 1.25 });
    expect(tools.brush.size).toBe(3);
    tools.setBrushSize(100);
    tools.run({ type: 'brushSize', factor: 1 / 1.25 });
    expect(tools.brush.size).toBe(80);
  });
});
