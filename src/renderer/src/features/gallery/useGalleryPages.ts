import { useCallback, useEffect, useRef, useState } from 'react';
import type { GalleryItem } from '@contract';
import type { StudioClient } from '../../api/client';

export interface GalleryQuery {
  search: string;
  trashed: boolean;
  favourite: boolean;
  boardId: number | null;
}

/** The first page is small (it is what the user waits for); later ones are the contract's maximum. */
const FIRST_PAGE = 80;
const NEXT_PAGE = 200;

/**
 * The loaded part of the gallery for one query, newest first, fetched a keyset page at a time.
 * `loadMore` is safe to call as often as a scroll handler likes: it does nothing while a page is in
 * flight or when the last page has arrived. A new query (`reload`) discards answers to the old one.
 */
export function useGalleryPages(client: StudioClient, query: GalleryQuery, onError: (message: string) => void) {
  const [items, setItems] = useState<GalleryItem[]>([]);
  const [done, setDone] = useState(false);
  const cursor = useRef<string | null>(null);
  const generation = useRef(0);
  /** The generation whose page is in flight, or null. */
  const inFlight = useRef<number | null>(null);
  const queryRef = useRef(query);
  queryRef.current = query;
  const onErrorRef = useRef(onError);
  onErrorRef.current = onError;

  const fetchPage = useCallback(
    async (reset: boolean): Promise<void> => {
      if (!reset && (inFlight.current !== null || cursor.current === null)) return;
      const mine = reset ? ++generation.current : generation.current;
      inFlight.current = mine;
      const q = queryRef.current;
      try {
        const page = await client.invoke('gallery.page', {
          limit: reset ? FIRST_PAGE : NEXT_PAGE,
          cursor: reset ? null : cursor.current,
          ...(q.search.trim() ? { search: q.search.trim() } : {}),
          filters: {
            trashed: q.trashed,
            ...(q.favourite ? { favourite: true } : {}),
            ...(q.boardId !== null ? { boardId: q.boardId } : {}),
          },
        });
        if (mine !== generation.current) return;
        cursor.current = page.nextCursor;
        setItems((prev) => (reset ? page.items : prev.concat(page.items)));
        setDone(page.nextCursor === null);
      } catch (err) {
        if (mine === generation.current) onErrorRef.current(err instanceof Error ? err.message : String(err));
      } finally {
        if (inFlight.current === mine) inFlight.current = null;
      }
    },
    [client],
  );

  const reload = useCallback(() => void fetchPage(true), [fetchPage]);
  const loadMore = useCallback(() => void fetchPage(false), [fetchPage]);

  // A new query starts from the top (debounced: the search box changes on every key).
  const key = JSON.stringify(query);
  useEffect(() => {
    const timer = setTimeout(reload, 150);
    return () => clearTimeout(timer);
  }, [key, reload]);

  /** New images on top, skipping any already loaded. */
  const prepend = useCallback((added: readonly GalleryItem[]) => {
    setItems((prev) => {
      const have = new Set(prev.map((i) => i.id));
      const fresh = added.filter((i) => !have.has(i.id));
      return fresh.length ? [...fresh, ...prev] : prev;
    });
  }, []);

  const remove = useCallback((ids: ReadonlySet<number>) => {
    setItems((prev) => prev.filter((i) => !ids.has(i.id)));
  }, []);

  const patch = useCallback((ids: ReadonlySet<number>, change: Partial<GalleryItem>) => {
    setItems((prev) => prev.map((i) => (ids.has(i.id) ? { ...i, ...change } : i)));
  }, []);

  return { items, done, loadMore, reload, prepend, remove, patch, queryKey: key };
}
