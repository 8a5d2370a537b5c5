/**
 * The canvas editor's document: placed images, the mask raster, the generation box, the view, and
 * the undo history. Plain TypeScript (no React, no Konva): views subscribe and push what changed to
 * their own nodes; tools call the edit methods below. Every edit is one undoable history entry.
 */
import {
  compositeImages,
  isOpaque,
  placedRect,
  blankImage,
  type ImageSource,
  type PlacedImage,
  type RgbaImage,
} from './composite';
import { BOX_MIN, normaliseBox } from './generationBox';
import { deriveMode, type CanvasMode, type ModeInfo } from './generationMode';
import { intersect, pixelRect, rectsEqual, union, type Point, type Rect, type Sides, type Size } from './geometry';
import { DEFAULT_HISTORY_BUDGET, History, type HistoryEntry } from './History';
import { MaskRaster, type ReadonlyMask } from './MaskRaster';
import { MaskStroke, type MaskPatch, type StrokeOptions } from './MaskStroke';
import type { MaskTilePatch } from './MaskTilePatch';
import { scanPolygon } from './polygonFill';
import { fitRect, IDENTITY_VIEW, panBy, zoomAt, zoomTo, type ViewTransform } from './viewTransform';

export type CanvasChange =
  | { kind: 'images' }
  /**
   * `rect` null: the raster was reallocated (it grew); redraw all of it. `live`: a stroke in
   * progress (more changes follow; nothing is recorded yet). `tiles`, when given, are the only
   * parts of `rect` whose pixels changed (undo and redo of a stroke); empty at the end of a stroke,
   * whose pixels were all announced by its live changes.
   */
  | { kind: 'mask'; rect: Rect | null; tiles?: readonly Rect[]; live?: boolean }
  | { kind: 'box' }
  | { kind: 'view' };

export type FillMode = 'fill' | 'erase';

export interface CanvasDocumentOptions {
  /** Undo memory budget in bytes (default 256 MiB). */
  historyBudgetBytes?: number;
  /** The generation box to start with (default 512 x 512 at the origin). */
  box?: Rect;
}

/** What a generation needs from the canvas, cropped to the box. */
export interface GenerationInputs {
  mode: CanvasMode;
  box: Rect;
  extension: Sides;
  /** The image layer under the box, transparent where there is none. Null for txt2img. */
  init: RgbaImage | null;
  /**
   * White = repaint, black = keep, alpha 255. For inpaint, the painted mask; for outpaint, the
   * painted mask combined (max) with 255 - image alpha, so empty areas are repainted. Null for
   * txt2img and img2img.
   */
  mask: RgbaImage | null;
}

/** A stroke in progress (pointer down to up). */
export interface StrokeHandle {
  lineTo(p: Point): void;
  /** Records the stroke as one undoable edit. */
  end(): void;
  /** Removes what the stroke drew; nothing is recorded. */
  cancel(): void;
}

const LABELS: Record<'brush' | 'eraser', string> = { brush: 'brush stroke', eraser: 'eraser stroke' };

export class CanvasDocument {
  private readonly history: History;
  private readonly maskRaster = new MaskRaster();
  private imageList: PlacedImage[] = [];
  private boxRect: Rect;
  private viewState: ViewTransform = IDENTITY_VIEW;
  private listeners = new Set<(change: CanvasChange) => void>();
  private nextImageId = 1;
  private activeStroke: StrokeHandle | null = null;
  private modeCache: { version: number; info: ModeInfo } | null = null;
  private versionCounter = 0;

  constructor(options: CanvasDocumentOptions = {}) {
    this.history = new History(options.historyBudgetBytes ?? DEFAULT_HISTORY_BUDGET);
    this.boxRect = normaliseBox(options.box ?? { x: 0, y: 0, width: 512, height: 512 });
    this.maskRaster.ensure(this.boxRect);
  }

  // ---- change notification ----

  /** Bumped on every change (edits, undo, redo, view); React re-renders on it. */
  get version(): number {
    return this.versionCounter;
  }

  subscribe(listener: (change: CanvasChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: CanvasChange): void {
    this.versionCounter++;
    for (const l of this.listeners) l(change);
  }

  // ---- images ----

  get images(): readonly PlacedImage[] {
    return this.imageList;
  }

  /** The union of the placed images, or null when there are none. */
  bounds(): Rect | null {
    return this.imageList.reduce<Rect | null>((acc, p) => union(acc, placedRect(p)), null);
  }

  /** Everything the document spans: the images and the box. */
  extent(): Rect {
    return union(this.bounds(), this.boxRect) as Rect;
  }

  /** Places `image` with its top-left at `at` (rounded to whole pixels), as one undoable edit. */
  placeImage(image: RgbaImage, at: Point, meta: { source?: ImageSource; galleryId?: number } = {}): PlacedImage {
    const placed = this.makePlaced(image, at, meta);
    this.record(`place ${meta.source === 'result' ? 'result' : 'image'}`, image.data.byteLength, {
      apply: () => this.insertImage(placed),
      revert: () => this.removeImage(placed),
    });
    return placed;
  }

  /**
   * Imports a picture: into an empty document at the origin with the box fitted to it (at most
   * 1024 a side), otherwise at the box's top-left corner. One undoable edit.
   */
  importImage(image: RgbaImage): PlacedImage {
    if (this.imageList.length > 0) return this.placeImage(image, this.boxRect, { source: 'import' });
    const placed = this.makePlaced(image, { x: 0, y: 0 }, { source: 'import' });
    const fitted = normaliseBox({
      x: 0,
      y: 0,
      width: Math.max(BOX_MIN, Math.floor(Math.min(1024, image.width) / 8) * 8),
      height: Math.max(BOX_MIN, Math.floor(Math.min(1024, image.height) / 8) * 8),
    });
    const before = this.boxRect;
    this.record('import image', image.data.byteLength, {
      apply: () => {
        this.insertImage(placed);
        this.setBoxInternal(fitted);
      },
      revert: () => {
        this.removeImage(placed);
        this.setBoxInternal(before);
      },
    });
    return placed;
  }

  /**
   * Places a generated image at the box (or `at`), recording `galleryId` for lineage. The document
   * grows when the box reached past it (outpaint). One undoable edit.
   */
  acceptResult(image: RgbaImage, galleryId: number, at: Point = this.boxRect): PlacedImage {
    return this.placeImage(image, at, { source: 'result', galleryId });
  }

  /** Gallery ids of the accepted results on the canvas, oldest first. */
  lineage(): number[] {
    return this.imageList.flatMap((p) => (p.galleryId !== undefined ? [p.galleryId] : []));
  }

  /** The image layer composited over `rect` (default: the images' bounds; null when empty). */
  composite(rect: Rect | null = this.bounds()): RgbaImage | null {
    return rect ? compositeImages(this.imageList, pixelRect(rect)) : null;
  }

  private makePlaced(image: RgbaImage, at: Point, meta: { source?: ImageSource; galleryId?: number }): PlacedImage {
    if (image.data.length !== image.width * image.height * 4) throw new Error('RGBA data does not match its size');
    return {
      id: this.nextImageId++,
      x: Math.round(at.x),
      y: Math.round(at.y),
      image,
      opaque: isOpaque(image),
      source: meta.source ?? 'import',
      ...(meta.galleryId !== undefined ? { galleryId: meta.galleryId } : {}),
    };
  }

  private insertImage(placed: PlacedImage): void {
    this.imageList = [...this.imageList, placed];
    this.growMask();
    this.emit({ kind: 'images' });
  }

  private removeImage(placed: PlacedImage): void {
    this.imageList = this.imageList.filter((p) => p !== placed);
    this.emit({ kind: 'images' });
  }

  // ---- mask ----

  /** The mask raster, read-only. Its rect covers at least `extent()`. */
  get mask(): ReadonlyMask {
    return this.maskRaster;
  }

  /** Masked pixels (value above 0), in the whole document or in `rect`. */
  maskPixelCount(rect?: Rect): number {
    return this.maskRaster.count(rect);
  }

  /** Bounding box of the masked pixels in document coordinates, or null. */
  maskBounds(): Rect | null {
    return this.maskRaster.bounds();
  }

  /**
   * Starts a brush or eraser stroke at `at` (document pixels). The mask shows the stroke as it is
   * drawn; `end()` records it as one edit. Starting a stroke cancels one left open.
   */
  beginStroke(options: StrokeOptions, at: Point): StrokeHandle {
    this.activeStroke?.cancel();
    const stroke = new MaskStroke(this.maskRaster, { ...options, size: Math.max(1, options.size) });
    const changed = (r: Rect | null, live = true): void => {
      if (r) this.emit({ kind: 'mask', rect: r, live });
    };
    changed(stroke.moveTo(at));
    let open = true;
    const handle: StrokeHandle = {
      lineTo: (p) => {
        if (open) changed(stroke.lineTo(p));
      },
      end: () => {
        if (!open) return;
        open = false;
        this.activeStroke = null;
        const patch = stroke.finish();
        if (patch) this.recordStroke(LABELS[options.mode], patch);
      },
      cancel: () => {
        if (!open) return;
        open = false;
        this.activeStroke = null;
        changed(stroke.cancel(), false);
      },
    };
    this.activeStroke = handle;
    return handle;
  }

  /** A whole stroke through `points` as one edit. */
  paintStroke(points: readonly Point[], options: StrokeOptions): void {
    const [first, ...rest] = points;
    if (!first) return;
    const stroke = this.beginStroke(options, first);
    for (const p of rest) stroke.lineTo(p);
    stroke.end();
  }

  /** Fills (255) or erases (0) a rectangle of the mask. */
  fillRect(rect: Rect, mode: FillMode): void {
    const r = intersect(pixelRect(rect), this.maskRaster.rect);
    if (!r) return;
    const value = mode === 'fill' ? 255 : 0;
    const before = this.maskRaster.read(r);
    if (before.every((v) => v === value)) return;
    this.maskRaster.write(r, value);
    this.recordPatch(mode === 'fill' ? 'rectangle fill' : 'rectangle erase', { rect: r, before, after: value });
  }

  /** Fills or erases the inside of a polygon (lasso), non-zero winding, pixel centres. */
  fillPolygon(points: readonly Point[], mode: FillMode): void {
    if (points.length < 3) return;
    const xs = points.map((p) => p.x);
    const ys = points.map((p) => p.y);
    const hull = pixelRect({
      x: Math.min(...xs),
      y: Math.min(...ys),
      width: Math.max(...xs) - Math.min(...xs),
      height: Math.max(...ys) - Math.min(...ys),
    });
    const clip = intersect({ ...hull, width: hull.width + 1, height: hull.height + 1 }, this.maskRaster.rect);
    if (!clip) return;
    const before = this.maskRaster.read(clip);
    const value = mode === 'fill' ? 255 : 0;
    const touched = scanPolygon(points, clip, (y, x0, x1) =>
      this.maskRaster.write({ x: x0, y, width: x1 - x0, height: 1 }, value),
    );
    if (!touched) return;
    const after = this.maskRaster.read(clip);
    if (after.every((v, i) => v === before[i])) return;
    const patch = cropPatch({ rect: clip, before, after }, touched);
    this.recordPatch(mode === 'fill' ? 'lasso fill' : 'lasso erase', patch);
  }

  /** 255 - value over the whole mask (the document's extent). Holds no pixels in history. */
  invertMask(): void {
    const rect = { ...this.maskRaster.rect };
    const flip = (): void => {
      this.maskRaster.invert(rect);
      this.emit({ kind: 'mask', rect });
    };
    this.record('invert mask', 0, { apply: flip, revert: flip });
  }

  clearMask(): void {
    const r = this.maskRaster.bounds();
    if (!r) return;
    const before = this.maskRaster.read(r);
    this.maskRaster.write(r, 0);
    this.recordPatch('clear mask', { rect: r, before, after: 0 });
  }

  private recordPatch(label: string, patch: MaskPatch): void {
    // The edit is already in the raster; `record` applies it again, which is harmless and keeps
    // one code path for apply and redo.
    const bytes = patch.before.byteLength + (typeof patch.after === 'number' ? 0 : patch.after.byteLength);
    this.record(label, bytes, {
      apply: () => {
        this.maskRaster.write(patch.rect, patch.after);
        this.emit({ kind: 'mask', rect: patch.rect });
      },
      revert: () => {
        this.maskRaster.write(patch.rect, patch.before);
        this.emit({ kind: 'mask', rect: patch.rect });
      },
    });
  }

  /**
   * Records a finished stroke, already in the raster. Undo and redo are the same swap (see
   * MaskTilePatch); unlike `record`, nothing is applied again, so the end of a stroke costs no
   * pass over its pixels and views have nothing to redraw.
   */
  private recordStroke(label: string, patch: MaskTilePatch): void {
    const swap = (): void => {
      patch.swap(this.maskRaster);
      this.emit({ kind: 'mask', rect: patch.rect, tiles: patch.rects });
    };
    this.history.push({ label, bytes: patch.bytes, undo: swap, redo: swap });
    this.emit({ kind: 'mask', rect: patch.rect, tiles: [] });
  }

  private growMask(): void {
    if (this.maskRaster.ensure(this.extent())) this.emit({ kind: 'mask', rect: null });
  }

  // ---- generation box ----

  get box(): Rect {
    return this.boxRect;
  }

  /** Moves or resizes the box (snapped to 8, at least 64 a side) as one undoable edit. */
  setBox(rect: Rect): void {
    this.commitBox(this.boxRect, rect);
  }

  /** Shows the box at `rect` during a drag without recording anything; `commitBox` ends the drag. */
  previewBox(rect: Rect): void {
    const next = normaliseBox(rect);
    if (rectsEqual(next, this.boxRect)) return;
    this.boxRect = next;
    this.emit({ kind: 'box' });
  }

  /** Records the change from `from` (where a drag started) to the current box (or `to`). */
  commitBox(from: Rect, to: Rect = this.boxRect): void {
    const start = normaliseBox(from);
    const end = normaliseBox(to);
    this.boxRect = start;
    if (rectsEqual(start, end)) {
      this.emit({ kind: 'box' });
      return;
    }
    this.record(start.width === end.width && start.height === end.height ? 'move box' : 'resize box', 0, {
      apply: () => this.setBoxInternal(end),
      revert: () => this.setBoxInternal(start),
    });
  }

  private setBoxInternal(rect: Rect): void {
    this.boxRect = rect;
    this.growMask();
    this.emit({ kind: 'box' });
  }

  // ---- mode and generation inputs ----

  /** txt2img / img2img / inpaint / outpaint for the current box (memoised per version). */
  mode(): ModeInfo {
    if (this.modeCache?.version !== this.versionCounter) {
      const info = deriveMode(this.imageList.map(placedRect), this.boxRect, this.maskRaster.count(this.boxRect));
      this.modeCache = { version: this.versionCounter, info };
    }
    return this.modeCache.info;
  }

  /** The image layer under `rect` (default the box) as RGBA, transparent where there is no image. */
  initImage(rect: Rect = this.boxRect): RgbaImage {
    return compositeImages(this.imageList, pixelRect(rect));
  }

  /** The mask under `rect` (default the box), one byte per pixel, 255 = repaint. */
  maskAlpha(rect: Rect = this.boxRect): Uint8Array {
    return this.maskRaster.read(pixelRect(rect));
  }

  /**
   * The mask under `rect` as RGBA (white = repaint, black = keep, alpha 255). With
   * `includeUncovered`, pixels without (opaque) image are repainted too: max(mask, 255 - alpha).
   */
  maskImage(rect: Rect = this.boxRect, options: { includeUncovered?: boolean } = {}): RgbaImage {
    const r = pixelRect(rect);
    const alpha = this.maskRaster.read(r);
    const coverage = options.includeUncovered ? compositeImages(this.imageList, r).data : null;
    const out = blankImage(r.width, r.height);
    for (let i = 0; i < alpha.length; i++) {
      const v = coverage ? Math.max(alpha[i] as number, 255 - (coverage[i * 4 + 3] as number)) : (alpha[i] as number);
      out.data[i * 4] = v;
      out.data[i * 4 + 1] = v;
      out.data[i * 4 + 2] = v;
      out.data[i * 4 + 3] = 255;
    }
    return out;
  }

  /** Everything a generation needs from the canvas for the current box and mode. */
  generationInputs(): GenerationInputs {
    const info = this.mode();
    const box = { ...this.boxRect };
    const init = info.mode === 'txt2img' ? null : this.initImage(box);
    const mask =
      info.mode === 'inpaint'
        ? this.maskImage(box)
        : info.mode === 'outpaint'
          ? this.maskImage(box, { includeUncovered: true })
          : null;
    return { mode: info.mode, box, extension: { ...info.extension }, init, mask };
  }

  // ---- history ----

  /** Undoes the last edit (a stroke still being drawn is cancelled first). */
  undo(): boolean {
    this.activeStroke?.cancel();
    return this.history.undo() !== null;
  }

  redo(): boolean {
    return this.history.redo() !== null;
  }

  get canUndo(): boolean {
    return this.history.canUndo;
  }
  get canRedo(): boolean {
    return this.history.canRedo;
  }
  /** Labels for the undo/redo buttons ("brush stroke"), null when there is nothing. */
  get undoLabel(): string | null {
    return this.history.nextUndoLabel;
  }
  get redoLabel(): string | null {
    return this.history.nextRedoLabel;
  }
  /** Bytes the undo history holds, and how deep it is. */
  historyStats(): { bytes: number; budgetBytes: number; undoDepth: number; redoDepth: number } {
    const h = this.history;
    return { bytes: h.bytes, budgetBytes: h.budgetBytes, undoDepth: h.undoDepth, redoDepth: h.redoDepth };
  }

  private record(label: string, bytes: number, edit: { apply: () => void; revert: () => void }): void {
    edit.apply();
    const entry: HistoryEntry = { label, bytes, undo: edit.revert, redo: edit.apply };
    this.history.push(entry);
  }

  // ---- view (not part of the history) ----

  get view(): ViewTransform {
    return this.viewState;
  }

  setView(view: ViewTransform): void {
    if (view.x === this.viewState.x && view.y === this.viewState.y && view.scale === this.viewState.scale) return;
    this.viewState = { ...view };
    this.emit({ kind: 'view' });
  }

  pan(dx: number, dy: number): void {
    this.setView(panBy(this.viewState, dx, dy));
  }

  /** Zooms by `factor` about a screen point (wheel at the cursor). */
  zoomAt(screen: Point, factor: number): void {
    this.setView(zoomAt(this.viewState, screen, factor));
  }

  /** Fits the whole document (images and box) into a viewport of `size` CSS pixels. */
  fit(size: Size): void {
    this.setView(fitRect(this.extent(), size));
  }

  /** 100%: one document pixel per CSS pixel, keeping the viewport's centre. */
  actualSize(size: Size): void {
    this.setView(zoomTo(this.viewState, size, 1));
  }
}

/** The part of a patch inside `r` (which lies within the patch's rect). */
function cropPatch(patch: MaskPatch, r: Rect): MaskPatch {
  if (rectsEqual(r, patch.rect)) return patch;
  const crop = <T extends Uint8Array | number>(src: T): T => {
    if (typeof src === 'number') return src;
    const out = new Uint8Array(r.width * r.height);
    for (let row = 0; row < r.height; row++) {
      const from = (r.y - patch.rect.y + row) * patch.rect.width + (r.x - patch.rect.x);
      out.set(src.subarray(from, from + r.width), row * r.width);
    }
    return out as T;
  };
  return { rect: r, before: crop(patch.before), after: crop(patch.after) };
}
