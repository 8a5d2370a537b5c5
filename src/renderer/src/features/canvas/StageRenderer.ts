/**
 * Draws a CanvasDocument with Konva, imperatively: the document and the tools push changes, this
 * class turns them into node updates once per animation frame. Nothing is read back from Konva.
 *
 * Three layers: the placed images; the mask, as one shape over tinted tiles (MaskOverlay; only the
 * changed parts of the tiles are re-tinted per frame); and the UI (live
 * preview and staged result inside the box, the box with its size label and handles, the tool's
 * outline, the brush cursor). Pointer input is read from the container's DOM events and handed to
 * the ToolController in stage coordinates.
 */
import Konva from 'konva';
import type { CanvasChange, CanvasDocument } from './document/CanvasDocument';
import { BOX_HANDLES, handlePosition } from './document/generationBox';
import type { Point, Rect } from './document/geometry';
import { toDocument } from './document/viewTransform';
import type { ToolController } from './tools/ToolController';
import type { ToolPointerEvent } from './tools/types';
import { canvasFromRgba } from './imageIO';
import { MaskOverlay } from './MaskOverlay';

/** Opacity of the mask tint (applied to the whole mask layer, see MaskOverlay). */
const MASK_OPACITY = 0.5;
const ACCENT = '#d9a441';
const HANDLE_SIZE = 8;

export interface StageRendererOptions {
  /** A file dropped on the stage, with the document point it was dropped at. */
  onDropFile?: (file: File, at: Point) => void;
  /** Called after each settled mask change with the mask's pixel count and bounds (debug attributes). */
  onMaskStats?: (pixels: number, bounds: Rect | null) => void;
}

export class StageRenderer {
  private readonly stage: Konva.Stage;
  private readonly imageLayer = new Konva.Layer({ listening: false });
  private readonly maskLayer = new Konva.Layer({ listening: false });
  private readonly uiLayer = new Konva.Layer({ listening: false });
  private readonly imageNodes = new Map<number, Konva.Image>();
  private readonly mask = new MaskOverlay();

  private readonly preview = new Konva.Image({ image: undefined, visible: false, opacity: 0.9 });
  private readonly staged = new Konva.Image({ image: undefined, visible: false });
  private readonly boxOutline = new Konva.Rect({ stroke: ACCENT, strokeWidth: 1.5, strokeScaleEnabled: false });
  private readonly boxShade = new Konva.Rect({
    stroke: 'rgba(0,0,0,0.55)',
    strokeWidth: 3.5,
    strokeScaleEnabled: false,
  });
  private readonly boxLabel = new Konva.Label();
  private readonly boxLabelText = new Konva.Text({
    fontSize: 12,
    padding: 4,
    fill: '#16130c',
    fontFamily: 'system-ui',
  });
  private readonly handles = BOX_HANDLES.map(
    () => new Konva.Rect({ fill: ACCENT, stroke: '#16130c', strokeWidth: 1, strokeScaleEnabled: false }),
  );
  private readonly toolRect = new Konva.Rect({ strokeWidth: 1, strokeScaleEnabled: false, visible: false });
  private readonly toolLasso = new Konva.Line({
    strokeWidth: 1,
    strokeScaleEnabled: false,
    closed: true,
    visible: false,
  });
  /**
   * The brush outline is a DOM element over the stage, not a Konva shape: it follows every pointer
   * move, and moving an element costs the compositor nothing, where redrawing a layer re-uploads
   * a stage-sized canvas.
   */
  private readonly cursor = document.createElement('div');
  private readonly cursorCore = document.createElement('div');
  private dirtyCursor = true;
  private toolState = '';

  private dirtyView = true;
  private dirtyImages = true;
  private dirtyMask = true;
  private dirtyUi = true;
  private settled = true;
  /** The mode in the box label needs recounting (it reads the mask under the box). */
  private modeDirty = true;
  private frame = 0;
  private statsTimer: ReturnType<typeof setTimeout> | undefined;
  private previewUrl: string | undefined;
  private stagedUrl: string | undefined;
  private fitted = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly container: HTMLDivElement,
    private readonly doc: CanvasDocument,
    private readonly tools: ToolController,
    private readonly options: StageRendererOptions = {},
  ) {
    this.stage = new Konva.Stage({
      container,
      width: Math.max(1, container.clientWidth),
      height: Math.max(1, container.clientHeight),
      listening: false,
    });
    this.maskLayer.add(this.mask.node);
    this.boxLabel.add(new Konva.Tag({ fill: ACCENT, cornerRadius: 3 }));
    this.boxLabel.add(this.boxLabelText);
    this.uiLayer.add(
      this.preview,
      this.staged,
      this.boxShade,
      this.boxOutline,
      this.boxLabel,
      ...this.handles,
      this.toolRect,
      this.toolLasso,
    );
    this.cursor.className = 'canvas-brush-cursor';
    this.cursorCore.className = 'canvas-brush-core';
    this.cursor.setAttribute('aria-hidden', 'true');
    this.cursor.appendChild(this.cursorCore);
    container.appendChild(this.cursor);
    this.stage.add(this.imageLayer, this.maskLayer, this.uiLayer);
    this.maskLayer.getCanvas()._canvas.style.opacity = String(MASK_OPACITY);

    this.cleanups.push(doc.subscribe((c) => this.onDocChange(c)));
    this.cleanups.push(
      tools.subscribe(() => {
        this.dirtyCursor = true;
        // The UI layer only when what it shows changed: the tool, its state, its outline.
        const state = tools.state;
        if (state !== this.toolState || tools.overlay()) {
          this.toolState = state;
          this.dirtyUi = true;
        }
        this.schedule();
      }),
    );
    this.listen();
    const resize = new ResizeObserver(() => this.resize());
    resize.observe(container);
    this.cleanups.push(() => resize.disconnect());
    this.resize();
    this.schedule();
  }

  setPreview(url: string | undefined): void {
    if (url === this.previewUrl) return;
    this.previewUrl = url;
    this.loadInto(this.preview, url, () => url === this.previewUrl);
  }

  setStaged(url: string | undefined): void {
    if (url === this.stagedUrl) return;
    this.stagedUrl = url;
    this.loadInto(this.staged, url, () => url === this.stagedUrl);
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    clearTimeout(this.statsTimer);
    for (const c of this.cleanups) c();
    this.cursor.remove();
    this.stage.destroy();
  }

  // ---- input ----

  private listen(): void {
    const el = this.container;
    const local = (e: PointerEvent | MouseEvent): ToolPointerEvent => {
      const r = el.getBoundingClientRect();
      return {
        x: e.clientX - r.left,
        y: e.clientY - r.top,
        button: e.button,
        shiftKey: e.shiftKey,
        altKey: e.altKey,
        ctrlKey: e.ctrlKey,
        metaKey: e.metaKey,
      };
    };
    const on = <K extends keyof HTMLElementEventMap>(
      type: K,
      fn: (e: HTMLElementEventMap[K]) => void,
      opts?: AddEventListenerOptions,
    ): void => {
      el.addEventListener(type, fn, opts);
      this.cleanups.push(() => el.removeEventListener(type, fn, opts));
    };
    on('pointerdown', (e) => {
      if (e.button > 1) return;
      e.preventDefault(); // no text selection, no middle-button autoscroll
      el.focus({ preventScroll: true });
      el.setPointerCapture(e.pointerId);
      this.tools.pointerDown(local(e));
    });
    // Pointer-down's preventDefault does not stop text selection from a drag that leaves the stage.
    on('mousedown', (e) => e.preventDefault());
    on('pointermove', (e) => {
      // While drawing, take every sample the browser merged into this event: smoother strokes.
      const samples = e.buttons && typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      if (samples.length > 1) for (const s of samples) this.tools.pointerMove(local(s));
      else this.tools.pointerMove(local(e));
    });
    on('pointerup', (e) => {
      if (el.hasPointerCapture(e.pointerId)) el.releasePointerCapture(e.pointerId);
      this.tools.pointerUp(local(e));
    });
    on('pointercancel', () => this.tools.cancel());
    on('pointerleave', (e) => {
      if (!el.hasPointerCapture(e.pointerId)) this.tools.pointerLeave();
    });
    on(
      'wheel',
      (e) => {
        e.preventDefault();
        const unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1;
        const p = local(e);
        this.tools.wheel({ x: p.x, y: p.y, deltaY: e.deltaY * unit });
      },
      { passive: false },
    );
    on('contextmenu', (e) => e.preventDefault());
    on('dragover', (e) => {
      if (e.dataTransfer?.types.includes('Files')) {
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
      }
    });
    on('drop', (e) => {
      const file = e.dataTransfer?.files[0];
      if (!file || !this.options.onDropFile) return;
      e.preventDefault();
      e.stopPropagation();
      this.options.onDropFile(file, toDocument(this.doc.view, local(e)));
    });
  }

  private resize(): void {
    const width = Math.max(1, this.container.clientWidth);
    const height = Math.max(1, this.container.clientHeight);
    this.stage.size({ width, height });
    this.tools.setViewport({ width, height });
    if (!this.fitted && width > 1 && height > 1) {
      this.fitted = true;
      this.doc.fit({ width, height });
    }
    this.dirtyView = true;
    this.schedule();
  }

  // ---- change tracking ----

  private onDocChange(c: CanvasChange): void {
    switch (c.kind) {
      case 'view':
        this.dirtyView = true;
        break;
      case 'images':
        this.dirtyImages = true;
        this.dirtyUi = this.modeDirty = this.settled = true;
        break;
      case 'box':
        this.dirtyUi = this.modeDirty = this.settled = true;
        break;
      case 'mask':
        if (c.rect === null) this.mask.invalidate(this.doc.mask, 'all');
        else if (c.tiles) for (const t of c.tiles) this.mask.invalidate(this.doc.mask, t);
        else this.mask.invalidate(this.doc.mask, c.rect);
        // The end of a stroke (no tiles) changes no pixels on screen; only the box label and stats.
        if (c.rect === null || !c.tiles || c.tiles.length > 0) this.dirtyMask = true;
        if (!c.live) this.dirtyUi = this.modeDirty = this.settled = true;
        break;
    }
    this.schedule();
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    if (this.dirtyView) {
      const v = this.doc.view;
      this.stage.position({ x: v.x, y: v.y });
      this.stage.scale({ x: v.scale, y: v.scale });
      // Pixels stay crisp when zoomed in; smooth when zoomed out. The mask is always drawn pixel
      // for pixel: it shows exactly what will be repainted.
      const smooth = v.scale < 2;
      this.imageLayer.imageSmoothingEnabled(smooth);
      this.maskLayer.imageSmoothingEnabled(false);
      this.uiLayer.imageSmoothingEnabled(smooth);
      const size = this.stage.size();
      this.mask.visible = {
        x: -v.x / v.scale,
        y: -v.y / v.scale,
        width: size.width / v.scale,
        height: size.height / v.scale,
      };
      this.dirtyUi = true;
    }
    if (this.dirtyImages) {
      this.syncImages();
      const b = this.doc.bounds();
      // Read-only debug attributes for tests: images on the canvas and their union.
      this.container.dataset.images = String(this.doc.images.length);
      this.container.dataset.imageBounds = b ? `${b.x},${b.y},${b.width},${b.height}` : '';
    }
    if (this.dirtyUi) {
      const box = this.doc.box;
      this.container.dataset.box = `${box.x},${box.y},${box.width},${box.height}`;
    }
    if (this.dirtyMask) this.mask.sync(this.doc.mask);
    if (this.dirtyUi) this.syncUi();
    if (this.dirtyUi || this.dirtyCursor || this.dirtyView) this.syncCursor();
    if (this.dirtyView) {
      const v = this.doc.view;
      this.container.dataset.view = `${v.x},${v.y},${v.scale}`;
      this.stage.batchDraw();
    } else {
      if (this.dirtyImages) this.imageLayer.batchDraw();
      if (this.dirtyMask) this.maskLayer.batchDraw();
      if (this.dirtyUi) this.uiLayer.batchDraw();
    }
    this.container.style.cursor = this.tools.cursor;
    this.dirtyView = this.dirtyImages = this.dirtyUi = this.dirtyCursor = false;
    this.dirtyMask = false;
    if (this.settled) {
      this.settled = false;
      this.scheduleStats();
    }
  }

  /** Counting the mask is a full pass over it: done after an edit settles, off the frame. */
  private scheduleStats(): void {
    if (!this.options.onMaskStats) return;
    clearTimeout(this.statsTimer);
    this.statsTimer = setTimeout(() => {
      this.options.onMaskStats?.(this.doc.maskPixelCount(), this.doc.maskBounds());
    }, 0);
  }

  // ---- layers ----

  private syncImages(): void {
    const live = new Set<number>();
    this.doc.images.forEach((placed, index) => {
      live.add(placed.id);
      let node = this.imageNodes.get(placed.id);
      if (!node) {
        node = new Konva.Image({ image: canvasFromRgba(placed.image), x: placed.x, y: placed.y, listening: false });
        this.imageNodes.set(placed.id, node);
        this.imageLayer.add(node);
      }
      node.zIndex(index);
    });
    for (const [id, node] of this.imageNodes) {
      if (!live.has(id)) {
        node.destroy();
        this.imageNodes.delete(id);
      }
    }
  }

  private syncUi(): void {
    const { box, view } = this.doc;
    const k = 1 / view.scale;
    for (const node of [this.boxOutline, this.boxShade]) node.setAttrs({ ...box });
    this.boxOutline.dash([6 * k, 4 * k]);
    if (this.modeDirty) {
      this.modeDirty = false;
      this.boxLabelText.text(`${box.width} × ${box.height} · ${this.doc.mode().mode}`);
    }
    this.boxLabel.setAttrs({ x: box.x, y: box.y - 24 * k, scaleX: k, scaleY: k });

    const showHandles = this.tools.tool === 'box';
    BOX_HANDLES.forEach((handle, i) => {
      const p = handlePosition(box, handle);
      const s = HANDLE_SIZE * k;
      this.handles[i]?.setAttrs({ x: p.x - s / 2, y: p.y - s / 2, width: s, height: s, visible: showHandles });
    });
    for (const node of [this.preview, this.staged]) {
      node.position({ x: box.x, y: box.y });
      node.size({ width: box.width, height: box.height });
    }
    this.preview.visible(Boolean(this.previewUrl && this.preview.image()));
    this.staged.visible(Boolean(this.stagedUrl && this.staged.image()));

    const overlay = this.tools.overlay();
    const tint = (mode: 'fill' | 'erase') => (mode === 'fill' ? 'rgba(255,72,110,0.25)' : 'rgba(0,0,0,0.3)');
    this.toolRect.visible(overlay?.kind === 'rect');
    this.toolLasso.visible(overlay?.kind === 'lasso');
    if (overlay?.kind === 'rect') {
      this.toolRect.setAttrs({ ...overlay.rect, fill: tint(overlay.mode), stroke: '#ffffff', dash: [4 * k, 4 * k] });
    } else if (overlay?.kind === 'lasso') {
      this.toolLasso.points(overlay.points.flatMap((p) => [p.x, p.y]));
      this.toolLasso.fill(tint(overlay.mode));
      this.toolLasso.stroke('#ffffff');
      this.toolLasso.dash([4 * k, 4 * k]);
    }
  }

  private syncCursor(): void {
    const hover = this.tools.hover;
    const style = this.cursor.style;
    if (!this.tools.showsBrush || !hover) {
      style.display = 'none';
      return;
    }
    const v = this.doc.view;
    const { size, hardness } = this.tools.brush;
    const d = Math.max(2, size * v.scale);
    style.display = 'block';
    style.width = style.height = `${d}px`;
    style.transform = `translate(${hover.x * v.scale + v.x - d / 2}px, ${hover.y * v.scale + v.y - d / 2}px)`;
    const core = this.cursorCore.style;
    core.display = hardness > 0 && hardness < 1 ? 'block' : 'none';
    core.width = core.height = `${d * hardness}px`;
  }

  private loadInto(node: Konva.Image, url: string | undefined, current: () => boolean): void {
    if (!url) {
      node.image(undefined);
      this.dirtyUi = true;
      this.schedule();
      return;
    }
    const img = new Image();
    img.decoding = 'async';
    img.onload = () => {
      if (!current()) return;
      node.image(img);
      this.dirtyUi = true;
      this.schedule();
    };
    img.src = url;
  }
}
