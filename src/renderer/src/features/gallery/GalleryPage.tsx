import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Board, GalleryDetail, GalleryItem } from '@contract';
import { mediaUrl } from '../../api/media';
import { useEvent, useStudio } from '../../api/StudioProvider';
import { PageHeader } from '../../app/PageHeader';
import { offerRemix, remixFrom } from '../../app/remixStore';
import { ImportFolder } from './ImportFolder';

const PAGE = 60;

/**
 * Every generation, newest first, with prompt search and a detail view holding the recipe and the
 * actions (regenerate, variation, favourite, trash). Pages load as the grid scrolls (keyset cursors).
 */
export function GalleryPage() {
  const { client, hostKind } = useStudio();
  const [search, setSearch] = useState('');
  const [showTrash, setShowTrash] = useState(false);
  const [favouritesOnly, setFavouritesOnly] = useState(false);
  const [boardId, setBoardId] = useState<number | null>(null);
  const [boards, setBoards] = useState<Board[]>([]);
  const refreshBoards = useCallback(() => {
    client.invoke('boards.list', {}).then(setBoards, () => undefined);
  }, [client]);
  useEffect(refreshBoards, [refreshBoards]);
  const [items, setItems] = useState<GalleryItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [selected, setSelected] = useState<number | null>(null);
  const [detail, setDetail] = useState<GalleryDetail | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const loading = useRef(false);
  const sentinel = useRef<HTMLDivElement>(null);
  const generation = useRef(0);

  const load = useCallback(
    async (reset: boolean) => {
      if (loading.current && !reset) return;
      loading.current = true;
      const mine = reset ? ++generation.current : generation.current;
      try {
        const page = await client.invoke('gallery.page', {
          limit: PAGE,
          cursor: reset ? null : cursor,
          ...(search.trim() ? { search: search.trim() } : {}),
          filters: {
            trashed: showTrash,
            ...(favouritesOnly ? { favourite: true } : {}),
            ...(boardId !== null ? { boardId } : {}),
          },
        });
        if (mine !== generation.current) return;
        setItems((prev) => (reset ? page.items : [...prev, ...page.items]));
        setCursor(page.nextCursor);
        setDone(page.nextCursor === null);
      } finally {
        loading.current = false;
      }
    },
    [client, cursor, search, showTrash, favouritesOnly, boardId],
  );

  useEffect(() => {
    const timer = setTimeout(() => void load(true), 150);
    return () => clearTimeout(timer);
    // Reload from the top when the query changes (load is rebuilt then), not when the cursor moves.
  }, [search, showTrash, favouritesOnly, boardId]); // load is deliberately left out: it changes with every cursor

  useEffect(() => {
    const el = sentinel.current;
    if (!el || done) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void load(false);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [load, done]);

  useEvent(
    'gallery.added',
    useCallback(
      (event) => {
        // Unfiltered, new images go on top; under a search or filter, the query decides: ask again.
        if (!showTrash && !search.trim() && !favouritesOnly && boardId === null) {
          setItems((prev) => [...event.items, ...prev]);
        } else {
          void load(true);
        }
      },
      [showTrash, search, favouritesOnly, boardId, load],
    ),
  );

  useEffect(() => {
    if (selected === null) {
      setDetail(null);
      return;
    }
    let live = true;
    client.invoke('gallery.get', { id: selected }).then(
      (d) => live && setDetail(d),
      (err: Error) => live && setMessage(err.message),
    );
    return () => {
      live = false;
    };
  }, [client, selected]);

  const act = async (work: () => Promise<unknown>, done: string): Promise<void> => {
    try {
      await work();
      setMessage(done);
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    }
  };

  const onGridKey = (e: KeyboardEvent<HTMLUListElement>): void => {
    if (selected === null || items.length === 0) return;
    const index = items.findIndex((i) => i.id === selected);
    const columns = Math.max(1, Math.round((e.currentTarget.clientWidth || 1) / 176));
    const delta = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns }[e.key];
    if (delta !== undefined) {
      e.preventDefault();
      const next = items[Math.min(items.length - 1, Math.max(0, index + delta))];
      if (next) {
        setSelected(next.id);
        document.getElementById(`gallery-item-${next.id}`)?.focus();
      }
    } else if (e.key === 'Delete' && !showTrash) {
      void act(() => client.invoke('gallery.trash', { ids: [selected] }), 'Moved to the trash.').then(() => {
        setItems((list) => list.filter((i) => i.id !== selected));
        setSelected(null);
      });
    } else if (e.key === 'f' || e.key === 'F') {
      const item = items[index];
      if (item) void toggleFavourite(item);
    }
  };

  const toggleFavourite = async (item: GalleryItem): Promise<void> => {
    await client.invoke('gallery.update', { ids: [item.id], favourite: !item.favourite });
    setItems((list) => list.map((i) => (i.id === item.id ? { ...i, favourite: !i.favourite } : i)));
    setDetail((d) => (d && d.item.id === item.id ? { ...d, item: { ...d.item, favourite: !d.item.favourite } } : d));
  };

  return (
    <>
      <PageHeader title="Gallery" subtitle="Every generation, with its full recipe and seed.">
        <input
          type="search"
          aria-label="Search prompts"
          placeholder="Search prompts…"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <ImportFolder onDone={() => void load(true)} />
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
          <input type="checkbox" checked={showTrash} onChange={(e) => setShowTrash(e.target.checked)} /> Trash
        </label>
        {showTrash && (
          <button
            type="button"
            className="secondary"
            onClick={() =>
              void act(() => client.invoke('gallery.emptyTrash', {}), 'Trash emptied.').then(() => load(true))
            }
          >
            Empty trash
          </button>
        )}
      </PageHeader>
      {message && (
        <p role="status" className="muted">
          {message}
        </p>
      )}
      <div className="gallery">
        <div className="gallery-scroll">
          {items.length === 0 && done ? (
            <section className="empty-state" aria-label="Images">
              <p>
                {search
                  ? 'No image matches this search.'
                  : showTrash
                    ? 'The trash is empty.'
                    : 'No images yet: generate one in the Studio.'}
              </p>
            </section>
          ) : (
            <ul className="gallery-grid" aria-label="Images" onKeyDown={onGridKey}>
              {items.map((item) => (
                <li key={item.id}>
                  <button
                    type="button"
                    id={`gallery-item-${item.id}`}
                    className={`thumb${item.id === selected ? ' selected' : ''}`}
                    aria-pressed={item.id === selected}
                    aria-label={`Image, seed ${item.seed}: ${item.prompt.slice(0, 80)}`}
                    onClick={() => setSelected(item.id)}
                  >
                    {item.thumb ? (
                      <img src={mediaUrl(hostKind, item.thumb)} alt="" loading="lazy" width={160} height={160} />
                    ) : (
                      <span className="muted">File missing</span>
                    )}
                    {item.favourite && (
                      <span className="fav" aria-label="Favourite">
                        ★
                      </span>
                    )}
                  </button>
                </li>
              ))}
            </ul>
          )}
          <div ref={sentinel} className="sentinel" />
        </div>
        {detail && (
          <aside className="gallery-detail" aria-label="Image details">
            <img src={mediaUrl(hostKind, detail.item.media)} alt={`Seed ${detail.item.seed}`} />
            <div className="detail-actions">
              <button
                type="button"
                onClick={() =>
                  void act(
                    () => client.invoke('gallery.rerun', { id: detail.item.id }),
                    'Regenerating with the same seed…',
                  )
                }
                title="Run the same recipe and seed again"
              >
                Regenerate
              </button>
              <button
                type="button"
                className="secondary"
                title="Load this recipe into the Studio to change it"
                onClick={() => {
                  offerRemix(
                    remixFrom({ ...detail.item, ...(detail.recipe ?? {}) }, `gallery image #${detail.item.id}`),
                  );
                  window.location.hash = '#/studio';
                }}
              >
                Remix
              </button>
              <button
                type="button"
                className="secondary"
                title="Start an img2img job from this image"
                onClick={() => {
                  offerRemix({
                    ...remixFrom({ ...detail.item, ...(detail.recipe ?? {}) }, `gallery image #${detail.item.id}`),
                    initImageId: detail.item.id,
                    initMedia: detail.item.media,
                    width: detail.item.width,
                    height: detail.item.height,
                  });
                  window.location.hash = '#/studio';
                }}
              >
                Use as init image
              </button>
              <button
                type="button"
                className="secondary"
                onClick={() =>
                  void act(
                    () => client.invoke('gallery.rerun', { id: detail.item.id, newSeed: true }),
                    'Making a variation with a new seed…',
                  )
                }
              >
                Variation
              </button>
              <button
                type="button"
                className="secondary"
                aria-pressed={detail.item.favourite}
                onClick={() => void toggleFavourite(detail.item)}
                title="Favourite (F)"
              >
                {detail.item.favourite ? '★ Favourite' : '☆ Favourite'}
              </button>
              <button
                type="button"
                className="secondary"
                onClick={() =>
                  void act(
                    () =>
                      detail.item.trashed
                        ? client.invoke('gallery.restore', { ids: [detail.item.id] })
                        : client.invoke('gallery.trash', { ids: [detail.item.id] }),
                    detail.item.trashed ? 'Restored.' : 'Moved to the trash.',
                  ).then(() => {
                    setItems((list) => list.filter((i) => i.id !== detail.item.id));
                    setSelected(null);
                  })
                }
                title={detail.item.trashed ? 'Restore' : 'Delete (Del)'}
              >
                {detail.item.trashed ? 'Restore' : 'Delete'}
              </button>
            </div>
            <div className="detail-organise">
              <label>
                Rating{' '}
                <select
                  aria-label="Rating"
                  value={detail.item.rating}
                  onChange={(e) => {
                    const rating = Number(e.target.value);
                    void act(() => client.invoke('gallery.update', { ids: [detail.item.id], rating }), 'Rated.').then(
                      () => setDetail((d) => (d ? { ...d, item: { ...d.item, rating } } : d)),
                    );
                  }}
                >
                  {[0, 1, 2, 3, 4, 5].map((r) => (
                    <option key={r} value={r}>
                      {r === 0 ? 'none' : '★'.repeat(r)}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Board{' '}
                <select
                  aria-label="Move to board"
                  value={detail.item.boardId ?? ''}
                  onChange={(e) => {
                    const target = e.target.value === '' ? null : Number(e.target.value);
                    void act(
                      () => client.invoke('gallery.update', { ids: [detail.item.id], boardId: target }),
                      'Moved.',
                    ).then(() => {
                      setDetail((d) => (d ? { ...d, item: { ...d.item, boardId: target } } : d));
                      refreshBoards();
                    });
                  }}
                >
                  <option value="">No board</option>
                  {boards.map((b) => (
                    <option key={b.id} value={b.id}>
                      {b.name}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <dl className="recipe">
              <dt>Prompt</dt>
              <dd data-testid="detail-prompt">{detail.item.prompt}</dd>
              {detail.item.negativePrompt && (
                <>
                  <dt>Negative</dt>
                  <dd>{detail.item.negativePrompt}</dd>
                </>
              )}
              <dt>Seed</dt>
              <dd data-testid="detail-seed">{detail.item.seed}</dd>
              <dt>Sampler</dt>
              <dd>
                {detail.item.sampler}, {detail.item.steps} steps, CFG {detail.item.cfg}
              </dd>
              <dt>Size</dt>
              <dd>
                {detail.item.width}×{detail.item.height}
              </dd>
              <dt>Model</dt>
              <dd>{detail.item.modelName}</dd>
              <dt>Ran on</dt>
              <dd>
                {detail.executionProvider.toUpperCase() || 'unknown'} · ONNX Runtime {detail.ortVersion || 'unknown'}
              </dd>
              {detail.ancestors.length > 0 && (
                <>
                  <dt>Made from</dt>
                  <dd>
                    {detail.ancestors.map((a) => (
                      <button key={a.id} type="button" className="ghost" onClick={() => setSelected(a.id)}>
                        #{a.id}
                      </button>
                    ))}
                  </dd>
                </>
              )}
            </dl>
            <details>
              <summary>Parameters (A1111 format)</summary>
              <pre className="infotext">{detail.infotext}</pre>
            </details>
          </aside>
        )}
      </div>
    </>
  );
}
