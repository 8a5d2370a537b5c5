import { useCallback, useRef, useState, useSyncExternalStore } from 'react';
import { CanvasDocument, type CanvasChange, type CanvasDocumentOptions } from './document/CanvasDocument';

/** Changes that settle something: edits, undo/redo, box moves; not live stroke dabs or the view. */
export const settledChanges = (c: CanvasChange): boolean => c.kind !== 'view' && !(c.kind === 'mask' && c.live);

/**
 * The canvas document and a version counter that bumps (re-rendering the caller) on each change
 * that passes `filter` (every change by default). Pass `doc` to follow a document made elsewhere;
 * without it, the hook makes one for the component's lifetime.
 *
 * Drawing a stroke changes the document at pointer rate: components other than the stage should
 * pass `settledChanges` so they re-render once per edit, not once per dab.
 */
export function useCanvasDocument(
  doc?: CanvasDocument,
  filter: (change: CanvasChange) => boolean = () => true,
  options?: CanvasDocumentOptions,
): { doc: CanvasDocument; version: number } {
  const [own] = useState(() => doc ?? new CanvasDocument(options));
  const target = doc ?? own;
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const counter = useRef(0);
  const subscribe = useCallback(
    (notify: () => void) =>
      target.subscribe((change) => {
        if (!filterRef.current(change)) return;
        counter.current++;
        notify();
      }),
    [target],
  );
  const version = useSyncExternalStore(
    subscribe,
    () => counter.current,
    () => counter.current,
  );
  return { doc: target, version };
}
