import type { JobResult } from '@contract';
import { mediaUrl } from '../../api/media';
import { useStudio } from '../../api/StudioProvider';

export interface StagedResult extends JobResult {
  jobId: string;
}

export interface StagingStripProps {
  results: readonly StagedResult[];
  index: number;
  onIndex: (index: number) => void;
  onAccept: () => void;
  onDiscard: () => void;
  onKeep: () => void;
  busy?: boolean;
}

/**
 * Results waiting over the generation box: cycle through them, accept one into the canvas, discard
 * one (to the gallery's trash, restorable), or keep them all in the gallery and close the strip.
 * Every result is already saved in the gallery when it arrives: nothing here can lose an image.
 */
export function StagingStrip({ results, index, onIndex, onAccept, onDiscard, onKeep, busy }: StagingStripProps) {
  const { hostKind } = useStudio();
  if (results.length === 0) return null;
  const current = results[Math.min(index, results.length - 1)];
  const step = (d: number): void => onIndex((index + d + results.length) % results.length);
  return (
    <section
      className="staging-strip"
      aria-label="Staged results"
      onKeyDown={(e) => {
        if (e.key === 'ArrowLeft') step(-1);
        if (e.key === 'ArrowRight') step(1);
      }}
    >
      <div className="staging-thumbs" role="listbox" aria-label="Results" aria-activedescendant={`staged-${index}`}>
        {results.map((r, i) => (
          <button
            type="button"
            role="option"
            id={`staged-${i}`}
            key={`${r.jobId}-${r.imageId}`}
            aria-selected={i === index}
            className={i === index ? 'selected' : ''}
            onClick={() => onIndex(i)}
            title={`Seed ${r.seed} · ${r.width}×${r.height}`}
          >
            <img src={mediaUrl(hostKind, r.media)} alt={`Result, seed ${r.seed}`} width={48} height={48} />
          </button>
        ))}
      </div>
      <span className="muted" data-testid="staging-count">
        {index + 1} of {results.length}
        {current && ` · seed ${current.seed}`}
      </span>
      <div className="row">
        <button
          type="button"
          className="ghost"
          onClick={() => step(-1)}
          title="Previous result (←)"
          aria-label="Previous result"
        >
          ‹
        </button>
        <button
          type="button"
          className="ghost"
          onClick={() => step(1)}
          title="Next result (→)"
          aria-label="Next result"
        >
          ›
        </button>
        <button type="button" onClick={onAccept} disabled={busy} title="Place this result on the canvas (Enter)">
          Accept
        </button>
        <button
          type="button"
          className="secondary"
          onClick={onDiscard}
          disabled={busy}
          title="Move this result to the gallery's trash"
        >
          Discard
        </button>
        <button
          type="button"
          className="ghost"
          onClick={onKeep}
          title="Close the strip; the results stay in the gallery"
        >
          Keep in gallery
        </button>
      </div>
    </section>
  );
}
