import { useEffect, useRef } from 'react';
import type { CanvasDocument } from './document/CanvasDocument';
import type { Point } from './document/geometry';
import { StageRenderer } from './StageRenderer';
import type { ToolController } from './tools/ToolController';

export interface CanvasStageProps {
  doc: CanvasDocument;
  tools: ToolController;
  /** A live preview of the generation in progress, drawn inside the box. */
  previewUrl?: string;
  /** A result waiting to be accepted or discarded, drawn over the box. */
  stagedUrl?: string;
  /** An image file dropped on the stage, with the document point under the drop. */
  onDropFile?: (file: File, at: Point) => void;
}

/**
 * The Konva stage. React only mounts it; `StageRenderer` keeps it in step with the document.
 * Read-only debug attributes on the container: `data-mask-pixels` and `data-mask-bounds`
 * ("x,y,w,h" in document pixels, empty when no mask) after each edit, `data-view` ("x,y,scale"),
 * `data-images` (how many) and `data-image-bounds` (their union), `data-box` (the generation box).
 */
export function CanvasStage({ doc, tools, previewUrl, stagedUrl, onDropFile }: CanvasStageProps) {
  const container = useRef<HTMLDivElement>(null);
  const renderer = useRef<StageRenderer | null>(null);
  const dropRef = useRef(onDropFile);
  dropRef.current = onDropFile;

  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const r = new StageRenderer(el, doc, tools, {
      onDropFile: (file, at) => dropRef.current?.(file, at),
      onMaskStats: (pixels, bounds) => {
        el.dataset.maskPixels = String(pixels);
        el.dataset.maskBounds = bounds ? `${bounds.x},${bounds.y},${bounds.width},${bounds.height}` : '';
      },
    });
    renderer.current = r;
    return () => {
      r.destroy();
      renderer.current = null;
    };
  }, [doc, tools]);

  useEffect(() => renderer.current?.setPreview(previewUrl), [previewUrl, doc, tools]);
  useEffect(() => renderer.current?.setStaged(stagedUrl), [stagedUrl, doc, tools]);

  return (
    <div
      ref={container}
      className="canvas-stage"
      role="application"
      aria-roledescription="canvas"
      aria-label="Canvas: paint the mask, place the generation box"
      tabIndex={0}
      data-testid="canvas-stage"
      data-mask-pixels="0"
      data-mask-bounds=""
      data-images="0"
      data-image-bounds=""
    />
  );
}

export default CanvasStage;
