import { memo, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import type { Board, GalleryDetail, GalleryItem } from '@contract';
import { mediaUrl } from '../../api/media';
import type { HostKind } from '../../api/transport';
import { useEvent, useStudio } from '../../api/StudioProvider';
import { PageHeader } from '../../app/PageHeader';
import { GalleryDetailPanel } from './GalleryDetailPanel';
import { afterRemoval, emptySelection, selectAt, selectOnly, targetIds, type Selection } from './gallerySelection';
import { ImportFolder } from './ImportFolder';
import { useGalleryPages } from './useGalleryPages';
import { VirtualGrid } from './VirtualGrid';
import './gallery.css';

/** Thumbnail cells: square, at least this wide, widened to share the row (the same size for every cell). */
export const CELL_SIZE = 160;
export const CELL_GAP = 8;

/**
 * Every generation, newest first, in a virtualised grid (see README.md): prompt search, filters,
 * multi-select (Ctrl/Cmd-click, Shift-click, Shift+arrows), keyboard actions (arrows, Enter opens
 * the detail view, Delete trashes or restores, F favourites) and a detail view with the recipe,
 * lineage and actions. Pages load as the grid nears its end (keyset cursors).
 */
export function GalleryPage() {
  const { client, hostKind } = useStudio();
  const [search, setSearch] = useState('');
  const [showTrash, setShowTrash] = useState(false);
  const [favouritesOnly, setFavouritesOnly] = useState(false);
  const [boardId, setBoardId] = useState<number | null>(null);
  const [boards, setBoards] = useState<Board[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const [selection, setSelection] = useState<Selection>(emptySelection);
  const [detail, setDetail] = useState<GalleryDetail | null>(null);
  const detailRef = useRef<HTMLElement>(null);
  /** An image to focus in the grid once it is rendered (after a removal moved the selection). */
  const focusAfterRender = useRef<number | null>(null);

  const refreshBoards = useCallback(() => {
    client.invoke('boards.list', {}).then(setBoards, () => undefined);
  }, [client]);
  useEffect(refreshBoards, [refreshBoards]);

  const query = useMemo(
    () => ({ search, trashed: showTrash, favourite: favouritesOnly, boardId }),
    [search, showTrash, favouritesOnly, boardId],
  );
  const pages = useGalleryPages(client, query, setMessage);
  const { items } = pages;

  const filtered = showTrash || search.trim() !== '' || favouritesOnly || boardId !== null;
  useEvent(
    'gallery.added',
    useCallback(
      (event) => {
        // Unfiltered, new images go on top; under a search or filter, the query decides: ask again.
        if (!filtered) pages.prepend(event.items);
        else pages.reload();
      },
      [filtered, pages.prepend, pages.reload],
    ),
  );

  const activeIndex = useMemo(
    () => (selection.active === null ? -1 : items.findIndex((i) => i.id === selection.active)),
    [items, selection.active],
  );
  // An image opened from the lineage may not be loaded in the grid: show it from the detail we have.
  const activeItem =
    items[activeIndex] ??
    (detail
      ? [detail.item, ...detail.ancestors, ...detail.children].find((i) => i.id === selection.active)
      : undefined);

  useEffect(() => {
    if (selection.active === null) {
      setDetail(null);
      return;
    }
    let live = true;
    // Arrow keys move fast: fetch the recipe once the selection rests.
    const timer = setTimeout(() => {
      client.invoke('gallery.get', { id: selection.active as number }).then(
        (d) => live && setDetail(d),
        (err: Error) => live && setMessage(err.message),
      );
    }, 60);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, selection.active]);

  useEffect(() => {
    const id = focusAfterRender.current;
    if (id === null) return;
    focusAfterRender.current = null;
    document.getElementById(`gallery-item-${id}`)?.focus({ preventScroll: true });
  });

  const act = useCallback(async (work: () => Promise<unknown>, done: string): Promise<boolean> => {
    try {
      await work();
      setMessage(done);
      return true;
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
      return false;
    }
  }, []);

  const setFavourite = async (ids: number[], favourite: boolean): Promise<void> => {
    if (ids.length === 0) return;
    const ok = await act(
      () => client.invoke('gallery.update', { ids, favourite }),
      favourite ? 'Marked as favourite.' : 'No longer a favourite.',
    );
    if (!ok) return;
    const set = new Set(ids);
    pages.patch(set, { favourite });
    setDetail((d) => (d && set.has(d.item.id) ? { ...d, item: { ...d.item, favourite } } : d));
  };

  /** Trash (or, in the trash view, restore) `ids`, then select the item that took the active one's place. */
  const trashOrRestore = async (ids: number[], restore: boolean, refocus: boolean): Promise<void> => {
    if (ids.length === 0) return;
    const ok = await act(
      () => client.invoke(restore ? 'gallery.restore' : 'gallery.trash', { ids }),
      restore
        ? `Restored ${ids.length === 1 ? 'the image' : `${ids.length} images`}.`
        : `Moved ${ids.length === 1 ? 'the image' : `${ids.length} images`} to the trash.`,
    );
    if (!ok) return;
    const removed = new Set(ids);
    const next = afterRemoval(
      selection,
      items.map((i) => i.id),
      removed,
    );
    pages.remove(removed);
    setSelection(next);
    if (refocus && next.active !== null) focusAfterRender.current = next.active;
  };

  const onCellClick = (index: number, e: MouseEvent<HTMLButtonElement>): void => {
    setSelection((s) =>
      selectAt(
        s,
        items.map((i) => i.id),
        index,
        { toggle: e.ctrlKey || e.metaKey, range: e.shiftKey },
      ),
    );
  };

  // One callback for every cell (reading the latest onCellClick), so that memoised cells skip re-rendering.
  const onCellClickRef = useRef(onCellClick);
  onCellClickRef.current = onCellClick;
  const onCellClickStable = useCallback(
    (index: number, e: MouseEvent<HTMLButtonElement>) => onCellClickRef.current(index, e),
    [],
  );

  const onNavigate = (index: number, e: KeyboardEvent<HTMLElement>): void => {
    setSelection((s) =>
      selectAt(
        s,
        items.map((i) => i.id),
        index,
        { range: e.shiftKey },
      ),
    );
  };

  const onGridKey = (e: KeyboardEvent<HTMLElement>): void => {
    if (e.altKey) return;
    const modified = e.ctrlKey || e.metaKey;
    if (e.key === 'Enter' && !modified && selection.active !== null) {
      e.preventDefault();
      detailRef.current?.focus();
    } else if (e.key === 'Delete' || (e.key === 'Backspace' && e.metaKey)) {
      e.preventDefault();
      void trashOrRestore(targetIds(selection), showTrash, true);
    } else if ((e.key === 'f' || e.key === 'F') && !modified) {
      e.preventDefault();
      const ids = targetIds(selection);
      const chosen = new Set(ids);
      const allFavourite = items.filter((i) => chosen.has(i.id)).every((i) => i.favourite);
      void setFavourite(ids, !allFavourite);
    } else if (e.key === 'Escape' && selection.ids.size > 1 && selection.active !== null) {
      e.preventDefault();
      setSelection(selectOnly(selection.active));
    }
  };

  const openImage = (id: number): void => {
    setSelection(selectOnly(id));
  };

  const selectedCount = selection.ids.size;
  // The one tab stop of the grid: the active cell, else the first.
  const tabStop = activeIndex >= 0 ? activeIndex : 0;

  return (
    <div className="gallery-page">
      <PageHeader title="Gallery" subtitle="Every generation, with its full recipe and seed.">
        <input
          type="search"
          aria-label="Search prompts"
          placeholder="Search prompts…"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <ImportFolder onDone={pages.reload} />
        <select
          aria-label="Board"
          value={boardId ?? ''}
          onChange={(e) => setBoardId(e.target.value === '' ? null : Number(e.target.value))}
        >
          <option value="">All boards</option>
          {boards.map((b) => (
            <option key={b.id} value={b.id}>
              {b.name} ({b.imageCount})
            </option>
          ))}
        </select>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            const name = window.prompt('Name of the new board');
            if (name?.trim())
              void act(
                () => client.invoke('boards.create', { name: name.trim() }),
                `Board “${name.trim()}” created.`,
              ).then(refreshBoards);
          }}
        >
          New board
        </button>
        <label className="inline">
          <input type="checkbox" checked={favouritesOnly} onChange={(e) => setFavouritesOnly(e.target.checked)} />{' '}
          Favourites
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={showTrash}
            onChange={(e) => {
              setShowTrash(e.target.checked);
              setSelection(emptySelection);
            }}
          />{' '}
          Trash
        </label>
        {showTrash && (
          <button
            type="button"
            className="secondary"
            onClick={() =>
              void act(() => client.invoke('gallery.emptyTrash', {}), 'Trash emptied.').then(() => {
                setSelection(emptySelection);
                pages.reload();
              })
            }
          >
            Empty trash
          </button>
        )}
      </PageHeader>
      {message && (
        <p role="status" className="muted gallery-message">
          {message}
        </p>
      )}
      {selectedCount > 1 && (
        <div className="gallery-selection" role="group" aria-label="Selection">
          <span data-testid="selection-count">{selectedCount} selected</span>
          <button
            type="button"
            className="secondary"
            onClick={() => void setFavourite(targetIds(selection), true)}
            title="Favourite every selected image (F)"
          >
            Favourite all
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => void trashOrRestore(targetIds(selection), showTrash, false)}
            title={showTrash ? 'Restore every selected image (Del)' : 'Move every selected image to the trash (Del)'}
          >
            {showTrash ? 'Restore all' : 'Trash all'}
          </button>
          <button
            type="button"
            className="ghost"
            onClick={() => setSelection(selection.active === null ? emptySelection : selectOnly(selection.active))}
          >
            Clear selection
          </button>
        </div>
      )}
      <div className="gallery">
        {items.length === 0 && pages.done ? (
          <section className="empty-state gallery-empty" aria-label="Images">
            <p>
              {search
                ? 'No image matches this search.'
                : showTrash
                  ? 'The trash is empty.'
                  : 'No images yet: generate one in the Studio.'}
            </p>
          </section>
        ) : (
          <VirtualGrid
            items={items}
            getKey={(item: GalleryItem) => item.id}
            label="Images"
            cellWidth={CELL_SIZE}
            cellHeight={CELL_SIZE}
            square
            gap={CELL_GAP}
            overscanRows={3}
            activeIndex={activeIndex}
            onNavigate={onNavigate}
            onKeyDown={onGridKey}
            hasMore={!pages.done}
            onNearEnd={pages.loadMore}
            resetKey={pages.queryKey}
            renderCell={(item, index) => (
              <GalleryCell
                item={item}
                index={index}
                selected={selection.ids.has(item.id)}
                active={item.id === selection.active}
                tabStop={index === tabStop}
                hostKind={hostKind}
                onClick={onCellClickStable}
              />
            )}
          />
        )}
        {activeItem && (
          <GalleryDetailPanel
            ref={detailRef}
            client={client}
            hostKind={hostKind}
            item={activeItem}
            detail={detail}
            boards={boards}
            act={act}
            onOpenImage={openImage}
            onToggleFavourite={(item) => void setFavourite([item.id], !item.favourite)}
            onTrashOrRestore={(item) => void trashOrRestore([item.id], item.trashed, false)}
            onChanged={(id, change) => {
              pages.patch(new Set([id]), change);
              setDetail((d) => (d && d.item.id === id ? { ...d, item: { ...d.item, ...change } } : d));
            }}
            onBoardsChanged={refreshBoards}
            onLeave={() => document.getElementById(`gallery-item-${selection.active}`)?.focus()}
          />
        )}
      </div>
    </div>
  );
}

interface GalleryCellProps {
  item: GalleryItem;
  index: number;
  selected: boolean;
  active: boolean;
  /** The grid's one tab stop. */
  tabStop: boolean;
  hostKind: HostKind;
  onClick: (index: number, e: MouseEvent<HTMLButtonElement>) => void;
}

/** One thumbnail; memoised, so scrolling renders only the cells that come into view. */
const GalleryCell = memo(function GalleryCell({
  item,
  index,
  selected,
  active,
  tabStop,
  hostKind,
  onClick,
}: GalleryCellProps) {
  return (
    <button
      type="button"
      id={`gallery-item-${item.id}`}
      className={`thumb${selected ? ' selected' : ''}${active ? ' active' : ''}`}
      aria-pressed={selected}
      tabIndex={tabStop ? 0 : -1}
      aria-label={`Image, seed ${item.seed}: ${item.prompt.slice(0, 80)}`}
      onClick={(e) => onClick(index, e)}
    >
      {item.thumb ? (
        <img src={mediaUrl(hostKind, item.thumb)} alt="" decoding="async" width={CELL_SIZE} height={CELL_SIZE} />
      ) : (
        <span className="muted">File missing</span>
      )}
      {item.favourite && (
        <span className="fav" aria-label="Favourite">
          ★
        </span>
      )}
    </button>
  );
});
