import { ProgressBar } from '../../app/ProgressBar';
import { useCallback, useEffect, useState } from 'react';
import type { ImportProgress } from '@contract';
import { useEvent, useStudio } from '../../api/StudioProvider';

/**
 * Imports another tool's output folder (A1111, Forge, InvokeAI, ComfyUI, Fooocus) with a progress
 * bar. The folder is typed or pasted: the web host has no native folder dialog.
 */
export function ImportFolder(props: { onDone: () => void }) {
  const { client } = useStudio();
  const [open, setOpen] = useState(false);
  const [folder, setFolder] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [importId, setImportId] = useState<string | null>(null);
  // Progress by import id: a small folder can finish before the call that started it returns.
  const [progressById, setProgressById] = useState<Record<string, ImportProgress>>({});
  const progress = importId ? (progressById[importId] ?? null) : null;
  const { onDone } = props;

  useEvent(
    'gallery.import',
    useCallback((p) => setProgressById((all) => ({ ...all, [p.importId]: p })), []),
  );
  const finished = progress?.finished ?? false;
  useEffect(() => {
    if (finished) onDone();
  }, [finished, onDone]);

  const start = async (): Promise<void> => {
    setError(null);
    try {
      const started = await client.invoke('gallery.importFolder', { folder: folder.trim() });
      setImportId(started.importId);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  if (!open) {
    return (
      <button type="button" className="secondary" onClick={() => setOpen(true)}>
        Import folder…
      </button>
    );
  }
  return (
    <div className="import-folder" role="group" aria-label="Import a folder">
      <input
        aria-label="Folder to import"
        placeholder="/home/me/stable-diffusion-webui/outputs"
        value={folder}
        onChange={(e) => setFolder(e.target.value)}
        spellCheck={false}
      />
      <button
        type="button"
        onClick={() => void start()}
        disabled={!folder.trim() || (progress !== null && !progress.finished)}
      >
        Import
      </button>
      <button type="button" className="ghost" aria-label="Close import" onClick={() => setOpen(false)}>
        ×
      </button>
      {error && (
        <span role="alert" className="field-error">
          {error}
        </span>
      )}
      {progress && (
        <div className="job-progress">
          <ProgressBar label="Import progress" done={progress.done} total={progress.total} />
          <span className="muted" data-testid="import-status">
            {progress.finished ? 'Imported' : 'Importing'} {progress.imported} of {progress.total}
            {progress.duplicates ? `, ${progress.duplicates} already here` : ''}
            {progress.failed.length
              ? `, ${progress.failed.length} not readable (${progress.failed.map((f) => `${f.file}: ${f.reason}`).join('; ')})`
              : ''}
          </span>
        </div>
      )}
    </div>
  );
}
