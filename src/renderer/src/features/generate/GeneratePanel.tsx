import { useEffect, useState, type FormEvent } from 'react';
import { DEMO_MODEL, samplerNames, type Job } from '@contract';
import { StudioError } from '../../api/client';
import { mediaUrl } from '../../api/media';
import { useSettings, useStudio } from '../../api/StudioProvider';
import { useJobs } from '../../api/useJobs';
import { remixFrom, takeRemix, usePendingRemix } from '../../app/remixStore';
import { JobProgressBar } from './JobProgressBar';

interface Draft {
  prompt: string;
  negativePrompt: string;
  model: string;
  sampler: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  seed: number;
  /** img2img from a gallery image when set. */
  initImageId?: number | undefined;
  initMedia?: string | undefined;
  strength: number;
}

/**
 * Prompt, parameters, Generate and Cancel, with live progress and the results. The canvas (masks,
 * inpaint, outpaint) builds on this panel; until then the Studio is prompt-only.
 */
export function GeneratePanel() {
  const { client, hostKind } = useStudio();
  const { settings } = useSettings();
  const { jobs, progress } = useJobs();
  const [draft, setDraft] = useState<Draft | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<{ message: string; fields: Record<string, string> } | null>(null);

  useEffect(() => {
    if (settings && !draft) {
      const d = settings.defaults;
      setDraft({
        prompt: '',
        negativePrompt: '',
        model: DEMO_MODEL,
        sampler: d.sampler,
        steps: d.steps,
        cfg: d.cfg,
        width: d.width,
        height: d.height,
        seed: d.seed,
        strength: 0.75,
      });
    }
  }, [settings, draft]);

  const [notice, setNotice] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const remix = usePendingRemix();
  useEffect(() => {
    if (!remix || !draft) return;
    const r = takeRemix();
    if (!r) return;
    const { source, ...fields } = r;
    setDraft({ ...draft, initImageId: undefined, initMedia: undefined, ...fields });
    setNotice(`Recipe loaded from ${source}.`);
  }, [remix, draft]);

  const onDrop = async (file: File | undefined): Promise<void> => {
    setDragging(false);
    if (!file) return;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      const recall = await client.invoke('gallery.recall', { png: btoa(binary) });
      if (recall.source === 'unknown') {
        setNotice(`${file.name} carries no generation parameters.`);
        return;
      }
      const { source, ...fields } = remixFrom(recall.recipe, `${file.name} (${recall.source})`);
      setDraft((d) => (d ? { ...d, ...fields } : d));
      setNotice(`Recipe loaded from ${source}.`);
    } catch (err) {
      setNotice(err instanceof Error ? err.message : String(err));
    }
  };

  if (!draft || !settings) return <p aria-busy="true">Loading…</p>;
  const job: Job | undefined = jobs.find((j) => j.id === jobId);
  const busy = job?.status === 'queued' || job?.status === 'running';
  const set = <K extends keyof Draft>(key: K, value: Draft[K]): void => setDraft({ ...draft, [key]: value });

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      const { jobId: id } = await client.invoke('generate.submit', {
        ...(draft.initImageId !== undefined
          ? { mode: 'img2img' as const, initImageId: draft.initImageId, strength: draft.strength }
          : { mode: 'txt2img' as const }),
        model: draft.model.trim() || DEMO_MODEL,
        prompt: draft.prompt,
        negativePrompt: draft.negativePrompt,
        sampler: draft.sampler as (typeof samplerNames)[number],
        steps: draft.steps,
        cfg: draft.cfg,
        width: draft.width,
        height: draft.height,
        seed: draft.seed,
        rng: settings.defaults.rng,
        batchSize: settings.defaults.batchSize,
        batchCount: settings.defaults.batchCount,
      });
      setJobId(id);
    } catch (err) {
      setError({
        message: err instanceof Error ? err.message : String(err),
        fields: err instanceof StudioError ? err.fieldMessages() : {},
      });
    }
  };

  const num = (key: 'steps' | 'cfg' | 'width' | 'height' | 'seed' | 'strength', label: string, step = '1') => (
    <div className={`field${error?.fields[key] ? ' has-error' : ''}`}>
      <label htmlFor={`gen-${key}`}>{label}</label>
      <input
        id={`gen-${key}`}
        type="number"
        step={step}
        value={Number.isFinite(draft[key]) ? draft[key] : ''}
        onChange={(e) => set(key, e.target.value === '' ? Number.NaN : Number(e.target.value))}
      />
      {error?.fields[key] && <span className="field-error">{error.fields[key]}</span>}
    </div>
  );

  const p = jobId ? progress[jobId] : undefined;
  return (
    <div
      className={`generate${dragging ? ' dragging' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        void onDrop(e.dataTransfer.files[0]);
      }}
    >
      <form className="generate-form" onSubmit={(e) => void submit(e)} aria-label="Generate">
        {notice && (
          <p role="status" className="muted" data-testid="recipe-notice">
            {notice}
          </p>
        )}
        <div className="field">
          <label htmlFor="gen-prompt">Prompt</label>
          <textarea
            id="gen-prompt"
            rows={4}
            value={draft.prompt}
            onChange={(e) => set('prompt', e.target.value)}
            placeholder="a lighthouse at dusk, oil on canvas"
          />
        </div>
        <div className="field">
          <label htmlFor="gen-negative">Negative prompt</label>
          <textarea
            id="gen-negative"
            rows={2}
            value={draft.negativePrompt}
            onChange={(e) => set('negativePrompt', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="gen-model">Model folder</label>
          <input
            id="gen-model"
            value={draft.model === DEMO_MODEL ? '' : draft.model}
            placeholder="Demo model (tiny, random weights)"
            onChange={(e) => set('model', e.target.value || DEMO_MODEL)}
            spellCheck={false}
          />
          {draft.model === DEMO_MODEL && (
            <span className="muted badge">Demo model: random weights, makes patterns, not pictures</span>
          )}
          {error?.fields.model && <span className="field-error">{error.fields.model}</span>}
        </div>
        <div className="grid">
          <div className="field">
            <label htmlFor="gen-sampler">Sampler</label>
            <select id="gen-sampler" value={draft.sampler} onChange={(e) => set('sampler', e.target.value)}>
              {samplerNames.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </div>
          {num('steps', 'Steps')}
          {num('cfg', 'CFG scale', '0.5')}
          {num('width', 'Width', '8')}
          {num('height', 'Height', '8')}
          {num('seed', 'Seed (-1 = random)')}
          {draft.initImageId !== undefined && num('strength', 'Strength', '0.05')}
        </div>
        {draft.initImageId !== undefined && (
          <div className="init-image" data-testid="init-image">
            {draft.initMedia && (
              <img src={mediaUrl(hostKind, draft.initMedia)} alt="Init image" width={64} height={64} />
            )}
            <span>img2img from gallery image #{draft.initImageId}</span>
            <button
              type="button"
              className="ghost"
              onClick={() => setDraft({ ...draft, initImageId: undefined, initMedia: undefined })}
            >
              Clear
            </button>
          </div>
        )}
        <div className="form-actions">
          <button type="submit" disabled={busy} title="Generate (Ctrl+Enter)">
            Generate
          </button>
          <button
            type="button"
            className="secondary"
            disabled={!busy}
            onClick={() => jobId && void client.invoke('jobs.cancel', { id: jobId })}
          >
            Cancel
          </button>
        </div>
        {error && (
          <p role="alert" className="field-error">
            {error.message}
          </p>
        )}
      </form>
      <section className="generate-output" aria-label="Result">
        {job && <JobProgressBar job={job} progress={p} />}
        {job?.status === 'failed' && (
          <p role="alert" className="field-error">
            {job.error?.message}
          </p>
        )}
        {job?.status === 'cancelled' && <p role="status">Cancelled. Nothing was saved.</p>}
        {busy && p?.preview && (
          <img className="preview" src={p.preview} alt="Live preview" width={draft.width} height={draft.height} />
        )}
        {job?.results.map((r) => (
          <figure key={r.media} className="result">
            <img src={mediaUrl(hostKind, r.media)} alt={`Result, seed ${r.seed}`} width={r.width} height={r.height} />
            <figcaption className="muted">
              Seed {r.seed} · {r.width}×{r.height}
            </figcaption>
          </figure>
        ))}
      </section>
    </div>
  );
}
