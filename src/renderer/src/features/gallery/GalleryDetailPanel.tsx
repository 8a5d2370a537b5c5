import { forwardRef, type KeyboardEvent } from 'react';
import type { Board, GalleryDetail, GalleryItem } from '@contract';
import type { StudioClient } from '../../api/client';
import { mediaUrl } from '../../api/media';
import type { HostKind } from '../../api/transport';
import { offerRemix, remixFrom, sendToCanvas } from '../../app/remixStore';

export interface GalleryDetailPanelProps {
  client: StudioClient;
  hostKind: HostKind;
  /** The active item, as the grid has it (shown at once); `detail` follows from gallery.get. */
  item: GalleryItem;
  detail: GalleryDetail | null;
  boards: Board[];
  /** Runs an action and reports `done` (or the error) in the page's status line. */
  act: (work: () => Promise<unknown>, done: string) => Promise<boolean>;
  onOpenImage: (id: number) => void;
  onToggleFavourite: (item: GalleryItem) => void;
  onTrashOrRestore: (item: GalleryItem) => void;
  onChanged: (id: number, change: Partial<GalleryItem>) => void;
  onBoardsChanged: () => void;
  /** Escape: back to the grid. */
  onLeave: () => void;
}

const goToStudio = (): void => {
  window.location.hash = '#/studio';
};

/**
 * The detail view of one image: the picture, every action on it (regenerate, remix, variation, use
 * as init image, send to canvas, favourite, copy parameters, export, delete or restore), its rating
 * and board, the recipe and its lineage (clickable). Focusable as a whole (Enter in the grid).
 */
export const GalleryDetailPanel = forwardRef<HTMLElement, GalleryDetailPanelProps>(
  function GalleryDetailPanel(props, ref) {
    const { client, hostKind, detail, boards, act } = props;
    const item = detail?.item.id === props.item.id ? detail.item : props.item;
    const ready = detail !== null && detail.item.id === item.id ? detail : null;
    const source = `gallery image #${item.id}`;
    const recipe = (): Record<string, unknown> => ({ ...item, ...(ready?.recipe ?? {}) });

    const onKeyDown = (e: KeyboardEvent<HTMLElement>): void => {
      if (e.key === 'Escape') {
        e.preventDefault();
        props.onLeave();
      }
    };

    return (
      <aside className="gallery-detail" aria-label="Image details" ref={ref} tabIndex={-1} onKeyDown={onKeyDown}>
        <img src={mediaUrl(hostKind, item.media)} alt={`Seed ${item.seed}`} width={item.width} height={item.height} />
        <div className="detail-actions">
          <button
            type="button"
            onClick={() =>
              void act(() => client.invoke('gallery.rerun', { id: item.id }), 'Regenerating with the same seed…')
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
              offerRemix(remixFrom(recipe(), source));
              goToStudio();
            }}
          >
            Remix
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() =>
              void act(
                () => client.invoke('gallery.rerun', { id: item.id, newSeed: true }),
                'Making a variation with a new seed…',
              )
            }
            title="The same recipe with a new seed"
          >
            Variation
          </button>
          <button
            type="button"
            className="secondary"
            title="Start an img2img job from this image"
            onClick={() => {
              offerRemix({
                ...remixFrom(recipe(), source),
                initImageId: item.id,
                initMedia: item.media,
                width: item.width,
                height: item.height,
              });
              goToStudio();
            }}
          >
            Use as init image
          </button>
          <button
            type="button"
            className="secondary"
            title="Twice the size: Lanczos, then a light img2img pass with this image's recipe"
            onClick={() =>
              void act(() => client.invoke('gallery.upscale', { id: item.id, scale: 2 }), 'Upscaling to 2×…')
            }
          >
            Upscale 2×
          </button>
          <button
            type="button"
            className="secondary"
            title="Open this image on the Studio's canvas"
            onClick={() => {
              sendToCanvas(item.id, { media: item.media, width: item.width, height: item.height, source });
              goToStudio();
            }}
          >
            Send to canvas
          </button>
          <button
            type="button"
            className="secondary"
            aria-pressed={item.favourite}
            onClick={() => props.onToggleFavourite(item)}
            title="Favourite (F)"
          >
            {item.favourite ? '★ Favourite' : '☆ Favourite'}
          </button>
          <button
            type="button"
            className="secondary"
            disabled={!ready?.infotext}
            title="Copy the parameters in A1111's format, to paste into another tool"
            onClick={() => {
              const text = ready?.infotext ?? '';
              void act(() => navigator.clipboard.writeText(text), 'Parameters copied.');
            }}
          >
            Copy parameters
          </button>
          <button
            type="button"
            className="secondary"
            title="Copy the PNG, with its metadata, into a folder"
            onClick={() => {
              const folder = window.prompt('Export to which folder? (an absolute path)');
              if (folder?.trim())
                void act(
                  () => client.invoke('gallery.export', { ids: [item.id], folder: folder.trim() }),
                  `Exported to ${folder.trim()}.`,
                );
            }}
          >
            Export…
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => props.onTrashOrRestore(item)}
            title={item.trashed ? 'Restore (Del)' : 'Delete (Del)'}
          >
            {item.trashed ? 'Restore' : 'Delete'}
          </button>
        </div>
        <div className="detail-organise">
          <label>
            Rating{' '}
            <select
              aria-label="Rating"
              value={item.rating}
              onChange={(e) => {
                const rating = Number(e.target.value);
                void act(() => client.invoke('gallery.update', { ids: [item.id], rating }), 'Rated.').then(
                  (ok) => ok && props.onChanged(item.id, { rating }),
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
              value={item.boardId ?? ''}
              onChange={(e) => {
                const boardId = e.target.value === '' ? null : Number(e.target.value);
                void act(() => client.invoke('gallery.update', { ids: [item.id], boardId }), 'Moved.').then((ok) => {
                  if (!ok) return;
                  props.onChanged(item.id, { boardId });
                  props.onBoardsChanged();
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
          <dd data-testid="detail-prompt">{item.prompt}</dd>
          {item.negativePrompt && (
            <>
              <dt>Negative</dt>
              <dd>{item.negativePrompt}</dd>
            </>
          )}
          <dt>Seed</dt>
          <dd data-testid="detail-seed">{item.seed}</dd>
          <dt>Mode</dt>
          <dd>{item.mode}</dd>
          <dt>Sampler</dt>
          <dd>
            {item.sampler}, {item.steps} steps, CFG {item.cfg}
          </dd>
          <dt>Size</dt>
          <dd>
            {item.width}×{item.height}
          </dd>
          <dt>Model</dt>
          <dd>{item.modelName}</dd>
          <dt>Created</dt>
          <dd>{new Date(item.createdAt).toLocaleString()}</dd>
          {ready && (
            <>
              <dt>Ran on</dt>
              <dd>
                {ready.executionProvider.toUpperCase() || 'unknown'} · ONNX Runtime {ready.ortVersion || 'unknown'}
              </dd>
            </>
          )}
          {ready && ready.ancestors.length > 0 && (
            <>
              <dt>Made from</dt>
              <dd className="lineage" data-testid="detail-ancestors">
                {ready.ancestors.map((a) => (
                  <LineageLink key={a.id} item={a} hostKind={hostKind} onOpen={props.onOpenImage} />
                ))}
              </dd>
            </>
          )}
          {ready && ready.children.length > 0 && (
            <>
              <dt>Derived</dt>
              <dd className="lineage" data-testid="detail-children">
                {ready.children.map((c) => (
                  <LineageLink key={c.id} item={c} hostKind={hostKind} onOpen={props.onOpenImage} />
                ))}
              </dd>
            </>
          )}
        </dl>
        {!ready && <p className="muted">Loading the recipe…</p>}
        {ready && (
          <>
            <details>
              <summary>Parameters (A1111 format)</summary>
              <pre className="infotext" data-testid="detail-infotext">
                {ready.infotext || 'This image has no recipe of ours.'}
              </pre>
            </details>
            <details>
              <summary>Full recipe</summary>
              <pre className="recipe-json" data-testid="detail-recipe">
                {ready.recipe ? JSON.stringify(ready.recipe, null, 2) : 'None recorded (imported or recovered image).'}
              </pre>
            </details>
          </>
        )}
      </aside>
    );
  },
);

function LineageLink(props: { item: GalleryItem; hostKind: HostKind; onOpen: (id: number) => void }) {
  const { item } = props;
  return (
    <button
      type="button"
      className="ghost lineage-link"
      onClick={() => props.onOpen(item.id)}
      aria-label={`Open image #${item.id}, seed ${item.seed}`}
      title={item.prompt}
    >
      {item.thumb && <img src={mediaUrl(props.hostKind, item.thumb)} alt="" width={32} height={32} />}#{item.id}
    </button>
  );
}
