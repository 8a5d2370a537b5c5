import { useCallback, useEffect, useMemo, useState } from 'react';
import { PageHeader } from '../../app/PageHeader';
import { takeCanvasImage, usePendingCanvasImage } from '../../app/remixStore';
import { mediaUrl } from '../../api/media';
import { useStudio } from '../../api/StudioProvider';
import { useJobs } from '../../api/useJobs';
import { CanvasEditor } from '../canvas/CanvasEditor';
import { CanvasDocument } from '../canvas/document/CanvasDocument';
import type { Rect } from '../canvas/document/geometry';
import { canvasSupported, decodeImageFile } from '../canvas/imageIO';
import { GeneratePanel, type SubmittedJob } from '../generate/GeneratePanel';
import { FirstRun } from './FirstRun';
import { StagingStrip, type StagedResult } from './StagingStrip';
import './studio.css';

/**
 * The canvas and what is staged on it outlive the page: going to the Gallery and back keeps them
 * (they live as long as the window).
 */
const session = {
  doc: null as CanvasDocument | null,
  /** Jobs started from the canvas, and where their results go. */
  placements: new Map<string, Rect>(),
  /** Results accepted, discarded or kept: no longer staged. */
  unstaged: new Set<number>(),
};

function sessionDoc(): CanvasDocument {
  session.doc ??= new CanvasDocument();
  return session.doc;
}

export function StudioPage() {
  const { client, hostKind } = useStudio();
  const [doc] = useState(sessionDoc);
  const { jobs, progress } = useJobs();
  const [placements, setPlacements] = useState(() => new Map(session.placements));
  const [unstaged, setUnstaged] = useState(() => new Set(session.unstaged));
  const [index, setIndex] = useState(0);
  const [accepting, setAccepting] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  useEffect(() => {
    session.placements = placements;
    session.unstaged = unstaged;
  }, [placements, unstaged]);

  const onSubmitted = useCallback(({ jobId, placeAt }: SubmittedJob) => {
    if (!placeAt) return;
    setPlacements((m) => new Map(m).set(jobId, placeAt));
  }, []);

  const staged: StagedResult[] = useMemo(
    () =>
      jobs
        .filter((j) => placements.has(j.id))
        .flatMap((j) => j.results.map((r) => ({ ...r, jobId: j.id })))
        .filter((r) => !unstaged.has(r.imageId)),
    [jobs, placements, unstaged],
  );
  const current = staged[Math.min(index, Math.max(0, staged.length - 1))];
  const running = jobs.find((j) => placements.has(j.id) && j.status === 'running');
  const preview = running ? (progress[running.id]?.preview ?? undefined) : undefined;

  const unstage = (ids: number[]): void => setUnstaged((s) => new Set([...s, ...ids]));

  const loadPixels = async (media: string) => {
    const response = await fetch(mediaUrl(hostKind, media));
    if (!response.ok) throw new Error(`could not load ${media} (${response.status})`);
    return decodeImageFile(await response.blob());
  };

  const accept = async (): Promise<void> => {
    if (!current) return;
    const at = placements.get(current.jobId);
    if (!at) return;
    setAccepting(true);
    try {
      doc.acceptResult(await loadPixels(current.media), current.imageId, { x: at.x, y: at.y });
      // Accepting one closes the strip, as in InvokeAI: the others stay in the gallery.
      unstage(staged.map((r) => r.imageId));
      setIndex(0);
      setMessage(`Accepted the result with seed ${current.seed} onto the canvas.`);
    } catch (err) {
      setMessage(`Could not accept the result: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setAccepting(false);
    }
  };

  const discard = async (): Promise<void> => {
    if (!current) return;
    try {
      await client.invoke('gallery.trash', { ids: [current.imageId] });
      unstage([current.imageId]);
      setIndex((i) => Math.max(0, Math.min(i, staged.length - 2)));
      setMessage('Discarded: the result is in the gallery’s trash, and can be restored there.');
    } catch (err) {
      setMessage(`Could not discard: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  // "Send to canvas" from the gallery: the image lands on the canvas (the box fitted to it when empty).
  const offer = usePendingCanvasImage();
  useEffect(() => {
    if (!offer || !canvasSupported()) return;
    const taken = takeCanvasImage();
    if (!taken?.media) return;
    void loadPixels(taken.media).then(
      (image) => {
        if (doc.images.length === 0) doc.importImage(image);
        else doc.placeImage(image, { x: doc.box.x, y: doc.box.y }, { source: 'import', galleryId: taken.imageId });
        setMessage(`Placed ${taken.source} on the canvas.`);
      },
      (err: unknown) =>
        setMessage(`Could not place ${taken.source}: ${err instanceof Error ? err.message : String(err)}`),
    );
  }, [offer]);

  return (
    <>
      <PageHeader
        title="Studio"
        subtitle="Prompt and generate on your own hardware; paint a mask and place the box on the canvas."
      />
      <FirstRun />
      <div className="studio-layout">
        <GeneratePanel doc={doc} onSubmitted={onSubmitted} />
        <div className="studio-canvas">
          <CanvasEditor
            doc={doc}
            previewUrl={preview}
            stagedUrl={current ? mediaUrl(hostKind, current.media) : undefined}
          />
          <StagingStrip
            results={staged}
            index={Math.min(index, Math.max(0, staged.length - 1))}
            onIndex={setIndex}
            onAccept={() => void accept()}
            onDiscard={() => void discard()}
            onKeep={() => {
              unstage(staged.map((r) => r.imageId));
              setMessage('The results are in the gallery.');
            }}
            busy={accepting}
          />
          {message && (
            <p className="muted" role="status" data-testid="studio-message">
              {message}
            </p>
          )}
        </div>
      </div>
    </>
  );
}
