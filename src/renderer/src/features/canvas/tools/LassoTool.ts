import type { FillMode } from '../document/CanvasDocument';
import type { Point } from '../document/geometry';
import { fillModeOf, type Tool, type ToolContext, type ToolOverlay, type ToolPointerEvent } from './types';

/** Freehand polygon fill (Alt: erase): idle -> drawing -> idle, the closed path filled on release. */
export class LassoTool implements Tool {
  readonly id = 'lasso';
  state: 'idle' | 'drawing' = 'idle';
  readonly cursor = 'crosshair';
  private points: Point[] = [];
  private mode: FillMode = 'fill';

  down(ctx: ToolContext, e: ToolPointerEvent): void {
    if (e.button !== 0) return;
    this.points = [ctx.toDoc(e)];
    this.mode = fillModeOf(e);
    this.state = 'drawing';
  }

  move(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state !== 'drawing') return;
    const p = ctx.toDoc(e);
    const last = this.points.at(-1) as Point;
    // Skip sub-pixel jitter: it adds edges without changing the shape.
    if (Math.abs(p.x - last.x) + Math.abs(p.y - last.y) >= 1) this.points.push(p);
    this.mode = fillModeOf(e);
  }

  up(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state !== 'drawing') return;
    this.move(ctx, e);
    const points = this.points;
    this.cancel();
    ctx.doc.fillPolygon(points, fillModeOf(e));
  }

  cancel(): void {
    this.points = [];
    this.state = 'idle';
  }

  overlay(): ToolOverlay | null {
    return this.state === 'drawing' ? { kind: 'lasso', points: this.points, mode: this.mode } : null;
  }
}
