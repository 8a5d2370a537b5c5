import { useId, useRef, useSyncExternalStore } from 'react';
import type { CanvasDocument } from './document/CanvasDocument';
import { TOOL_KEYS } from './tools/shortcuts';
import { BRUSH_MAX, BRUSH_MIN, type ToolController } from './tools/ToolController';
import type { ToolId } from './tools/types';
import { settledChanges, useCanvasDocument } from './useCanvasDocument';

export interface CanvasToolbarProps {
  doc: CanvasDocument;
  tools: ToolController;
  onImportFile: (file: File) => void;
  onExportCanvas: () => void;
  onExportMask: () => void;
}

// Words, not icon glyphs: the system fonts on Linux often lack the symbols.
const TOOL_BUTTONS: { id: ToolId; label: string; text: string }[] = [
  { id: 'brush', label: 'Brush', text: 'Brush' },
  { id: 'eraser', label: 'Eraser', text: 'Eraser' },
  { id: 'rect', label: 'Rectangle mask', text: 'Rect' },
  { id: 'lasso', label: 'Lasso mask', text: 'Lasso' },
  { id: 'box', label: 'Move box', text: 'Box' },
  { id: 'pan', label: 'Pan', text: 'Pan' },
];

/** Tools, mask actions, history, view, brush settings, import and export. */
export function CanvasToolbar({ doc, tools, onImportFile, onExportCanvas, onExportMask }: CanvasToolbarProps) {
  useCanvasDocument(doc, settledChanges);
  // Re-render on tool and brush changes only, not on every pointer move.
  useSyncExternalStore(
    (fn) => tools.subscribe(fn),
    () => `${tools.tool}|${tools.brush.size}|${tools.brush.hardness}|${tools.spaceIsHeld}`,
  );
  const fileInput = useRef<HTMLInputElement>(null);
  const id = useId();
  const hardness = Math.round(tools.brush.hardness * 100);
  const mode = doc.mode();
  const empty = doc.images.length === 0;

  return (
    <div className="canvas-toolbar" role="toolbar" aria-label="Canvas tools">
      <div className="canvas-group" role="group" aria-label="Tools">
        {TOOL_BUTTONS.map((t) => (
          <button
            key={t.id}
            type="button"
            className="secondary canvas-tool"
            aria-label={t.label}
            title={`${t.label} (${TOOL_KEYS[t.id]})`}
            aria-pressed={tools.tool === t.id}
            onClick={() => tools.select(t.id)}
          >
            {t.text}
          </button>
        ))}
      </div>
      <div className="canvas-group" role="group" aria-label="Mask">
        <button
          type="button"
          className="secondary"
          aria-label="Invert mask"
          title="Invert mask (I)"
          onClick={() => tools.run({ type: 'invert' })}
        >
          Invert
        </button>
        <button
          type="button"
          className="secondary"
          aria-label="Clear mask"
          title="Clear mask (Delete)"
          onClick={() => tools.run({ type: 'clear' })}
        >
          Clear
        </button>
      </div>
      <div className="canvas-group" role="group" aria-label="History">
        <button
          type="button"
          className="secondary"
          aria-label="Undo"
          title={`Undo${doc.undoLabel ? ` ${doc.undoLabel}` : ''} (Ctrl+Z)`}
          disabled={!doc.canUndo}
          onClick={() => tools.run({ type: 'undo' })}
        >
          Undo
        </button>
        <button
          type="button"
          className="secondary"
          aria-label="Redo"
          title={`Redo${doc.redoLabel ? ` ${doc.redoLabel}` : ''} (Shift+Ctrl+Z)`}
          disabled={!doc.canRedo}
          onClick={() => tools.run({ type: 'redo' })}
        >
          Redo
        </button>
      </div>
      <div className="canvas-group" role="group" aria-label="View">
        <button
          type="button"
          className="secondary"
          aria-label="Fit to view"
          title="Fit to view (F)"
          onClick={() => tools.run({ type: 'fit' })}
        >
          Fit
        </button>
        <button
          type="button"
          className="secondary"
          aria-label="Actual size"
          title="Actual size, 100% (1)"
          onClick={() => tools.run({ type: 'actualSize' })}
        >
          100%
        </button>
      </div>
      <div className="canvas-group canvas-sliders">
        <label htmlFor={`${id}-size`}>Brush size</label>
        <input
          id={`${id}-size`}
          type="range"
          min={BRUSH_MIN}
          max={BRUSH_MAX}
          value={tools.brush.size}
          title="Brush size ([ and ])"
          aria-valuetext={`${tools.brush.size} pixels`}
          onChange={(e) => tools.setBrushSize(Number(e.target.value))}
        />
        <output htmlFor={`${id}-size`} className="canvas-value">
          {tools.brush.size}px
        </output>
        <label htmlFor={`${id}-hardness`}>Hardness</label>
        <input
          id={`${id}-hardness`}
          type="range"
          min={0}
          max={100}
          value={hardness}
          aria-valuetext={`${hardness}%`}
          onChange={(e) => tools.setHardness(Number(e.target.value) / 100)}
        />
        <output htmlFor={`${id}-hardness`} className="canvas-value">
          {hardness}%
        </output>
      </div>
      <div className="canvas-group" role="group" aria-label="Files">
        <input
          ref={fileInput}
          type="file"
          accept="image/*"
          hidden
          aria-hidden="true"
          tabIndex={-1}
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) onImportFile(file);
            e.target.value = '';
          }}
        />
        <button
          type="button"
          className="secondary"
          title="Import an image (or drop or paste one on the canvas)"
          onClick={() => fileInput.current?.click()}
        >
          Import image…
        </button>
        <button
          type="button"
          className="secondary"
          title="Download the image layer as PNG"
          disabled={empty}
          onClick={onExportCanvas}
        >
          Export canvas PNG
        </button>
        <button
          type="button"
          className="secondary"
          title="Download the mask as PNG (white = repaint)"
          onClick={onExportMask}
        >
          Export mask PNG
        </button>
      </div>
      <span className="canvas-mode muted" data-testid="canvas-mode" aria-live="polite">
        {mode.mode} · {doc.box.width} × {doc.box.height}
      </span>
    </div>
  );
}
