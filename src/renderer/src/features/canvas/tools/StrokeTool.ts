import type { StrokeHandle } from '../document/CanvasDocument';
import type { Tool, ToolContext, ToolPointerEvent } from './types';

/** Brush or eraser: idle -> drawing (pointer down) -> idle (pointer up records one stroke). */
export class StrokeTool implements Tool {
  state: 'idle' | 'drawing' = 'idle';
  readonly cursor = 'none';
  private stroke: StrokeHandle | null = null;

  constructor(readonly id: 'brush' | 'eraser') {}

  down(ctx: ToolContext, e: ToolPointerEvent): void {
    if (e.button !== 0) return;
    this.stroke = ctx.doc.beginStroke(
      { mode: this.id, size: ctx.brush.size, hardness: ctx.brush.hardness },
      ctx.toDoc(e),
    );
    this.state = 'drawing';
  }

  move(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state === 'drawing') this.stroke?.lineTo(ctx.toDoc(e));
  }

  up(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state !== 'drawing') return;
    this.stroke?.lineTo(ctx.toDoc(e));
    this.stroke?.end();
    this.stroke = null;
    this.state = 'idle';
  }

  cancel(): void {
    this.stroke?.cancel();
    this.stroke = null;
    this.state = 'idle';
  }

  overlay(): null {
    return null;
  }
}
