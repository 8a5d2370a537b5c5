import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import type { CanvasDocument } from './document/CanvasDocument';
import { snap } from './document/generationBox';
import type { Point } from './document/geometry';
import { canvasSupported, decodeImageFile, downloadBlob, encodePng, isImageFile } from './imageIO';
import { CanvasToolbar } from './CanvasToolbar';
import { isTextField, shortcutFor } from './tools/shortcuts';
import { ToolController } from './tools/ToolController';
import './canvas.css';

// Konva loads with the stage, so pages and tests without a 2D canvas never pull it in.
const CanvasStage = lazy(() => import('./CanvasStage'));

export interface CanvasEditorProps {
  doc: CanvasDocument;
  /** A live preview of the generation in progress, drawn inside the box. */
  previewUrl?: string;
  /** A result waiting to be accepted, drawn over the box. */
  stagedUrl?: string;
}

/**
 * The canvas editor: toolbar and stage around a document owned by the caller, with the keyboard
 * shortcuts (when focus is not in a text field), paste and drop import, and PNG export.
 */
export function CanvasEditor({ doc, previewUrl, stagedUrl }: CanvasEditorProps) {
  const [tools] = useState(() => new ToolController(doc));
  const [message, setMessage] = useState<string | null>(null);
  const supported = canvasSupported();

  const importFile = useCallback(
    async (file: File, at?: Point) => {
      if (!isImageFile(file)) {
        setMessage(`${file.name} is not an image.`);
        return;
      }
      try {
        const started = performance.now();
        const image = await decodeImageFile(file);
        if (at && doc.images.length > 0) {
          doc.placeImage(image, { x: snap(at.x - image.width / 2), y: snap(at.y - image.height / 2) });
        } else {
          doc.importImage(image);
          tools.run({ type: 'fit' });
        }
        performance.measure('canvas:import', { start: started });
        setMessage(`Imported ${file.name || 'the pasted image'} (${image.width} × ${image.height}).`);
      } catch (err) {
        setMessage(`Could not read ${file.name || 'the image'}: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    [doc, tools],
  );

  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent): void => {
      if (isTextField(e.target)) return;
      if (e.key === ' ') {
        // Space on a focused button presses it; elsewhere it is the temporary pan.
        if ((e.target as HTMLElement | null)?.closest?.('button')) return;
        e.preventDefault();
        tools.setSpace(true);
        return;
      }
      if (e.key === 'Escape') {
        tools.cancel();
        return;
      }
      const command = shortcutFor(e);
      if (!command) return;
      e.preventDefault();
      tools.run(command);
    };
    const onKeyUp = (e: KeyboardEvent): void => {
      if (e.key === ' ') tools.setSpace(false);
    };
    const onBlur = (): void => tools.setSpace(false);
    const onPaste = (e: ClipboardEvent): void => {
      if (isTextField(e.target)) return;
      const file = Array.from(e.clipboardData?.files ?? []).find((f) => isImageFile(f));
      if (!file) return;
      e.preventDefault();
      void importFile(file);
    };
    window.addEventListener('keydown', onKeyDown);
    window.addEventListener('keyup', onKeyUp);
    window.addEventListener('blur', onBlur);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('keydown', onKeyDown);
      window.removeEventListener('keyup', onKeyUp);
      window.removeEventListener('blur', onBlur);
      window.removeEventListener('paste', onPaste);
    };
  }, [tools, importFile]);

  const exportRect = () => doc.bounds() ?? doc.extent();
  const exportCanvas = async (): Promise<void> => {
    const image = doc.composite();
    if (image) downloadBlob(await encodePng(image), 'sumi-canvas.png');
  };
  const exportMask = async (): Promise<void> => {
    downloadBlob(await encodePng(doc.maskImage(exportRect())), 'sumi-mask.png');
  };

  return (
    <section className="canvas-editor" aria-label="Canvas editor">
      <CanvasToolbar
        doc={doc}
        tools={tools}
        onImportFile={(f) => void importFile(f)}
        onExportCanvas={() => void exportCanvas()}
        onExportMask={() => void exportMask()}
      />
      {supported ? (
        <Suspense fallback={<div className="canvas-stage canvas-placeholder">Loading the canvas…</div>}>
          <CanvasStage
            doc={doc}
            tools={tools}
            previewUrl={previewUrl}
            stagedUrl={stagedUrl}
            onDropFile={(file, at) => void importFile(file, at)}
          />
        </Suspense>
      ) : (
        <div className="canvas-stage canvas-placeholder" data-testid="canvas-unsupported">
          The canvas needs a browser that can draw to a 2D canvas.
        </div>
      )}
      {message && (
        <p className="canvas-message muted" aria-live="polite">
          {message}
        </p>
      )}
    </section>
  );
}
