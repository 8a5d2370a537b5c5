import { describe, expect, test } from 'vitest';
import {
  anchoredScrollTop,
  cellPosition,
  gridColumns,
  gridLayout,
  isNearEnd,
  moveIndex,
  reflowScrollTop,
  scrollToReveal,
  visibleRange,
} from '../../src/renderer/src/features/gallery/virtualLayout';
import {
  afterRemoval,
  emptySelection,
  selectAt,
  selectOnly,
  targetIds,
} from '../../src/renderer/src/features/gallery/gallerySelection';

const metrics = { cellWidth: 160, cellHeight: 160, gap: 8 };

describe('grid layout', () => {
  test('columns: as many minimum-width cells as fit with their gaps, at least one', () => {
    expect(gridColumns(160, 160, 8)).toBe(1);
    expect(gridColumns(327, 160, 8)).toBe(1);
    expect(gridColumns(328, 160, 8)).toBe(2);
    expect(gridColumns(900, 160, 8)).toBe(5);
    expect(gridColumns(1000, 160, 8)).toBe(6);
    expect(gridColumns(100, 160, 8)).toBe(1);
    expect(gridColumns(0, 160, 8)).toBe(1);
    expect(gridColumns(Number.NaN, 160, 8)).toBe(1);
  });

  test('rows, row pitch and total height: no gap below the last row', () => {
    const layout = gridLayout(900, 100_001, metrics);
    expect(layout.columns).toBe(5);
    expect(layout.rows).toBe(20_001);
    expect(layout.rowHeight).toBe(168);
    expect(layout.totalHeight).toBe(20_001 * 168 - 8);
    expect(gridLayout(900, 0, metrics).totalHeight).toBe(0);
  });

  test('cells widen to share the row, and their height never changes', () => {
    const layout = gridLayout(900, 10, metrics);
    expect(layout.cellWidth).toBeCloseTo((900 - 4 * 8) / 5);
    expect(layout.columnWidth).toBeCloseTo(layout.cellWidth + 8);
    expect(cellPosition(7, layout)).toEqual({ top: 168, left: 2 * layout.columnWidth });
    expect(gridLayout(0, 10, metrics).cellWidth).toBe(160);
  });

  test('square cells take their height from the shared width', () => {
    const layout = gridLayout(900, 10, metrics, true);
    expect(layout.cellHeight).toBeCloseTo((900 - 4 * 8) / 5);
    expect(layout.rowHeight).toBeCloseTo(layout.cellHeight + 8);
    expect(layout.totalHeight).toBeCloseTo(2 * layout.rowHeight - 8);
    expect(gridLayout(900, 10, metrics).cellHeight).toBe(160);
  });
});

describe('visible range', () => {
  const layout = gridLayout(900, 100_000, metrics); // 5 columns, 20,000 rows

  test('at the top: the rows on screen plus overscan below', () => {
    const range = visibleRange(layout, 100_000, 0, 600, 2);
    expect(range).toEqual({ startRow: 0, endRow: 6, startIndex: 0, endIndex: 30, firstVisibleRow: 0 });
  });

  test('far down: overscan on both sides, and a bounded number of cells', () => {
    const scrollTop = 10_000 * 168 + 40;
    const range = visibleRange(layout, 100_000, scrollTop, 600, 2);
    expect(range.firstVisibleRow).toBe(10_000);
    expect(range.startRow).toBe(9_998);
    expect(range.endRow).toBe(10_003 + 1 + 2); // rows 10000..10003 are on screen
    expect(range.startIndex).toBe(49_990);
    expect(range.endIndex - range.startIndex).toBe(8 * 5);
  });

  test('the last partial row ends at the item count, and scrolling past the end is clamped', () => {
    const small = gridLayout(900, 23, metrics); // 5 rows, the last with 3 items
    const range = visibleRange(small, 23, 99_999, 400, 1);
    expect(range.endRow).toBe(5);
    expect(range.endIndex).toBe(23);
    expect(range.startRow).toBeGreaterThanOrEqual(0);
  });

  test('an empty grid, and a viewport not laid out yet', () => {
    expect(visibleRange(gridLayout(900, 0, metrics), 0, 0, 600, 2).endIndex).toBe(0);
    const unlaid = visibleRange(gridLayout(0, 50, metrics), 50, 0, 0, 2);
    expect(unlaid.startIndex).toBe(0);
    expect(unlaid.endIndex).toBe(3);
  });

  test('near the end: when the rendered rows come within the threshold of the last row', () => {
    const small = gridLayout(900, 500, metrics); // 100 rows
    expect(isNearEnd(visibleRange(small, 500, 0, 600, 2), small, 10)).toBe(false);
    expect(isNearEnd(visibleRange(small, 500, 85 * 168, 600, 2), small, 10)).toBe(true);
  });
});

describe('scrolling', () => {
  const layout = gridLayout(900, 1000, metrics);

  test('reveal: scroll up to a cell above, down to one below, nothing for a visible one', () => {
    expect(scrollToReveal(0, layout, 500, 600)).toBe(0);
    expect(scrollToReveal(50, layout, 0, 600)).toBe(10 * 168 + 160 - 600);
    expect(scrollToReveal(10, layout, 300, 600)).toBeNull();
  });

  test('items added on top keep the row on screen where it was', () => {
    // 5 columns; the view is 30 px into row 12 (first visible item 60).
    const scrollTop = 12 * 168 + 30;
    expect(anchoredScrollTop(scrollTop, 60, 10, layout)).toBe(14 * 168 + 30);
    // 3 added: item 60 is now item 63, still in row 12.
    expect(anchoredScrollTop(scrollTop, 60, 3, layout)).toBe(12 * 168 + 30);
    expect(anchoredScrollTop(scrollTop, 60, 7, layout)).toBe(13 * 168 + 30);
  });
});

describe('resizes', () => {
  test('the active item stays where it was on screen', () => {
    // 6 -> 4 columns and 168 -> 208 px rows; the view 20 px into row 100, item 615 (row 102) active.
    const top = 100 * 168 + 20;
    const at = reflowScrollTop(top, 800, { columns: 6, rowHeight: 168 }, { columns: 4, rowHeight: 208 }, 615);
    expect(Math.floor(615 / 4) * 208 - at).toBe(102 * 168 - top);
  });

  test('without an active item on screen, the first visible item keeps the top row', () => {
    const top = 100 * 168 + 20;
    const narrow = { columns: 4, rowHeight: 168 };
    expect(reflowScrollTop(top, 800, { columns: 6, rowHeight: 168 }, narrow, -1)).toBe(150 * 168 + 20);
    expect(reflowScrollTop(top, 800, { columns: 6, rowHeight: 168 }, narrow, 5)).toBe(150 * 168 + 20);
    // Same columns, taller rows: the same row stays on top, as far into it in proportion.
    expect(reflowScrollTop(top, 800, { columns: 6, rowHeight: 168 }, { columns: 6, rowHeight: 336 }, -1)).toBe(
      100 * 336 + 40,
    );
    expect(reflowScrollTop(0, 800, { columns: 6, rowHeight: 168 }, { columns: 3, rowHeight: 168 }, 2)).toBe(0);
  });
});

describe('keyboard movement', () => {
  test('arrows move by one and by a row, clamping at the ends', () => {
    expect(moveIndex(7, 'ArrowRight', 5, 23)).toBe(8);
    expect(moveIndex(7, 'ArrowLeft', 5, 23)).toBe(6);
    expect(moveIndex(7, 'ArrowDown', 5, 23)).toBe(12);
    expect(moveIndex(7, 'ArrowUp', 5, 23)).toBe(2);
    expect(moveIndex(2, 'ArrowUp', 5, 23)).toBe(2);
    expect(moveIndex(0, 'ArrowLeft', 5, 23)).toBe(0);
    expect(moveIndex(22, 'ArrowRight', 5, 23)).toBe(22);
  });

  test('down into a partial last row lands on its last item; down from the last row stays', () => {
    expect(moveIndex(19, 'ArrowDown', 5, 23)).toBe(22);
    expect(moveIndex(17, 'ArrowDown', 5, 23)).toBe(22);
    expect(moveIndex(22, 'ArrowDown', 5, 23)).toBe(22);
    expect(moveIndex(12, 'ArrowDown', 5, 23)).toBe(17);
  });

  test('Home, End, PageUp and PageDown; nothing active starts at the first item', () => {
    expect(moveIndex(12, 'Home', 5, 23)).toBe(0);
    expect(moveIndex(12, 'End', 5, 23)).toBe(22);
    expect(moveIndex(2, 'PageDown', 5, 100, 3)).toBe(17);
    expect(moveIndex(17, 'PageUp', 5, 100, 3)).toBe(2);
    expect(moveIndex(3, 'PageUp', 5, 100, 3)).toBe(0);
    expect(moveIndex(-1, 'ArrowDown', 5, 23)).toBe(0);
    expect(moveIndex(-1, 'End', 5, 23)).toBe(22);
    expect(moveIndex(0, 'ArrowRight', 5, 0)).toBe(-1);
  });
});

describe('selection', () => {
  const ids = [10, 11, 12, 13, 14, 15];

  test('a plain click selects one; Ctrl toggles; Shift selects the range from the anchor', () => {
    let s = selectAt(emptySelection, ids, 1);
    expect([...s.ids]).toEqual([11]);
    s = selectAt(s, ids, 3, { toggle: true });
    expect([...s.ids].sort()).toEqual([11, 13]);
    expect(s.anchor).toBe(13);
    s = selectAt(s, ids, 5, { range: true });
    expect([...s.ids]).toEqual([13, 14, 15]);
    expect(s.active).toBe(15);
    s = selectAt(s, ids, 0, { range: true });
    expect([...s.ids]).toEqual([10, 11, 12, 13]);
    s = selectAt(s, ids, 3, { toggle: true });
    expect(s.ids.has(13)).toBe(false);
    expect(selectAt(s, ids, 99)).toBe(s);
  });

  test('Ctrl+Shift adds the range to what was selected', () => {
    let s = selectAt(emptySelection, ids, 0);
    s = selectAt(s, ids, 3, { toggle: true });
    s = selectAt(s, ids, 5, { toggle: true, range: true });
    expect([...s.ids].sort()).toEqual([10, 13, 14, 15]);
  });

  test('after a removal the next item takes the active place, or the previous at the end', () => {
    expect(afterRemoval(selectOnly(12), ids, new Set([12])).active).toBe(13);
    expect(afterRemoval(selectOnly(15), ids, new Set([15])).active).toBe(14);
    const multi = selectAt(selectAt(emptySelection, ids, 2), ids, 4, { range: true });
    expect(afterRemoval(multi, ids, new Set([12, 13, 14])).active).toBe(15);
    expect(afterRemoval(selectOnly(10), [10], new Set([10]))).toEqual(emptySelection);
  });

  test('actions apply to the selection, else to the active item', () => {
    expect(targetIds(emptySelection)).toEqual([]);
    expect(targetIds(selectOnly(4))).toEqual([4]);
    expect(targetIds({ ids: new Set(), active: 9, anchor: 9 })).toEqual([9]);
  });
});
