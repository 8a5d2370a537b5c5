import type { FillMode } from '../document/CanvasDocument';
import { rectFromPoints, type Point } from '../document/geometry';
import { fillModeOf, type Tool, type ToolContext, type ToolOverlay, type ToolPointerEvent } from './types';

/** Rectangle fill (Alt: erase): idle -> dragging -> idle, one edit on release. */
export class RectTool implements Tool {
  readonly id = 'rect';
  state: 'idle' | 'dragging' = 'idle';
  readonly cursor = 'crosshair';
  private start: Point | null = null;
  private current: Point | null = null;
  private mode: FillMode = 'fill';

  down(ctx: ToolContext, e: ToolPointerEvent): void {
    if (e.button !== 0) return;
    this.start = ctx.toDoc(e);
    this.current = this.start;
    this.mode = fillModeOf(e);
    this.state = 'dragging';
  }

  move(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state !== 'dragging') return;
    this.current = ctx.toDoc(e);
    this.mode = fillModeOf(e);
  }

  up(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state !== 'dragging' || !this.start) return;
    const rect = rectFromPoints(this.start, ctx.toDoc(e));
    this.cancel();
    const r = roundRect(rect);
    if (r.width > 0 && r.height > 0) ctx.doc.fillRect(r, fillModeOf(e));
  }

  cancel(): void {
    this.start = null;
    this.current = null;
    this.state = 'idle';
  }

  overlay(): ToolOverlay | null {
    if (!this.start || !this.current) return null;
    return { kind: 'rect', rect: roundRect(rectFromPoints(this.start, this.current)), mode: this.mode };
  }
}

/** Corners rounded to the nearest pixel edge, so what is drawn is what is filled. */
function roundRect(r: { x: number; y: number; width: number; height: number }) {
  const x = Math.round(r.x);
  const y = Math.round(r.y);
  return { x, y, width: Math.round(r.x + r.width) - x, height: Math.round(r.y + r.height) - y };
}
