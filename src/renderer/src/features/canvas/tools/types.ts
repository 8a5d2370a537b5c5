import type { CanvasDocument, FillMode } from '../document/CanvasDocument';
import type { Point, Rect } from '../document/geometry';

export type ToolId = 'brush' | 'eraser' | 'rect' | 'lasso' | 'box' | 'pan';

/** A pointer event in stage coordinates (CSS pixels from the stage's top-left). */
export interface ToolPointerEvent {
  x: number;
  y: number;
  /** 0 primary, 1 middle, 2 secondary (as DOM `button`). */
  button: number;
  shiftKey?: boolean;
  altKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
}

export interface BrushSettings {
  /** Diameter in document pixels. */
  size: number;
  /** 0..1. */
  hardness: number;
}

/** What a tool needs: the document, the brush settings, and screen <-> document mapping. */
export interface ToolContext {
  readonly doc: CanvasDocument;
  readonly brush: BrushSettings;
  toDoc(p: Point): Point;
}

/** Shapes a tool shows while it works (the view draws them; they are not in the document). */
export type ToolOverlay =
  { kind: 'rect'; rect: Rect; mode: FillMode } | { kind: 'lasso'; points: readonly Point[]; mode: FillMode };

/**
 * A tool: a small state machine driven by pointer events. `state` names where it is ("idle",
 * "drawing"), for tests and for the view's cursor.
 */
export interface Tool {
  readonly id: ToolId;
  readonly state: string;
  /** CSS cursor for the stage. */
  readonly cursor: string;
  down(ctx: ToolContext, e: ToolPointerEvent): void;
  move(ctx: ToolContext, e: ToolPointerEvent): void;
  up(ctx: ToolContext, e: ToolPointerEvent): void;
  /** Abandons a gesture in progress (Escape, pointer lost) without recording anything. */
  cancel(ctx: ToolContext): void;
  overlay(): ToolOverlay | null;
}

/** Alt subtracts with the fill tools. */
export const fillModeOf = (e: ToolPointerEvent): FillMode => (e.altKey ? 'erase' : 'fill');
