import { ProgressBar } from '../../app/ProgressBar';
import { useCallback, useEffect, useState } from 'react';
import type { LibraryEntry, ModelImportProgress } from '@contract';
import { useEvent, useStudio } from '../../api/StudioProvider';
import { PageHeader } from '../../app/PageHeader';

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

const familyLabels: Record<LibraryEntry['family'], string> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
  'sdxl-refiner': 'SDXL refiner',
  unknown: 'unknown family',
};

/** The models folder: checkpoints, LoRAs and embeddings, what each is, and whether it can be used. */
export function ModelsPage() {
  const { client } = useStudio();
  const [entries, setEntries] = useState<LibraryEntry[] | null>(null);
  const [source, setSource] = useState('');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  // Progress of every import, by id: the first events can arrive before the call that started it returns.
  const [progressById, setProgressById] = useState<Record<string, ModelImportProgress>>({});
  const [importId, setImportId] = useState<string | null>(null);
  const importing = importId ? (progressById[importId] ?? null) : null;

  const refresh = useCallback(() => {
    client.invoke('models.list', {}).then(setEntries, (err: Error) => setMessage({ kind: 'error', text: err.message }));
  }, [client]);
  useEffect(refresh, [refresh]);

  useEvent(
    'models.import',
    useCallback((p) => setProgressById((all) => ({ ...all, [p.importId]: p })), []),
  );
  const finished = importing?.finished ?? false;
  const importError = importing?.error ?? null;
  const importedId = importing?.id ?? null;
  useEffect(() => {
    if (!finished) return;
    setMessage(
      importError
        ? { kind: 'error', text: `Import failed: ${importError}` }
        : { kind: 'ok', text: `Imported ${importedId}.` },
    );
    refresh();
  }, [finished, importError, importedId, refresh]);

  const run = async (work: () => Promise<unknown>, ok: string): Promise<void> => {
    try {
      await work();
      setMessage({ kind: 'ok', text: ok });
      refresh();
    } catch (err) {
      setMessage({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
    }
  };

  const startImport = async (): Promise<void> => {
    setMessage(null);
    try {
      const started = await client.invoke('models.import', { source: source.trim() });
      setImportId(started.importId);
    } catch (err) {
      setMessage({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
    }
  };

  return (
    <>
      <PageHeader
        title="Models"
        subtitle="Checkpoints in diffusers ONNX layout, LoRAs and embeddings, on this machine."
      >
        <input
          aria-label="Model folder or .safetensors file to import"
          placeholder="/path/to/model-folder or lora.safetensors"
          value={source}
          onChange={(e) => setSource(e.target.value)}
          spellCheck={false}
        />
        <button
          type="button"
          disabled={!source.trim() || (importing !== null && !importing.finished)}
          onClick={() => void startImport()}
        >
          Import
        </button>
      </PageHeader>
      {importing && !importing.finished && (
        <div className="job-progress">
          <ProgressBar label="Import progress" done={importing.doneBytes} total={importing.totalBytes} />
          <span className="muted">
            Copying {importing.id}: {formatBytes(importing.doneBytes)} of {formatBytes(importing.totalBytes)}
          </span>
        </div>
      )}
      {message && (
        <p
          role={message.kind === 'error' ? 'alert' : 'status'}
          className={message.kind === 'error' ? 'field-error' : 'ok'}
        >
          {message.text}
        </p>
      )}
      {entries === null ? (
        <p aria-busy="true">Reading the models folder…</p>
      ) : entries.length === 0 ? (
        <section className="empty-state" aria-label="Model library">
          <p>
            No models yet. The demo model appears here after the first generation; import a diffusers ONNX folder or a
            LoRA above.
          </p>
        </section>
      ) : (
        <ul className="job-list" aria-label="Model library">
          {entries.map((e) => (
            <li key={e.id} data-testid={`entry-${e.id}`}>
              <div>
                <div>
                  <strong>{e.name}</strong> <span className="muted">{e.kind === 'model' ? 'model' : e.kind}</span>
                  {e.demo && <span className="badge muted"> · demo (random weights)</span>}
                </div>
                <div className="muted">
                  <span className="family">{familyLabels[e.family]}</span>
                  {e.predictionType && ` · ${e.predictionType}`}
                  {e.precision && ` · ${e.precision}`} · {formatBytes(e.bytes)}
                  {e.shortHash && ` · hash ${e.shortHash}`}
                  {e.overridden && ' · set by hand'}
                </div>
                {e.triggerWords.length > 0 && (
                  <div className="muted">Trigger words: {e.triggerWords.slice(0, 6).join(', ')}</div>
                )}
                {e.problem && (
                  <div role="alert" className="field-error">
                    {e.problem}
                  </div>
                )}
                {e.notes && <div className="muted">Notes: {e.notes}</div>}
              </div>
              <div className="detail-actions">
                {e.kind === 'model' && (
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => void run(() => client.invoke('models.check', { id: e.id }), `Checked ${e.name}.`)}
                  >
                    Check
                  </button>
                )}
                {e.kind !== 'model' && !e.shortHash && (
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => void run(() => client.invoke('models.hash', { id: e.id }), `Hashed ${e.name}.`)}
                  >
                    Hash
                  </button>
                )}
                <button
                  type="button"
                  className="secondary"
                  onClick={() => {
                    const notes = window.prompt(`Notes for ${e.name}`, e.notes);
                    if (notes !== null)
                      void run(() => client.invoke('models.update', { id: e.id, notes }), 'Notes saved.');
                  }}
                >
                  Notes
                </button>
                <button
                  type="button"
                  className="secondary"
                  onClick={() =>
                    void run(
                      () => client.invoke('models.remove', { id: e.id }),
                      `${e.name} moved to the models folder's .trash.`,
                    )
                  }
                >
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
