import { handlePosition, moveBox, resizeBox, BOX_HANDLES, type BoxHandle } from '../document/generationBox';
import { containsPoint, type Point, type Rect } from '../document/geometry';
import { toScreen, type ViewTransform } from '../document/viewTransform';
import type { Tool, ToolContext, ToolPointerEvent } from './types';

/** How close (CSS pixels) the pointer must be to a handle to grab it. */
export const HANDLE_REACH = 8;

const HANDLE_CURSORS: Record<BoxHandle, string> = {
  nw: 'nwse-resize',
  se: 'nwse-resize',
  ne: 'nesw-resize',
  sw: 'nesw-resize',
  n: 'ns-resize',
  s: 'ns-resize',
  e: 'ew-resize',
  w: 'ew-resize',
};

/** The handle under a screen point, 'move' inside the box, or null. */
export function hitBox(box: Rect, view: ViewTransform, screen: Point): BoxHandle | 'move' | null {
  for (const handle of BOX_HANDLES) {
    const p = toScreen(view, handlePosition(box, handle));
    if (Math.abs(p.x - screen.x) <= HANDLE_REACH && Math.abs(p.y - screen.y) <= HANDLE_REACH) return handle;
  }
  const doc = { x: (screen.x - view.x) / view.scale, y: (screen.y - view.y) / view.scale };
  return containsPoint(box, doc) ? 'move' : null;
}

/**
 * Move or resize the generation box: idle -> moving | resizing -> idle. The drag shows live
 * (`previewBox`) and is recorded once on release; the box snaps to 8 and stays at least 64.
 */
export class BoxTool implements Tool {
  readonly id = 'box';
  state: 'idle' | 'moving' | 'resizing' = 'idle';
  private grip: BoxHandle | 'move' | null = null;
  private hover: BoxHandle | 'move' | null = null;
  private start: { box: Rect; at: Point } | null = null;

  get cursor(): string {
    const g = this.state === 'idle' ? this.hover : this.grip;
    return g === 'move' ? (this.state === 'moving' ? 'grabbing' : 'move') : g ? HANDLE_CURSORS[g] : 'default';
  }

  down(ctx: ToolContext, e: ToolPointerEvent): void {
    if (e.button !== 0) return;
    const grip = hitBox(ctx.doc.box, ctx.doc.view, e);
    if (!grip) return;
    this.grip = grip;
    this.start = { box: ctx.doc.box, at: ctx.toDoc(e) };
    this.state = grip === 'move' ? 'moving' : 'resizing';
  }

  move(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state === 'idle' || !this.start || !this.grip) {
      this.hover = hitBox(ctx.doc.box, ctx.doc.view, e);
      return;
    }
    const p = ctx.toDoc(e);
    const dx = p.x - this.start.at.x;
    const dy = p.y - this.start.at.y;
    ctx.doc.previewBox(
      this.grip === 'move' ? moveBox(this.start.box, dx, dy) : resizeBox(this.start.box, this.grip, dx, dy),
    );
  }

  up(ctx: ToolContext, e: ToolPointerEvent): void {
    if (this.state === 'idle' || !this.start) return;
    this.move(ctx, e);
    ctx.doc.commitBox(this.start.box);
    this.start = null;
    this.grip = null;
    this.state = 'idle';
    this.hover = hitBox(ctx.doc.box, ctx.doc.view, e);
  }

  cancel(ctx: ToolContext): void {
    if (this.start) ctx.doc.previewBox(this.start.box);
    this.start = null;
    this.grip = null;
    this.state = 'idle';
  }

  overlay(): null {
    return null;
  }
}
