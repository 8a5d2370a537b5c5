/**
 * Routes pointer, wheel and key input to the selected tool, with the two temporary pans: Space
 * held, and the middle button. The tool that takes a pointer-down keeps the gesture until the
 * pointer goes up, so releasing Space mid-drag does not hand half a pan to the brush.
 */
import type { CanvasDocument } from '../document/CanvasDocument';
import type { Point, Size } from '../document/geometry';
import { toDocument } from '../document/viewTransform';
import { BoxTool } from './BoxTool';
import { LassoTool } from './LassoTool';
import { PanTool } from './PanTool';
import { RectTool } from './RectTool';
import type { CanvasCommand } from './shortcuts';
import { StrokeTool } from './StrokeTool';
import type { BrushSettings, Tool, ToolContext, ToolId, ToolOverlay, ToolPointerEvent } from './types';

export const BRUSH_MIN = 1;
export const BRUSH_MAX = 512;

export interface WheelInput {
  x: number;
  y: number;
  deltaY: number;
}

export class ToolController {
  private readonly tools: Record<ToolId, Tool>;
  private selected: ToolId = 'brush';
  private gesture: Tool | null = null;
  private spaceHeld = false;
  private hoverPoint: Point | null = null;
  private listeners = new Set<() => void>();
  private versionCounter = 0;
  private viewportSize: Size = { width: 0, height: 0 };
  readonly brush: BrushSettings;
  private readonly ctx: ToolContext;

  constructor(
    readonly doc: CanvasDocument,
    brush: Partial<BrushSettings> = {},
  ) {
    this.brush = { size: brush.size ?? 48, hardness: brush.hardness ?? 0.8 };
    this.tools = {
      brush: new StrokeTool('brush'),
      eraser: new StrokeTool('eraser'),
      rect: new RectTool(),
      lasso: new LassoTool(),
      box: new BoxTool(),
      pan: new PanTool(),
    };
    this.ctx = { doc, brush: this.brush, toDoc: (p) => toDocument(doc.view, p) };
  }

  // ---- state for views and tests ----

  get version(): number {
    return this.versionCounter;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.versionCounter++;
    for (const l of this.listeners) l();
  }

  /** The tool chosen in the toolbar. */
  get tool(): ToolId {
    return this.selected;
  }

  /** The tool that input goes to now: the gesture's, else pan while Space is held, else the selected. */
  get activeTool(): Tool {
    return this.gesture ?? (this.spaceHeld ? this.tools.pan : this.tools[this.selected]);
  }

  /** "brush.drawing", "pan.idle", ... */
  get state(): string {
    const t = this.activeTool;
    return `${t.id}.${t.state}`;
  }

  get cursor(): string {
    return this.activeTool.cursor;
  }

  overlay(): ToolOverlay | null {
    return this.activeTool.overlay();
  }

  /** The pointer over the stage, in document pixels (for the brush cursor), or null when outside. */
  get hover(): Point | null {
    return this.hoverPoint;
  }

  /** Whether the view should draw the brush outline at `hover`. */
  get showsBrush(): boolean {
    const t = this.activeTool.id;
    return t === 'brush' || t === 'eraser';
  }

  // ---- settings ----

  select(tool: ToolId): void {
    if (tool === this.selected) return;
    this.gesture?.cancel(this.ctx);
    this.gesture = null;
    this.selected = tool;
    this.changed();
  }

  setBrushSize(size: number): void {
    this.brush.size = Math.round(Math.min(BRUSH_MAX, Math.max(BRUSH_MIN, size)));
    this.changed();
  }

  setHardness(hardness: number): void {
    this.brush.hardness = Math.min(1, Math.max(0, hardness));
    this.changed();
  }

  /** The stage's size in CSS pixels (for fit and 100%). */
  setViewport(size: Size): void {
    this.viewportSize = { ...size };
  }

  get viewport(): Size {
    return this.viewportSize;
  }

  // ---- input ----

  pointerDown(e: ToolPointerEvent): void {
    if (this.gesture) return;
    this.hoverPoint = this.ctx.toDoc(e);
    const tool = e.button === 1 || this.spaceHeld ? this.tools.pan : this.tools[this.selected];
    tool.down(this.ctx, e);
    if (tool.state !== 'idle') this.gesture = tool;
    this.changed();
  }

  pointerMove(e: ToolPointerEvent): void {
    this.activeTool.move(this.ctx, e);
    this.hoverPoint = this.ctx.toDoc(e);
    this.changed();
  }

  pointerUp(e: ToolPointerEvent): void {
    const tool = this.gesture;
    if (tool) {
      tool.up(this.ctx, e);
      this.gesture = null;
    }
    this.hoverPoint = this.ctx.toDoc(e);
    this.changed();
  }

  /** The pointer left the stage (no gesture) or was lost (gesture cancelled). */
  pointerLeave(): void {
    this.hoverPoint = null;
    this.changed();
  }

  cancel(): void {
    this.gesture?.cancel(this.ctx);
    this.gesture = null;
    this.changed();
  }

  /** Wheel: zoom about the cursor; one notch (100) is about x0.8. */
  wheel(e: WheelInput): void {
    this.doc.zoomAt({ x: e.x, y: e.y }, Math.pow(2, -e.deltaY / 300));
    this.hoverPoint = this.ctx.toDoc(e);
    this.changed();
  }

  setSpace(held: boolean): void {
    if (held === this.spaceHeld) return;
    this.spaceHeld = held;
    this.changed();
  }

  get spaceIsHeld(): boolean {
    return this.spaceHeld;
  }

  /** Runs a toolbar or keyboard command. */
  run(command: CanvasCommand): void {
    switch (command.type) {
      case 'tool':
        this.select(command.tool);
        return;
      case 'undo':
        this.cancel();
        this.doc.undo();
        return;
      case 'redo':
        this.cancel();
        this.doc.redo();
        return;
      case 'invert':
        this.doc.invertMask();
        return;
      case 'clear':
        this.doc.clearMask();
        return;
      case 'fit':
        this.doc.fit(this.viewportSize);
        return;
      case 'actualSize':
        this.doc.actualSize(this.viewportSize);
        return;
      case 'brushSize': {
        // At least one pixel a step, so small brushes still change.
        const s = this.brush.size;
        this.setBrushSize(
          command.factor > 1 ? Math.max(s + 1, s * command.factor) : Math.min(s - 1, s * command.factor),
        );
        return;
      }
    }
  }
}
