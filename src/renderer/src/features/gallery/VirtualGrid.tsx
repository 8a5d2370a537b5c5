/**
 * A virtualised grid of fixed-size cells: only the rows on screen (plus `overscanRows` above and
 * below) are in the DOM, each cell absolutely placed, so 100,000 items cost what 60 do. The layout
 * arithmetic is `virtualLayout.ts`; this component measures, scrolls and renders.
 *
 * - Navigation keys (arrows, Home/End, PageUp/PageDown) are turned into an item index and handed to
 *   `onNavigate`; the grid scrolls the new active cell into view and moves focus to it once the
 *   parent has made it active. The active cell is always rendered, so focus is never lost when it
 *   scrolls out of the overscan.
 * - Items inserted before the first one (new images on top) keep the rows on screen where they
 *   were, unless the view is at the very top, where the new items simply appear.
 * - `onNearEnd` is called while the rendered rows reach within `nearEndRows` of the end and
 *   `hasMore` is set: the parent fetches the next page (and ignores calls while one is in flight).
 */
import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
  type ReactNode,
} from 'react';
import {
  anchoredScrollTop,
  cellPosition,
  gridLayout,
  isGridKey,
  isNearEnd,
  moveIndex,
  reflowScrollTop,
  scrollToReveal,
  visibleRange,
  type GridMetrics,
} from './virtualLayout';

export interface VirtualGridProps<T> {
  items: readonly T[];
  getKey: (item: T) => number;
  /** The content of one cell: its first element receives focus when the cell becomes active. */
  renderCell: (item: T, index: number) => ReactNode;
  /** Accessible name of the list. */
  label: string;
  /** Minimum cell width; cells widen to share the row. */
  cellWidth: number;
  cellHeight: number;
  /** Cells as tall as they are wide (cellHeight is then ignored). */
  square?: boolean;
  gap?: number;
  overscanRows?: number;
  /** The active item's index, or -1: the one cell with tabIndex 0 in the parent's rendering. */
  activeIndex: number;
  /** A navigation key moved the active cell to `index` (Shift held: extend the selection). */
  onNavigate: (index: number, event: KeyboardEvent<HTMLElement>) => void;
  /** Other keys (Enter, Delete, …), before navigation; preventDefault() to stop the grid using it. */
  onKeyDown?: (event: KeyboardEvent<HTMLElement>) => void;
  hasMore: boolean;
  onNearEnd: () => void;
  nearEndRows?: number;
  /** Changing it (a new query) scrolls back to the top. */
  resetKey?: string;
  className?: string;
}

interface Viewport {
  width: number;
  height: number;
}

export function VirtualGrid<T>(props: VirtualGridProps<T>) {
  const {
    items,
    getKey,
    renderCell,
    activeIndex,
    onNavigate,
    onKeyDown,
    hasMore,
    onNearEnd,
    overscanRows = 2,
    nearEndRows = 10,
  } = props;
  const metrics: GridMetrics = useMemo(
    () => ({ cellWidth: props.cellWidth, cellHeight: props.cellHeight, gap: props.gap ?? 8 }),
    [props.cellWidth, props.cellHeight, props.gap],
  );
  const scroller = useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = useState<Viewport>({ width: 0, height: 0 });
  // The first row on screen: the grid re-renders when it changes, not on every scroll event.
  const [topRow, setTopRow] = useState(0);
  const pendingFocus = useRef<number | null>(null);

  const layout = useMemo(
    () => gridLayout(viewport.width, items.length, metrics, props.square),
    [viewport.width, items.length, metrics, props.square],
  );
  const range = visibleRange(
    layout,
    items.length,
    topRow * layout.rowHeight,
    // The view may sit anywhere within the top row: cover one more row below.
    viewport.height + layout.rowHeight,
    overscanRows,
  );

  const syncTopRow = useCallback(() => {
    const el = scroller.current;
    if (el) setTopRow(Math.floor(el.scrollTop / layout.rowHeight));
  }, [layout.rowHeight]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = (): void =>
      setViewport((v) =>
        v.width === el.clientWidth && v.height === el.clientHeight
          ? v
          : { width: el.clientWidth, height: el.clientHeight },
      );
    measure();
    if (typeof ResizeObserver === 'undefined') {
      window.addEventListener('resize', measure);
      return () => window.removeEventListener('resize', measure);
    }
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // Items inserted on top keep the rows on screen in place (see anchoredScrollTop); a new column
  // count keeps the active item in place (reflowScrollTop).
  const firstKey = items.length > 0 ? getKey(items[0] as T) : null;
  const seen = useRef({ firstKey, columns: layout.columns, rowHeight: layout.rowHeight });
  useLayoutEffect(() => {
    const el = scroller.current;
    const before = seen.current;
    seen.current = { firstKey, columns: layout.columns, rowHeight: layout.rowHeight };
    if (!el || el.scrollTop <= 0) return;
    if (before.firstKey !== null && firstKey !== before.firstKey) {
      const added = items.findIndex((item) => getKey(item) === before.firstKey);
      if (added > 0) {
        const anchor = Math.floor(el.scrollTop / layout.rowHeight) * layout.columns;
        el.scrollTop = anchoredScrollTop(el.scrollTop, anchor, added, layout);
        syncTopRow();
      }
    } else if (before.columns !== layout.columns || before.rowHeight !== layout.rowHeight) {
      el.scrollTop = reflowScrollTop(el.scrollTop, el.clientHeight, before, layout, activeIndex);
      syncTopRow();
    }
    // Only a new first item or a new geometry moves the view; items are read for the search.
  }, [firstKey, layout.columns, layout.rowHeight]);

  useEffect(() => {
    const el = scroller.current;
    if (el && props.resetKey !== undefined) {
      el.scrollTop = 0;
      setTopRow(0);
    }
  }, [props.resetKey]);

  const near = hasMore && isNearEnd(range, layout, nearEndRows);
  useEffect(() => {
    if (near) onNearEnd();
  }, [near, items.length, onNearEnd]);

  // Focus follows keyboard navigation once the parent has made the new cell active.
  useLayoutEffect(() => {
    if (pendingFocus.current === null || pendingFocus.current !== activeIndex) return;
    pendingFocus.current = null;
    const cell = scroller.current?.querySelector<HTMLElement>(`li[data-index="${activeIndex}"] > *`);
    cell?.focus({ preventScroll: true });
  });

  const handleKeyDown = (event: KeyboardEvent<HTMLElement>): void => {
    onKeyDown?.(event);
    if (event.defaultPrevented || !isGridKey(event.key) || event.altKey) return;
    event.preventDefault();
    const el = scroller.current;
    const pageRows = Math.max(1, Math.floor(viewport.height / layout.rowHeight));
    // From the focused cell (the tab stop when nothing is active yet), else the active one.
    const focused = Number((event.target as HTMLElement).closest('li')?.dataset.index ?? Number.NaN);
    const from = Number.isInteger(focused) ? focused : activeIndex;
    const next = moveIndex(from, event.key, layout.columns, items.length, pageRows);
    if (next < 0) return;
    if (el) {
      const target = scrollToReveal(next, layout, el.scrollTop, viewport.height || el.clientHeight);
      if (target !== null) {
        el.scrollTop = target;
        syncTopRow();
      }
    }
    pendingFocus.current = next;
    onNavigate(next, event);
  };

  const indices: number[] = [];
  for (let i = range.startIndex; i < range.endIndex; i++) indices.push(i);
  // The active cell stays mounted (and focusable) wherever the view is.
  if (
    activeIndex >= 0 &&
    activeIndex < items.length &&
    (activeIndex < range.startIndex || activeIndex >= range.endIndex)
  )
    indices.push(activeIndex);

  return (
    <div
      ref={scroller}
      className={`virtual-grid${props.className ? ` ${props.className}` : ''}`}
      onScroll={syncTopRow}
      data-testid="virtual-grid"
    >
      <ul
        role="list"
        aria-label={props.label}
        className="virtual-grid-content"
        style={{ height: layout.totalHeight }}
        onKeyDown={handleKeyDown}
      >
        {indices.map((index) => {
          const item = items[index] as T;
          const { top, left } = cellPosition(index, layout);
          return (
            <li
              key={getKey(item)}
              data-index={index}
              aria-posinset={index + 1}
              aria-setsize={hasMore ? -1 : items.length}
              style={{
                transform: `translate(${left}px, ${top}px)`,
                width: layout.cellWidth,
                height: layout.cellHeight,
              }}
            >
              {renderCell(item, index)}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
