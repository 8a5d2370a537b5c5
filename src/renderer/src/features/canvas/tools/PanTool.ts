import type { Point } from '../document/geometry';
import type { Tool, ToolContext, ToolPointerEvent } from './types';

/** Pan: idle -> panning while a button is held; moves the view, records nothing. */
export class PanTool implements Tool {
  readonly id = 'pan';
  state: 'idle' | 'panning' = 'idle';
  private last: Point | null = null;

  get cursor(): string {
    return this.state === 'panning' ? 'grabbing' : 'grab';
  }

  down(_ctx: ToolContext, e: ToolPointerEvent): void {
    this.last = { x: e.x, y: e.y };
    this.state = 'panning';
  }

  move(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state !== 'panning' || !this.last) return;
    ctx.doc.pan(e.x - this.last.x, e.y - this.last.y);
    this.last = { x: e.x, y: e.y };
  }

  up(ctx: ToolContext, e: ToolPointerEvent): void {
    this.move(ctx, e);
    this.cancel();
  }

  cancel(): void {
    this.last = null;
    this.state = 'idle';
  }

  overlay(): null {
    return null;
  }
}
