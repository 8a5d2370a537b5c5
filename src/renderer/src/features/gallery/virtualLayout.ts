/**
 * The arithmetic of a virtualised grid of fixed-size cells: how many columns fit, which rows are on
 * screen (plus overscan), where a cell sits, how far to scroll to reveal one, and where to keep the
 * view when items are added on top. Pure, so that it is tested without a browser's layout.
 *
 * Units are CSS pixels. Rows are `cellHeight + gap` apart; the last row has no gap below it.
 */

export interface GridMetrics {
  cellWidth: number;
  cellHeight: number;
  gap: number;
}

export interface GridLayout {
  columns: number;
  rows: number;
  /** Distance between the tops of two rows: cellHeight + gap. */
  rowHeight: number;
  /** Height of the whole grid's content (what the scrollbar measures). */
  totalHeight: number;
  /** Distance between the left edges of two columns (cells stretch to fill the width). */
  columnWidth: number;
  /** Width of one cell once the columns share the available width. */
  cellWidth: number;
  /** Height of one cell: metrics.cellHeight, or cellWidth for square cells. */
  cellHeight: number;
}

/** Columns that fit `width` with cells at least `cellWidth` wide and `gap` between them; at least 1. */
export function gridColumns(width: number, cellWidth: number, gap: number): number {
  if (!(width > 0) || !(cellWidth > 0)) return 1;
  return Math.max(1, Math.floor((width + gap) / (cellWidth + gap)));
}

/**
 * The grid for `count` items in `width` px. Cells widen to share the row (as CSS grid's `1fr`
 * would); with `square` their height follows their width, else it is metrics.cellHeight. Either
 * way every cell has the same size for a given width: loading items never moves one.
 */
export function gridLayout(width: number, count: number, metrics: GridMetrics, square = false): GridLayout {
  const columns = gridColumns(width, metrics.cellWidth, metrics.gap);
  const rows = Math.ceil(Math.max(0, count) / columns);
  const cellWidth =
    width > 0 ? Math.max(metrics.cellWidth, (width - metrics.gap * (columns - 1)) / columns) : metrics.cellWidth;
  const cellHeight = square ? cellWidth : metrics.cellHeight;
  const rowHeight = cellHeight + metrics.gap;
  return {
    columns,
    rows,
    rowHeight,
    totalHeight: rows === 0 ? 0 : rows * rowHeight - metrics.gap,
    columnWidth: cellWidth + metrics.gap,
    cellWidth,
    cellHeight,
  };
}

export interface VisibleRange {
  /** First row rendered (inclusive) and last (exclusive), overscan included. */
  startRow: number;
  endRow: number;
  /** Item indices rendered: [startIndex, endIndex). */
  startIndex: number;
  endIndex: number;
  /** The first row actually on screen (no overscan): the anchor kept when items arrive on top. */
  firstVisibleRow: number;
}

/**
 * The rows to render for a viewport at `scrollTop` of height `viewportHeight`, with `overscan` extra
 * rows above and below. A viewport of height 0 (not laid out yet) renders one screen's worth of
 * nothing: only the overscan rows from the top.
 */
export function visibleRange(
  layout: GridLayout,
  count: number,
  scrollTop: number,
  viewportHeight: number,
  overscan: number,
): VisibleRange {
  if (layout.rows === 0) return { startRow: 0, endRow: 0, startIndex: 0, endIndex: 0, firstVisibleRow: 0 };
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, layout.totalHeight - viewportHeight)));
  const firstVisibleRow = Math.min(layout.rows - 1, Math.floor(top / layout.rowHeight));
  const lastVisibleRow = Math.min(
    layout.rows - 1,
    Math.floor((top + Math.max(0, viewportHeight) - 1) / layout.rowHeight),
  );
  const startRow = Math.max(0, firstVisibleRow - overscan);
  const endRow = Math.min(layout.rows, Math.max(firstVisibleRow, lastVisibleRow) + 1 + overscan);
  return {
    startRow,
    endRow,
    startIndex: startRow * layout.columns,
    endIndex: Math.min(count, endRow * layout.columns),
    firstVisibleRow,
  };
}

/** Top-left corner of cell `index`, relative to the grid's content box. */
export function cellPosition(index: number, layout: GridLayout): { top: number; left: number } {
  const row = Math.floor(index / layout.columns);
  const column = index % layout.columns;
  return { top: row * layout.rowHeight, left: column * layout.columnWidth };
}

/**
 * The scrollTop that brings cell `index` fully into view with the least movement, or null when it
 * is already fully visible.
 */
export function scrollToReveal(
  index: number,
  layout: GridLayout,
  scrollTop: number,
  viewportHeight: number,
): number | null {
  const { top } = cellPosition(index, layout);
  const bottom = top + layout.cellHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return null;
}

/** Whether the rendered range reaches within `thresholdRows` rows of the end: time to fetch the next page. */
export function isNearEnd(range: VisibleRange, layout: GridLayout, thresholdRows: number): boolean {
  return range.endRow >= layout.rows - thresholdRows;
}

/**
 * Where to scroll after `added` items were inserted before everything, so that the row that was
 * at the top of the viewport stays where it was. `anchorIndex` is the index (before the insert) of
 * the first item of the first visible row; the view keeps that item's row at the same offset. When
 * `added` is a multiple of the column count every cell stays exactly in place; otherwise the
 * anchor item keeps its height on screen and may move sideways.
 */
export function anchoredScrollTop(
  scrollTop: number,
  anchorIndex: number,
  added: number,
  layout: Pick<GridLayout, 'columns' | 'rowHeight'>,
): number {
  const oldRow = Math.floor(anchorIndex / layout.columns);
  const offset = scrollTop - oldRow * layout.rowHeight;
  const newRow = Math.floor((anchorIndex + added) / layout.columns);
  return Math.max(0, newRow * layout.rowHeight + offset);
}

/**
 * Where to scroll after the grid was resized (the window, or the detail view opening beside it)
 * and its column count or row height changed: the active item stays where it was on screen when it
 * was on screen, else the first visible item keeps its place at the top.
 */
export function reflowScrollTop(
  scrollTop: number,
  viewportHeight: number,
  before: Pick<GridLayout, 'columns' | 'rowHeight'>,
  after: Pick<GridLayout, 'columns' | 'rowHeight'>,
  activeIndex: number,
): number {
  if (activeIndex >= 0) {
    const onScreenAt = Math.floor(activeIndex / before.columns) * before.rowHeight - scrollTop;
    if (onScreenAt > -before.rowHeight && onScreenAt < viewportHeight) {
      return Math.max(0, Math.floor(activeIndex / after.columns) * after.rowHeight - onScreenAt);
    }
  }
  const topRow = Math.floor(scrollTop / before.rowHeight);
  const offset = (scrollTop - topRow * before.rowHeight) * (after.rowHeight / before.rowHeight);
  return Math.floor((topRow * before.columns) / after.columns) * after.rowHeight + offset;
}

export type GridKey = 'ArrowLeft' | 'ArrowRight' | 'ArrowUp' | 'ArrowDown' | 'Home' | 'End' | 'PageUp' | 'PageDown';

const gridKeys = new Set<string>([
  'ArrowLeft',
  'ArrowRight',
  'ArrowUp',
  'ArrowDown',
  'Home',
  'End',
  'PageUp',
  'PageDown',
]);

export function isGridKey(key: string): key is GridKey {
  return gridKeys.has(key);
}

/**
 * The index a navigation key moves to from `index` in a grid of `count` items and `columns`
 * columns; `pageRows` rows per PageUp/PageDown. Moves clamp at the ends (no wrap-around), except
 * that ArrowDown from the last full row lands on the last item, as file managers do.
 */
export function moveIndex(index: number, key: GridKey, columns: number, count: number, pageRows = 1): number {
  if (count <= 0) return -1;
  const last = count - 1;
  const clamp = (i: number): number => Math.max(0, Math.min(last, i));
  if (index < 0) return key === 'End' ? last : 0;
  switch (key) {
    case 'ArrowLeft':
      return clamp(index - 1);
    case 'ArrowRight':
      return clamp(index + 1);
    case 'ArrowUp':
      return index - columns >= 0 ? index - columns : index;
    case 'ArrowDown': {
      if (index + columns <= last) return index + columns;
      // Below is a partial last row: go to its last item when there is a row below at all.
      return Math.floor(index / columns) < Math.floor(last / columns) ? last : index;
    }
    case 'Home':
      return 0;
    case 'End':
      return last;
    case 'PageUp':
      return clamp(index - columns * Math.max(1, pageRows));
    case 'PageDown':
      return clamp(index + columns * Math.max(1, pageRows));
  }
}
