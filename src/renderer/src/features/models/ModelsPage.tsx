import { useCallback, useEffect, useState, type DragEvent } from 'react';
import type { LibraryEntry, ModelImportProgress } from '@contract';
import { useEvent, useStudio } from '../../api/StudioProvider';
import { PageHeader } from '../../app/PageHeader';
import { ProgressBar } from '../../app/ProgressBar';
import { planDrop, uploadModelFile } from './modelDrop';
import './models.css';

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

const kindLabels: Record<LibraryEntry['kind'], string> = { model: 'model', lora: 'LoRA', embedding: 'embedding' };

/** Where an import by path, URL or upload stands; the first events can arrive before the call that started it returns. */
type Activity =
  { kind: 'upload'; name: string; sent: number; total: number } | { kind: 'import' | 'download'; importId: string };

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The models folder: checkpoints, LoRAs and embeddings, what each is, and whether it can be used. */
export function ModelsPage() {
  const { client, hostKind } = useStudio();
  const [entries, setEntries] = useState<LibraryEntry[] | null>(null);
  const [source, setSource] = useState('');
  const [url, setUrl] = useState('');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [progressById, setProgressById] = useState<Record<string, ModelImportProgress>>({});
  const [activity, setActivity] = useState<Activity | null>(null);
  const [dragging, setDragging] = useState(false);
  const importing = activity && activity.kind !== 'upload' ? (progressById[activity.importId] ?? null) : null;
  const busy = activity !== null && (activity.kind === 'upload' || !importing?.finished);

  const refresh = useCallback(() => {
    client.invoke('models.list', {}).then(setEntries, (err: Error) => setMessage({ kind: 'error', text: err.message }));
  }, [client]);
  useEffect(refresh, [refresh]);
  // The folder is watched: a model copied in with a file manager shows up without a reload.
  useEvent('models.changed', refresh);
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
      importError === 'cancelled'
        ? { kind: 'ok', text: `Stopped; ${importedId} was not added.` }
        : importError
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
      setMessage({ kind: 'error', text: errorText(err) });
    }
  };

  const importPath = async (path: string): Promise<void> => {
    setMessage(null);
    try {
      const started = await client.invoke('models.import', { source: path });
      setActivity({ kind: 'import', importId: started.importId });
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
    }
  };

  const download = async (): Promise<void> => {
    setMessage(null);
    try {
      const started = await client.invoke('models.download', { url: url.trim() });
      setActivity({ kind: 'download', importId: started.importId });
      setUrl('');
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
    }
  };

  const upload = async (file: File): Promise<void> => {
    setMessage(null);
    try {
      const started = await uploadModelFile(client, file, (sent, total) =>
        setActivity({ kind: 'upload', name: file.name, sent, total }),
      );
      setActivity({ kind: 'import', importId: started.importId });
    } catch (err) {
      setActivity(null);
      setMessage({ kind: 'error', text: `${file.name}: ${errorText(err)}` });
    }
  };

  const onDrop = (event: DragEvent<HTMLDivElement>): void => {
    event.preventDefault();
    setDragging(false);
    const pathForFile = window.studio?.pathForFile?.bind(window.studio);
    const plans = planDrop(event.dataTransfer, pathForFile);
    void (async () => {
      for (const plan of plans) {
        if (plan.kind === 'refused') setMessage({ kind: 'error', text: plan.reason });
        else if (plan.kind === 'path') await importPath(plan.path);
        else await upload(plan.file);
      }
    })();
  };

  const rename = (e: LibraryEntry): void => {
    const name = window.prompt(`New name for ${e.name}`, e.name);
    if (name !== null && name.trim() && name.trim() !== e.name)
      void run(() => client.invoke('models.update', { id: e.id, name: name.trim() }), `Renamed to ${name.trim()}.`);
  };

  return (
    <div
      className={dragging ? 'models-page dragging' : 'models-page'}
      data-testid="models-drop-zone"
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <PageHeader
        title="Models"
        subtitle="Checkpoints in diffusers ONNX layout, LoRAs and embeddings, on this machine."
      />
      <section className="models-import" aria-label="Add models">
        <div className="models-import-row">
          <input
            aria-label="Model folder or .safetensors file to import"
            placeholder="/path/to/model-folder or lora.safetensors"
            value={source}
            onChange={(e) => setSource(e.target.value)}
            spellCheck={false}
          />
          <button type="button" disabled={!source.trim() || busy} onClick={() => void importPath(source.trim())}>
            Import
          </button>
        </div>
        <div className="models-import-row">
          <input
            aria-label="Hugging Face or .safetensors URL to download"
            placeholder="https://huggingface.co/ORG/NAME (diffusers ONNX) or a .safetensors URL"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            spellCheck={false}
          />
          <button type="button" disabled={!url.trim() || busy} onClick={() => void download()}>
            Download
          </button>
        </div>
        <p className="muted models-drop-hint">
          {hostKind === 'electron'
            ? 'Or drop model folders and .safetensors files on this page.'
            : 'Or drop .safetensors files (LoRAs, embeddings) on this page to upload them. A browser cannot tell the app where a dropped folder is, so model folders are imported by path.'}
        </p>
      </section>
      {activity?.kind === 'upload' && (
        <div className="job-progress">
          <ProgressBar label="Upload progress" done={activity.sent} total={activity.total} />
          <span className="muted">
            Uploading {activity.name}: {formatBytes(activity.sent)} of {formatBytes(activity.total)}
          </span>
        </div>
      )}
      {activity && activity.kind !== 'upload' && importing && !importing.finished && (
        <div className="job-progress">
          <ProgressBar
            label={activity.kind === 'download' ? 'Download progress' : 'Import progress'}
            done={importing.doneBytes}
            total={importing.totalBytes}
          />
          <span className="muted">
            {activity.kind === 'download' ? 'Downloading' : 'Copying'} {importing.id}:{' '}
            {formatBytes(importing.doneBytes)} of {formatBytes(importing.totalBytes)}
            {importing.file ? ` · ${importing.file}` : ''}{' '}
            <button
              type="button"
              className="ghost"
              onClick={() =>
                void client.invoke('models.cancelImport', { importId: activity.importId }).catch((err: unknown) => {
                  setMessage({ kind: 'error', text: errorText(err) });
                })
              }
            >
              Cancel
            </button>
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
            LoRA above, or download one.
          </p>
        </section>
      ) : (
        <div className="models-table-scroll">
          <table className="models-table" aria-label="Model library">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Family</th>
                <th scope="col">Precision</th>
                <th scope="col">Size</th>
                <th scope="col">Hash</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-testid={`entry-${e.id}`}>
                  <td>
                    <strong>{e.name}</strong>
                    {e.name !== e.id && <div className="muted mono">{e.id}</div>}
                    {e.demo && <div className="badge muted">demo (random weights)</div>}
                    {e.triggerWords.length > 0 && (
                      <div className="muted">Trigger words: {e.triggerWords.slice(0, 6).join(', ')}</div>
                    )}
                    {e.notes && <div className="muted">Notes: {e.notes}</div>}
                  </td>
                  <td>{kindLabels[e.kind]}</td>
                  <td>
                    <span className="family">{familyLabels[e.family]}</span>
                    {e.predictionType && <div className="muted">{e.predictionType}</div>}
                    {e.overridden && <div className="muted">set by hand</div>}
                  </td>
                  <td>
                    {e.precision ?? (
                      <span className="muted" title="Check reads it from the model's graphs">
                        —
                      </span>
                    )}
                  </td>
                  <td className="num">{formatBytes(e.bytes)}</td>
                  <td className="mono">
                    {e.shortHash ? (
                      <span title="AUTOMATIC1111's short hash">hash {e.shortHash}</span>
                    ) : (
                      <button
                        type="button"
                        className="secondary"
                        disabled={e.status === 'error'}
                        onClick={() => void run(() => client.invoke('models.hash', { id: e.id }), `Hashed ${e.name}.`)}
                      >
                        Hash
                      </button>
                    )}
                  </td>
                  <td>
                    {e.problem ? (
                      <div role="alert" className="field-error">
                        {e.problem}
                      </div>
                    ) : (
                      <span className="ok">OK</span>
                    )}
                  </td>
                  <td>
                    <div className="detail-actions">
                      {e.kind === 'model' && (
                        <button
                          type="button"
                          className="secondary"
                          onClick={() =>
                            void run(() => client.invoke('models.check', { id: e.id }), `Checked ${e.name}.`)
                          }
                        >
                          Check
                        </button>
                      )}
                      <button type="button" className="secondary" onClick={() => rename(e)}>
                        Rename
                      </button>
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
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
